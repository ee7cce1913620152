//! Reconcile: the mappings table converges to Kombo even when a webhook never arrives.
//!
//! Kombo cannot list integrations, but answers `GET /integrations/{id}` for one we know.
//! A run walks the table page by page from where the previous run stopped and asks Kombo
//! about every row that is not deleted. What the answer means for the row is [`plan`], a
//! plain value; the repairs go through the same store and claim code as the webhooks:
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

use crate::config::Settings;
use crate::deadline::Deadline;
use crate::decide::{
    Alert, AlertKind, Descriptive, Mapping, StateFields, StateUpdate, Status, Tombstone, alert,
    rfc3339,
};
use crate::error::Error;
use crate::event::{EndUser, Sensitive};
use crate::kombo::{Integration, KomboApi, KomboError};
use crate::ports::{
    AlertPublisher, ClaimStore, FailureStore, FleetStore, MappingStore, ReconcileStore, Tombstoned,
};
use crate::webhook::{App, Outcome};

/// Rows read per `Scan` request.
pub const PAGE_SIZE: i32 = 25;

/// Taken off the moment a `GET` was sent before it counts as the time of the state it
/// returns: room for the clocks of Kombo and Lambda to disagree. A webhook about a change
/// up to this long before the request may still overwrite what the run recorded; both
/// then describe the same state.
pub const OBSERVED_MARGIN: time::Duration = time::Duration::seconds(5);

/// The longest one `GET /integrations/{id}` may take, retries included.
const KOMBO_BUDGET: Duration = Duration::from_secs(5);

/// Left for a row's writes, page and claim after its Kombo answer.
const EFFECT_BUDGET: Duration = Duration::from_secs(4);

const DDB: &str = "DynamoDB";

/// The event id of a tombstone the run wrote (deletion is final: one per integration).
pub fn deleted_event_id(integration_id: &str) -> String {
    format!("reconcile-deleted:{integration_id}")
}

/// The event id of a state the run observed (at `ms`, epoch milliseconds).
pub fn state_event_id(integration_id: &str, ms: i64) -> String {
    format!("{}{ms}", state_event_prefix(integration_id))
}

/// What every [`state_event_id`] of one integration starts with.
fn state_event_prefix(integration_id: &str) -> String {
    format!("reconcile:{integration_id}:")
}

/// What Kombo said about one integration.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    Present(&'a Integration),
    /// `PLATFORM.INTEGRATION_NOT_FOUND`.
    Gone,
}

/// What one row needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The row agrees with Kombo.
    InStep,
    /// Kombo no longer has it: tombstone, and tell on-call once.
    Delete {
        event_id: String,
        tombstone: Tombstone,
        notice: Alert,
        /// A previous run's tombstone whose notice may not have gone out.
        retry: bool,
    },
    /// Kombo's status differs: record it; page once if that makes it INVALID.
    State {
        event_id: String,
        update: StateUpdate,
        page: Option<Alert>,
        /// A previous run's INVALID whose page may not have gone out.
        retry: bool,
    },
}

/// Whether the run asks Kombo about `row`: every row that is not deleted.
pub fn asks_kombo(row: &Mapping) -> bool {
    row.status == Status::Active
}

/// Whether a repair the run wrote at `updated_at` is recent enough that its claim still
/// says whether its page or notice went out (claims are kept for the retention).
fn retry_window(row: &Mapping, now: OffsetDateTime, settings: &Settings) -> bool {
    time::OffsetDateTime::parse(
        &row.updated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|at| now - at < settings.tombstone_retention / 2)
}

/// For a deleted row: the notice of a tombstone this run wrote, while it may still be
/// owed (the claim decides whether it went out).
pub fn pending_notice(row: &Mapping, now: OffsetDateTime, settings: &Settings) -> Repair {
    let event_id = deleted_event_id(&row.integration_id);
    if row.status != Status::Deleted
        || row.last_event_id != event_id
        || !retry_window(row, now, settings)
    {
        return Repair::InStep;
    }
    delete(row, event_id, now, settings, true)
}

