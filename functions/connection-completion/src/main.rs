//! Backend API, `POST /customers/{origin_id}/connection-completion`: the activation token of
//! a finished Kombo Connect flow becomes the customer's mapping, through the create the
//! `integration-created` webhook uses. IAM-authorized route. Wiring only; the route lives in
//! `shared::backend`, the create in `shared::effects`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::AwsCompleter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsCompleter::from_env().await?;
    run(service_fn(|event| app.handle(event))).await
}
