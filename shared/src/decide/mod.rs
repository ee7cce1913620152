//! What must happen for an event: a plain value, computed without any I/O, so every
//! rule is testable without AWS. The adapters in [`crate::dynamo`] and [`crate::sns`]
//! carry a [`Decision`] out; [`crate::webhook`] sequences them.

pub mod connect;
pub mod fleet;
pub mod notices;

pub use connect::{CONNECT_PREFIX, Completion};
pub use notices::{Failure, FailureRecord, Resolution};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Settings;
use crate::event::{
    ConnectionFlowFailed, EndUser, Envelope, IntegrationCreated, IntegrationDeleted,
    IntegrationState, IntegrationStateChanged,
};

/// `status` of a mapping row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Active,
    Deleted,
}

/// Whether a backend can use an integration now, the table's `usable` attribute: the
/// mapping exists (not a tombstone), Kombo's state is not `INVALID` or `INACTIVE`, and its
/// setup is not known to be `INCOMPLETE`. An unknown state or setup status (Kombo adds
/// values) does not make it unusable; no state yet (no state change seen) is usable.
pub fn usable(status: Status, state: Option<&str>, setup_status: Option<&str>) -> bool {
    status == Status::Active
        && !matches!(state, Some("INVALID" | "INACTIVE"))
        && setup_status != Some("INCOMPLETE")
}

/// A row of the mappings table, as stored (see docs/table-contract.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub integration_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_id: Option<String>,
    /// Tool, category and organization: from Kombo's events; an imported row (see
    /// `import-mappings`) may lack the organization until its create arrives.
    #[serde(default)]
    pub tool: String,
    /// Empty (and not stored) on a row a Connect completion stored until the webhook fills it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    #[serde(default)]
    pub organization_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_email: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub last_event_id: String,
    /// The `integration-created` event that stored (or completed) the row; written by
    /// that create only, so a retry of it knows the row is its own whatever other events
    /// changed since. Absent on rows recorded from a state change before their create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_event_id: Option<String>,
    /// TTL (epoch seconds); set on tombstones only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// From `integration-state-changed` (absent until one arrives): `ACTIVE`,
    /// `INVALID`, `INACTIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qa_status: Option<String>,
    /// Kombo's `updated_at` of that state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<String>,
    /// A row a Connect completion stored: the SHA-256 of the activation token (base64url),
    /// so a retry of that completion finds its row after Kombo has used the token up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_token_sha256: Option<String>,
    /// [`usable`] of the row's status, state and setup status, as stored: every write sets
    /// it from what the row holds after it ([`crate::dynamo`]); absent on rows written before
    /// the attribute existed (read [`Mapping::usable_now`]), and on a mapping not stored yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable: Option<bool>,
}

impl Mapping {
    /// [`usable`] as the row's own fields say: what its stored `usable` must be.
    pub fn usable_now(&self) -> bool {
        usable(
            self.status,
            self.state.as_deref(),
            self.setup_status.as_deref(),
        )
    }
}

/// The descriptive fields a tombstone fills in only where the row does not have them
/// yet (a delete may arrive before its create, or without one ever coming). A delete
/// through the backend API knows none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Descriptive {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator_email: Option<String>,
}

/// The fields a tombstone always sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TombstoneMark {
    pub status: Status,
    pub deleted_at: String,
    pub updated_at: String,
    pub last_event_id: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub integration_id: String,
    pub mark: TombstoneMark,
    pub descriptive: Descriptive,
}

