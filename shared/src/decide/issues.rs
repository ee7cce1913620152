//! Kombo's integration issues (`issue-status-changed`), as plain values: an issue's
//! episode (one raise: the issue id and when it was first observed), what a raise does (a
//! page folded per customer and tool like a connection failure and counted on the tool's
//! fleet record, a low-urgency notice for a type that does not page, a page per episode for
//! an environment-wide issue), the open issue kept on the integration's row, and the one
//! "resolved" notice a paged episode owes.

use serde::{Deserialize, Serialize};

use super::alert::{Alert, AlertKind, alert, reconnection_route};
use super::failures::{Failure, FailureKind, customer_of, issue_key};
use super::row::{Descriptive, OpenIssue};
use crate::clock::{epoch_ms, rfc3339};
use crate::event::{EndUser, Envelope, IssueChange, IssueStatusChanged};
use crate::keys;

/// The issue type whose next step is a reconnection link.
pub const AUTHENTICATION_FAILED: &str = "integration.authentication_failed";

/// One raise of one issue: Kombo raises an issue again (a new episode, a new
/// `first_observed_at`) when its condition returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub issue_id: String,
    pub first_observed_ms: i64,
}

impl Episode {
    /// The claim of its page or notice (and, once completed, what became of it).
    pub fn claim(&self) -> String {
        keys::issue_episode(&self.issue_id, self.first_observed_ms)
    }

    /// The claim of its "resolved" notice.
    pub fn resolved_claim(&self) -> String {
        keys::issue_resolved(&self.issue_id, self.first_observed_ms)
    }
}

/// An issue as the integration's row keeps it (`issue#<issue id>`): open, or the marker of
/// its episode's resolution (so a raise arriving after its resolved changes nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// `first_observed_at`, RFC 3339.
    pub since: String,
    pub since_ms: i64,
    /// When its episode resolved (epoch ms); absent while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_ms: Option<i64>,
}

impl RowIssue {
    /// The issue `id` as the backend answers it, while it is open.
    pub fn open(&self, id: &str) -> Option<OpenIssue> {
        self.resolved_ms.is_none().then(|| OpenIssue {
            id: id.to_owned(),
            kind: self.kind.clone(),
            title: self.title.clone(),
            since: self.since.clone(),
        })
    }
}

/// What an issue writes on its integration's row: the issue entry, and the integration's
/// descriptive fields where the row has none (an integration this stack has not seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnRow {
    pub integration_id: String,
    pub issue_id: String,
    pub issue: RowIssue,
    pub descriptive: Descriptive,
    /// When the row changed (RFC 3339), and the event a row made for it is named after.
    pub updated_at: String,
    pub event_id: String,
}

/// What the row held when an issue's write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowSaw {
    /// Written (opened or resolved) now.
    Written,
    /// This episode (or a newer one) stands already: a retry or duplicate, nothing changed.
    Already,
    /// This episode resolved before this raise arrived: nothing to page.
    Resolved,
    /// A tombstone: the integration is deleted.
    Deleted,
}

impl RowSaw {
    /// A refused raise of `episode`, from the issue entry that stands (`None`: no entry, so
    /// the row is a tombstone).
    pub fn refused_raise(stands: Option<&RowIssue>, episode: &Episode) -> RowSaw {
        match stands {
            None => RowSaw::Deleted,
            Some(i) if i.since_ms == episode.first_observed_ms && i.resolved_ms.is_some() => {
                RowSaw::Resolved
            }
            Some(_) => RowSaw::Already,
        }
    }
}

/// What a raise does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raise {
    /// A type that pages, of an integration: counted on the customer's issue record and the
    /// tool's fleet record, paged unless folded (the failure's `event_id` is the episode's
    /// claim).
    Page(Failure),
    /// A type that does not page: one low-urgency notice per episode.
    Notice(Alert),
    /// An environment-wide issue (no integration): one page per episode.
    Environment(Alert),
}

/// What an `issue-status-changed` must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueDecision {
    Raised {
        episode: Episode,
        row: Option<OnRow>,
        raise: Raise,
    },
    /// Kept on the row as resolved; one "resolved" notice if the episode paged.
    Resolved {
        episode: Episode,
        row: Option<OnRow>,
        notice: Alert,
        /// The tool's issues fleet record and the customer on it, marked resolved there.
        fleet: Option<(String, String)>,
    },
}

