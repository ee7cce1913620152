//! An alert as a plain value: what kind it is, the pieces every rendering is made of
//! ([`crate::render`]), and the one builder the notices share ([`super::notices`],
//! [`super::fleet`]).

use crate::event::EndUser;

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
    /// The reconcile run: an integration's setup stayed unfinished (low urgency).
    IntegrationSetupIncomplete,
    /// Kombo's QA check of an integration failed (low urgency).
    IntegrationQaFailed,
    /// Kombo raised an issue of a type that pages on a customer's integration.
    IntegrationIssue,
    /// Kombo raised an issue of a type that does not page (low urgency).
    IntegrationIssueNotice,
    /// Kombo raised an environment-wide issue.
    EnvironmentIssue,
    /// An issue that paged is resolved.
    IssueResolved,
    /// A customer has two live integrations of one tool (low urgency).
    DuplicateIntegration,
    /// An established customer's first failure inside a fleet incident (low urgency: the
    /// incident pages).
    InIncidentNotice,
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
            AlertKind::IntegrationSetupIncomplete => "integration-setup-incomplete",
            AlertKind::IntegrationQaFailed => "integration-qa-failed",
            AlertKind::IntegrationIssue => "integration-issue",
            AlertKind::IntegrationIssueNotice => "integration-issue-notice",
            AlertKind::EnvironmentIssue => "environment-issue",
            AlertKind::IssueResolved => "issue-resolved",
            AlertKind::DuplicateIntegration => "duplicate-integration",
            AlertKind::InIncidentNotice => "fleet-incident-customer",
        }
    }
}

/// The backend route that makes a reconnection link for `customer`'s `integration`.
pub fn reconnection_route(customer: &str, integration: &str) -> String {
    format!("POST /customers/{customer}/integrations/{integration}/reconnection-link")
}

/// The backend route that makes a setup link for `customer`'s `integration`.
pub fn setup_route(customer: &str, integration: &str) -> String {
    format!("POST /customers/{customer}/integrations/{integration}/setup-link")
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
            "Send the customer a reconnection link (the same integration comes back; a new connection link would make a second one): {}",
            reconnection_route(customer, integration)
        ),
        AlertKind::IntegrationSetupIncomplete => format!(
            "Send the customer a setup link to finish the setup steps: {}",
            setup_route(customer, integration)
        ),
        AlertKind::IntegrationQaFailed => {
            "Look at the integration in Kombo's dashboard, or ask Kombo's support (its data calls answer 409 INTEGRATION.QA_FAILED)".to_owned()
        }
        AlertKind::IntegrationIssue | AlertKind::IntegrationIssueNotice => {
            match extra.iter().find(|(l, _)| *l == "Reconnection link") {
                Some((_, route)) => format!(
                    "Send the customer a reconnection link before the integration turns INVALID: {route}"
                ),
                None => "Look at the issue in Kombo's dashboard".to_owned(),
            }
        }
        AlertKind::EnvironmentIssue => "Look at the issue in Kombo's dashboard".to_owned(),
        AlertKind::IssueResolved => {
            "Nothing to do: close the earlier page if it is still open".to_owned()
        }
        AlertKind::DuplicateIntegration => format!(
            "Delete the one the customer does not use (DELETE /integrations/<integration id>), or keep both; next time send a reconnection link instead of a new connection link: {}",
            reconnection_route(customer, integration)
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
        // Built by [`fleet`] (or from a page), not here.
        AlertKind::FleetIncident
        | AlertKind::FleetIncidentUpdate
        | AlertKind::FleetIncidentOver
        | AlertKind::InIncidentNotice => {
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
    pub(crate) fn rebuild_message(&mut self) {
        self.message = format!("{}\n\n", self.summary);
        for (label, value) in &self.fields {
            self.message.push_str(&format!("{label}: {value}\n"));
        }
    }

    /// Adds a fact before the Kombo event id and a sentence to the summary; the e-mail
    /// text is rebuilt from both.
    pub(crate) fn with_fact(mut self, label: &str, value: String, sentence: &str) -> Alert {
        let at = self.fields.len().saturating_sub(1);
        self.fields.insert(at, (label.to_owned(), value));
        self.summary = format!("{} {sentence}", self.summary);
        self.rebuild_message();
        self
    }
}

/// SNS subjects must be ASCII without control characters and under 100 characters.
pub(crate) fn sns_subject(s: &str) -> String {
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

    #[test]
    fn long_subjects_are_cut_below_100_characters() {
        let s = sns_subject(&"x".repeat(300));
        assert!(s.len() < 100 && s.ends_with("..."));
    }
}
