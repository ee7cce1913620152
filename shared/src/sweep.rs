//! The failure sweep: nothing folded goes unreported. A window folds a customer's
//! further connection failures into its first page; the next failure after the window
//! pages with their count, and when none comes, this scheduled run does: one summary per
//! window that closed with folded failures.
//!
//! It reads only the records that may owe one (a sparse index of the idempotency table).
//! Each summary is taken with one conditional write (the window's start and count as
//! read, so a failure that opens the next window at the same moment carries nothing the
//! sweep took, and the other way round), published exactly once (a claim on
//! `sweep:<record>:<window start>`), then marked sent. A summary whose publish failed is
//! still marked taken, and the next run sends it.

use serde::Serialize;
use time::OffsetDateTime;

use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::notices::summary_notice;
use crate::decide::{FailureRecord, epoch_ms};
use crate::error::Error;
use crate::ports::{AlertPublisher, ClaimStore, FailureStore, MappingStore};
use crate::webhook::{App, Outcome};

const DDB: &str = "DynamoDB";

/// Left for one record's take, publish and mark.
const RECORD_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// What a run did: its log line and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Records read from the index (windows closed).
    pub checked: u32,
    /// Summaries published.
    pub summaries: u32,
    /// Records with nothing to report, taken off the index.
    pub tidied: u32,
    /// Records that failed (a write or publish); the next run tries again.
    pub failures: u32,
    /// The run ended at its deadline before every record was done.
    pub stopped: Option<&'static str>,
}

pub struct Sweeper<S, P> {
    pub app: App<S, P>,
}

impl<S, P> Sweeper<S, P>
where
    S: MappingStore + ClaimStore + FailureStore,
    P: AlertPublisher,
{
    /// The Lambda handler (an EventBridge schedule's event): one run, its report as the
    /// answer and as the one log line. An index it cannot read fails the invocation (the
    /// function's Errors alarm).
    pub async fn handle(
        &self,
        event: lambda_http::LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_http::Error> {
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        match self.run(deadline).await {
            Ok(report) => {
                println!("{}", report.log_line((self.app.clock)()));
                Ok(serde_json::to_value(&report).expect("a report serializes"))
            }
            Err(e) => {
                tracing::error!(error = %e, "failure sweep failed");
                Err(e.into())
            }
        }
    }

    /// One run inside `deadline`: every window that closed, in order of closing.
    pub async fn run(&self, deadline: Deadline) -> Result<SweepReport, Error> {
        let now = (self.app.clock)();
        let closed_before = epoch_ms(now - self.app.settings.fold_window);
        let store = &self.app.store;
        let records = deadline
            .run(DDB, store.closed_windows(closed_before))
            .await?;
        let mut report = SweepReport::default();
        for record in records {
            if deadline.remaining() < RECORD_BUDGET {
                report.stopped = Some("deadline");
                break;
            }
            report.checked += 1;
            match self.sweep(&record, now, deadline).await {
                Ok(true) => report.summaries += 1,
                Ok(false) => report.tidied += 1,
                Err(e) => {
                    tracing::warn!(record = %record.key, error = %e, "summary not sent; the next run tries again");
                    report.failures += 1;
                }
            }
        }
        Ok(report)
    }

    /// One record: finish a summary taken before, take and send one, or leave the index.
    /// `true`: a summary went out.
    async fn sweep(
        &self,
        r: &FailureRecord,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<bool, Error> {
        let store = &self.app.store;
        let soft = deadline.earlier(UNDO_RESERVE);
        let (id, folded) = match &r.summary {
            Some((id, folded)) => (id.clone(), *folded),
            None if r.folded > 0 => {
                if !soft.run(DDB, store.take_summary(r)).await? {
                    // Someone else's page (a new window) or run took them.
                    return Ok(false);
                }
                (r.summary_id(), r.folded)
            }
            None => {
                soft.run(DDB, store.tidy(&r.key)).await?;
                return Ok(false);
            }
        };
        let notice = summary_notice(r, folded, &id);
        let sent = self
            .app
            .once(&id, now, deadline, Outcome::AlreadyAlerted, async {
                soft.run("SNS", self.app.alerts.publish(&notice))
                    .await
                    .map(|()| Outcome::Alerted)
            })
            .await;
        let outcome = match sent {
            // Another run is sending it right now (and marks it sent).
            Err(Error::InProgress(_)) => return Ok(false),
            other => other?,
        };
        deadline.run(DDB, store.summary_sent(&r.key, &id)).await?;
        Ok(outcome == Outcome::Alerted)
    }
}

impl SweepReport {
    /// The run's one log line, its figures also as metrics (Embedded Metric Format,
    /// namespace `KomboWebhooks`, dimension `Function`).
    pub fn log_line(&self, at: OffsetDateTime) -> serde_json::Value {
        crate::telemetry::run_line(
            "failure-sweep",
            "failure sweep",
            self.failures > 0,
            at,
            &[
                ("SweepChecked", self.checked),
                ("SweepSummaries", self.summaries),
                ("SweepFailures", self.failures),
            ],
            serde_json::json!({"tidied": self.tidied, "stopped": self.stopped}),
        )
    }
}
