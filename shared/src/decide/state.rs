//! An integration's state change as its row tells it, as plain values: whether the write
//! made the transition its alert is about (it made the integration INVALID and that INVALID
//! period still stands, or it took the integration from INVALID to ACTIVE), and what the
//! INVALID period's page claim on the row lets a delivery do.

use super::row::{RowSeen, StateUpdate};

/// `state` values the rules read.
pub const INVALID: &str = "INVALID";
pub const ACTIVE: &str = "ACTIVE";
/// `state_before` of a row that had no state.
pub const NO_STATE: &str = "NONE";
/// `invalid_page` once the page went out.
pub const PAGE_SENT: &str = "SENT";
/// `qa_status` of an integration Kombo's QA check failed.
pub const QA_FAILED: &str = "FAILED";

/// What a state update found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateApplied {
    /// Recorded (or the same update recorded again; a row made if there was none).
    Applied,
    /// A newer state is stored; nothing changed.
    Stale,
    /// The integration is a tombstone; nothing changed.
    Deleted,
}

/// A state update's result and whether this event made the transition its alert is
/// about: it made the integration INVALID (and that INVALID period still stands: the
/// only case that pages), or it took the integration from INVALID to ACTIVE (a
/// "recovered" notice). A retry of that same event is told so again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateResult {
    pub applied: StateApplied,
    pub announce: bool,
    /// An INVALID write: its page's claim as the row holds it now.
    pub page: PageClaim,
    /// This event's write made a working integration's QA fail ([`qa_turned_failed`]; a
    /// retry of it is told so again): one notice is owed, under a claim per event.
    pub qa_failed: bool,
}

/// The claim of an INVALID period's page, kept on the mapping row (`invalid_page`), so the
/// state write is also the claim: an INVALID that pages nobody costs one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageClaim {
    /// None stands (not an INVALID write, or a claim released after a failed page).
    None,
    /// This invocation's claim stands (its write set it, or an earlier try of it did).
    Ours,
    /// The page was sent.
    Sent,
    /// Another invocation's claim stands: `value` as stored, the event that set it, and the
    /// epoch ms after which it may be taken over.
    Held {
        value: String,
        event_id: String,
        until_ms: i64,
    },
}

/// What a delivery of an INVALID that announces may do about its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStep {
    /// The claim is this delivery's: page.
    Page,
    /// The period's page went out: nothing more.
    AlreadySent,
    /// Another delivery of this event holds the claim and it has not expired: it pages, or
    /// releases the claim for Kombo's retry.
    InProgress,
    /// Take the claim over from `from` (`None`: none stands) and then page: it expired, or
    /// an INVALID that pages nobody set it (only the period's first pages), or it was
    /// released after a failed page.
    TakeOver { from: Option<String> },
}

impl PageClaim {
    /// The stored value of a claim by `event_id`, invocation `token`, valid until `until_ms`.
    pub fn value(event_id: &str, token: &str, until_ms: i64) -> String {
        format!("{until_ms}|{token}|{event_id}")
    }

    /// Reads a stored value (`mine`: this invocation's).
    pub fn read(stored: Option<&str>, mine: &str) -> PageClaim {
        match stored {
            None => PageClaim::None,
            Some(v) if v == mine => PageClaim::Ours,
            Some(PAGE_SENT) => PageClaim::Sent,
            Some(v) => {
                let mut parts = v.splitn(3, '|');
                let until_ms = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let event_id = parts.nth(1).unwrap_or_default().to_owned();
                PageClaim::Held {
                    value: v.to_owned(),
                    event_id,
                    until_ms,
                }
            }
        }
    }

    /// What the delivery of `event_id` at `now_ms` may do under this claim.
    pub fn step(&self, event_id: &str, now_ms: i64) -> PageStep {
        match self {
            PageClaim::Ours => PageStep::Page,
            PageClaim::Sent => PageStep::AlreadySent,
            PageClaim::Held {
                event_id: holder,
                until_ms,
                ..
            } if holder == event_id && *until_ms >= now_ms => PageStep::InProgress,
            PageClaim::Held { value, .. } => PageStep::TakeOver {
                from: Some(value.clone()),
            },
            PageClaim::None => PageStep::TakeOver { from: None },
        }
    }
}

impl StateUpdate {
    /// The page claim an update's write sets on the row where none stands: an INVALID's
    /// only.
    pub fn page_claim<'a>(&self, claim: Option<&'a str>) -> Option<&'a str> {
        claim.filter(|_| self.invalid)
    }
}

