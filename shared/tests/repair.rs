//! An integration that broke, repaired, through the built binaries on DynamoDB Local and the
//! fake Kombo: the reconnection and setup links (ownership, tombstones, the body, Kombo's
//! refusals, the deadline), `usable` and its reason through every state, setup and QA
//! transition (an old row upgraded by the reconcile run among them), and the QA and
//! "setup not finished" notices, once each.

mod support;

use serde_json::{Value, json};
use support::*;

const CREATED: &str = "/webhooks/kombo/integration-created";
const STATE: &str = "/webhooks/kombo/integration-state-changed";

const RECONNECT: &str =
    "POST /customers/{origin_id}/integrations/{integration_id}/reconnection-link";
const SETUP: &str = "POST /customers/{origin_id}/integrations/{integration_id}/setup-link";

/// A repair request of customer `origin` for `integration`, on `route` (its last segment).
fn repair(
    route: &str,
    origin: &str,
    integration: &str,
    body: Value,
) -> (String, Value, Option<Value>) {
    (
        format!("/customers/{origin}/integrations/{integration}/{route}"),
        json!({"origin_id": origin, "integration_id": integration}),
        Some(body),
    )
}

/// An integration-state-changed of `integration` (customer 42, workday) at `at`.
fn state(event: &str, integration: &str, state: &str, setup: &str, qa: &str, at: &str) -> String {
    json!({
        "id": event, "type": "integration-state-changed",
        "data": {
            "integration_id": integration, "integration_tool": "workday", "integration_category": "LMS",
            "end_user": {"origin_id": "42", "creator_email": "jane.doe@example.com", "organization_name": "Acme, Inc."},
            "qa_status": qa, "setup_status": setup, "state": state, "updated_at": at
        }
    })
    .to_string()
}

/// The row's (usable, unusable_reason) as stored.
async fn usability(stack: &Stack, integration: &str) -> (Value, Value) {
    let row = stack.row(integration).await;
    (row["usable"].clone(), row["unusable_reason"].clone())
}

#[tokio::test]
async fn a_reconnection_link_is_only_for_the_customers_own_live_integration() {
    let shop = Desk::with_kombo("relink", &[]);
    let bodies = [
        created_body("c1", "workday:ours", Some("42")),
        created_body("c2", "workday:theirs", Some("43")),
        created_body("c3", "workday:deleted", Some("42")),
    ];
    assert!(
        shop.deliver("integration-created", CREATED, &bodies)
            .iter()
            .all(|(s, _)| *s == 200)
    );
    let gone = json!({"id": "d3", "type": "integration-deleted", "data": {"id": "workday:deleted", "tool": "workday",
        "category": "LMS", "end_user": {"origin_id": "42", "organization_name": "Acme, Inc."},
        "deleted_at": "2026-12-01T10:00:00Z"}})
    .to_string();
    shop.deliver(
        "integration-deleted",
        "/webhooks/kombo/integration-deleted",
        &[gone],
    );
    let before = shop.kombo().calls().await.len();

    let got = shop.call(
        "reconnection-link",
        RECONNECT,
        &[
            repair(
                "reconnection-link",
                "42",
                "workday:ours",
                json!({"link_type": "MAGIC_LINK", "language": "de"}),
            ),
            repair("reconnection-link", "42", "workday:theirs", json!({})),
            repair("reconnection-link", "42", "workday:never-seen", json!({})),
            repair("reconnection-link", "42", "workday:deleted", json!({})),
            repair(
                "reconnection-link",
                "42",
                "workday:ours",
                json!({"link_type": "EMBEDDED", "extra": 1}),
            ),
            repair(
                "reconnection-link",
                "42",
                "workday:ours",
                json!({"link_type": "SMOKE_SIGNAL"}),
            ),
            repair("reconnection-link", "42", "workday:ours", json!({})),
        ],
    );
    let (code, body) = &got[0];
    assert_eq!(*code, 200, "{body}");
    assert_eq!(body["integration_id"], "workday:ours");
    assert_eq!(body["link_type"], "MAGIC_LINK");
    assert!(
        body["link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/connect?token=relink-", shop.kombo().root))
    );
    // Another customer's integration and none at all: the same 404, revealing nothing.
    assert_eq!(got[1].0, 404);
    assert_eq!(got[1].1["error"]["code"], "unknown_integration");
    assert_eq!(got[2].0, 404);
    assert_eq!(got[2].1["error"]["code"], "unknown_integration");
    assert_eq!(
        got[1].1["error"]["message"]
            .as_str()
            .unwrap()
            .replace("theirs", "x"),
        got[2].1["error"]["message"]
            .as_str()
            .unwrap()
            .replace("never-seen", "x")
    );
    assert_eq!(
        (got[3].0, got[3].1["error"]["code"].as_str()),
        (409, Some("integration_deleted"))
    );
    // The body is checked before anything is read or asked.
    assert_eq!(got[4].0, 400);
    assert!(
        got[4].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("extra"),
        "{}",
        got[4].1
    );
    assert_eq!(got[5].0, 400);
    assert!(
        got[5].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("link_type"),
        "{}",
        got[5].1
    );
    // Kombo's default link type is answered when none was asked.
    assert_eq!(
        (got[6].0, got[6].1["link_type"].as_str()),
        (200, Some("EMBEDDED"))
    );
    // Kombo was asked twice, for the customer's own live integration only, with the body.
    let asked: Vec<Value> = shop.kombo().requests().await[before..].to_vec();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[0]["path"], "/v1/integrations/workday:ours/relink");
    assert_eq!(
        asked[0]["body"],
        json!({"link_type": "MAGIC_LINK", "language": "de"})
    );
    assert_eq!(asked[1]["body"], json!({}));
}