impl IssueDecision {
    pub fn episode(&self) -> &Episode {
        match self {
            IssueDecision::Raised { episode, .. } | IssueDecision::Resolved { episode, .. } => {
                episode
            }
        }
    }
}

/// What became of an episode's raise (its claim's outcome) that owes a "resolved" notice:
/// it paged (not folded, not a notice).
pub fn paged(outcome: Option<&str>) -> bool {
    outcome == Some("alerted")
}

/// Decides an `issue-status-changed`, `page_types` being the issue types that page.
pub fn decide(
    e: Envelope<IssueStatusChanged>,
    now: time::OffsetDateTime,
    page_types: &[String],
) -> IssueDecision {
    let d = e.data;
    let issue = &d.issue;
    let kind = issue.kind.as_str();
    let episode = Episode {
        issue_id: issue.id.to_string(),
        first_observed_ms: epoch_ms(issue.first_observed_at),
    };
    let claim = episode.claim();
    let at = rfc3339(now);
    let resolved = d.change == IssueChange::Resolved;
    let row = d.integration.as_ref().map(|i| OnRow {
        integration_id: i.id.to_string(),
        issue_id: episode.issue_id.clone(),
        issue: RowIssue {
            kind: kind.to_owned(),
            title: issue.title.clone(),
            since: rfc3339(issue.first_observed_at),
            since_ms: episode.first_observed_ms,
            resolved_ms: resolved.then(|| issue.resolved_at.map_or(epoch_ms(now), epoch_ms)),
        },
        descriptive: Descriptive {
            origin_id: i.end_user.origin_id.clone(),
            tool: Some(i.tool.to_string()),
            category: Some(i.category.to_string()),
            organization_name: Some(i.end_user.organization_name.clone()),
            creator_email: i
                .end_user
                .creator_email
                .as_ref()
                .map(|s| s.expose().to_owned()),
        },
        updated_at: at.clone(),
        event_id: e.id.clone(),
    });
    let environment = EndUser {
        organization_name: "(environment)".into(),
        creator_email: None,
        origin_id: None,
    };
    let (end_user, tool, category, integration_id) = match &d.integration {
        Some(i) => (
            &i.end_user,
            i.tool.as_str(),
            i.category.as_str(),
            Some(i.id.as_str()),
        ),
        None => (&environment, "", "", None),
    };
    if resolved {
        let notice = resolved_notice(&d, end_user, tool, category, integration_id, &e.id);
        let fleet = d.integration.as_ref().map(|i| {
            (
                keys::fleet_record(super::fleet::FleetKind::Issues.as_str(), i.tool.as_str()),
                customer_of(&i.end_user),
            )
        });
        return IssueDecision::Resolved {
            episode,
            row,
            notice,
            fleet,
        };
    }
    let pages = page_types.iter().any(|t| t == kind);
    let raise = match &d.integration {
        None => Raise::Environment(issue_alert(
            AlertKind::EnvironmentIssue,
            &d,
            end_user,
            tool,
            category,
            integration_id,
            &e.id,
        )),
        Some(i) if pages => {
            let page = issue_alert(
                AlertKind::IntegrationIssue,
                &d,
                end_user,
                tool,
                category,
                integration_id,
                &e.id,
            );
            Raise::Page(Failure {
                kind: FailureKind::Issue,
                key: issue_key(&i.end_user, tool),
                origin_id: i.end_user.origin_id.clone(),
                organization_name: i.end_user.organization_name.clone(),
                tool: tool.to_owned(),
                category: category.to_owned(),
                // What the fleet record lists for the customer: the issue's title.
                log_url: issue.title.clone(),
                event_id: claim.clone(),
                at,
                page,
            })
        }
        Some(_) => Raise::Notice(issue_alert(
            AlertKind::IntegrationIssueNotice,
            &d,
            end_user,
            tool,
            category,
            integration_id,
            &e.id,
        )),
    };
    IssueDecision::Raised {
        episode,
        row,
        raise,
    }
}

