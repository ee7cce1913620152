//! Kombo's earliest warning (`issue-status-changed`) and duplicate integrations, through the
//! built binaries on DynamoDB Local: a raised login failure pages once per episode whatever
//! the retries and duplicates, the row shows it until it resolves, its resolution says so
//! once; other types are kept and noticed; an environment-wide issue pages; a resolved that
//! arrives before its raise wins; a wave across customers of a tool is one fleet incident;
//! a second integration of a tool is noticed once, and a second link for it refused.

mod support;

use serde_json::{Value, json};
use support::*;

const AUTH: &str = "integration.authentication_failed";

fn desk(name: &str) -> Desk {
    // Windows far longer than the test: nothing here waits for one.
    Desk::with_kombo(
        name,
        &[
            ("ALERT_FOLD_WINDOW_SECONDS", 3_600),
            ("FLEET_WINDOW_SECONDS", 3_600),
        ],
    )
}

/// The customer's integrations as the backend route answers them.
fn listed(desk: &Desk, origin: &str) -> Vec<Value> {
    let got = desk.call(
        "customer-integrations",
        "GET /customers/{origin_id}/integrations",
        &[(
            format!("/customers/{origin}/integrations"),
            json!({"origin_id": origin}),
            None,
        )],
    );
    assert_eq!(got[0].0, 200, "{}", got[0].1);
    got[0].1["integrations"].as_array().unwrap().clone()
}

fn outcomes(answers: &[(i64, String)]) -> Vec<&str> {
    answers
        .iter()
        .map(|(s, o)| {
            assert_eq!(*s, 200, "{o}");
            o.as_str()
        })
        .collect()
}

#[tokio::test]
async fn a_login_failure_pages_once_per_episode_shows_on_the_row_and_its_resolution_once() {
    let desk = desk("issue-episode");
    desk.deliver(
        "integration-created",
        CREATED,
        &[created_body("c1", "workday:a", Some("42"))],
    );
    let raised = issue_body(
        "i1",
        "raised",
        "iss_1",
        AUTH,
        "2026-12-01T10:00:00Z",
        Some(("workday:a", "42")),
    );
    // Kombo's retry of the same event, and another delivery of the same episode.
    let again = issue_body(
        "i1b",
        "raised",
        "iss_1",
        AUTH,
        "2026-12-01T10:00:00Z",
        Some(("workday:a", "42")),
    );
    let got = desk.deliver(
        "issue-status-changed",
        ISSUE,
        &[raised.clone(), raised, again],
    );
    assert_eq!(
        outcomes(&got),
        ["alerted", "already_alerted", "already_alerted"]
    );
    let pages = desk.alerts().await;
    assert_eq!(pages.len(), 1, "one page: {pages:?}");
    let (subject, page) = &pages[0];
    assert_eq!(subject, "Kombo issue: Login failing: Org 42 (workday LMS)");
    let steps = page["next_steps"].to_string();
    assert!(
        steps.contains("POST /customers/42/integrations/workday:a/reconnection-link"),
        "{steps}"
    );
    // Kombo's markdown, escaped for chat, in the page.
    assert!(
        page["fields"].to_string().contains("The **login**"),
        "{page}"
    );
    let rows = listed(&desk, "42");
    let open = rows[0]["open_issues"]
        .as_array()
        .expect("the open issue on the row");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["type"], AUTH);
    assert_eq!(open[0]["since"], "2026-12-01T10:00:00Z");
    assert_eq!(
        rows[0]["usable"], true,
        "a login failing: the data is still served"
    );

    let resolved = issue_body(
        "i2",
        "resolved",
        "iss_1",
        AUTH,
        "2026-12-01T10:00:00Z",
        Some(("workday:a", "42")),
    );
    let got = desk.deliver("issue-status-changed", ISSUE, &[resolved.clone(), resolved]);
    assert_eq!(
        outcomes(&got),
        ["issue_resolved_notified", "issue_resolved"]
    );
    let notices = desk.alerts().await;
    assert_eq!(
        notices.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["Resolved: Kombo issue Login failing: Org 42 (workday LMS)"]
    );
    assert!(
        listed(&desk, "42")[0].get("open_issues").is_none(),
        "resolved: off the row"
    );

    // It returns: a new episode pages again... within the customer's fold window, folded.
    let back = issue_body(
        "i3",
        "raised",
        "iss_1",
        AUTH,
        "2026-12-01T13:00:00Z",
        Some(("workday:a", "42")),
    );
    assert_eq!(
        outcomes(&desk.deliver("issue-status-changed", ISSUE, &[back])),
        ["folded"]
    );
    let folded_resolved = issue_body(
        "i4",
        "resolved",
        "iss_1",
        AUTH,
        "2026-12-01T13:00:00Z",
        Some(("workday:a", "42")),
    );
    assert_eq!(
        outcomes(&desk.deliver("issue-status-changed", ISSUE, &[folded_resolved])),
        ["issue_resolved"],
        "a folded episode's resolution says nothing"
    );
    assert!(desk.alerts().await.is_empty());
}

