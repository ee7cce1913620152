//! The on-call side of a customer's connection attempts, as plain values: which failure
//! record a failure or a create belongs to, and the notices built from what that record
//! holds (a page that reports the failures folded since the last one, the "resolved" and
//! "recovered" notices, the sweep's summary).

use crate::event::EndUser;

use super::{Alert, AlertKind, alert};

/// Who a failure record is about: the customer's `origin_id`, or `org:<organization name>`
/// when the flow had none.
pub fn customer_of(end_user: &EndUser) -> String {
    match &end_user.origin_id {
        Some(origin) => origin.clone(),
        None => format!("org:{}", end_user.organization_name),
    }
}

/// The key of the failure record of one customer and tool in the idempotency table.
pub fn failure_key(end_user: &EndUser, tool: &str) -> String {
    format!("failures#{}#{tool}", customer_of(end_user))
}

/// The customer ([`customer_of`]) a failure record's `key` ([`failure_key`]) of `tool` names
/// (`None`: not such a key).
pub fn customer_in_key<'a>(key: &'a str, tool: &str) -> Option<&'a str> {
    key.strip_prefix("failures#")?
        .strip_suffix(tool)?
        .strip_suffix('#')
}

/// A `connection-flow-failed` event, to be counted on its customer's failure record: it
/// pages (with `page`) when it opens a window, else it is folded into the open one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// [`failure_key`].
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
        format!("resolved:{}", self.event_id)
    }
}

/// A failure record as the sweep reads it (the item layout is in docs/table-contract.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureRecord {
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
        format!("sweep:{}:{}", self.key, self.window_start_ms)
    }
}

fn attempts(n: u32) -> String {
    if n == 1 {
        "1 failed attempt".into()
    } else {
        format!("{n} failed attempts")
    }
}

impl Alert {
    /// Adds a fact before the Kombo event id and a sentence to the summary; the e-mail
    /// text is rebuilt from both.
    fn with_fact(mut self, label: &str, value: String, sentence: &str) -> Alert {
        let at = self.fields.len().saturating_sub(1);
        self.fields.insert(at, (label.to_owned(), value));
        self.summary = format!("{} {sentence}", self.summary);
        self.rebuild_message();
        self
    }
}

/// The page of a failure that opened a window, reporting the `carried` failures that
/// were folded into the previous window and not reported since.
pub fn page_with_folded(page: &Alert, carried: u32) -> Alert {
    if carried == 0 {
        return page.clone();
    }
    page.clone().with_fact(
        "Failed since the last page",
        carried.to_string(),
        &format!(
            "The same customer failed {} more on this tool since the last page (counted, not paged).",
            if carried == 1 { "once".to_owned() } else { format!("{carried} times") }
        ),
    )
}

/// "Resolved: Acme, Inc. connected workday after 3 failed attempts".
pub fn resolved_notice(r: &Resolution, failed: u32) -> Alert {
    let org = &r.end_user.organization_name;
    alert(
        AlertKind::ConnectionFlowResolved,
        format!(
            "Resolved: {org} connected {} after {}",
            r.tool,
            attempts(failed)
        ),
        &format!(
            "The customer connected {} after {} that paged on-call: nothing left to do.",
            r.tool,
            attempts(failed)
        ),
        &r.end_user,
        &r.tool,
        &r.category,
        &[
            ("Integration id", r.integration_id.as_str()),
            ("Failed attempts", failed.to_string().as_str()),
        ],
        &r.event_id,
    )
}

/// An integration left INVALID (`integration-state-changed` to ACTIVE).
pub fn recovered_notice(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: &str,
    event_id: &str,
) -> Alert {
    alert(
        AlertKind::IntegrationRecovered,
        format!(
            "Recovered: {} ({tool} {category}) is ACTIVE again",
            end_user.organization_name
        ),
        "The integration left INVALID and is ACTIVE again: data syncs again. The earlier \
         page is resolved; nothing left to do.",
        end_user,
        tool,
        category,
        &[("Integration id", integration_id)],
        event_id,
    )
}