/// The page (or notice) of a raised issue (`event_id`: the delivery's, shown as Kombo's).
fn issue_alert(
    kind: AlertKind,
    d: &IssueStatusChanged,
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: Option<&str>,
    event_id: &str,
) -> Alert {
    let issue = &d.issue;
    let first = rfc3339(issue.first_observed_at);
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = integration_id {
        extra.push(("Integration id", id));
    }
    extra.extend([
        ("Issue", issue.title.as_str()),
        ("Issue type", issue.kind.as_str()),
        ("Issue id", issue.id.as_str()),
        ("First observed", first.as_str()),
        ("Kombo's message", issue.markdown_message.as_str()),
    ]);
    let reconnect = integration_id
        .filter(|_| issue.kind.as_str() == AUTHENTICATION_FAILED)
        .map(|id| reconnection_route(end_user.origin_id.as_deref().unwrap_or("<origin_id>"), id));
    if let Some(route) = &reconnect {
        extra.push(("Reconnection link", route.as_str()));
    }
    let (subject, what) = match kind {
        AlertKind::EnvironmentIssue => (
            format!("Kombo environment issue: {}", issue.title),
            "Kombo raised an issue about the whole environment (not one integration): \
             look at it in Kombo's dashboard."
                .to_owned(),
        ),
        AlertKind::IntegrationIssueNotice => (
            format!(
                "Kombo issue (notice): {}: {} ({tool} {category})",
                issue.title, end_user.organization_name
            ),
            "Kombo raised an issue on the customer's integration, of a type that does not page \
             (ISSUE_PAGE_TYPES): it is kept on the integration's row until it resolves. Low \
             urgency."
                .to_owned(),
        ),
        _ => (
            format!(
                "Kombo issue: {}: {} ({tool} {category})",
                issue.title, end_user.organization_name
            ),
            if reconnect.is_some() {
                "Kombo cannot log in to the customer's system any more: its syncs fail, and \
                 after three days Kombo marks the integration INVALID. Send the customer a \
                 reconnection link now (the same integration comes back)."
                    .to_owned()
            } else {
                "Kombo raised an issue on the customer's integration: look at it in Kombo's \
                 dashboard."
                    .to_owned()
            },
        ),
    };
    alert(
        kind, subject, &what, end_user, tool, category, &extra, event_id,
    )
}