/// What kind of alert; also the `alert_kind` message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    ConnectionFlowFailed,
    UnassignedIntegration,
    IntegrationInvalid,
    /// The reconcile run found an integration that Kombo no longer has.
    DeletedOutsideWebhooks,
    /// A customer whose connection failed connected after all.
    ConnectionFlowResolved,
    /// The sweep: failures folded into a window that closed without a later page.
    ConnectionFlowFailedSummary,
    /// An INVALID integration is ACTIVE again.
    IntegrationRecovered,
    /// Many customers of one tool failing (or turning INVALID) together: one incident.
    FleetIncident,
    /// The sweep: an open incident grew.
    FleetIncidentUpdate,
    /// The sweep: an incident quiet for a whole window is over.
    FleetIncidentOver,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ConnectionFlowFailed => "connection-flow-failed",
            AlertKind::UnassignedIntegration => "unassigned-integration",
            AlertKind::IntegrationInvalid => "integration-invalid",
            AlertKind::DeletedOutsideWebhooks => "integration-deleted-outside-webhooks",
            AlertKind::ConnectionFlowResolved => "connection-flow-resolved",
            AlertKind::ConnectionFlowFailedSummary => "connection-flow-failed-summary",
            AlertKind::IntegrationRecovered => "integration-recovered",
            AlertKind::FleetIncident => "fleet-incident",
            AlertKind::FleetIncidentUpdate => "fleet-incident-update",
            AlertKind::FleetIncidentOver => "fleet-incident-over",
        }
    }
}

/// An alert, fully formed: the pieces its renderings are made of ([`crate::render`]) and
/// the plain-text e-mail made from them. The adapter sends it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    /// ASCII, no line breaks, under 100 characters (SNS's rules for email subjects); also
    /// the chat title.
    pub subject: String,
    /// A message a person on call can act on (the e-mail body).
    pub message: String,
    /// What happened, in one paragraph.
    pub summary: String,
    /// (label, value) in order: organization, customer, tool, category, creator e-mail,
    /// then what the kind adds, then the Kombo event id.
    pub fields: Vec<(String, String)>,
    /// What on-call can do about it.
    pub next_steps: Vec<String>,
    /// The same customer and tool: one chat thread.
    pub thread_id: String,
    pub event_id: String,
    /// Kombo's log of the failed flow, when Kombo sent one.
    pub log_url: Option<String>,
    /// String message attributes for subscription filter policies; empty values left out.
    pub attributes: Vec<(&'static str, String)>,
    /// A fleet incident's figures and customers (the JSON rendering's `incident`).
    pub incident: Option<serde_json::Value>,
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
    /// an integration not seen yet), and publish the alert once when this event made it
    /// INVALID (a page), or took it from INVALID to ACTIVE (a "recovered" notice).
    State(StateUpdate, Option<Alert>),
}

/// A payload that this product acts on.
pub trait Decide {
    fn decide(envelope: Envelope<Self>, now: OffsetDateTime, settings: &Settings) -> Decision
    where
        Self: Sized;
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("any OffsetDateTime formats as RFC 3339")
}

/// Epoch milliseconds: how the tables and the metrics store a moment.
pub fn epoch_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Decide for IntegrationCreated {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, _: &Settings) -> Decision {
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
        };
        if d.end_user.origin_id.is_some() {
            let resolution = Resolution {
                key: notices::failure_key(&d.end_user, d.tool.as_str()),
                end_user: d.end_user.clone(),
                tool: d.tool.to_string(),
                category: d.category.to_string(),
                integration_id: d.id.to_string(),
                event_id: e.id.clone(),
            };
            return Decision::Store(mapping, resolution);
        }
        let alert = alert(
            AlertKind::UnassignedIntegration,
            format!(
                "Kombo integration without customer: {} ({} {})",
                d.end_user.organization_name, d.tool, d.category
            ),
            "An integration was created without an origin_id (for example from the Kombo \
             dashboard), so it is not linked to any customer. Find the customer and set \
             origin_id on its row in the mappings table.",
            &d.end_user,
            d.tool.as_str(),
            d.category.as_str(),
            &[("Integration id", d.id.as_str())],
            &e.id,
        );
        Decision::StoreUnassigned(mapping, alert)
    }
}