fn delete(
    row: &Mapping,
    event_id: String,
    now: OffsetDateTime,
    settings: &Settings,
    retry: bool,
) -> Repair {
    let tombstone = Tombstone::deleted_by_api(&row.integration_id, event_id.clone(), now, settings);
    let notice = alert(
        AlertKind::DeletedOutsideWebhooks,
        format!(
            "Kombo integration deleted outside the webhooks: {} ({} {})",
            row.organization_name, row.tool, row.category
        ),
        "Kombo no longer has this integration, but no integration-deleted webhook for it \
         reached this stack (deleted while deliveries failed, for example). The reconcile run \
         marked it deleted in the mappings table: the customer has no working integration for \
         this tool now.",
        &end_user(row),
        &row.tool,
        &row.category,
        &[("Integration id", row.integration_id.as_str())],
        &event_id,
    );
    Repair::Delete {
        event_id,
        tombstone,
        notice,
        retry,
    }
}

fn end_user(row: &Mapping) -> EndUser {
    EndUser {
        organization_name: row.organization_name.clone(),
        creator_email: row.creator_email.clone().map(Sensitive::new),
        origin_id: row.origin_id.clone(),
    }
}

/// What Kombo's answer means for an active row. `observed`: when the request was sent.
pub fn plan(
    row: &Mapping,
    seen: Seen<'_>,
    observed: OffsetDateTime,
    now: OffsetDateTime,
    settings: &Settings,
) -> Repair {
    let k = match seen {
        Seen::Gone => {
            return delete(
                row,
                deleted_event_id(&row.integration_id),
                now,
                settings,
                false,
            );
        }
        Seen::Present(k) => k,
    };
    let stored = row.state.as_deref().unwrap_or("ACTIVE");
    let setup_differs = row
        .setup_status
        .as_deref()
        .is_some_and(|s| s != k.setup_status);
    if stored == k.status && !setup_differs {
        // INVALID (or ACTIVE) on both sides, made so by a run: its page (or "recovered"
        // notice, if it was a recovery) may still be owed.
        if (k.status == "INVALID" || k.status == "ACTIVE")
            && retry_window(row, now, settings)
            && let Some(ms) = row
                .last_event_id
                .strip_prefix(&state_event_prefix(&row.integration_id))
                .and_then(|ms| ms.parse::<i64>().ok())
        {
            let at = row.state_updated_at.clone().unwrap_or_default();
            return state(row, k, row.last_event_id.clone(), at, ms, now, true);
        }
        return Repair::InStep;
    }
    let at = observed - OBSERVED_MARGIN;
    let ms = crate::decide::epoch_ms(at);
    state(
        row,
        k,
        state_event_id(&row.integration_id, ms),
        rfc3339(at),
        ms,
        now,
        false,
    )
}

fn state(
    row: &Mapping,
    k: &Integration,
    event_id: String,
    at: String,
    ms: i64,
    now: OffsetDateTime,
    retry: bool,
) -> Repair {
    let invalid = k.status == "INVALID";
    // Out of INVALID: the store tells whether this observation is the one that left it.
    let recovers = k.status == "ACTIVE" && (retry || row.state.as_deref() == Some("INVALID"));
    let recovered = recovers.then(|| {
        crate::decide::notices::recovered_notice(
            &end_user(row),
            &row.tool,
            &row.category,
            &row.integration_id,
            &event_id,
        )
    });
    let page = invalid.then(|| {
        alert(
            AlertKind::IntegrationInvalid,
            format!(
                "Kombo integration invalid: {} ({} {})",
                row.organization_name, row.tool, row.category
            ),
            "Kombo reports the integration INVALID: its credentials no longer work, so no \
             data syncs. Found by the reconcile run: no integration-state-changed webhook for \
             it reached this stack. Ask the customer to reconnect (create a new connection \
             link).",
            &end_user(row),
            &row.tool,
            &row.category,
            &[
                ("Integration id", row.integration_id.as_str()),
                ("Setup status", k.setup_status.as_str()),
            ],
            &event_id,
        )
    });
    Repair::State {
        update: StateUpdate {
            integration_id: row.integration_id.clone(),
            fields: StateFields {
                state: k.status.clone(),
                setup_status: k.setup_status.clone(),
                qa_status: None,
                state_updated_at: at,
                state_updated_at_ms: ms,
                // A retry rewrites what the run wrote then, so its retry window stays put.
                updated_at: if retry {
                    row.updated_at.clone()
                } else {
                    rfc3339(now)
                },
                last_event_id: event_id.clone(),
            },
            // What the row knows: the tool's fleet record counts the INVALID (the row's
            // own fields are never overwritten by it).
            descriptive: Descriptive {
                origin_id: row.origin_id.clone(),
                tool: Some(row.tool.clone()).filter(|t| !t.is_empty()),
                category: Some(row.category.clone()).filter(|c| !c.is_empty()),
                organization_name: Some(row.organization_name.clone()).filter(|o| !o.is_empty()),
                creator_email: None,
            },
            invalid,
            recovers,
        },
        event_id,
        page: page.or(recovered),
        retry,
    }
}

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
    /// Rows in step whose `usable` attribute was absent (written by an earlier version)
    /// or wrong, now set.
    pub usable_set: u32,
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

