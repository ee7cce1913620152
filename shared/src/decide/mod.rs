//! What must happen, as plain values computed without I/O, each rule unit-tested beside
//! it: for a webhook event a [`Decision`] ([`Decide`]); for what the store returned, the
//! readings the effects act on ([`state`], [`create`], [`failures`], [`fleet`],
//! [`claims`]); the reconcile run's [`reconcile::plan`], the sweep's [`sweep`] steps and the
//! backend routes' answers ([`routes`]); and every alert's words ([`notices`], [`fleet`]).
//! This layer imports only the event types, the error, the clock and the keys: the
//! effects ([`crate::effects`]) carry a decision out through the ports.

pub mod alert;
pub mod claims;
pub mod connect;
pub mod create;
pub mod failures;
pub mod fleet;
pub mod issues;
pub mod notices;
pub mod reconcile;
pub mod routes;
pub mod row;
pub mod state;
pub mod sweep;

pub use alert::{Alert, AlertKind};
pub use connect::Completion;
pub use failures::{Failure, FailureRecord, Resolution};
pub use row::{
    Descriptive, Mapping, StateFields, StateUpdate, Status, Tombstone, TombstoneMark, usable,
};

use time::{Duration, OffsetDateTime};

use crate::clock::{epoch_ms, rfc3339};
use crate::event::{
    ConnectionFlowFailed, Envelope, IntegrationCreated, IntegrationDeleted, IntegrationState,
    IntegrationStateChanged, IssueStatusChanged,
};
use fleet::Fleet;
use notices::InvalidSource;

/// The timing rules the decisions (and the store's conditions) follow; the defaults are
/// the template's (see [`crate::config::Settings::from_env`] for their variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// How long a tombstone, a completed claim and a failure record are kept before
    /// DynamoDB's TTL removes them (30 days).
    pub tombstone_retention: Duration,
    /// After this an in-progress claim (or INVALID page claim) left by a killed invocation
    /// may be taken over by a retry (30 s, above the function timeout).
    pub claim_expiry: Duration,
    /// After a connection-flow failure pages, further failures of the same customer and
    /// tool within this long are folded into its failure record (15 min).
    pub fold_window: Duration,
    /// When one tool's failures become one fleet incident (3 customers in 10 min).
    pub fleet: Fleet,
    /// How long an integration's setup may stay `INCOMPLETE` before the reconcile run sends
    /// its one "setup not finished" notice (24 h).
    pub setup_notice_after: Duration,
    /// The `issue-status-changed` issue types that page (the rest are recorded and sent as
    /// low-urgency notices): `integration.authentication_failed`.
    pub issue_page_types: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            tombstone_retention: Duration::days(30),
            claim_expiry: Duration::seconds(30),
            fold_window: Duration::minutes(15),
            fleet: Fleet {
                customers: 3,
                window: Duration::minutes(10),
                max_life: Duration::hours(4),
            },
            setup_notice_after: Duration::hours(24),
            issue_page_types: vec![issues::AUTHENTICATION_FAILED.to_owned()],
        }
    }
}

/// What must happen for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store a new mapping (conditional: never over an existing row or tombstone), and
    /// resolve the customer's failures on record for that tool (one notice, once).
    Store(Mapping, Resolution),
    /// Store a mapping that names no customer, and tell someone to assign it (once).
    StoreUnassigned(Mapping, Alert),
    /// Mark the integration deleted, whether or not its create was seen.
    Tombstone(Tombstone),
    /// Count a failed connection flow on its customer's record, exactly once per event id:
    /// it pages if it opens a window, else it is folded into the open one.
    Failure(Failure),
    /// Record an integration's new state (unless a newer one is stored; a row is made for
    /// an integration not seen yet), and send its alert once if this event made the
    /// transition the alert is about; and the QA notice (where `qa_status` is FAILED) once
    /// per integration if this event turned it FAILED.
    State(StateUpdate, StateAlert, Option<Alert>),
    /// Keep an integration issue on its row and page, notify or say it resolved, once per
    /// episode.
    Issue(issues::IssueDecision),
}

/// The alert of a state change, if the store finds this event made its transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateAlert {
    /// Not INVALID, not ACTIVE: recorded only.
    None,
    /// The page, if this event made the integration INVALID.
    Invalid(Alert),
    /// The "recovered" notice, if this event took it from INVALID to ACTIVE.
    Recovered(Alert),
}

/// A payload that this product acts on.
pub trait Decide {
    fn decide(envelope: Envelope<Self>, now: OffsetDateTime, rules: &Rules) -> Decision
    where
        Self: Sized;
}

