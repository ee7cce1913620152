//! Reconcile: the mappings table converges to Kombo even when a webhook never arrives.
//!
//! Kombo cannot list integrations, but answers `GET /integrations/{id}` for one we know.
//! A run walks the table page by page from where the previous run stopped and asks Kombo
//! about every row that is not deleted. What the answer means for the row is
//! [`crate::decide::reconcile::plan`], a plain value; the repairs go through the same effects
//! as the webhooks:
//!
//! - Kombo has no such integration → the row becomes a tombstone, and one notice says it
//!   was deleted outside the webhooks (exactly once: a claim on `reconcile-deleted:<id>`).
//! - Kombo's `status`/`setup_status` differ → recorded as a state change observed at the
//!   moment the request was sent, less [`OBSERVED_MARGIN`] (Kombo's answer carries no
//!   timestamp). The same conditional write as `integration-state-changed` keeps the
//!   newer state: a webhook about a later change always wins over a run, and a run never
//!   writes over a state a webhook recorded after it asked. A status that makes the
//!   integration INVALID pages once, as the webhook would (the claim is on the
//!   observation's event id, and the row records which event made it INVALID); one that
//!   takes it out of INVALID (ACTIVE) sends one "recovered" notice the same way.
//! - A page or notice that failed is tried again by the following runs (the row still
//!   names the run's event id) for half the claims' retention; a completed one is never
//!   repeated.
//!
//! Rows Kombo knows nothing about are never invented: only rows of the table are asked
//! about. A run stops early, remembering where, when Kombo rate-limits it
//! (`PLATFORM.RATE_LIMIT_EXCEEDED`), refuses the API key, is unavailable, or the
//! invocation's deadline comes near; the next run goes on from there.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::reconcile::{Repair, Seen, asks_kombo, pending_notice, plan, setup_notice};
use crate::decide::routes::Tombstoned;
use crate::decide::{Alert, Decision, Mapping, Status};
use crate::effects::{DDB, Effects, Outcome, SNS};
use crate::error::Error;
use crate::kombo::{KomboApi, KomboError};
use crate::ports::{AlertPublisher, ReconcileStore, Store};

/// Rows read per `Scan` request.
pub const PAGE_SIZE: i32 = 25;

/// The longest one `GET /integrations/{id}` may take, retries included.
const KOMBO_BUDGET: Duration = Duration::from_secs(5);

/// Left for a row's writes, page and claim after its Kombo answer.
const EFFECT_BUDGET: Duration = Duration::from_secs(4);

/// One change a run made (or, dry, would make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub integration_id: String,
    /// `deleted` or `state`.
    pub repair: &'static str,
    pub from: String,
    pub to: String,
    /// What the write found (`deleted`, `state_recorded`, `state_recorded_alerted`, ...),
    /// or `dry_run`.
    pub outcome: &'static str,
}

/// What a run did: the figures of its log line and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Rows asked about (Kombo answered).
    pub checked: u32,
    pub in_step: u32,
    /// Tombstoned: Kombo no longer has them.
    pub deleted: u32,
    /// States recorded from Kombo.
    pub state_repaired: u32,
    /// Of those, newly INVALID: paged.
    pub invalid_paged: u32,
    /// Of those, out of INVALID (ACTIVE again): the "recovered" notice sent.
    pub recovered_notified: u32,
    /// Of the newly INVALID, the one that opened its tool's fleet incident (its page is
    /// the incident's; also counted in `invalid_paged`).
    pub incidents_opened: u32,
    /// Newly INVALID (or recovered) rows counted on their tool's open fleet incident
    /// instead of paging.
    pub in_incident: u32,
    /// Rows in step whose `usable` attribute (or its reason) was absent (written by an
    /// earlier version) or wrong, now set.
    pub usable_set: u32,
    /// "Setup not finished" notices sent (once per integration).
    pub setup_noticed: u32,
    /// Rows that failed (Kombo refused that one id, a write or publish failed); tried
    /// again by the next run.
    pub failures: u32,
    /// Why the run ended before the table's end (`rate_limited`, `kombo_unavailable`,
    /// `kombo_unauthorized`, `deadline`); the next run goes on from there.
    pub stopped: Option<&'static str>,
    /// Where the run started (after this integration id; none: the table's start).
    pub started_after: Option<String>,
    pub changes: Vec<Change>,
}