#[tokio::test]
async fn kombos_refusals_and_silence_become_the_callers_answers() {
    let shop = Desk::with_kombo("relink-kombo", &[]);
    let ids = [
        "workday:x-gone",
        "workday:x-broken",
        "workday:x:rate-limited",
        "workday:x:hang",
    ];
    let bodies: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| created_body(&format!("c{i}"), id, Some("42")))
        .collect();
    shop.deliver("integration-created", CREATED, &bodies);
    let got = shop.call(
        "reconnection-link",
        RECONNECT,
        &ids.map(|id| repair("reconnection-link", "42", id, json!({}))),
    );
    // Kombo no longer has it: deleted (the reconcile run tombstones it), never a page.
    assert_eq!(
        (got[0].0, got[0].1["error"]["code"].as_str()),
        (409, Some("integration_deleted"))
    );
    // Kombo failing or rate-limiting after the retries: 502 with its code, as every
    // Kombo-calling route answers.
    assert_eq!(
        (got[1].0, got[1].1["error"]["kombo_code"].as_str()),
        (502, Some("PLATFORM.UNKNOWN_ERROR"))
    );
    assert_eq!(got[2].0, 502, "{}", got[2].1);
    assert_eq!(
        got[2].1["error"]["kombo_code"],
        "PLATFORM.RATE_LIMIT_EXCEEDED"
    );
    // No answer inside the invocation's deadline: 504, the function still answered.
    assert_eq!(
        (got[3].0, got[3].1["error"]["code"].as_str()),
        (504, Some("kombo_outcome_unknown"))
    );
}

#[tokio::test]
async fn a_setup_link_needs_a_link_type_and_an_integration_with_setup_steps() {
    let shop = Desk::with_kombo("setup-link", &[]);
    shop.deliver(
        "integration-created",
        CREATED,
        &[
            created_body("c1", "workday:unfinished", Some("42")),
            created_body("c2", "workday:no-setup", Some("42")),
        ],
    );
    let got = shop.call(
        "setup-link",
        SETUP,
        &[
            repair(
                "setup-link",
                "42",
                "workday:unfinished",
                json!({"link_type": "EMBEDDED", "language": "fr"}),
            ),
            repair("setup-link", "42", "workday:unfinished", json!({})),
            repair(
                "setup-link",
                "42",
                "workday:no-setup",
                json!({"link_type": "EMBEDDED"}),
            ),
            repair(
                "setup-link",
                "43",
                "workday:unfinished",
                json!({"link_type": "EMBEDDED"}),
            ),
        ],
    );
    assert_eq!(got[0].0, 200, "{}", got[0].1);
    assert!(
        got[0].1["link"]
            .as_str()
            .unwrap()
            .contains("token=setup-link-")
    );
    assert_eq!(got[0].1["link_type"], "EMBEDDED");
    assert_eq!(got[1].0, 400);
    assert!(
        got[1].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("link_type"),
        "{}",
        got[1].1
    );
    // Kombo's PLATFORM.INPUT_INVALID: the caller's to know, a 409 that pages nobody.
    assert_eq!(
        (got[2].0, got[2].1["error"]["code"].as_str()),
        (409, Some("no_setup_step"))
    );
    assert_eq!(got[3].0, 404);
    let asked: Vec<String> = shop
        .kombo()
        .calls()
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        asked.iter().filter(|p| p.ends_with("/setup-link")).count(),
        2,
        "the two with a link type, of customer 42: {asked:?}"
    );
}