/// The sweep's summary of a window that closed with `folded` failures nobody was paged
/// about; `id` is the summary's own ([`FailureRecord::summary_id`] when it was taken).
pub fn summary_notice(r: &FailureRecord, folded: u32, id: &str) -> Alert {
    let end_user = EndUser {
        organization_name: r.organization_name.clone(),
        creator_email: None,
        origin_id: r.origin_id.clone(),
    };
    let times = if folded == 1 {
        "once more".to_owned()
    } else {
        format!("{folded} more times")
    };
    let mut extra = vec![("Failed since the last page", folded.to_string())];
    if let Some(url) = &r.last_log_url {
        extra.push(("Kombo log", url.clone()));
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(l, v)| (*l, v.as_str())).collect();
    let mut a = alert(
        AlertKind::ConnectionFlowFailedSummary,
        format!(
            "Kombo connection failed {times}: {} ({} {})",
            r.organization_name, r.tool, r.category
        ),
        &format!(
            "After the last page the customer's connection flow failed {times} within the \
             fold window, and has not succeeded since ({} in all). The last attempt's log is \
             linked.",
            attempts(r.total)
        ),
        &end_user,
        &r.tool,
        &r.category,
        &extra,
        id,
    );
    // The summary has no Kombo event of its own: name the last failure instead.
    if let (Some(last), Some(f)) = (&r.last_event_id, a.fields.last_mut()) {
        *f = ("Last Kombo event id".into(), last.clone());
        a.rebuild_message();
    }
    a
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
    fn the_resolved_notice_says_who_connected_after_how_many() {
        let r = Resolution {
            key: "failures#36123#workday".into(),
            end_user: acme(Some("36123")),
            tool: "workday".into(),
            category: "LMS".into(),
            integration_id: "workday:1".into(),
            event_id: "ev9".into(),
        };
        let a = resolved_notice(&r, 3);
        assert_eq!(
            a.subject,
            "Resolved: Acme, Inc. connected workday after 3 failed attempts"
        );
        assert_eq!(a.kind, AlertKind::ConnectionFlowResolved);
        assert_eq!(a.thread_id, "kombo-36123-workday");
        assert!(a.message.contains("Failed attempts: 3"), "{}", a.message);
        assert_eq!(
            resolved_notice(&r, 1).subject,
            "Resolved: Acme, Inc. connected workday after 1 failed attempt"
        );
    }

    #[test]
    fn a_page_carries_the_count_it_reports_and_nothing_when_there_is_none() {
        let page = alert(
            AlertKind::ConnectionFlowFailed,
            "s".into(),
            "It failed.",
            &acme(Some("1")),
            "workday",
            "LMS",
            &[("Kombo log", "https://x")],
            "ev1",
        );
        assert_eq!(page_with_folded(&page, 0), page);
        let p = page_with_folded(&page, 5);
        assert!(
            p.summary.ends_with(
                "failed 5 times more on this tool since the last page (counted, not paged)."
            ),
            "{}",
            p.summary
        );
        assert_eq!(
            p.fields[p.fields.len() - 2],
            ("Failed since the last page".to_owned(), "5".to_owned())
        );
        assert_eq!(p.fields.last().unwrap().0, "Kombo event id");
        assert!(
            p.message.contains("Failed since the last page: 5\n"),
            "{}",
            p.message
        );
        assert!(p.message.starts_with(&p.summary));
    }

    #[test]
    fn the_summary_names_the_count_the_last_log_and_the_last_event() {
        let r = FailureRecord {
            key: "failures#36123#workday".into(),
            origin_id: Some("36123".into()),
            organization_name: "Acme, Inc.".into(),
            tool: "workday".into(),
            category: "LMS".into(),
            total: 6,
            folded: 5,
            window_start_ms: 1_000,
            last_log_url: Some("https://app.kombo.dev/logs/L".into()),
            last_event_id: Some("ev6".into()),
            summary: None,
        };
        let a = summary_notice(&r, 5, &r.summary_id());
        assert_eq!(
            a.subject,
            "Kombo connection failed 5 more times: Acme, Inc. (workday LMS)"
        );
        assert_eq!(a.event_id, "sweep:failures#36123#workday:1000");
        assert_eq!(a.thread_id, "kombo-36123-workday");
        assert_eq!(a.log_url.as_deref(), Some("https://app.kombo.dev/logs/L"));
        assert!(
            a.message.contains("Last Kombo event id: ev6"),
            "{}",
            a.message
        );
        assert!(
            a.message.contains("Failed since the last page: 5"),
            "{}",
            a.message
        );
    }
}
