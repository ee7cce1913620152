//! Backend API, `POST /customers/{origin_id}/integrations/{integration_id}/setup-link`: a
//! Kombo setup link that sends the customer back into the integration's unfinished setup
//! steps. IAM-authorized route. Wiring only; the route lives in `shared::backend`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsBackend, backend::Route};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsBackend::from_env(Route::SetupLink).await?;
    run(service_fn(|event| app.handle(Route::SetupLink, event))).await
}
