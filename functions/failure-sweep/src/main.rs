//! `failure-sweep`: on a schedule, sends one summary for each customer's window of
//! connection failures that closed with failures folded into it and no later page, and
//! keeps the fleet incidents (one update per window while one grows, one "incident over"
//! once it is quiet). Wiring only; the run lives in `shared::sweep`.

use lambda_http::{Error, lambda_runtime::run, service_fn};
use shared::AwsSweeper;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sweeper = AwsSweeper::from_env().await?;
    run(service_fn(|event| sweeper.handle(event))).await
}