#[tokio::test]
async fn other_types_are_kept_and_noticed_an_environment_issue_pages_and_a_late_raise_changes_nothing()
 {
    let desk = desk("issue-kinds");
    let unknown = issue_body(
        "u1",
        "raised",
        "iss_u",
        "integration.something_new",
        "2026-12-01T10:00:00Z",
        Some(("workday:b", "43")),
    );
    let env = issue_body(
        "e1",
        "raised",
        "iss_e",
        "environment.webhooks_failing",
        "2026-12-01T10:00:00Z",
        None,
    );
    let got = desk.deliver(
        "issue-status-changed",
        ISSUE,
        &[unknown.clone(), unknown, env.clone(), env],
    );
    assert_eq!(
        outcomes(&got),
        [
            "issue_noticed",
            "already_alerted",
            "alerted",
            "already_alerted"
        ]
    );
    let subjects: Vec<String> = desk.alerts().await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        subjects,
        [
            "Kombo issue (notice): Login failing: Org 43 (workday LMS)",
            "Kombo environment issue: Login failing"
        ]
    );
    // An integration this stack had not seen: its row is made from the issue.
    let rows = listed(&desk, "43");
    assert_eq!(rows[0]["integration_id"], "workday:b");
    assert_eq!(
        rows[0]["open_issues"][0]["type"],
        "integration.something_new"
    );

    // A resolved that arrives before its raise: the raise, late, pages nobody.
    let resolved = issue_body(
        "r1",
        "resolved",
        "iss_r",
        AUTH,
        "2026-12-01T10:00:00Z",
        Some(("workday:c", "44")),
    );
    let raised = issue_body(
        "r0",
        "raised",
        "iss_r",
        AUTH,
        "2026-12-01T10:00:00Z",
        Some(("workday:c", "44")),
    );
    let env_resolved = issue_body(
        "e2",
        "resolved",
        "iss_late",
        "environment.x",
        "2026-12-01T10:00:00Z",
        None,
    );
    let env_raised = issue_body(
        "e3",
        "raised",
        "iss_late",
        "environment.x",
        "2026-12-01T10:00:00Z",
        None,
    );
    let got = desk.deliver(
        "issue-status-changed",
        ISSUE,
        &[resolved, raised, env_resolved, env_raised],
    );
    assert_eq!(
        outcomes(&got),
        [
            "issue_resolved",
            "ignored_stale",
            "issue_resolved",
            "ignored_stale"
        ]
    );
    assert!(
        desk.alerts().await.is_empty(),
        "nothing paged for issues already resolved"
    );
    assert!(listed(&desk, "44")[0].get("open_issues").is_none());

    // A required field missing is named; `integration: null` was accepted above.
    let broken = issue_body("x1", "raised", "iss_x", AUTH, "2026-12-01T10:00:00Z", None)
        .replace(r#""title":"Login failing","#, "");
    let got = desk.deliver("issue-status-changed", ISSUE, &[broken]);
    assert_eq!(got[0].0, 400);
}

