//! Backend API, `POST /customers/{origin_id}/connection-completion`: the activation token of a finished Kombo Connect flow → the customer's mapping.
//! IAM-authorized route. Wiring only; the logic lives in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::AwsCompleter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsCompleter::from_env().await?;
    run(service_fn(|event| app.handle(event))).await
}