/// Why a row ends the run.
enum Stop {
    Run(&'static str),
}

/// The run: the effects (the table, claims and alerts), and the Kombo client.
pub struct Reconciler<S, P, K> {
    pub effects: Effects<S, P>,
    pub kombo: K,
}

impl<S, P, K> Reconciler<S, P, K>
where
    S: Store + ReconcileStore,
    P: AlertPublisher,
    K: KomboApi,
{
    /// The Lambda handler (an EventBridge schedule's event, or `{"dry_run": true}` from an
    /// operator): one run inside the invocation's deadline, its report as the answer and
    /// as the one log line. A table or cursor it cannot read fails the invocation (the
    /// function's Errors alarm).
    pub async fn handle(
        &self,
        event: lambda_http::LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_http::Error> {
        let dry_run = event.payload.get("dry_run") == Some(&serde_json::Value::Bool(true));
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        match self.run(dry_run, deadline).await {
            Ok(report) => {
                println!("{}", report.log_line((self.effects.clock)()));
                Ok(serde_json::to_value(&report).expect("a report serializes"))
            }
            Err(e) => {
                tracing::error!(error = %e, "reconcile run failed");
                Err(e.into())
            }
        }
    }

    /// One run inside `deadline`. Dry: from the table's start, nothing written (neither
    /// repairs nor the cursor), every change it would make listed.
    pub async fn run(&self, dry_run: bool, deadline: Deadline) -> Result<Report, Error> {
        let store = &self.effects.store;
        let mut report = Report {
            dry_run,
            ..Report::default()
        };
        let mut after = if dry_run {
            None
        } else {
            deadline.run(DDB, store.cursor()).await?
        };
        report.started_after = after.clone();
        let needs = KOMBO_BUDGET + EFFECT_BUDGET;
        'pages: loop {
            if deadline.remaining() < needs {
                report.stopped = Some("deadline");
                break;
            }
            let page = deadline
                .run(DDB, store.scan_page(after.as_deref(), PAGE_SIZE))
                .await?;
            for row in &page.rows {
                if deadline.remaining() < needs {
                    report.stopped = Some("deadline");
                    break 'pages;
                }
                if let Err(Stop::Run(why)) = self.row(row, dry_run, deadline, &mut report).await {
                    report.stopped = Some(why);
                    break 'pages;
                }
                after = Some(row.integration_id.clone());
            }
            if page.next.is_none() {
                after = None;
                break;
            }
            after = page.next.or(after);
        }
        if !dry_run {
            let at = report.stopped.and(after.as_deref());
            deadline.run(DDB, store.save_cursor(at)).await?;
        }
        Ok(report)
    }

    /// Checks one row and repairs it. `Err`: the run must stop before this row.
    async fn row(
        &self,
        row: &Mapping,
        dry_run: bool,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Stop> {
        let now = (self.effects.clock)();
        let repair = if asks_kombo(row) {
            let observed = (self.effects.clock)();
            let answer = self
                .kombo
                .get_integration(&row.integration_id, deadline.at_most(KOMBO_BUDGET))
                .await;
            let seen = match &answer {
                Ok(k) => Seen::Present(k),
                Err(e) if e.is_not_found() => Seen::Gone,
                Err(e) => {
                    return match stop_reason(e) {
                        Some(why) => {
                            tracing::warn!(integration_id = %row.integration_id, error = %e, "reconcile stops: {why}");
                            Err(Stop::Run(why))
                        }
                        None => {
                            tracing::warn!(integration_id = %row.integration_id, error = %e, "Kombo refused this integration; the next run asks again");
                            report.failures += 1;
                            Ok(())
                        }
                    };
                }
            };
            report.checked += 1;
            if let Seen::Present(k) = seen
                && let Some((claim, notice)) = setup_notice(row, k, now, &self.effects.rules)
                && !dry_run
            {
                self.notify_setup(row, &claim, &notice, now, deadline, report)
                    .await;
            }
            plan(row, seen, observed, now, &self.effects.rules)
        } else {
            pending_notice(row, now, &self.effects.rules)
        };
        let (repair_kind, to, retry) = match &repair {
            Repair::InStep => {
                if asks_kombo(row) {
                    report.in_step += 1;
                }
                return self.settle_usable(row, dry_run, deadline, report).await;
            }
            Repair::Delete { retry, .. } => ("deleted", "DELETED".to_owned(), *retry),
            Repair::State { update, retry, .. } => (
                "state",
                format!("{} {}", update.fields.state, update.fields.setup_status),
                *retry,
            ),
        };
        let from = match row.status {
            Status::Deleted => "DELETED".to_owned(),
            Status::Active => format!(
                "{} {}",
                row.state.as_deref().unwrap_or("ACTIVE"),
                row.setup_status.as_deref().unwrap_or("-")
            ),
        };
        let change = |outcome| Change {
            integration_id: row.integration_id.clone(),
            repair: repair_kind,
            from: from.clone(),
            to: to.clone(),
            outcome,
        };
        if dry_run {
            if !retry {
                report.changes.push(change("dry_run"));
            }
            return Ok(());
        }
        match self.apply(repair, now, deadline).await {
            Ok(outcome) => {
                match outcome {
                    Outcome::Deleted => report.deleted += 1,
                    Outcome::StateRecorded if !retry => report.state_repaired += 1,
                    Outcome::StateRecordedRecovered => {
                        report.state_repaired += 1;
                        report.recovered_notified += 1;
                    }
                    Outcome::StateRecordedAlerted => {
                        report.state_repaired += 1;
                        report.invalid_paged += 1;
                    }
                    Outcome::IncidentOpened => {
                        report.state_repaired += 1;
                        report.invalid_paged += 1;
                        report.incidents_opened += 1;
                    }
                    // Counted on the tool's open fleet incident instead of paging.
                    Outcome::InIncident => {
                        report.state_repaired += 1;
                        report.in_incident += 1;
                    }
                    // A previous run's page or notice that went out, a newer state, a
                    // tombstone a webhook wrote meanwhile: nothing changed.
                    _ => {
                        if asks_kombo(row) {
                            report.in_step += 1;
                        }
                        return Ok(());
                    }
                }
                report.changes.push(change(outcome.as_str()));
            }
            Err(e) => {
                tracing::warn!(integration_id = %row.integration_id, error = %e, "repair failed; the next run tries again");
                report.failures += 1;
            }
        }
        Ok(())
    }

    /// Sends a row's "setup not finished" notice once (its claim per integration): a
    /// failure is the next run's to try again.
    async fn notify_setup(
        &self,
        row: &Mapping,
        claim: &str,
        notice: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
        report: &mut Report,
    ) {
        let soft = deadline.at_most(EFFECT_BUDGET);
        match self.effects.publish_once(claim, notice, now, soft).await {
            Ok(Some(true)) => report.setup_noticed += 1,
            // Sent before, or being sent by another run.
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(integration_id = %row.integration_id, error = %e, "setup notice not sent; the next run tries again");
                report.failures += 1;
            }
        }
    }

    /// A row in step whose `usable` is absent (written before the attribute existed) or
    /// disagrees with its own fields: set it, so the documented query finds the row.
    async fn settle_usable(
        &self,
        row: &Mapping,
        dry_run: bool,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Stop> {
        if dry_run || row.usable_settled() {
            return Ok(());
        }
        let soft = deadline.at_most(EFFECT_BUDGET);
        match soft.run(DDB, self.effects.store.settle_usable(row)).await {
            Ok(true) => report.usable_set += 1,
            // Changed since it was read: the write that changed it set `usable`.
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(integration_id = %row.integration_id, error = %e, "setting usable failed; the next run tries again");
                report.failures += 1;
            }
        }
        Ok(())
    }

    async fn apply(
        &self,
        repair: Repair,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        match repair {
            Repair::InStep => Ok(Outcome::AlreadyStored),
            Repair::State {
                event_id,
                update,
                alert,
                ..
            } => {
                self.effects
                    .apply(
                        &event_id,
                        Decision::State(update, alert, None),
                        now,
                        deadline,
                    )
                    .await
            }
            Repair::Delete {
                event_id,
                tombstone,
                notice,
                retry,
            } => {
                let effects = &self.effects;
                let soft = deadline.earlier(UNDO_RESERVE);
                effects
                    .once(&event_id, now, deadline, Outcome::AlreadyDeleted, async {
                        match soft.run(DDB, effects.store.tombstone(&tombstone)).await? {
                            Tombstoned::Marked => {}
                            // Ours from a previous run whose notice failed: send it now.
                            Tombstoned::AlreadyDeleted if retry => {}
                            // A webhook deleted it meanwhile: nothing to tell.
                            Tombstoned::AlreadyDeleted => return Ok(Outcome::AlreadyDeleted),
                        }
                        soft.run(SNS, effects.alerts.publish(&notice)).await?;
                        Ok(Outcome::Deleted)
                    })
                    .await
            }
        }
    }
}

/// Kombo errors that end the run (every further row would fail the same way).
fn stop_reason(e: &KomboError) -> Option<&'static str> {
    match e {
        KomboError::Api { status: 429, .. } => Some("rate_limited"),
        KomboError::Api {
            status: 401 | 403, ..
        } => Some("kombo_unauthorized"),
        KomboError::Api { status, .. } if *status >= 500 => Some("kombo_unavailable"),
        KomboError::Api { .. } => None,
        KomboError::Transport(_) | KomboError::Unknown(_) => Some("kombo_unavailable"),
    }
}

