//! Backend API, `GET /customers/{origin_id}/integrations`: the customer's integrations, from
//! the mappings table's `by-origin-id` index. IAM-authorized route. Wiring only; the route
//! lives in `shared::backend`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsBackend, backend::Route};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsBackend::from_env(Route::CustomerIntegrations).await?;
    run(service_fn(|event| {
        app.handle(Route::CustomerIntegrations, event)
    }))
    .await
}
