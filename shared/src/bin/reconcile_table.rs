//! `reconcile-table`: the reconcile run by hand, from an operator's machine, with the same
//! code as the scheduled function. `--dry-run` asks Kombo about every row from the table's
//! start and prints what a run would change, writing nothing (no repair, no page, no
//! cursor). Without it, one run as the schedule would do it (from the saved cursor).
//! Uses the standard AWS configuration (profile, region, `AWS_ENDPOINT_URL`) and the
//! function's variables; `scripts/reconcile.sh` runs it.
//!
//!     TABLE_NAME=... IDEMPOTENCY_TABLE_NAME=... ALERT_TOPIC_ARN=... KOMBO_API_KEY=... \
//!       reconcile-table [--dry-run]

use std::process::ExitCode;
use std::time::Duration;

use shared::deadline::Deadline;

const USAGE: &str = "usage: reconcile-table [--dry-run]   (TABLE_NAME, IDEMPOTENCY_TABLE_NAME, ALERT_TOPIC_ARN, KOMBO_API_KEY [, KOMBO_API_BASE_URL] in the environment)";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut dry_run = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let reconciler = match shared::AwsReconciler::from_env().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("reconcile-table: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // A run: as long as the function's own timeout allows one (the template's 300 s), so
    // it stops and saves its place as the scheduled one would. A dry run saves no place,
    // so it gets an hour to reach the table's end.
    let seconds = if dry_run { 3600 } else { 300 };
    let deadline = Deadline::after(Duration::from_secs(seconds));
    match reconciler.run(dry_run, deadline).await {
        Ok(report) => {
            for c in &report.changes {
                println!(
                    "{:<10} {:<40} {} -> {}  ({})",
                    c.repair, c.integration_id, c.from, c.to, c.outcome
                );
            }
            println!(
                "{}checked {}, in step {}, deleted {}, state repaired {} (INVALID paged {}, recovered {}), failures {}{}",
                if report.dry_run { "dry run: " } else { "" },
                report.checked,
                report.in_step,
                report.deleted,
                report.state_repaired,
                report.invalid_paged,
                report.recovered_notified,
                report.failures,
                report
                    .stopped
                    .map(|s| format!(", stopped early: {s}"))
                    .unwrap_or_default()
            );
            if report.failures > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("reconcile-table: {e}");
            ExitCode::FAILURE
        }
    }
}
