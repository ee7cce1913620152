//! What the failure sweep does with each record it reads, as plain values: a closed
//! window's summary (send one taken before, take the folded failures, or leave the index),
//! whether a customer's summary belongs to its tool's open fleet incident instead, and what
//! a fleet record needs (forget stale customers, an update, the end of its incident).

use super::alert::Alert;
use super::failures::{FailureKind, FailureRecord, customer_in_key};
use super::fleet::{self, Fleet, FleetKind, FleetRecord};
use crate::keys;

/// The summary of a closed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summary {
    /// Taken before (its publish or mark failed): send it, `id` and `folded` as taken.
    Taken { id: String, folded: u32 },
    /// Failures were folded into it: take them (if still the ones read), then send.
    Take,
    /// Nothing folded: the record leaves the sweep's index.
    Tidy,
}

/// What the sweep does about `r`'s closed window.
pub fn summary(r: &FailureRecord) -> Summary {
    match &r.summary {
        Some((id, folded)) => Summary::Taken {
            id: id.clone(),
            folded: *folded,
        },
        None if r.folded > 0 => Summary::Take,
        None => Summary::Tidy,
    }
}

/// Whether `r`'s customer is counted on its tool's open connection-failures incident: the
/// incident reports its failures, so its summary is folded into it (taken, not sent).
pub fn folds_into_incident(r: &FailureRecord, fleets: &[FleetRecord], fleet: &Fleet) -> bool {
    let kind = match r.kind {
        FailureKind::ConnectionFlow => FleetKind::ConnectionFailures,
        FailureKind::Issue => FleetKind::Issues,
    };
    customer_in_key(&r.key, &r.tool).is_some_and(|customer| {
        fleets
            .iter()
            .any(|f| f.kind == kind && f.tool == r.tool && f.in_incident(customer, fleet))
    })
}

/// What a fleet record needs at `now_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    Nothing,
    /// No incident: forget the customers whose last failure is before `before_ms`.
    Prune {
        before_ms: i64,
    },
    /// Quiet for a whole window: send `notice` once (the claim `claim`), then end the
    /// incident, forgetting customers whose last failure is before `stale_before_ms`.
    End {
        notice: Alert,
        claim: String,
        customers: u32,
        stale_before_ms: i64,
    },
    /// It grew since the last page or update, which is a window old: send `notice`,
    /// reporting `customers`.
    Update {
        notice: Alert,
        customers: usize,
    },
}