#[tokio::test]
async fn usable_and_its_reason_follow_every_state_setup_and_qa_and_qa_failing_notices_once() {
    let shop = Desk::with_kombo("usable-reasons", &[]);
    let id = "workday:walk";
    shop.deliver(
        "integration-created",
        CREATED,
        &[created_body("c1", id, Some("42"))],
    );
    assert_eq!(usability(&shop.stack, id).await, (json!(true), Value::Null));
    let steps = [
        (
            "s1",
            "ACTIVE",
            "INCOMPLETE",
            "PENDING",
            json!(false),
            json!("setup_incomplete"),
        ),
        (
            "s2",
            "ACTIVE",
            "FINAL_SYNC_PENDING",
            "PENDING",
            json!(false),
            json!("final_sync_pending"),
        ),
        (
            "s3",
            "ACTIVE",
            "COMPLETED",
            "PENDING",
            json!(true),
            Value::Null,
        ),
        (
            "s4",
            "ACTIVE",
            "COMPLETED",
            "FAILED",
            json!(false),
            json!("qa_failed"),
        ),
        (
            "s5",
            "ACTIVE",
            "COMPLETED",
            "FAILED",
            json!(false),
            json!("qa_failed"),
        ),
        (
            "s6",
            "INACTIVE",
            "COMPLETED",
            "PASSED",
            json!(false),
            json!("inactive"),
        ),
        (
            "s7",
            "INVALID",
            "COMPLETED",
            "PASSED",
            json!(false),
            json!("invalid"),
        ),
        (
            "s8",
            "ACTIVE",
            "COMPLETED",
            "PASSED",
            json!(true),
            Value::Null,
        ),
    ];
    for (i, (event, st, setup, qa, usable, reason)) in steps.iter().enumerate() {
        let at = format!("2026-12-01T10:00:0{i}Z");
        let body = state(event, id, st, setup, qa, &at);
        // Each delivered twice: a duplicate changes nothing.
        let got = shop.deliver("integration-state-changed", STATE, &[body.clone(), body]);
        assert!(got.iter().all(|(s, _)| *s == 200), "{event}: {got:?}");
        assert_eq!(
            usability(&shop.stack, id).await,
            (usable.clone(), reason.clone()),
            "after {event}"
        );
    }
    // The backend route answers the same, from the row's fields.
    let list = shop.call(
        "customer-integrations",
        "GET /customers/{origin_id}/integrations",
        &[(
            "/customers/42/integrations".into(),
            json!({"origin_id": "42"}),
            None,
        )],
    );
    assert_eq!(list[0].1["integrations"][0]["usable"], true);
    assert!(
        list[0].1["integrations"][0]
            .get("unusable_reason")
            .is_none()
    );
    let subjects = shop.stack.subjects().await;
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("Kombo QA failed"))
            .count(),
        1,
        "QA turned FAILED once (s4), its duplicate and the next FAILED detail (s5) say nothing more: {subjects:?}"
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("Kombo integration invalid"))
            .count(),
        1
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("Recovered:"))
            .count(),
        1
    );
}

#[tokio::test]
async fn the_reconcile_run_upgrades_rows_written_under_the_old_rule_and_notices_an_unfinished_setup_once()
 {
    let shop = Desk::with_kombo("usable-upgrade", &[]);
    let ddb = shop.stack.ddb().await;
    let put = |id: &str, setup: &str, usable: bool, created_at: &str| {
        ddb.put_item()
            .table_name(&shop.stack.table)
            .item("integration_id", s(id))
            .item("origin_id", s("42"))
            .item("tool", s("workday"))
            .item("category", s("LMS"))
            .item("organization_name", s("Acme, Inc."))
            .item("status", s("ACTIVE"))
            .item("state", s("ACTIVE"))
            .item("setup_status", s(setup))
            .item("created_at", s(created_at))
            .item("updated_at", s(created_at))
            .item("last_event_id", s("c-old"))
            .item(
                "usable",
                aws_sdk_dynamodb::types::AttributeValue::Bool(usable),
            )
            .send()
    };
    let day_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(25);
    let day_ago = day_ago
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    // Written by an earlier version: FINAL_SYNC_PENDING counted as usable, no reason.
    put("workday:old-pending", "FINAL_SYNC_PENDING", true, &day_ago)
        .await
        .unwrap();
    // A setup left unfinished for a day (the fake Kombo's id ending `incomplete`).
    put("workday:setup-incomplete", "INCOMPLETE", false, &day_ago)
        .await
        .unwrap();
    shop.kombo()
        .set_integration(
            "workday:old-pending",
            json!({"status": "ACTIVE", "setup_status": "FINAL_SYNC_PENDING"}),
        )
        .await;
    let run = |n: usize| {
        let (r, err) = invoke(
            "reconcile",
            &shop.env("reconcile"),
            &["reconcile-scheduled.json"],
        );
        let report = r["responses"][0]["response"].clone();
        assert_eq!(report["failures"], 0, "run {n}: {report} {err}");
        report
    };
    let first = run(1);
    assert_eq!(first["usable_set"], 2, "{first}");
    assert_eq!(first["setup_noticed"], 1, "{first}");
    assert_eq!(
        usability(&shop.stack, "workday:old-pending").await,
        (json!(false), json!("final_sync_pending"))
    );
    assert_eq!(
        usability(&shop.stack, "workday:setup-incomplete").await,
        (json!(false), json!("setup_incomplete"))
    );
    let second = run(2);
    assert_eq!(
        (
            second["usable_set"].as_u64(),
            second["setup_noticed"].as_u64()
        ),
        (Some(0), Some(0)),
        "{second}"
    );
    let notices: Vec<(String, Value)> = shop.stack.alert_messages().await;
    let setup: Vec<&Value> = notices
        .iter()
        .filter(|(subject, _)| subject.starts_with("Kombo setup not finished"))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(setup.len(), 1, "once per integration: {notices:?}");
    let steps = setup[0]["next_steps"].to_string();
    assert!(
        steps.contains("POST /customers/42/integrations/workday:setup-incomplete/setup-link"),
        "{steps}"
    );
}

fn s(v: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(v.into())
}
