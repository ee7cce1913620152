//! `integration-deleted` webhook: Marks an integration deleted (a tombstone) when Kombo reports its deletion.
//! Wiring only; the pipeline and the decision live in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsApp, event::IntegrationDeleted};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsApp::from_env::<IntegrationDeleted>().await?;
    run(service_fn(|event| app.handle::<IntegrationDeleted>(event))).await
}
