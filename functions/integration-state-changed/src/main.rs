//! `integration-state-changed` webhook: records an integration's state, setup and QA
//! status (never older over newer), and alerts on-call once when it becomes INVALID.
//! Wiring only; the pipeline and the decision live in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsApp, event::IntegrationStateChanged};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsApp::from_env::<IntegrationStateChanged>().await?;
    run(service_fn(|event| {
        app.handle::<IntegrationStateChanged>(event)
    }))
    .await
}