impl Decide for IntegrationCreated {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, _: &Rules) -> Decision {
        let d = e.data;
        let at = rfc3339(now);
        let mapping = Mapping {
            integration_id: d.id.to_string(),
            origin_id: d.end_user.origin_id.clone(),
            tool: d.tool.to_string(),
            category: d.category.to_string(),
            organization_name: d.end_user.organization_name.clone(),
            creator_email: d
                .end_user
                .creator_email
                .as_ref()
                .map(|s| s.expose().to_owned()),
            status: Status::Active,
            created_at: Some(at.clone()),
            updated_at: at,
            deleted_at: None,
            last_event_id: e.id.clone(),
            created_event_id: Some(e.id.clone()),
            expires_at: None,
            state: None,
            setup_status: None,
            qa_status: None,
            state_updated_at: None,
            connect_token_sha256: None,
            usable: None,
            unusable_reason: None,
            open_issues: Vec::new(),
        };
        if d.end_user.origin_id.is_some() {
            let resolution = Resolution {
                key: failures::failure_key(&d.end_user, d.tool.as_str()),
                end_user: d.end_user.clone(),
                tool: d.tool.to_string(),
                category: d.category.to_string(),
                integration_id: d.id.to_string(),
                event_id: e.id.clone(),
            };
            return Decision::Store(mapping, resolution);
        }
        let alert = notices::unassigned_notice(
            &d.end_user,
            d.tool.as_str(),
            d.category.as_str(),
            d.id.as_str(),
            &e.id,
        );
        Decision::StoreUnassigned(mapping, alert)
    }
}

impl Decide for IntegrationDeleted {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, rules: &Rules) -> Decision {
        let d = e.data;
        let expires = now + rules.tombstone_retention;
        Decision::Tombstone(Tombstone {
            integration_id: d.id.to_string(),
            mark: TombstoneMark {
                status: Status::Deleted,
                deleted_at: rfc3339(d.deleted_at),
                updated_at: rfc3339(now),
                last_event_id: e.id,
                expires_at: expires.unix_timestamp(),
            },
            descriptive: Descriptive {
                origin_id: d.end_user.origin_id,
                tool: Some(d.tool.to_string()),
                category: Some(d.category.to_string()),
                organization_name: Some(d.end_user.organization_name),
                creator_email: d.end_user.creator_email.map(|s| s.expose().to_owned()),
            },
        })
    }
}

impl Decide for IntegrationStateChanged {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, _: &Rules) -> Decision {
        let d = e.data;
        let update = StateUpdate {
            integration_id: d.integration_id.to_string(),
            fields: StateFields {
                state: d.state.to_string(),
                setup_status: d.setup_status.to_string(),
                qa_status: Some(d.qa_status.to_string()),
                state_updated_at: rfc3339(d.updated_at),
                state_updated_at_ms: epoch_ms(d.updated_at),
                updated_at: rfc3339(now),
                last_event_id: e.id.clone(),
            },
            descriptive: Descriptive {
                origin_id: d.end_user.origin_id.clone(),
                tool: Some(d.integration_tool.to_string()),
                category: Some(d.integration_category.to_string()),
                organization_name: Some(d.end_user.organization_name.clone()),
                creator_email: d
                    .end_user
                    .creator_email
                    .as_ref()
                    .map(|s| s.expose().to_owned()),
            },
            invalid: d.state == IntegrationState::Invalid,
            recovers: d.state == IntegrationState::Active,
            stored_qa_status: None,
        };
        let (tool, category) = (d.integration_tool.as_str(), d.integration_category.as_str());
        let alert = if update.invalid {
            StateAlert::Invalid(notices::invalid_page(
                &d.end_user,
                tool,
                category,
                d.integration_id.as_str(),
                d.setup_status.as_str(),
                &e.id,
                InvalidSource::Webhook,
            ))
        } else if update.recovers {
            StateAlert::Recovered(notices::recovered_notice(
                &d.end_user,
                tool,
                category,
                d.integration_id.as_str(),
                &e.id,
            ))
        } else {
            StateAlert::None
        };
        let qa_failed = (d.qa_status.as_str() == state::QA_FAILED).then(|| {
            notices::qa_failed_notice(
                &d.end_user,
                tool,
                category,
                d.integration_id.as_str(),
                &e.id,
            )
        });
        Decision::State(update, alert, qa_failed)
    }
}

impl Decide for IssueStatusChanged {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, rules: &Rules) -> Decision {
        Decision::Issue(issues::decide(e, now, &rules.issue_page_types))
    }
}