/// What the state write of `u` did, written over `old` (`None`: there was no row), with
/// `page_claim` ([`StateUpdate::page_claim`]) set where none stood.
pub fn written(u: &StateUpdate, old: Option<&RowSeen>, page_claim: Option<&str>) -> StateResult {
    let me = u.fields.last_event_id.as_str();
    let announce = match old {
        // No row yet: an INVALID pages (the integration came from before the stack, or its
        // create has not arrived).
        None => u.invalid,
        Some(o) => announces(o, u, me),
    };
    // The claim the row holds after the write: the one that stood (the write keeps it),
    // else this write's.
    let page = match old.and_then(|o| o.invalid_page.as_deref()) {
        None if page_claim.is_some() => PageClaim::Ours,
        stood => PageClaim::read(stood, page_claim.unwrap_or_default()),
    };
    let qa_failed = qa_turned_failed(old.map(|o| (o.state.as_deref(), o.qa_status.as_deref())), u);
    StateResult {
        applied: StateApplied::Applied,
        announce,
        page,
        qa_failed,
    }
}

/// What the refused state write of `u` means, from the row that stands (`None`: none, so a
/// newer state's condition refused it).
pub fn refused(u: &StateUpdate, stood: Option<&RowSeen>, page_claim: Option<&str>) -> StateResult {
    let me = u.fields.last_event_id.as_str();
    let Some(o) = stood else {
        return StateResult {
            applied: StateApplied::Stale,
            announce: false,
            page: PageClaim::None,
            qa_failed: false,
        };
    };
    if o.deleted() {
        return StateResult {
            applied: StateApplied::Deleted,
            announce: false,
            page: PageClaim::None,
            qa_failed: false,
        };
    }
    // This event's own earlier try wrote the state that stands (a retry after a failed
    // alert, or the SDK's retry of an applied write), or a newer state stands.
    let own = o.state_event_id.as_deref() == Some(me);
    let announce = if u.invalid {
        // The INVALID period this event opened still stands (even under a newer INVALID
        // detail).
        o.state.as_deref() == Some(INVALID)
            && (o.written_by(&o.invalid_event_id, me)
                || (own && o.state_before.as_deref() != Some(INVALID)))
    } else if u.recovers {
        o.state.as_deref() == Some(ACTIVE)
            && ((own && o.state_before.as_deref() == Some(INVALID))
                || o.recovered_event_id.as_deref() == Some(me))
    } else {
        false
    };
    StateResult {
        applied: if own {
            StateApplied::Applied
        } else {
            StateApplied::Stale
        },
        announce,
        // Nothing was written: the claim is what stands.
        page: PageClaim::read(o.invalid_page.as_deref(), page_claim.unwrap_or_default()),
        // Its own write stands: what it replaced is on the row (a row written before
        // `qa_before` was kept tells nothing: no notice).
        qa_failed: own
            && o.qa_before.is_some()
            && qa_turned_failed(
                Some((
                    o.state_before.as_deref().filter(|s| *s != NO_STATE),
                    o.qa_before.as_deref().filter(|s| *s != NO_STATE),
                )),
                u,
            ),
    }
}

/// Whether `u`, written over a row that held `before` (its state and `qa_status`; `None`:
/// no row), made a working integration's QA fail: QA is FAILED after it and the integration
/// is not INVALID (an INVALID pages already, and its QA says nothing more), and before it
/// was not such a one (a later FAILED detail, or a retry after one, owes nothing; an
/// integration leaving INVALID with QA still FAILED does).
pub fn qa_turned_failed(before: Option<(Option<&str>, Option<&str>)>, u: &StateUpdate) -> bool {
    let failing =
        |state: Option<&str>, qa: Option<&str>| qa == Some(QA_FAILED) && state != Some(INVALID);
    let (state_before, qa_before) = before.unwrap_or_default();
    failing(Some(u.fields.state.as_str()), u.qa_status()) && !failing(state_before, qa_before)
}

