//! `issue-status-changed` webhook: Kombo's earliest warning about an integration (a login
//! failing days before it turns INVALID, an action failing, ...): kept on the integration's
//! row while open, paged once per episode for the types that page (folded per customer and
//! tool, one fleet incident for a tool-wide wave), a low-urgency notice for the rest, one
//! "resolved" notice for an episode that paged. Wiring only; the pipeline and the decision
//! live in the `shared` crate.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::{AwsApp, event::IssueStatusChanged};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = AwsApp::from_env::<IssueStatusChanged>().await?;
    run(service_fn(|event| app.handle::<IssueStatusChanged>(event))).await
}
