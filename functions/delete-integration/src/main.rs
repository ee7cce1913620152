//! Backend API, `DELETE /integrations/{integration_id}`: deletes the integration in Kombo,
//! then tombstones its mapping. IAM-authorized route. Wiring only; the route lives in
//! `shared::backend`.

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
