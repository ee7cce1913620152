//! `connection-flow-failed` webhook: Alerts on-call (SNS), exactly once per event, when a customer's connection flow fails.
//! Wiring only; the pipeline and the decision live in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsApp, event::ConnectionFlowFailed};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsApp::from_env::<ConnectionFlowFailed>().await?;
    run(service_fn(|event| {
        app.handle::<ConnectionFlowFailed>(event)
    }))
    .await
}
