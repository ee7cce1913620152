//! A customer's connection failures on record, as plain values: which failure record a
//! failure or a create belongs to, what counting a failure on it found (a page, or folded
//! into the open window), what a create resolves, and how a refused write tells this
//! event's own earlier try from another's.

use super::alert::Alert;
use crate::event::EndUser;
use crate::keys;

/// Who a failure record is about: the customer's `origin_id`, or `org:<organization name>`
/// when the flow had none.
pub fn customer_of(end_user: &EndUser) -> String {
    keys::customer(end_user.origin_id.as_deref(), &end_user.organization_name)
}

/// The key of the failure record of one customer and tool in the records table.
pub fn failure_key(end_user: &EndUser, tool: &str) -> String {
    keys::failure_record(&customer_of(end_user), tool)
}

/// The key of the record of one customer's issue pages for a tool.
pub fn issue_key(end_user: &EndUser, tool: &str) -> String {
    keys::issue_record(&customer_of(end_user), tool)
}

/// The customer ([`customer_of`]) a failure record's `key` ([`failure_key`], [`issue_key`])
/// of `tool` names (`None`: not such a key).
pub fn customer_in_key<'a>(key: &'a str, tool: &str) -> Option<&'a str> {
    keys::customer_in_failure_record(key, tool)
}

/// What a failure record counts: failed connection flows, or the pages of a customer's
/// integration issues (`issue-status-changed`). Each has records of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureKind {
    #[default]
    ConnectionFlow,
    Issue,
}

impl FailureKind {
    /// The record's `record_type`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ConnectionFlow => "connection-failures",
            FailureKind::Issue => "integration-issues",
        }
    }

    pub fn parse(s: &str) -> FailureKind {
        if s == FailureKind::Issue.as_str() {
            FailureKind::Issue
        } else {
            FailureKind::ConnectionFlow
        }
    }
}

/// A failure to be counted on its customer's failure record (a `connection-flow-failed`
/// event, or an issue that pages): it pages (with `page`) when it opens a window, else it
/// is folded into the open one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// [`failure_key`] (or, for an issue, [`issue_key`]).
    pub key: String,
    pub origin_id: Option<String>,
    pub organization_name: String,
    pub tool: String,
    pub category: String,
    pub log_url: String,
    pub event_id: String,
    /// When it arrived (RFC 3339).
    pub at: String,
    pub page: Alert,
}

/// An `integration-created` with a customer: if that customer and tool have failures on
/// record, they are resolved, and one notice says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// [`failure_key`].
    pub key: String,
    pub end_user: EndUser,
    pub tool: String,
    pub category: String,
    pub integration_id: String,
    pub event_id: String,
}

impl Resolution {
    /// The claim that makes its notice exactly-once.
    pub fn notice_id(&self) -> String {
        keys::resolved(&self.event_id)
    }
}

/// A failure record as the sweep reads it (the item layout is in docs/table-contract.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureRecord {
    pub kind: FailureKind,
    pub key: String,
    pub origin_id: Option<String>,
    pub organization_name: String,
    pub tool: String,
    pub category: String,
    /// Failed attempts since the record opened (or was last resolved).
    pub total: u32,
    /// Failures folded into the current window, not reported yet.
    pub folded: u32,
    /// When the current window opened (epoch ms; 0 after a resolution).
    pub window_start_ms: i64,
    pub last_log_url: Option<String>,
    pub last_event_id: Option<String>,
    /// A summary the sweep took and has not marked sent: (its id, its count).
    pub summary: Option<(String, u32)>,
}

impl FailureRecord {
    /// The claim that makes the summary of its current window exactly-once.
    pub fn summary_id(&self) -> String {
        keys::summary(&self.key, self.window_start_ms)
    }
}

/// What counting a failure on its record decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// This failure opened a window (or a retry of the one that did): page, reporting
    /// the `carried` failures folded into the previous window and not reported since.
    Page { carried: u32 },
    /// Counted into the open window (or counted before, by a retry of it): no page.
    Folded,
}

/// What counting a failure did: the decision, and this call's own write, if it made one
/// (none when an earlier try of the same failure had counted it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub counted: Counted,
    pub wrote: Option<Wrote>,
}

/// A count's write, as the store takes it back (a duplicate's count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    /// It opened the window that started at `window_start_ms` (epoch ms).
    Opened { window_start_ms: i64 },
    /// It folded the failure into the window that started at `window_start_ms`.
    Folded { window_start_ms: i64 },
}

/// A failure record as a refused count found it: who opened its window, what that page
/// carried, and which failures were folded into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowSeen {
    pub opened_by: Option<String>,
    pub carried: u32,
    pub folded_ids: Vec<String>,
}