/// What the sweep does with the fleet record `r` at `now_ms`.
pub fn keep(r: &FleetRecord, fleet: &Fleet, now_ms: i64) -> Keep {
    let stale_before_ms = now_ms - fleet.window_ms();
    let Some(incident) = &r.incident else {
        return if r.members.iter().any(|m| m.last_ms < stale_before_ms) {
            Keep::Prune {
                before_ms: stale_before_ms,
            }
        } else {
            Keep::Nothing
        };
    };
    // The incident's customers, as the notices count them.
    let customers = r.incident_members(fleet).len() + r.overflow as usize;
    if r.incident_over(fleet, now_ms) {
        return match fleet::over_notice(r, fleet, now_ms) {
            Some(notice) => Keep::End {
                notice,
                claim: keys::incident_over(&incident.id),
                customers: u32::try_from(customers).unwrap_or(u32::MAX),
                stale_before_ms,
            },
            None => Keep::Nothing,
        };
    }
    let grew = customers > incident.reported as usize;
    if !grew || now_ms - incident.reported_ms < fleet.window_ms() {
        return Keep::Nothing;
    }
    match fleet::update_notice(r, fleet) {
        Some(notice) => Keep::Update { notice, customers },
        None => Keep::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::fleet::{Incident, Strike};
    use time::Duration;

    const FLEET: Fleet = Fleet {
        customers: 3,
        window: Duration::minutes(10),
        max_life: Duration::hours(4),
    };
    const MIN: i64 = 60_000;

    fn strike(tool: &str, customer: &str) -> Strike {
        Strike {
            kind: FleetKind::ConnectionFailures,
            tool: tool.into(),
            category: "LMS".into(),
            customer: customer.into(),
            organization: format!("Org {customer}"),
            reference: "https://app.kombo.dev/logs/x".into(),
            event_id: format!("e-{customer}"),
            established: true,
        }
    }

    /// `tool`'s record with `members` failing at their times, and an incident opened at
    /// `opened` that reported `reported` customers then.
    fn fleet_record(
        tool: &str,
        members: &[(&str, i64)],
        incident: Option<(i64, u32)>,
    ) -> FleetRecord {
        let mut r = FleetRecord::empty(FleetKind::ConnectionFailures, tool);
        for (c, at) in members {
            r = r.with_strike(&strike(tool, c), false, *at);
        }
        r.incident = incident.map(|(opened, reported)| Incident {
            id: format!("connection-failures:{tool}:{opened}"),
            opened_by: "e-a".into(),
            opened_seq: 1,
            opened_ms: opened,
            since_ms: opened - 10 * MIN,
            reported,
            reported_ms: opened,
        });
        r
    }

    fn failure_record(customer: &str, tool: &str, folded: u32) -> FailureRecord {
        FailureRecord {
            key: keys::failure_record(customer, tool),
            tool: tool.into(),
            folded,
            window_start_ms: 1,
            ..FailureRecord::default()
        }
    }

    #[test]
    fn a_closed_window_sends_what_was_taken_takes_what_was_folded_or_is_tidied() {
        let mut r = failure_record("c1", "workday", 2);
        assert_eq!(summary(&r), Summary::Take);
        r.summary = Some(("sweep:x:1".into(), 2));
        assert_eq!(
            summary(&r),
            Summary::Taken {
                id: "sweep:x:1".into(),
                folded: 2
            }
        );
        assert_eq!(summary(&failure_record("c1", "workday", 0)), Summary::Tidy);
    }

    #[test]
    fn only_a_customer_of_its_own_tools_open_incident_is_folded_into_it() {
        let now = 100 * MIN;
        let workday = fleet_record(
            "workday",
            &[("a", now), ("b", now), ("c1", now)],
            Some((now, 3)),
        );
        let r = failure_record("c1", "workday", 1);
        assert!(folds_into_incident(
            &r,
            std::slice::from_ref(&workday),
            &FLEET
        ));
        // The same customer's summary of another tool is that tool's: sent as ever.
        let personio = failure_record("c1", "personio", 1);
        assert!(!folds_into_incident(
            &personio,
            std::slice::from_ref(&workday),
            &FLEET
        ));
        // Not a customer of the incident, or no incident: sent.
        assert!(!folds_into_incident(
            &failure_record("c9", "workday", 1),
            &[workday],
            &FLEET
        ));
        let quiet = fleet_record("workday", &[("c1", now)], None);
        assert!(!folds_into_incident(&r, &[quiet], &FLEET));
    }

    #[test]
    fn a_record_without_incident_forgets_only_stale_customers() {
        let now = 100 * MIN;
        let fresh = fleet_record("workday", &[("a", now - MIN)], None);
        assert_eq!(keep(&fresh, &FLEET, now), Keep::Nothing);
        let stale = fleet_record("workday", &[("a", now - 11 * MIN), ("b", now)], None);
        assert_eq!(
            keep(&stale, &FLEET, now),
            Keep::Prune {
                before_ms: now - 10 * MIN
            }
        );
    }

    #[test]
    fn an_incident_is_updated_once_a_window_only_when_it_grew() {
        let opened = 100 * MIN;
        let members = [
            ("a", opened),
            ("b", opened),
            ("c", opened),
            ("d", opened + 5 * MIN),
        ];
        let grown = fleet_record("workday", &members, Some((opened, 3)));
        // Grown, but the page went out less than a window ago: nothing yet.
        assert_eq!(keep(&grown, &FLEET, opened + 6 * MIN), Keep::Nothing);
        let Keep::Update { customers, notice } = keep(&grown, &FLEET, opened + 10 * MIN) else {
            panic!("an update a window after the page")
        };
        assert_eq!(customers, 4);
        assert!(
            notice.subject.contains("now 4 customers"),
            "{}",
            notice.subject
        );
        // Not grown (4 reported already): nothing, however long since.
        let reported = fleet_record("workday", &members, Some((opened, 4)));
        assert_eq!(keep(&reported, &FLEET, opened + 14 * MIN), Keep::Nothing);
    }

    #[test]
    fn an_incident_quiet_for_a_window_ends_once_under_its_own_claim() {
        let opened = 100 * MIN;
        let r = fleet_record(
            "workday",
            &[("a", opened), ("b", opened), ("c", opened)],
            Some((opened, 3)),
        );
        assert_eq!(
            keep(&r, &FLEET, opened + 10 * MIN),
            Keep::Nothing,
            "not quiet yet"
        );
        let Keep::End {
            claim,
            customers,
            stale_before_ms,
            notice,
        } = keep(&r, &FLEET, opened + 10 * MIN + 1)
        else {
            panic!("the end")
        };
        assert_eq!(
            claim,
            format!("fleet-over:connection-failures:workday:{opened}")
        );
        assert_eq!(customers, 3);
        assert_eq!(stale_before_ms, opened + 1);
        assert!(notice.subject.starts_with("Over: "), "{}", notice.subject);
    }
}
