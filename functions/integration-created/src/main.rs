//! `integration-created` webhook: Stores the customer ↔ integration mapping when Kombo reports a new integration.
//! Wiring only; the pipeline and the decision live in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsApp, event::IntegrationCreated};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsApp::from_env::<IntegrationCreated>().await?;
    run(service_fn(|event| app.handle::<IntegrationCreated>(event))).await
}