impl WindowSeen {
    /// Whether the failure `event_id` was counted on this window by an earlier try of its
    /// own (it opened the window: its page; it was folded into it): what that try counted.
    /// `None`: another failure's window, this one not in it.
    pub fn own_count(&self, event_id: &str) -> Option<Count> {
        let counted = if self.opened_by.as_deref() == Some(event_id) {
            Counted::Page {
                carried: self.carried,
            }
        } else if self.folded_ids.iter().any(|id| id == event_id) {
            Counted::Folded
        } else {
            return None;
        };
        Some(Count {
            counted,
            wrote: None,
        })
    }
}

/// What resolving a customer's failures on a create found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolving {
    /// This create resolved `failed` failures (now, or on an earlier try of it): notify.
    /// `category`: the failures' (a Connect completion does not know its own).
    Notify { failed: u32, category: String },
    /// No failures on record (or another create resolved them).
    Nothing,
}

impl Resolving {
    /// A refused resolution (no failures left on the record): this create's own earlier
    /// try if the record names it as the resolver (its notice may not have gone out; the
    /// notice's claim decides), else nothing to resolve.
    pub fn refused(
        resolved_by: Option<&str>,
        event_id: &str,
        failed: u32,
        category: String,
    ) -> Self {
        if resolved_by == Some(event_id) {
            Resolving::Notify { failed, category }
        } else {
            Resolving::Nothing
        }
    }
}

/// What a create reads of its customer's failure record for the tool, at the same time as
/// it writes the row (so learning it costs no sequential round trip).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnRecord {
    /// Failures not resolved yet.
    pub total: u32,
    /// The create that resolved the last ones.
    pub resolved_by: Option<String>,
}

impl OnRecord {
    /// Whether the create `event_id` has failures to resolve: some are on record, or it
    /// resolved them itself on an earlier try (whose notice may not have gone out).
    pub fn to_resolve(&self, event_id: &str) -> bool {
        self.total > 0 || self.resolved_by.as_deref() == Some(event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Sensitive;

    fn acme(origin: Option<&str>) -> EndUser {
        EndUser {
            organization_name: "Acme, Inc.".into(),
            creator_email: Some(Sensitive::new("jane@example.com")),
            origin_id: origin.map(str::to_owned),
        }
    }

    #[test]
    fn a_record_is_per_customer_and_tool_with_the_organization_standing_in() {
        assert_eq!(
            failure_key(&acme(Some("36123")), "workday"),
            "failures#36123#workday"
        );
        assert_eq!(
            failure_key(&acme(None), "workday"),
            "failures#org:Acme, Inc.#workday"
        );
        assert_ne!(
            failure_key(&acme(Some("1")), "workday"),
            failure_key(&acme(Some("1")), "personio")
        );
        // And back: the customer a key names, whatever its characters.
        for user in [acme(Some("36#123")), acme(None)] {
            let key = failure_key(&user, "workday");
            assert_eq!(
                customer_in_key(&key, "workday"),
                Some(customer_of(&user).as_str())
            );
        }
        assert_eq!(customer_in_key("failures#36123#workday", "personio"), None);
        assert_eq!(customer_in_key("fleet#x#workday", "workday"), None);
    }

    #[test]
    fn a_refused_count_is_this_failures_own_only_where_the_window_names_it() {
        let seen = WindowSeen {
            opened_by: Some("f1".into()),
            carried: 2,
            folded_ids: vec!["f2".into()],
        };
        assert_eq!(
            seen.own_count("f1"),
            Some(Count {
                counted: Counted::Page { carried: 2 },
                wrote: None
            }),
            "it opened the window: its page again, with what it carried"
        );
        assert_eq!(
            seen.own_count("f2").map(|c| c.counted),
            Some(Counted::Folded)
        );
        assert_eq!(seen.own_count("f3"), None, "another failure's window");
        assert_eq!(WindowSeen::default().own_count("f1"), None);
    }

    #[test]
    fn a_refused_resolution_is_this_creates_own_only_if_the_record_names_it() {
        assert_eq!(
            Resolving::refused(Some("c1"), "c1", 3, "LMS".into()),
            Resolving::Notify {
                failed: 3,
                category: "LMS".into()
            }
        );
        assert_eq!(
            Resolving::refused(Some("c2"), "c1", 3, "LMS".into()),
            Resolving::Nothing
        );
        assert_eq!(
            Resolving::refused(None, "c1", 0, String::new()),
            Resolving::Nothing
        );
    }

    #[test]
    fn a_create_resolves_what_is_on_record_or_what_it_resolved_before() {
        assert!(!OnRecord::default().to_resolve("c1"));
        let on = OnRecord {
            total: 2,
            resolved_by: None,
        };
        assert!(on.to_resolve("c1"));
        let before = OnRecord {
            total: 0,
            resolved_by: Some("c1".into()),
        };
        assert!(before.to_resolve("c1") && !before.to_resolve("c2"));
    }
}
