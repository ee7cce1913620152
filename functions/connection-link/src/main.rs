//! Backend API, `POST /customers/{origin_id}/connection-link`: a Kombo connection link that
//! carries the customer's id. IAM-authorized route. Wiring only; the route lives in
//! `shared::backend`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsBackend, backend::Route};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsBackend::from_env(Route::ConnectionLink).await?;
    run(service_fn(|event| app.handle(Route::ConnectionLink, event))).await
}
