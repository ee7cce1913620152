//! Backend API, `DELETE /integrations/{integration_id}: deletes it in Kombo, then tombstones the mapping.`
//! IAM-authorized route. Wiring only; the logic lives in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsBackend, backend::Route};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsBackend::from_env(Route::DeleteIntegration).await?;
    run(service_fn(|event| {
        app.handle(Route::DeleteIntegration, event)
    }))
    .await
}