impl Report {
    /// The run's one log line: its figures as fields and, in CloudWatch's Embedded Metric
    /// Format, as metrics (namespace `KomboWebhooks`, dimension `Function`), with no call
    /// to CloudWatch.
    pub fn log_line(&self, at: OffsetDateTime) -> serde_json::Value {
        let metrics = [
            ("ReconcileChecked", self.checked),
            ("ReconcileDeleted", self.deleted),
            ("ReconcileStateRepaired", self.state_repaired),
            ("ReconcileInvalidPaged", self.invalid_paged),
            ("ReconcileRecoveredNotified", self.recovered_notified),
            ("FleetIncidentsOpened", self.incidents_opened),
            ("ReconcileFailures", self.failures),
            (
                "ReconcileRateLimited",
                u32::from(self.stopped == Some("rate_limited")),
            ),
        ];
        let warn = self.failures > 0 || self.stopped.is_some_and(|s| s != "deadline");
        crate::telemetry::run_line(
            "reconcile",
            "reconcile run",
            warn,
            at,
            &metrics,
            serde_json::json!({
                "dry_run": self.dry_run,
                "in_step": self.in_step,
                "usable_set": self.usable_set,
                "setup_noticed": self.setup_noticed,
                "in_incident": self.in_incident,
                "stopped": self.stopped,
                "started_after": self.started_after,
                "changes": self.changes,
            }),
        )
    }
}
