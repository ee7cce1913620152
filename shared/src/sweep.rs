//! The failure sweep: nothing folded goes unreported. A window folds a customer's
//! further connection failures into its first page; the next failure after the window
//! pages with their count, and when none comes, this scheduled run does: one summary per
//! window that closed with folded failures.
//!
//! It reads only the records that may owe one (a sparse index of the records table).
//! Each summary is taken with one conditional write (the window's start and count as
//! read, so a failure that opens the next window at the same moment carries nothing the
//! sweep took, and the other way round), published exactly once (a claim on
//! `sweep:<record>:<window start>`), then marked sent. A summary whose publish failed is
//! still marked taken, and the next run sends it.
//!
//! What it does with each record is decided in [`crate::decide::sweep`]. It also keeps
//! the fleet incidents ([`crate::decide::fleet`]): a summary of a customer
//! counted on its tool's open incident is folded into it (taken, not sent); an incident
//! that grew gets at most one update per window; one quiet for a whole window ends with
//! one "incident over" notice (a claim on `fleet-over:<incident id>`); customers whose last
//! failure is older than a window are forgotten.

use serde::Serialize;
use time::OffsetDateTime;

use crate::clock::epoch_ms;
use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::FailureRecord;
use crate::decide::fleet::FleetRecord;
use crate::decide::notices::summary_notice;
use crate::decide::sweep::{self, Keep, Summary};
use crate::effects::{DDB, Effects, SNS};
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};

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
    /// Summaries of customers counted on their tool's open fleet incident: taken, not sent.
    pub folded_into_incidents: u32,
    /// Fleet incidents that grew: updates sent.
    pub incident_updates: u32,
    /// Fleet incidents quiet for a whole window: "incident over" sent.
    pub incidents_ended: u32,
    /// Records that failed (a write or publish); the next run tries again.
    pub failures: u32,
    /// The run ended at its deadline before every record was done.
    pub stopped: Option<&'static str>,
}

pub struct Sweeper<S, P> {
    pub effects: Effects<S, P>,
}