impl Decide for IntegrationDeleted {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, settings: &Settings) -> Decision {
        let d = e.data;
        let expires = now + settings.tombstone_retention;
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

impl Tombstone {
    /// The tombstone for an integration deleted through the backend API (Kombo's
    /// `DELETE /integrations/{id}`), marked with `cause` as its event id.
    pub fn deleted_by_api(
        integration_id: &str,
        cause: String,
        now: OffsetDateTime,
        settings: &Settings,
    ) -> Self {
        Tombstone {
            integration_id: integration_id.to_owned(),
            mark: TombstoneMark {
                status: Status::Deleted,
                deleted_at: rfc3339(now),
                updated_at: rfc3339(now),
                last_event_id: cause,
                expires_at: (now + settings.tombstone_retention).unix_timestamp(),
            },
            descriptive: Descriptive::default(),
        }
    }
}

/// The state fields an `integration-state-changed` event sets on a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateFields {
    pub state: String,
    pub setup_status: String,
    /// Absent when the source does not say (Kombo's `GET /integrations/{id}` has none):
    /// the stored one stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qa_status: Option<String>,
    /// Kombo's `updated_at` of the state, RFC 3339.
    pub state_updated_at: String,
    /// The same as epoch milliseconds: an older update never overwrites a newer one.
    pub state_updated_at_ms: i64,
    pub updated_at: String,
    pub last_event_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    pub integration_id: String,
    pub fields: StateFields,
    /// What the event says about the integration: fills a row that does not exist yet
    /// (an integration created before this stack was deployed), never overwrites.
    pub descriptive: Descriptive,
    /// The new state is INVALID: the store records which event made it so, and tells
    /// whether this event is the one that did (then on-call is paged).
    pub invalid: bool,
    /// The new state is ACTIVE: the store records which event took the integration out
    /// of INVALID, if this one did (then one "recovered" notice goes out).
    pub recovers: bool,
}

impl Decide for IntegrationStateChanged {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, _: &Settings) -> Decision {
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
        };
        let recovered = update.recovers.then(|| {
            notices::recovered_notice(
                &d.end_user,
                d.integration_tool.as_str(),
                d.integration_category.as_str(),
                d.integration_id.as_str(),
                &e.id,
            )
        });
        let invalid = update.invalid.then(|| {
            alert(
                AlertKind::IntegrationInvalid,
                format!(
                    "Kombo integration invalid: {} ({} {})",
                    d.end_user.organization_name, d.integration_tool, d.integration_category
                ),
                "Kombo marked the integration INVALID: its credentials no longer work, so no \
                 data syncs. Ask the customer to reconnect (create a new connection link).",
                &d.end_user,
                d.integration_tool.as_str(),
                d.integration_category.as_str(),
                &[
                    ("Integration id", d.integration_id.as_str()),
                    ("Setup status", d.setup_status.as_str()),
                ],
                &e.id,
            )
        });
        Decision::State(update, invalid.or(recovered))
    }
}

