//! Every alert's words: the page of a failed connection flow (and of one that reports the
//! failures folded since), the INVALID page, the notices "resolved", "recovered", "without
//! customer", "deleted outside the webhooks", and the sweep's summary. Fleet incidents'
//! are in [`super::fleet`].

use super::alert::{Alert, AlertKind, alert, reconnection_route, setup_route};
use super::failures::{FailureKind, FailureRecord, Resolution};
use crate::event::EndUser;

fn attempts(n: u32) -> String {
    if n == 1 {
        "1 failed attempt".into()
    } else {
        format!("{n} failed attempts")
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

/// The low-urgency notice of an established customer's first failure inside the fleet
/// incident `incident_id`: its own page's facts, as a notice that names the incident.
pub fn in_incident_notice(page: &Alert, incident_id: &str) -> Alert {
    let mut notice = page.clone().with_fact(
        "Fleet incident",
        incident_id.to_owned(),
        "It is counted on the tool's fleet incident (which paged); this customer has live \
         integrations, so it gets this one low-urgency notice of its own: look at it once the \
         incident is over.",
    );
    notice.kind = AlertKind::InIncidentNotice;
    notice.subject = super::alert::sns_subject(&format!("In incident: {}", page.subject));
    for (name, value) in &mut notice.attributes {
        if *name == "event_type" {
            *value = AlertKind::InIncidentNotice.as_str().to_owned();
        }
    }
    notice
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
    if r.kind == FailureKind::Issue {
        // An issue record: its "log" is the last issue's title.
        let title = r.last_log_url.clone().unwrap_or_default();
        let extra = [
            ("Raised since the last page", folded.to_string()),
            ("Last issue", title),
        ];
        let extra: Vec<(&str, &str)> = extra.iter().map(|(l, v)| (*l, v.as_str())).collect();
        return alert(
            AlertKind::IntegrationIssue,
            format!(
                "Kombo issues raised {times}: {} ({} {})",
                r.organization_name, r.tool, r.category
            ),
            &format!(
                "After the last page Kombo raised the customer's integration issues {times} \
                 within the fold window ({} in all).",
                r.total
            ),
            &end_user,
            &r.tool,
            &r.category,
            &extra,
            id,
        );
    }
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

/// The page of a failed connection flow (`connection-flow-failed`).
pub fn connection_failed_page(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    log_url: &str,
    event_id: &str,
) -> Alert {
    alert(
        AlertKind::ConnectionFlowFailed,
        format!(
            "Kombo connection failed: {} ({tool} {category})",
            end_user.organization_name
        ),
        "A customer ran into an error while connecting their system through Kombo. \
         Kombo notes the flow may still succeed on a later attempt; open the log to \
         see what went wrong and offer help.",
        end_user,
        tool,
        category,
        &[("Kombo log", log_url)],
        event_id,
    )
}

/// The notice of an integration created without a customer (`origin_id`).
pub fn unassigned_notice(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: &str,
    event_id: &str,
) -> Alert {
    alert(
        AlertKind::UnassignedIntegration,
        format!(
            "Kombo integration without customer: {} ({tool} {category})",
            end_user.organization_name
        ),
        "An integration was created without an origin_id (for example from the Kombo \
         dashboard), so it is not linked to any customer. Find the customer and set \
         origin_id on its row in the mappings table.",
        end_user,
        tool,
        category,
        &[("Integration id", integration_id)],
        event_id,
    )
}

/// Who told the product an integration is INVALID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidSource {
    /// Kombo's `integration-state-changed` webhook.
    Webhook,
    /// The reconcile run asked Kombo (no webhook for it reached the stack).
    Reconcile,
}

/// The page of an integration that turned INVALID, whoever found it.
pub fn invalid_page(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: &str,
    setup_status: &str,
    event_id: &str,
    source: InvalidSource,
) -> Alert {
    let what = match source {
        InvalidSource::Webhook => {
            "Kombo marked the integration INVALID: its credentials no longer work, so no \
             data syncs. Send the customer a reconnection link: the same integration comes \
             back ACTIVE (a new connection link would make a second integration)."
        }
        InvalidSource::Reconcile => {
            "Kombo reports the integration INVALID: its credentials no longer work, so no \
             data syncs. Found by the reconcile run: no integration-state-changed webhook for \
             it reached this stack. Send the customer a reconnection link: the same \
             integration comes back ACTIVE (a new connection link would make a second \
             integration)."
        }
    };
    let customer = end_user.origin_id.as_deref().unwrap_or("<origin_id>");
    let reconnect = reconnection_route(customer, integration_id);
    alert(
        AlertKind::IntegrationInvalid,
        format!(
            "Kombo integration invalid: {} ({tool} {category})",
            end_user.organization_name
        ),
        what,
        end_user,
        tool,
        category,
        &[
            ("Integration id", integration_id),
            ("Setup status", setup_status),
            ("Reconnection link", &reconnect),
        ],
        event_id,
    )
}

/// The reconcile run's low-urgency notice of an integration whose setup stayed
/// `INCOMPLETE` for longer than `after_hours`.
pub fn setup_incomplete_notice(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: &str,
    after_hours: i64,
    id: &str,
) -> Alert {
    let customer = end_user.origin_id.as_deref().unwrap_or("<origin_id>");
    let setup = setup_route(customer, integration_id);
    alert(
        AlertKind::IntegrationSetupIncomplete,
        format!(
            "Kombo setup not finished: {} ({tool} {category})",
            end_user.organization_name
        ),
        &format!(
            "The customer connected {tool} but has not finished its setup steps in Kombo \
             Connect (filtering or field mapping) for over {after_hours} h: Kombo syncs no data \
             until it is done. Low urgency: send the customer a setup link."
        ),
        end_user,
        tool,
        category,
        &[
            ("Integration id", integration_id),
            ("Setup status", "INCOMPLETE"),
            ("Setup link", &setup),
        ],
        id,
    )
}

/// The low-urgency notice of an integration whose `qa_status` turned FAILED.
pub fn qa_failed_notice(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: &str,
    event_id: &str,
) -> Alert {
    alert(
        AlertKind::IntegrationQaFailed,
        format!(
            "Kombo QA failed: {} ({tool} {category})",
            end_user.organization_name
        ),
        "Kombo's quality check of the integration's data failed: Kombo answers its data \
         calls with 409 INTEGRATION.QA_FAILED until that is resolved. Low urgency: no \
         customer action helps yet.",
        end_user,
        tool,
        category,
        &[("Integration id", integration_id), ("QA status", "FAILED")],
        event_id,
    )
}

/// The reconcile run's notice of an integration Kombo no longer has.
pub fn deleted_outside_notice(
    end_user: &EndUser,
    tool: &str,
    category: &str,
    integration_id: &str,
    event_id: &str,
) -> Alert {
    alert(
        AlertKind::DeletedOutsideWebhooks,
        format!(
            "Kombo integration deleted outside the webhooks: {} ({tool} {category})",
            end_user.organization_name
        ),
        "Kombo no longer has this integration, but no integration-deleted webhook for it \
         reached this stack (deleted while deliveries failed, for example). The reconcile run \
         marked it deleted in the mappings table: the customer has no working integration for \
         this tool now.",
        end_user,
        tool,
        category,
        &[("Integration id", integration_id)],
        event_id,
    )
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
            kind: FailureKind::ConnectionFlow,
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

    #[test]
    fn the_invalid_page_says_reconnect_the_same_integration_in_every_rendering() {
        for source in [InvalidSource::Webhook, InvalidSource::Reconcile] {
            let a = invalid_page(
                &acme(Some("42")),
                "workday",
                "LMS",
                "workday:1",
                "COMPLETED",
                "s1",
                source,
            );
            let route = "POST /customers/42/integrations/workday:1/reconnection-link";
            assert!(
                a.next_steps.iter().any(|s| s.contains(route)),
                "{:?}",
                a.next_steps
            );
            assert!(
                !a.next_steps.iter().any(|s| s.contains("/connection-link")),
                "never a new connection link: {:?}",
                a.next_steps
            );
            assert!(
                a.fields
                    .contains(&("Reconnection link".into(), route.into()))
            );
            assert!(a.message.contains(route), "{}", a.message);
            assert!(a.summary.contains("reconnection link"), "{}", a.summary);
        }
    }

    #[test]
    fn the_setup_and_qa_notices_name_their_step() {
        let a = setup_incomplete_notice(
            &acme(Some("42")),
            "workday",
            "LMS",
            "workday:1",
            24,
            "setup-incomplete:workday:1",
        );
        assert_eq!(a.kind, AlertKind::IntegrationSetupIncomplete);
        let route = "POST /customers/42/integrations/workday:1/setup-link";
        assert!(a.next_steps.iter().any(|s| s.contains(route)));
        assert!(a.fields.contains(&("Setup link".into(), route.into())));
        assert!(a.summary.contains("24 h"), "{}", a.summary);
        let q = qa_failed_notice(&acme(Some("42")), "workday", "LMS", "workday:1", "s1");
        assert_eq!(q.kind, AlertKind::IntegrationQaFailed);
        assert!(q.summary.contains("INTEGRATION.QA_FAILED"));
    }
}