/// The "resolved" notice of an episode that paged.
fn resolved_notice(
    d: &IssueStatusChanged,
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: Option<&str>,
    event_id: &str,
) -> Alert {
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = integration_id {
        extra.push(("Integration id", id));
    }
    extra.extend([
        ("Issue", d.issue.title.as_str()),
        ("Issue id", d.issue.id.as_str()),
    ]);
    let whom = if integration_id.is_some() {
        format!("{} ({tool} {category})", end_user.organization_name)
    } else {
        "the environment".to_owned()
    };
    alert(
        AlertKind::IssueResolved,
        format!("Resolved: Kombo issue {}: {whom}", d.issue.title),
        "Kombo resolved the issue that paged: nothing left to do. Close the earlier page if it \
         is still open.",
        end_user,
        tool,
        category,
        &extra,
        event_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-12-01 10:05 UTC);

    fn body(change: &str, kind: &str, integration: bool) -> String {
        let integration = if integration {
            r#"{"id":"workday:1","tool":"workday","category":"LMS","end_user":{"organization_name":"Acme","creator_email":null,"origin_id":"42"}}"#
        } else {
            "null"
        };
        let resolved = if change == "resolved" {
            r#""2026-12-01T11:00:00Z""#
        } else {
            "null"
        };
        format!(
            r#"{{"id":"ev-{change}","type":"issue-status-changed","data":{{"change":"{change}","issue":{{"id":"iss_1","type":"{kind}","title":"Login failing","status":"OPEN","markdown_message":"**Bad** password","first_observed_at":"2026-12-01T10:00:00Z","resolved_at":{resolved}}},"integration":{integration}}}}}"#
        )
    }

    fn decide_body(b: &str, types: &[&str]) -> IssueDecision {
        let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
        decide(parse(b.as_bytes()).unwrap(), NOW, &types)
    }

    #[test]
    fn a_raised_login_failure_pages_with_the_reconnection_link_under_its_episode() {
        let IssueDecision::Raised {
            episode,
            row,
            raise,
        } = decide_body(
            &body("raised", AUTHENTICATION_FAILED, true),
            &[AUTHENTICATION_FAILED],
        )
        else {
            panic!("raised")
        };
        assert_eq!(episode.claim(), "issue:iss_1:1796119200000");
        let row = row.expect("kept on the row");
        assert_eq!(row.issue.resolved_ms, None);
        assert_eq!(row.issue.kind, AUTHENTICATION_FAILED);
        let Raise::Page(f) = raise else {
            panic!("a page")
        };
        assert_eq!(f.kind, FailureKind::Issue);
        assert_eq!(f.key, "issues#42#workday");
        assert_eq!(f.event_id, episode.claim(), "the episode is the claim");
        let route = "POST /customers/42/integrations/workday:1/reconnection-link";
        assert!(
            f.page.next_steps.iter().any(|s| s.contains(route)),
            "{:?}",
            f.page.next_steps
        );
        assert!(
            f.page
                .fields
                .contains(&("Kombo's message".into(), "**Bad** password".into()))
        );
        assert_eq!(f.page.kind, AlertKind::IntegrationIssue);
    }

    #[test]
    fn a_type_that_does_not_page_is_a_notice_and_an_unknown_one_is_kept() {
        let d = decide_body(
            &body("raised", "integration.something_new", true),
            &[AUTHENTICATION_FAILED],
        );
        let IssueDecision::Raised {
            raise: Raise::Notice(a),
            row,
            ..
        } = d
        else {
            panic!("a notice")
        };
        assert_eq!(a.kind, AlertKind::IntegrationIssueNotice);
        assert_eq!(row.unwrap().issue.kind, "integration.something_new");
        // The list of types that page is the setting's.
        assert!(matches!(
            decide_body(
                &body("raised", "integration.something_new", true),
                &["integration.something_new"]
            ),
            IssueDecision::Raised {
                raise: Raise::Page(_),
                ..
            }
        ));
    }

    #[test]
    fn an_environment_issue_pages_once_per_episode_and_has_no_row() {
        let IssueDecision::Raised {
            raise,
            row,
            episode,
        } = decide_body(
            &body("raised", "environment.webhooks_failing", false),
            &[AUTHENTICATION_FAILED],
        )
        else {
            panic!("raised")
        };
        assert_eq!(row, None);
        let Raise::Environment(a) = raise else {
            panic!("a page")
        };
        // The delivery's id is what the page shows as Kombo's; the episode is its claim.
        assert_eq!(a.event_id, "ev-raised");
        assert_eq!(episode.claim(), "issue:iss_1:1796119200000");
        assert_eq!(a.kind, AlertKind::EnvironmentIssue);
    }

    #[test]
    fn a_resolved_episode_marks_the_row_and_owes_a_notice_only_if_it_paged() {
        let IssueDecision::Resolved {
            episode,
            row,
            notice,
            fleet,
        } = decide_body(
            &body("resolved", AUTHENTICATION_FAILED, true),
            &[AUTHENTICATION_FAILED],
        )
        else {
            panic!("resolved")
        };
        assert_eq!(row.unwrap().issue.resolved_ms, Some(1_796_122_800_000));
        assert_eq!(notice.event_id, "ev-resolved");
        assert_eq!(
            episode.resolved_claim(),
            "issue-resolved:iss_1:1796119200000"
        );
        assert_eq!(
            fleet,
            Some(("fleet#integration-issues#workday".into(), "42".into()))
        );
        assert!(paged(Some("alerted")));
        for not in [
            Some("folded"),
            Some("folded_into_incident"),
            Some("issue_noticed"),
            None,
        ] {
            assert!(!paged(not), "{not:?}");
        }
    }

    #[test]
    fn a_raise_after_its_episode_resolved_pages_nobody() {
        let ep = Episode {
            issue_id: "iss_1".into(),
            first_observed_ms: 5,
        };
        let entry = |since_ms, resolved_ms| RowIssue {
            kind: AUTHENTICATION_FAILED.into(),
            title: "t".into(),
            since: "s".into(),
            since_ms,
            resolved_ms,
        };
        assert_eq!(
            RowSaw::refused_raise(Some(&entry(5, Some(9))), &ep),
            RowSaw::Resolved
        );
        assert_eq!(
            RowSaw::refused_raise(Some(&entry(5, None)), &ep),
            RowSaw::Already
        );
        assert_eq!(
            RowSaw::refused_raise(Some(&entry(7, None)), &ep),
            RowSaw::Already,
            "a newer episode"
        );
        assert_eq!(RowSaw::refused_raise(None, &ep), RowSaw::Deleted);
    }
}