impl Decide for ConnectionFlowFailed {
    fn decide(e: Envelope<Self>, now: OffsetDateTime, _: &Settings) -> Decision {
        let d = e.data;
        let page = alert(
            AlertKind::ConnectionFlowFailed,
            format!(
                "Kombo connection failed: {} ({} {})",
                d.end_user.organization_name, d.integration_tool, d.integration_category
            ),
            "A customer ran into an error while connecting their system through Kombo. \
             Kombo notes the flow may still succeed on a later attempt; open the log to \
             see what went wrong and offer help.",
            &d.end_user,
            d.integration_tool.as_str(),
            d.integration_category.as_str(),
            &[("Kombo log", d.log_url.as_str())],
            &e.id,
        );
        Decision::Failure(Failure {
            key: notices::failure_key(&d.end_user, d.integration_tool.as_str()),
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

/// Builds an alert: subject, a readable message, and filterable attributes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn alert(
    kind: AlertKind,
    subject: String,
    what: &str,
    end_user: &EndUser,
    tool: &str,
    category: &str,
    extra: &[(&str, &str)],
    event_id: &str,
) -> Alert {
    let origin = end_user.origin_id.as_deref().unwrap_or("(none)");
    let email = end_user
        .creator_email
        .as_ref()
        .map_or("(unknown)", |s| s.expose());
    let mut fields: Vec<(String, String)> = [
        ("Organization", end_user.organization_name.as_str()),
        ("Customer (origin_id)", origin),
        ("Tool", tool),
        ("Category", category),
        ("Creator email", email),
    ]
    .iter()
    .chain(extra)
    .map(|(l, v)| ((*l).to_owned(), (*v).to_owned()))
    .collect();
    fields.push(("Kombo event id".into(), event_id.to_owned()));

    let log_url = extra
        .iter()
        .find(|(l, _)| *l == "Kombo log")
        .map(|(_, v)| (*v).to_owned());
    let integration = extra
        .iter()
        .find(|(l, _)| *l == "Integration id")
        .map_or("<integration id>", |(_, v)| *v);
    let customer = end_user.origin_id.as_deref().unwrap_or("<origin_id>");
    let mut next_steps = Vec::new();
    if let Some(url) = &log_url {
        next_steps.push(format!("Open the Kombo log: {url}"));
    }
    next_steps.push(match kind {
        AlertKind::ConnectionFlowFailed => format!(
            "Offer the customer help, or a new link: POST /customers/{customer}/connection-link"
        ),
        AlertKind::UnassignedIntegration => format!(
            "Find the customer and link it: PUT /integrations/{integration}/customer"
        ),
        AlertKind::IntegrationInvalid => format!(
            "Ask the customer to reconnect: POST /customers/{customer}/connection-link"
        ),
        AlertKind::DeletedOutsideWebhooks => format!(
            "Check who deleted it in Kombo; if by mistake, a new link: POST /customers/{customer}/connection-link"
        ),
        AlertKind::ConnectionFlowFailedSummary => format!(
            "Offer the customer help, or a new link: POST /customers/{customer}/connection-link"
        ),
        AlertKind::ConnectionFlowResolved | AlertKind::IntegrationRecovered => {
            "Nothing to do: close the earlier page if it is still open".to_owned()
        }
        // Built by [`fleet`], not here.
        AlertKind::FleetIncident | AlertKind::FleetIncidentUpdate | AlertKind::FleetIncidentOver => {
            "See the incident's thread".to_owned()
        }
    });

    let mut attributes = vec![
        ("event_type", kind.as_str().to_owned()),
        ("tool", tool.to_owned()),
        ("category", category.to_owned()),
    ];
    if let Some(o) = &end_user.origin_id {
        attributes.push(("origin_id", o.clone()));
    }
    let who = end_user
        .origin_id
        .as_deref()
        .unwrap_or(&end_user.organization_name);
    let mut alert = Alert {
        kind,
        subject: sns_subject(&subject),
        message: String::new(),
        summary: what.to_owned(),
        fields,
        next_steps,
        thread_id: format!("kombo-{who}-{tool}"),
        event_id: event_id.to_owned(),
        log_url,
        attributes,
        incident: None,
    };
    alert.rebuild_message();
    alert
}

impl Alert {
    /// The e-mail text: the summary, then every field on a line of its own.
    fn rebuild_message(&mut self) {
        self.message = format!("{}\n\n", self.summary);
        for (label, value) in &self.fields {
            self.message.push_str(&format!("{label}: {value}\n"));
        }
    }
}

/// SNS subjects must be ASCII without control characters and under 100 characters.
fn sns_subject(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if out.len() > 99 {
        out.truncate(96);
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Category, NonEmpty, Sensitive, parse};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

    #[test]
    fn usable_is_exists_not_invalid_or_inactive_and_setup_not_incomplete() {
        use Status::{Active, Deleted};
        assert!(usable(Active, None, None), "no state seen yet");
        assert!(usable(Active, Some("ACTIVE"), Some("COMPLETED")));
        assert!(usable(Active, Some("ACTIVE"), Some("FINAL_SYNC_PENDING")));
        assert!(
            usable(Active, Some("PAUSED"), None),
            "a state Kombo adds later"
        );
        assert!(!usable(Active, Some("INVALID"), Some("COMPLETED")));
        assert!(!usable(Active, Some("INACTIVE"), Some("COMPLETED")));
        assert!(!usable(Active, Some("ACTIVE"), Some("INCOMPLETE")));
        assert!(
            !usable(Active, None, Some("INCOMPLETE")),
            "a Connect token's setup"
        );
        assert!(
            !usable(Deleted, Some("ACTIVE"), Some("COMPLETED")),
            "a tombstone"
        );
    }

    fn settings() -> Settings {
        Settings::for_tests(
            "mappings",
            "claims",
            "arn:aws:sns:us-east-1:123456789012:alerts",
        )
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

    #[test]
    fn long_subjects_are_cut_below_100_characters() {
        let s = sns_subject(&"x".repeat(300));
        assert!(s.len() < 100 && s.ends_with("..."));
    }
}
