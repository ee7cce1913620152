//! Backend API, `POST /customers/{origin_id}/integrations/{integration_id}/reconnection-link`:
//! a Kombo relink for the customer's INVALID (or any live) integration, so the same
//! integration comes back. IAM-authorized route. Wiring only; the route lives in
//! `shared::backend`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsBackend, backend::Route};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsBackend::from_env(Route::ReconnectionLink).await?;
    run(service_fn(|event| {
        app.handle(Route::ReconnectionLink, event)
    }))
    .await
}