#[tokio::test]
async fn a_wave_of_login_failures_across_customers_of_a_tool_is_one_fleet_incident() {
    let desk = desk("issue-fleet");
    let bodies: Vec<String> = (0..4)
        .map(|i| {
            issue_body(
                &format!("w{i}"),
                "raised",
                &format!("iss_w{i}"),
                AUTH,
                "2026-12-01T10:00:00Z",
                Some((&format!("workday:w{i}"), &format!("5{i}"))),
            )
        })
        .collect();
    let got = desk.deliver("issue-status-changed", ISSUE, &bodies);
    assert_eq!(
        outcomes(&got),
        [
            "alerted",
            "alerted",
            "incident_opened",
            "folded_into_incident"
        ]
    );
    let subjects: Vec<String> = desk.alerts().await.into_iter().map(|(s, _)| s).collect();
    // The fourth customer (established: its integration has the issue) is counted on the
    // incident with one low-urgency notice of its own.
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    assert!(
        subjects[2].starts_with("Kombo integration issues for workday: 3 customers"),
        "{subjects:?}"
    );
    assert!(
        subjects[3].starts_with("In incident: Kombo issue: Login failing"),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn a_second_integration_of_a_tool_is_noticed_once_and_a_second_link_refused() {
    let desk = desk("duplicates");
    let first = created_body("d1", "workday:first", Some("60"));
    let second = created_body("d2", "workday:second", Some("60"));
    let other_tool = created_body("d3", "personio:x", Some("60"))
        .replace("\"tool\":\"workday\"", "\"tool\":\"personio\"");
    let got = desk.deliver(
        "integration-created",
        CREATED,
        &[first, second.clone(), second, other_tool],
    );
    assert_eq!(
        outcomes(&got),
        ["stored", "stored", "already_stored", "stored"]
    );
    let notices = desk.alerts().await;
    assert_eq!(notices.len(), 1, "once per pair: {notices:?}");
    assert_eq!(
        notices[0].0,
        "Kombo duplicate integration: Acme, Inc. (workday LMS)"
    );
    let fields = notices[0].1["fields"].to_string();
    assert!(
        fields.contains("workday:first") && fields.contains("workday:second"),
        "{fields}"
    );
    // The older one's create delivered again, late (the newer stands beside it): nothing; a
    // third of the tool: one more notice, naming both older ones.
    let got = desk.deliver(
        "integration-created",
        CREATED,
        &[
            created_body("d1", "workday:first", Some("60")),
            created_body("d4", "workday:third", Some("60")),
        ],
    );
    assert_eq!(outcomes(&got), ["already_stored", "stored"]);
    let more = desk.alerts().await;
    assert_eq!(more.len(), 1, "{more:?}");
    let fields = more[0].1["fields"].to_string();
    assert!(
        fields.contains("workday:first (ACTIVE)") && fields.contains("workday:second (ACTIVE)"),
        "{fields}"
    );

    let link = |body: Value| {
        (
            "/customers/60/connection-link".to_owned(),
            json!({"origin_id": "60"}),
            Some(body),
        )
    };
    let base = json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme"});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let got = desk.call(
        "connection-link",
        "POST /customers/{origin_id}/connection-link",
        &[
            link(with(json!({"integration_tool": "workday"}))),
            link(with(
                json!({"integration_tool": "workday", "allow_another": true}),
            )),
            link(with(
                json!({"integration_tool": "successfactors", "enable_static_ips": true}),
            )),
            link(base.clone()),
        ],
    );
    assert_eq!(got[0].0, 409, "{}", got[0].1);
    assert_eq!(got[0].1["error"]["code"], "already_connected");
    assert!(
        got[0].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("workday:"),
        "{}",
        got[0].1
    );
    assert_eq!(got[1].0, 200, "asked for another: {}", got[1].1);
    assert_eq!(got[2].0, 200);
    assert_eq!(
        got[2].1["static_ips"],
        json!(["203.0.113.7", "203.0.113.8"]),
        "Kombo's answer passed on"
    );
    assert_eq!(got[3].0, 200);
    assert!(got[3].1.get("static_ips").is_none());
    // Kombo got the links asked for, with only the fields given (never `allow_another`).
    let sent: Vec<Value> = desk
        .kombo()
        .requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/v1/connect/create-link")
        .map(|r| r["body"].clone())
        .collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|b| b.get("allow_another").is_none() && b.get("enable_filtering").is_none()),
        "{sent:?}"
    );
}
