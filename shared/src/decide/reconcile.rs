//! What the reconcile run does with one row, as a plain value: Kombo's answer about an
//! integration (present, with its status; or gone) against the row, and a previous run's
//! page or notice that may still be owed. The run ([`crate::reconcile`]) carries a
//! [`Repair`] out through the same effects as the webhooks.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Rules;
use super::StateAlert;
use super::alert::Alert;
use super::notices::{self, InvalidSource};
use super::row::{Descriptive, Mapping, StateFields, StateUpdate, Status, Tombstone};
use crate::clock::{epoch_ms, rfc3339};
use crate::event::api::Integration;
use crate::event::{EndUser, Sensitive};
use crate::keys;

/// Taken off the moment a `GET` was sent before it counts as the time of the state it
/// returns: room for the clocks of Kombo and Lambda to disagree. A webhook about a change
/// up to this long before the request may still overwrite what the run recorded; both
/// then describe the same state.
pub const OBSERVED_MARGIN: time::Duration = time::Duration::seconds(5);

/// The event id of a tombstone the run wrote (deletion is final: one per integration).
pub fn deleted_event_id(integration_id: &str) -> String {
    keys::reconcile_deleted(integration_id)
}

/// The event id of a state the run observed (at `ms`, epoch milliseconds).
pub fn state_event_id(integration_id: &str, ms: i64) -> String {
    keys::reconcile_state(integration_id, ms)
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
    /// Kombo's status differs: record it; page once if that makes it INVALID, a
    /// "recovered" notice once if it takes it out of INVALID.
    State {
        event_id: String,
        update: StateUpdate,
        alert: StateAlert,
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
fn retry_window(row: &Mapping, now: OffsetDateTime, rules: &Rules) -> bool {
    time::OffsetDateTime::parse(
        &row.updated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|at| now - at < rules.tombstone_retention / 2)
}

/// For a deleted row: the notice of a tombstone this run wrote, while it may still be
/// owed (the claim decides whether it went out).
pub fn pending_notice(row: &Mapping, now: OffsetDateTime, rules: &Rules) -> Repair {
    let event_id = deleted_event_id(&row.integration_id);
    if row.status != Status::Deleted
        || row.last_event_id != event_id
        || !retry_window(row, now, rules)
    {
        return Repair::InStep;
    }
    delete(row, event_id, now, rules, true)
}

fn delete(
    row: &Mapping,
    event_id: String,
    now: OffsetDateTime,
    rules: &Rules,
    retry: bool,
) -> Repair {
    let tombstone = Tombstone::deleted_by_api(
        &row.integration_id,
        event_id.clone(),
        now,
        rules.tombstone_retention,
    );
    let notice = notices::deleted_outside_notice(
        &end_user(row),
        &row.tool,
        &row.category,
        &row.integration_id,
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

/// The "setup not finished" notice `row` owes, with its claim: Kombo says its setup is
/// `INCOMPLETE` and the row was created [`Rules::setup_notice_after`] ago or longer, but
/// less than half the claims' retention longer (so the claim still says whether it went
/// out): once per integration.
pub fn setup_notice(
    row: &Mapping,
    k: &Integration,
    now: OffsetDateTime,
    rules: &Rules,
) -> Option<(String, Alert)> {
    if row.status != Status::Active || k.setup_status != "INCOMPLETE" {
        return None;
    }
    let created = OffsetDateTime::parse(row.created_at.as_deref()?, &Rfc3339).ok()?;
    let age = now - created;
    if age < rules.setup_notice_after
        || age >= rules.setup_notice_after + rules.tombstone_retention / 2
    {
        return None;
    }
    let claim = keys::setup_incomplete(&row.integration_id);
    let notice = notices::setup_incomplete_notice(
        &end_user(row),
        &row.tool,
        &row.category,
        &row.integration_id,
        rules.setup_notice_after.whole_hours(),
        &claim,
    );
    Some((claim, notice))
}

/// What Kombo's answer means for an active row. `observed`: when the request was sent.
pub fn plan(
    row: &Mapping,
    seen: Seen<'_>,
    observed: OffsetDateTime,
    now: OffsetDateTime,
    rules: &Rules,
) -> Repair {
    let k = match seen {
        Seen::Gone => {
            return delete(
                row,
                deleted_event_id(&row.integration_id),
                now,
                rules,
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
            && retry_window(row, now, rules)
            && let Some(ms) = row
                .last_event_id
                .strip_prefix(&keys::reconcile_state_prefix(&row.integration_id))
                .and_then(|ms| ms.parse::<i64>().ok())
        {
            let at = row.state_updated_at.clone().unwrap_or_default();
            return state(row, k, row.last_event_id.clone(), at, ms, now, true);
        }
        return Repair::InStep;
    }
    let at = observed - OBSERVED_MARGIN;
    let ms = epoch_ms(at);
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
        notices::recovered_notice(
            &end_user(row),
            &row.tool,
            &row.category,
            &row.integration_id,
            &event_id,
        )
    });
    let page = invalid.then(|| {
        notices::invalid_page(
            &end_user(row),
            &row.tool,
            &row.category,
            &row.integration_id,
            &k.setup_status,
            &event_id,
            InvalidSource::Reconcile,
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
            // Kombo's answer has no QA status: the row's stays, and `usable` follows it.
            stored_qa_status: row.qa_status.clone(),
        },
        event_id,
        alert: match (page, recovered) {
            (Some(page), _) => StateAlert::Invalid(page),
            (None, Some(notice)) => StateAlert::Recovered(notice),
            (None, None) => StateAlert::None,
        },
        retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::AlertKind;
    use time::macros::datetime;

    fn settings() -> Rules {
        Rules::default()
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
            unusable_reason: None,
            open_issues: Vec::new(),
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
            alert,
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
        let ms = epoch_ms(at);
        assert_eq!(update.fields.state_updated_at_ms, ms);
        assert_eq!(update.fields.state_updated_at, rfc3339(at));
        assert_eq!(event_id, format!("reconcile:workday:1:{ms}"));
        assert_eq!(update.fields.last_event_id, event_id);
        assert!(update.invalid && matches!(alert, StateAlert::Invalid(_)) && !retry);
        assert_eq!(
            update.fields.qa_status, None,
            "Kombo's GET has none: the stored one stays"
        );

        let Repair::State { alert, .. } = plan(
            &row(Some("INVALID")),
            Seen::Present(&kombo("INACTIVE")),
            sent,
            NOW,
            &settings(),
        ) else {
            panic!("a state repair")
        };
        assert_eq!(alert, StateAlert::None, "only INVALID pages");
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

    #[test]
    fn an_unfinished_setup_is_noticed_once_after_a_day_while_its_claim_lives() {
        let mut k = kombo("ACTIVE");
        k.setup_status = "INCOMPLETE".into();
        let mut r = row(Some("ACTIVE"));
        let created = |hours: i64| rfc3339(NOW - time::Duration::hours(hours));
        r.created_at = Some(created(25));
        let (claim, notice) = setup_notice(&r, &k, NOW, &settings()).expect("a day on");
        assert_eq!(claim, "setup-incomplete:workday:1");
        assert_eq!(notice.kind, AlertKind::IntegrationSetupIncomplete);
        assert_eq!(notice.event_id, claim);
        r.created_at = Some(created(23));
        assert_eq!(
            setup_notice(&r, &k, NOW, &settings()),
            None,
            "not a day yet"
        );
        // Past half the claims' retention the claim may be gone: no second notice then.
        r.created_at = Some(created(24 + 15 * 24));
        assert_eq!(setup_notice(&r, &k, NOW, &settings()), None);
        r.created_at = Some(created(25));
        k.setup_status = "COMPLETED".into();
        assert_eq!(setup_notice(&r, &k, NOW, &settings()), None, "finished");
        k.setup_status = "INCOMPLETE".into();
        r.status = Status::Deleted;
        assert_eq!(setup_notice(&r, &k, NOW, &settings()), None);
    }
}