/// Whether the state update `u` by `me`, written over `old`, is the transition its alert
/// is about: it made the integration INVALID (or this row's INVALID period is `me`'s own,
/// from a try before an upgrade), or it took it from INVALID to ACTIVE (or `me` did so
/// before an upgrade).
fn announces(old: &RowSeen, u: &StateUpdate, me: &str) -> bool {
    let was_invalid = old.state.as_deref() == Some(INVALID);
    if u.invalid {
        !was_invalid || old.written_by(&old.invalid_event_id, me)
    } else if u.recovers {
        was_invalid
            || (old.state.as_deref() == Some(ACTIVE)
                && old.state_event_id.is_none()
                && old.recovered_event_id.as_deref() == Some(me))
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::row::{Descriptive, StateFields};

    fn update(event_id: &str, state: &str) -> StateUpdate {
        StateUpdate {
            integration_id: "workday:1".into(),
            fields: StateFields {
                state: state.into(),
                setup_status: "COMPLETED".into(),
                qa_status: None,
                state_updated_at: "2026-11-25T12:00:00Z".into(),
                state_updated_at_ms: 1,
                updated_at: "2026-11-25T12:00:00Z".into(),
                last_event_id: event_id.into(),
            },
            descriptive: Descriptive::default(),
            invalid: state == INVALID,
            recovers: state == ACTIVE,
            stored_qa_status: None,
        }
    }

    fn row(state: &str) -> RowSeen {
        RowSeen {
            state: Some(state.into()),
            ..RowSeen::default()
        }
    }

    #[test]
    fn an_invalid_written_over_another_state_or_no_row_announces_and_its_claim_is_ours() {
        let u = update("s1", INVALID);
        for old in [None, Some(row(ACTIVE))] {
            let r = written(&u, old.as_ref(), Some("mine"));
            assert!(r.announce);
            assert_eq!(r.page, PageClaim::Ours);
            assert_eq!(r.applied, StateApplied::Applied);
        }
        // A second INVALID (a newer detail) announces nothing.
        let r = written(&u, Some(&row(INVALID)), Some("mine"));
        assert!(!r.announce);
        // ... unless the period is its own (a try before an upgrade).
        let own = RowSeen {
            invalid_event_id: Some("s1".into()),
            ..row(INVALID)
        };
        assert!(written(&u, Some(&own), Some("mine")).announce);
    }

    #[test]
    fn a_claim_that_stood_stays_the_rows_claim() {
        let u = update("s1", INVALID);
        let held = RowSeen {
            invalid_page: Some(PageClaim::value("s0", "t", 5)),
            ..row(ACTIVE)
        };
        assert_eq!(
            written(&u, Some(&held), Some("mine")).page,
            PageClaim::Held {
                value: "5|t|s0".into(),
                event_id: "s0".into(),
                until_ms: 5
            }
        );
        let sent = RowSeen {
            invalid_page: Some(PAGE_SENT.into()),
            ..row(ACTIVE)
        };
        assert_eq!(written(&u, Some(&sent), Some("mine")).page, PageClaim::Sent);
        // No claim asked (not an INVALID): none.
        assert_eq!(
            written(&update("s2", ACTIVE), Some(&row(ACTIVE)), None).page,
            PageClaim::None
        );
    }

    #[test]
    fn active_after_invalid_recovers_and_an_ordinary_active_does_not() {
        let u = update("s2", ACTIVE);
        assert!(written(&u, Some(&row(INVALID)), None).announce);
        assert!(!written(&u, Some(&row(ACTIVE)), None).announce);
        assert!(!written(&u, None, None).announce);
        // Before an upgrade: the row names this event as its recovery.
        let before = RowSeen {
            recovered_event_id: Some("s2".into()),
            ..row(ACTIVE)
        };
        assert!(written(&u, Some(&before), None).announce);
        let after = RowSeen {
            state_event_id: Some("s1".into()),
            ..before
        };
        assert!(!written(&u, Some(&after), None).announce);
    }

    #[test]
    fn a_refused_write_is_its_own_retry_only_where_the_row_names_it() {
        let u = update("s1", INVALID);
        assert_eq!(refused(&u, None, None).applied, StateApplied::Stale);
        let tomb = RowSeen {
            status: Some("DELETED".into()),
            ..row(INVALID)
        };
        assert_eq!(
            refused(&u, Some(&tomb), None).applied,
            StateApplied::Deleted
        );
        // Its own INVALID stands: a retry announces again, its claim as it stands.
        let own = RowSeen {
            state_event_id: Some("s1".into()),
            state_before: Some(ACTIVE.into()),
            invalid_page: Some("5|mine|s1".into()),
            ..row(INVALID)
        };
        let r = refused(&u, Some(&own), Some("5|mine|s1"));
        assert_eq!(r.applied, StateApplied::Applied);
        assert!(r.announce);
        assert_eq!(r.page, PageClaim::Ours);
        // Its own write over an INVALID (a second INVALID): nothing to announce.
        let second = RowSeen {
            state_before: Some(INVALID.into()),
            ..own.clone()
        };
        assert!(!refused(&u, Some(&second), None).announce);
        // A newer INVALID detail stands over the period this event opened: still its page.
        let newer = RowSeen {
            state_event_id: Some("s9".into()),
            invalid_event_id: Some("s1".into()),
            ..row(INVALID)
        };
        let r = refused(&u, Some(&newer), None);
        assert!(r.announce);
        assert_eq!(r.applied, StateApplied::Stale);
        // A recovery's retry: its own ACTIVE over an INVALID, or the row names it.
        let a = update("s2", ACTIVE);
        let recovered = RowSeen {
            state_event_id: Some("s2".into()),
            state_before: Some(INVALID.into()),
            ..row(ACTIVE)
        };
        assert!(refused(&a, Some(&recovered), None).announce);
        let noted = RowSeen {
            state_event_id: Some("s3".into()),
            recovered_event_id: Some("s2".into()),
            ..row(ACTIVE)
        };
        assert!(refused(&a, Some(&noted), None).announce);
        let not_from_invalid = RowSeen {
            state_before: Some(NO_STATE.into()),
            ..recovered
        };
        assert!(!refused(&a, Some(&not_from_invalid), None).announce);
    }

    #[test]
    fn qa_turning_failed_owes_one_notice_and_staying_failed_none() {
        let failing = |state: &str| {
            let mut u = update("s1", state);
            u.fields.qa_status = Some(QA_FAILED.into());
            u
        };
        let u = failing(ACTIVE);
        assert!(written(&u, None, None).qa_failed, "failed from the start");
        let passed = RowSeen {
            qa_status: Some("PASSED".into()),
            ..row(ACTIVE)
        };
        assert!(written(&u, Some(&passed), None).qa_failed);
        let failed = RowSeen {
            qa_status: Some(QA_FAILED.into()),
            ..row(ACTIVE)
        };
        assert!(
            !written(&u, Some(&failed), None).qa_failed,
            "failed already"
        );
        assert!(
            !written(&failing(INVALID), Some(&passed), None).qa_failed,
            "an INVALID pages; its QA says nothing more"
        );
        let invalid_failed = RowSeen {
            qa_status: Some(QA_FAILED.into()),
            ..row(INVALID)
        };
        assert!(
            written(&u, Some(&invalid_failed), None).qa_failed,
            "leaving INVALID with QA still failed: now it is the QA that stops it"
        );
        // A retry of its own write: what the write replaced decides (the claim, whether it
        // went out).
        let own = |state_before: &str, qa_before: Option<&str>| RowSeen {
            state_event_id: Some("s1".into()),
            state_before: Some(state_before.into()),
            qa_before: qa_before.map(Into::into),
            ..failed.clone()
        };
        assert!(refused(&u, Some(&own(ACTIVE, Some("PASSED"))), None).qa_failed);
        assert!(refused(&u, Some(&own(NO_STATE, Some(NO_STATE))), None).qa_failed);
        assert!(
            !refused(&u, Some(&own(ACTIVE, Some(QA_FAILED))), None).qa_failed,
            "its write found QA failed already"
        );
        assert!(
            !refused(&u, Some(&own(ACTIVE, None)), None).qa_failed,
            "written before qa_before was kept: nothing known, nothing sent"
        );
        let newer = RowSeen {
            state_event_id: Some("s9".into()),
            ..own(ACTIVE, Some("PASSED"))
        };
        assert!(
            !refused(&u, Some(&newer), None).qa_failed,
            "a newer state's"
        );
        let mut fine = update("s1", ACTIVE);
        fine.fields.qa_status = Some("PASSED".into());
        assert!(!written(&fine, Some(&passed), None).qa_failed);
    }

    #[test]
    fn the_page_claim_pages_waits_or_is_taken_over() {
        let now = 1_000;
        assert_eq!(PageClaim::Ours.step("s1", now), PageStep::Page);
        assert_eq!(PageClaim::Sent.step("s1", now), PageStep::AlreadySent);
        let held = |event: &str, until_ms| PageClaim::Held {
            value: PageClaim::value(event, "t", until_ms),
            event_id: event.into(),
            until_ms,
        };
        // The same event's other delivery, still within its claim: wait.
        assert_eq!(held("s1", now).step("s1", now), PageStep::InProgress);
        // Expired: a dead invocation's claim is taken over, not waited on forever.
        assert_eq!(
            held("s1", now - 1).step("s1", now),
            PageStep::TakeOver {
                from: Some(PageClaim::value("s1", "t", now - 1))
            }
        );
        // Set by another event (an INVALID that pages nobody): taken over at once.
        assert!(matches!(
            held("s0", now + 60_000).step("s1", now),
            PageStep::TakeOver { from: Some(_) }
        ));
        assert_eq!(
            PageClaim::None.step("s1", now),
            PageStep::TakeOver { from: None }
        );
    }

    #[test]
    fn a_claims_value_reads_back_as_held_by_its_event_until_its_expiry() {
        let v = PageClaim::value("ev|1", "tok", 42);
        assert_eq!(PageClaim::read(Some(&v), &v), PageClaim::Ours);
        assert_eq!(
            PageClaim::read(Some(&v), "other"),
            PageClaim::Held {
                value: v.clone(),
                event_id: "ev|1".into(),
                until_ms: 42
            }
        );
        assert_eq!(PageClaim::read(None, "other"), PageClaim::None);
    }
}