impl<S: Store, P: AlertPublisher> Sweeper<S, P> {
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
                println!("{}", report.log_line((self.effects.clock)()));
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
        let now = (self.effects.clock)();
        let rules = &self.effects.rules;
        let closed_before = epoch_ms(now - rules.fold_window);
        let store = &self.effects.store;
        let (records, fleets) = tokio::try_join!(
            Box::pin(deadline.run(DDB, store.closed_windows(closed_before))),
            Box::pin(deadline.run(DDB, store.fleet_records())),
        )?;
        let mut report = SweepReport::default();
        for record in records {
            if deadline.remaining() < RECORD_BUDGET {
                report.stopped = Some("deadline");
                break;
            }
            report.checked += 1;
            // A customer counted on its tool's incident: the incident reports it.
            if sweep::folds_into_incident(&record, &fleets, &rules.fleet) {
                match self.fold(&record, deadline).await {
                    Ok(true) => report.folded_into_incidents += 1,
                    Ok(false) => report.tidied += 1,
                    Err(e) => {
                        tracing::warn!(record = %record.key, error = %e, "summary not folded; the next run tries again");
                        report.failures += 1;
                    }
                }
                continue;
            }
            match self.sweep(&record, now, deadline).await {
                Ok(true) => report.summaries += 1,
                Ok(false) => report.tidied += 1,
                Err(e) => {
                    tracing::warn!(record = %record.key, error = %e, "summary not sent; the next run tries again");
                    report.failures += 1;
                }
            }
        }
        for fleet in &fleets {
            if deadline.remaining() < RECORD_BUDGET {
                report.stopped = Some("deadline");
                break;
            }
            match self.incident(fleet, now, deadline).await {
                Ok(Kept::Updated) => report.incident_updates += 1,
                Ok(Kept::Ended) => report.incidents_ended += 1,
                Ok(Kept::Nothing) => {}
                Err(e) => {
                    tracing::warn!(record = %fleet.key, error = %e, "fleet incident not kept; the next run tries again");
                    report.failures += 1;
                }
            }
        }
        Ok(report)
    }

    /// A summary of a customer on its tool's incident: taken and marked sent without
    /// sending (the incident counts its failures). `true`: taken.
    async fn fold(&self, r: &FailureRecord, deadline: Deadline) -> Result<bool, Error> {
        let Some((id, _)) = Box::pin(self.taken(r, deadline)).await? else {
            return Ok(false);
        };
        deadline
            .run(DDB, self.effects.store.summary_sent(&r.key, &id))
            .await?;
        Ok(true)
    }

    /// The summary of `r`'s closed window: one taken before, or its folded failures taken
    /// now within `within` (`None`: someone else's page (a new window) or run took them,
    /// or nothing is folded and the record left the index). Its id and count.
    async fn taken(
        &self,
        r: &FailureRecord,
        within: Deadline,
    ) -> Result<Option<(String, u32)>, Error> {
        let store = &self.effects.store;
        Ok(match sweep::summary(r) {
            Summary::Taken { id, folded } => Some((id, folded)),
            Summary::Take => within
                .run(DDB, store.take_summary(r))
                .await?
                .then(|| (r.summary_id(), r.folded)),
            Summary::Tidy => {
                within.run(DDB, store.tidy(&r.key)).await?;
                None
            }
        })
    }

    /// One fleet record: end its incident if a whole window passed without a failure, or
    /// send an update if it grew and none went out for a window; forget stale customers.
    async fn incident(
        &self,
        r: &FleetRecord,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Kept, Error> {
        let store = &self.effects.store;
        let now_ms = epoch_ms(now);
        let soft = deadline.earlier(UNDO_RESERVE);
        match sweep::keep(r, &self.effects.rules.fleet, now_ms) {
            Keep::Nothing => Ok(Kept::Nothing),
            Keep::Prune { before_ms } => {
                deadline.run(DDB, store.prune(r, before_ms)).await?;
                Ok(Kept::Nothing)
            }
            Keep::End {
                notice,
                claim,
                customers,
                stale_before_ms,
            } => {
                let sent = Box::pin(self.effects.publish_once(&claim, &notice, now, deadline));
                let Some(sent) = sent.await? else {
                    return Ok(Kept::Nothing);
                };
                deadline
                    .run(DDB, store.end_incident(r, stale_before_ms))
                    .await?;
                if !sent {
                    return Ok(Kept::Nothing);
                }
                let incident_id = r.incident.as_ref().map(|i| i.id.as_str());
                println!(
                    "{}",
                    crate::telemetry::run_line(
                        "failure-sweep",
                        "fleet incident over",
                        false,
                        now,
                        &[("FleetIncidentCustomers", customers)],
                        serde_json::json!({
                            "incident_id": incident_id,
                            "tool": r.tool,
                            "kind": r.kind.as_str(),
                        }),
                    )
                );
                Ok(Kept::Ended)
            }
            Keep::Update { notice, customers } => {
                if !soft
                    .run(DDB, store.take_update(r, customers, now_ms))
                    .await?
                {
                    return Ok(Kept::Nothing);
                }
                if let Err(e) = soft.run(SNS, self.effects.alerts.publish(&notice)).await {
                    deadline.run(DDB, store.give_back_update(r, now_ms)).await?;
                    return Err(e);
                }
                Ok(Kept::Updated)
            }
        }
    }

    /// One record: finish a summary taken before, take and send one, or leave the index.
    /// `true`: a summary went out.
    async fn sweep(
        &self,
        r: &FailureRecord,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<bool, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let Some((id, folded)) = Box::pin(self.taken(r, soft)).await? else {
            return Ok(false);
        };
        let notice = summary_notice(r, folded, &id);
        // `None`: another run is sending it right now (and marks it sent).
        let publish = Box::pin(self.effects.publish_once(&id, &notice, now, deadline));
        let Some(sent) = publish.await? else {
            return Ok(false);
        };
        deadline
            .run(DDB, self.effects.store.summary_sent(&r.key, &id))
            .await?;
        Ok(sent)
    }
}

/// What the sweep did with a fleet record.
enum Kept {
    Nothing,
    Updated,
    Ended,
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
                ("FleetIncidentUpdates", self.incident_updates),
                ("FleetIncidentsEnded", self.incidents_ended),
            ],
            serde_json::json!({
                "tidied": self.tidied,
                "folded_into_incidents": self.folded_into_incidents,
                "stopped": self.stopped,
            }),
        )
    }
}