/// The run: the app's store, claims and alerts, and the Kombo client.
pub struct Reconciler<S, P, K> {
    pub app: App<S, P>,
    pub kombo: K,
}

impl<S, P, K> Reconciler<S, P, K>
where
    S: MappingStore + ClaimStore + ReconcileStore + FailureStore + FleetStore,
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
                println!("{}", report.log_line((self.app.clock)()));
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
        let store = &self.app.store;
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
        let now = (self.app.clock)();
        let repair = if asks_kombo(row) {
            let observed = (self.app.clock)();
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
            plan(row, seen, observed, now, &self.app.settings)
        } else {
            pending_notice(row, now, &self.app.settings)
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

    /// A row in step whose `usable` is absent (written before the attribute existed) or
    /// disagrees with its own fields: set it, so the documented query finds the row.
    async fn settle_usable(
        &self,
        row: &Mapping,
        dry_run: bool,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Stop> {
        if dry_run || row.usable == Some(row.usable_now()) {
            return Ok(());
        }
        let soft = deadline.at_most(EFFECT_BUDGET);
        match soft.run(DDB, self.app.store.settle_usable(row)).await {
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
                page,
                ..
            } => {
                self.app
                    .apply(
                        &event_id,
                        crate::decide::Decision::State(update, page),
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
                let app = &self.app;
                let soft = deadline.earlier(crate::deadline::UNDO_RESERVE);
                app.once(&event_id, now, deadline, Outcome::AlreadyDeleted, async {
                    match soft.run(DDB, app.store.tombstone(&tombstone)).await? {
                        Tombstoned::Marked => {}
                        // Ours from a previous run whose notice failed: send it now.
                        Tombstoned::AlreadyDeleted if retry => {}
                        // A webhook deleted it meanwhile: nothing to tell.
                        Tombstoned::AlreadyDeleted => return Ok(Outcome::AlreadyDeleted),
                    }
                    soft.run("SNS", app.alerts.publish(&notice)).await?;
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
                "in_incident": self.in_incident,
                "stopped": self.stopped,
                "started_after": self.started_after,
                "changes": self.changes,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn settings() -> Settings {
        Settings::for_tests("t", "i", "arn:aws:sns:us-east-1:123456789012:a")
    }

    fn row(state: Option<&str>) -> Mapping {
        Mapping {
            integration_id: "workday:1".into(),
            origin_id: Some("42".into()),
            tool: "workday".into(),
            category: "LMS".into(),
            organization_name: "Acme, Inc.".into(),
            creator_email: Some("jane@example.com".into()),
            status: Status::Active,
            created_at: Some("2026-11-20T09:00:00Z".into()),
            updated_at: "2026-11-20T09:00:00Z".into(),
            deleted_at: None,
            last_event_id: "c-1".into(),
            created_event_id: Some("c-1".into()),
            expires_at: None,
            state: state.map(Into::into),
            setup_status: state.map(|_| "COMPLETED".into()),
            qa_status: None,
            state_updated_at: None,
            connect_token_sha256: None,
            usable: None,
        }
    }

    fn kombo(status: &str) -> Integration {
        serde_json::from_value(serde_json::json!({
            "id": "workday:1", "tool": {"id": "workday", "label": "Workday"}, "category": "LMS",
            "status": status, "setup_status": "COMPLETED",
            "end_user": {"organization_name": "Acme, Inc.", "creator_email": null, "origin_id": "42"}
        }))
        .unwrap()
    }

    const NOW: OffsetDateTime = datetime!(2026-11-27 12:00:00 UTC);

    #[test]
    fn a_row_in_step_with_kombo_needs_nothing_and_no_state_counts_as_active() {
        let k = kombo("ACTIVE");
        for state in [None, Some("ACTIVE")] {
            assert_eq!(
                plan(&row(state), Seen::Present(&k), NOW, NOW, &settings()),
                Repair::InStep
            );
        }
    }

    #[test]
    fn gone_in_kombo_is_a_tombstone_with_one_notice_per_integration() {
        let Repair::Delete {
            event_id,
            tombstone,
            notice,
            retry,
        } = plan(&row(None), Seen::Gone, NOW, NOW, &settings())
        else {
            panic!("a delete")
        };
        assert_eq!(event_id, "reconcile-deleted:workday:1");
        assert!(!retry);
        assert_eq!(tombstone.mark.last_event_id, event_id);
        assert_eq!(notice.kind, AlertKind::DeletedOutsideWebhooks);
        assert!(notice.subject.contains("Acme, Inc."), "{}", notice.subject);
    }

    #[test]
    fn a_different_status_is_recorded_as_seen_before_the_request_and_invalid_pages() {
        let k = kombo("INVALID");
        let sent = datetime!(2026-11-27 11:59:58 UTC);
        let Repair::State {
            event_id,
            update,
            page,
            retry,
        } = plan(
            &row(Some("ACTIVE")),
            Seen::Present(&k),
            sent,
            NOW,
            &settings(),
        )
        else {
            panic!("a state repair")
        };
        // docs/reliability.md: "the moment the request was sent less 5 s".
        let at = sent - time::Duration::seconds(5);
        let ms = crate::decide::epoch_ms(at);
        assert_eq!(update.fields.state_updated_at_ms, ms);
        assert_eq!(update.fields.state_updated_at, rfc3339(at));
        assert_eq!(event_id, format!("reconcile:workday:1:{ms}"));
        assert_eq!(update.fields.last_event_id, event_id);
        assert!(update.invalid && page.is_some() && !retry);
        assert_eq!(
            update.fields.qa_status, None,
            "Kombo's GET has none: the stored one stays"
        );

        let Repair::State { page, .. } = plan(
            &row(Some("INVALID")),
            Seen::Present(&kombo("INACTIVE")),
            sent,
            NOW,
            &settings(),
        ) else {
            panic!("a state repair")
        };
        assert_eq!(page, None, "only INVALID pages");
    }

    #[test]
    fn an_invalid_the_run_recorded_is_checked_again_for_its_page_only_while_the_claim_lives() {
        let k = kombo("INVALID");
        let mut r = row(Some("INVALID"));
        r.last_event_id = "reconcile:workday:1:1795000000000".into();
        r.state_updated_at = Some("2026-11-18T08:26:40Z".into());
        r.updated_at = "2026-11-27T11:00:00Z".into();
        let Repair::State {
            event_id,
            update,
            retry,
            ..
        } = plan(&r, Seen::Present(&k), NOW, NOW, &settings())
        else {
            panic!("a retry")
        };
        assert!(retry);
        assert_eq!(
            event_id, r.last_event_id,
            "the same event id: the claim decides"
        );
        assert_eq!(update.fields.state_updated_at_ms, 1_795_000_000_000);
        // Half the retention later the claim may be gone: no retry, no second page.
        r.updated_at = "2026-11-01T11:00:00Z".into();
        assert_eq!(
            plan(&r, Seen::Present(&k), NOW, NOW, &settings()),
            Repair::InStep
        );
        // A webhook's INVALID is the webhook's to page.
        r.last_event_id = "s-1".into();
        r.updated_at = "2026-11-27T11:00:00Z".into();
        assert_eq!(
            plan(&r, Seen::Present(&k), NOW, NOW, &settings()),
            Repair::InStep
        );
    }

    #[test]
    fn only_the_runs_own_tombstones_are_looked_at_again() {
        let mut r = row(None);
        r.status = Status::Deleted;
        r.updated_at = "2026-11-27T11:00:00Z".into();
        r.last_event_id = "d-webhook".into();
        assert_eq!(pending_notice(&r, NOW, &settings()), Repair::InStep);
        r.last_event_id = deleted_event_id(&r.integration_id);
        assert!(matches!(
            pending_notice(&r, NOW, &settings()),
            Repair::Delete { retry: true, .. }
        ));
        assert!(!asks_kombo(&r), "a tombstone is never asked about");
    }
}