impl Decide for ConnectionFlowFailed {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, _: &Rules) -> Decision {
        let d = e.data;
        let page = notices::connection_failed_page(
            &d.end_user,
            d.integration_tool.as_str(),
            d.integration_category.as_str(),
            d.log_url.as_str(),
            &e.id,
        );
        Decision::Failure(Failure {
            kind: failures::FailureKind::ConnectionFlow,
            key: failures::failure_key(&d.end_user, d.integration_tool.as_str()),
            origin_id: d.end_user.origin_id,
            organization_name: d.end_user.organization_name,
            tool: d.integration_tool.to_string(),
            category: d.integration_category.to_string(),
            log_url: d.log_url.to_string(),
            event_id: e.id,
            at: rfc3339(now),
            page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Category, EndUser, NonEmpty, Sensitive, parse};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

    fn settings() -> Rules {
        Rules::default()
    }

    fn created(origin: Option<&str>) -> Envelope<IntegrationCreated> {
        let origin = origin.map_or("null".into(), |o| format!("\"{o}\""));
        let body = format!(
            r#"{{"id":"ev1","type":"integration-created","data":{{"id":"workday:abc","tool":"workday","category":"LMS","end_user":{{"origin_id":{origin},"creator_email":"a@example.com","organization_name":"Acme"}}}}}}"#
        );
        parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn created_with_customer_is_stored_active() {
        let Decision::Store(m, r) =
            IntegrationCreated::decide(created(Some("42")), NOW, &settings())
        else {
            panic!("expected Store")
        };
        assert_eq!(r.key, "failures#42#workday");
        assert_eq!(r.notice_id(), "resolved:ev1");
        assert_eq!(m.integration_id, "workday:abc");
        assert_eq!(m.origin_id.as_deref(), Some("42"));
        assert_eq!(m.status, Status::Active);
        assert_eq!(m.last_event_id, "ev1");
        assert_eq!(m.created_at.as_deref(), Some("2026-11-25T12:00:00Z"));
        assert_eq!(m.expires_at, None);
    }

    #[test]
    fn created_without_customer_is_stored_and_announced() {
        let Decision::StoreUnassigned(m, a) =
            IntegrationCreated::decide(created(None), NOW, &settings())
        else {
            panic!("expected StoreUnassigned")
        };
        assert_eq!(m.origin_id, None);
        assert_eq!(a.kind, AlertKind::UnassignedIntegration);
        assert!(a.message.contains("workday:abc") && a.message.contains("ev1"));
        assert!(!a.attributes.iter().any(|(k, _)| *k == "origin_id"));
    }

    #[test]
    fn deleted_is_a_tombstone_with_ttl() {
        let body = r#"{"id":"ev2","type":"integration-deleted","data":{"id":"workday:abc","tool":"workday","category":"LMS","end_user":{"origin_id":"42","organization_name":"Acme"},"deleted_at":"2022-11-02T10:50:10.242Z"}}"#;
        let Decision::Tombstone(t) =
            IntegrationDeleted::decide(parse(body.as_bytes()).unwrap(), NOW, &settings())
        else {
            panic!("expected Tombstone")
        };
        assert_eq!(t.mark.status, Status::Deleted);
        assert_eq!(t.mark.deleted_at, "2022-11-02T10:50:10.242Z");
        assert_eq!(t.mark.expires_at, NOW.unix_timestamp() + 30 * 86_400);
        assert_eq!(t.descriptive.origin_id.as_deref(), Some("42"));
        assert_eq!(t.descriptive.tool.as_deref(), Some("workday"));
    }

    #[test]
    fn connection_flow_failed_alert_is_actionable_and_filterable() {
        let e = Envelope {
            id: "ev3".into(),
            data: ConnectionFlowFailed {
                integration_tool: serde_json::from_str::<NonEmpty>("\"workday\"").unwrap(),
                integration_category: Category::Lms,
                end_user: EndUser {
                    organization_name: "Müller\nGmbH".into(),
                    creator_email: Some(Sensitive::new("ops@example.com")),
                    origin_id: Some("36123".into()),
                },
                log_url: "https://app.kombo.dev/env/production/logs/X"
                    .parse()
                    .unwrap(),
            },
        };
        let Decision::Failure(f) = ConnectionFlowFailed::decide(e, NOW, &settings()) else {
            panic!("expected Failure")
        };
        assert_eq!(f.key, "failures#36123#workday");
        assert_eq!(f.log_url, "https://app.kombo.dev/env/production/logs/X");
        let a = f.page;
        assert_eq!(
            a.subject,
            "Kombo connection failed: M?ller?GmbH (workday LMS)"
        );
        for needle in [
            "Müller",
            "36123",
            "workday",
            "LMS",
            "ops@example.com",
            "https://app.kombo.dev/env/production/logs/X",
            "ev3",
        ] {
            assert!(
                a.message.contains(needle),
                "message lacks {needle}: {}",
                a.message
            );
        }
        assert_eq!(
            a.attributes,
            vec![
                ("event_type", "connection-flow-failed".to_owned()),
                ("tool", "workday".to_owned()),
                ("category", "LMS".to_owned()),
                ("origin_id", "36123".to_owned()),
            ]
        );
    }
}
