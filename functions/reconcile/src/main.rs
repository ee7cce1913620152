//! `reconcile`: on a schedule, asks Kombo about every integration in the table and repairs
//! what no webhook told (deleted, INVALID, another status). Wiring only; the run lives in
//! `shared::reconcile`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::AwsReconciler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let reconciler = AwsReconciler::from_env().await?;
    run(service_fn(|event| reconciler.handle(event))).await
}
