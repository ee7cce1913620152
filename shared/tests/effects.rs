//! Exactly-once effects on a real DynamoDB/SNS API server (moto on loopback).

mod support;

use shared::backend::Route;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::decide::claims::Claim;
use shared::event::{
    ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted, IntegrationStateChanged,
};
use shared::ports::ClaimStore;
use support::*;
use time::OffsetDateTime;

/// An address where nothing listens: every connection is refused at once.
const REFUSED: &str = "http://127.0.0.1:9";

#[tokio::test]
async fn created_is_stored_once_and_a_duplicate_changes_nothing() {
    let stack = Stack::new("created");
    let app = stack.app().await;
    let body = created_body("ev-c1", "workday:8d1hpPsbjxUkoCoa1veLZGe5", Some("42"));

    let first = app
        .serve::<IntegrationCreated>(&signed(CREATED, &body))
        .await;
    assert_eq!(status(&first), 200);
    assert_eq!(body_json(&first)["outcome"], "stored");
    let rows = stack.rows().await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["integration_id"], "workday:8d1hpPsbjxUkoCoa1veLZGe5");
    assert_eq!(row["origin_id"], "42");
    assert_eq!(row["tool"], "workday");
    assert_eq!(row["category"], "LMS");
    assert_eq!(row["organization_name"], "Acme, Inc.");
    assert_eq!(row["creator_email"], "jane.doe@example.com");
    assert_eq!(row["status"], "ACTIVE");
    assert_eq!(row["last_event_id"], "ev-c1");
    assert!(row["created_at"].is_string() && row["updated_at"].is_string());
    assert!(row.get("expires_at").is_none() && row.get("deleted_at").is_none());

    let again = app
        .serve::<IntegrationCreated>(&signed(CREATED, &body))
        .await;
    assert_eq!(status(&again), 200);
    assert_eq!(body_json(&again)["outcome"], "already_stored");
    assert_eq!(
        stack.rows().await,
        rows,
        "a duplicate must not change the row"
    );
    assert!(
        stack.alerts().await.is_empty(),
        "a create with a customer alerts nobody"
    );
}

#[tokio::test]
async fn the_customer_index_answers_which_integrations_belong_to_a_customer() {
    let stack = Stack::new("index");
    let app = stack.app().await;
    for (ev, integ, origin) in [
        ("e1", "workday:a", "42"),
        ("e2", "moodle:b", "42"),
        ("e3", "udemy:c", "43"),
    ] {
        let r = app
            .serve::<IntegrationCreated>(&signed(CREATED, &created_body(ev, integ, Some(origin))))
            .await;
        assert_eq!(status(&r), 200);
    }
    let out = stack
        .ddb()
        .await
        .query()
        .table_name(&stack.table)
        .index_name("by-origin-id")
        .key_condition_expression("origin_id = :o")
        .expression_attribute_values(
            ":o",
            aws_sdk_dynamodb::types::AttributeValue::S("42".into()),
        )
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = out
        .items()
        .iter()
        .map(|i| i["integration_id"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(ids, ["moodle:b", "workday:a"]);
}

#[tokio::test]
async fn a_create_after_its_delete_does_not_revive_the_integration() {
    let stack = Stack::new("revive");
    let app = stack.app().await;
    let deleted = app
        .serve::<IntegrationDeleted>(&signed(
            DELETED,
            &deleted_body("ev-d", "workday:x", Some("42")),
        ))
        .await;
    assert_eq!(body_json(&deleted)["outcome"], "deleted");
    let tombstone = stack.rows().await;

    let late = app
        .serve::<IntegrationCreated>(&signed(
            CREATED,
            &created_body("ev-c", "workday:x", Some("42")),
        ))
        .await;
    assert_eq!(status(&late), 200);
    assert_eq!(body_json(&late)["outcome"], "ignored_tombstoned");
    assert_eq!(stack.rows().await, tombstone);
}

#[tokio::test]
async fn delete_without_create_leaves_a_tombstone_and_repeats_change_nothing() {
    let stack = Stack::new("deleted");
    let app = stack.app().await;
    let before = OffsetDateTime::now_utc().unix_timestamp();
    let body = deleted_body("ev-d1", "workday:y", None);
    let first = app
        .serve::<IntegrationDeleted>(&signed(DELETED, &body))
        .await;
    assert_eq!(
        (status(&first), body_json(&first)["outcome"].clone()),
        (200, "deleted".into())
    );

    let rows = stack.rows().await;
    let row = &rows[0];
    assert_eq!(row["status"], "DELETED");
    assert_eq!(row["deleted_at"], "2026-11-02T10:50:10.242Z");
    assert_eq!(row["last_event_id"], "ev-d1");
    assert_eq!(row["tool"], "workday");
    assert!(row.get("origin_id").is_none(), "null origin_id is left out");
    assert!(row.get("created_at").is_none(), "the create was never seen");
    let expires = row["expires_at"].as_i64().unwrap();
    let thirty_days = 30 * 86_400;
    assert!(
        (before + thirty_days..=before + thirty_days + 60).contains(&expires),
        "{expires}"
    );

    let again = app
        .serve::<IntegrationDeleted>(&signed(DELETED, &deleted_body("ev-d2", "workday:y", None)))
        .await;
    assert_eq!(
        (status(&again), body_json(&again)["outcome"].clone()),
        (200, "already_deleted".into())
    );
    assert_eq!(stack.rows().await, rows);
}

#[tokio::test]
async fn delete_after_create_keeps_what_the_create_stored() {
    let stack = Stack::new("lifecycle");
    let app = stack.app().await;
    app.serve::<IntegrationCreated>(&signed(
        CREATED,
        &created_body("ev-c", "workday:z", Some("42")),
    ))
    .await;
    let created = stack.rows().await[0].clone();
    let r = app
        .serve::<IntegrationDeleted>(&signed(
            DELETED,
            &deleted_body("ev-d", "workday:z", Some("43")),
        ))
        .await;
    assert_eq!(status(&r), 200);
    let row = &stack.rows().await[0];
    assert_eq!(row["status"], "DELETED");
    assert_eq!(row["created_at"], created["created_at"]);
    assert_eq!(
        row["origin_id"], "42",
        "descriptive fields are only filled where missing"
    );
    assert_eq!(row["last_event_id"], "ev-d");
    assert!(row["expires_at"].is_i64());
}

#[tokio::test]
async fn created_without_customer_is_stored_and_announced_exactly_once() {
    let stack = Stack::new("unassigned");
    let app = stack.app().await;
    let body = created_body("ev-u1", "sandbox:7C9M5sXAQx2cNMpVHLojrFpL", None);
    let first = app
        .serve::<IntegrationCreated>(&signed(CREATED, &body))
        .await;
    assert_eq!(body_json(&first)["outcome"], "stored_unassigned");
    let again = app
        .serve::<IntegrationCreated>(&signed(CREATED, &body))
        .await;
    assert_eq!(body_json(&again)["outcome"], "already_stored");

    let rows = stack.rows().await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get("origin_id").is_none());
    let alerts = stack.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("Kombo integration without customer")
    );
    assert!(
        alerts[0]["Message"]
            .as_str()
            .unwrap()
            .contains("sandbox:7C9M5sXAQx2cNMpVHLojrFpL")
    );
    assert_eq!(
        alerts[0]["MessageAttributes"]["alert_kind"]["Value"],
        "unassigned-integration"
    );
}

#[tokio::test]
async fn connection_flow_failed_publishes_one_actionable_alert() {
    let stack = Stack::new("flow");
    let app = stack.app().await;
    let body = flow_failed_body("ev-f1", Some("36123"));
    let first = app
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(
        (status(&first), body_json(&first)["outcome"].clone()),
        (200, "alerted".into())
    );
    let dup = app
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(
        (status(&dup), body_json(&dup)["outcome"].clone()),
        (200, "already_alerted".into())
    );

    let alerts = stack.alerts().await;
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        a["Subject"],
        "Kombo connection failed: Acme, Inc. (workday LMS)"
    );
    let msg = a["Message"].as_str().unwrap();
    for needle in [
        "Acme, Inc.",
        "36123",
        "workday",
        "LMS",
        "jane.doe@example.com",
        "https://app.kombo.dev/env/production/logs/C3xUo6XAsB2sbKC7M1gyXaRX",
        "ev-f1",
    ] {
        assert!(msg.contains(needle), "alert lacks {needle}: {msg}");
    }
    let attrs = &a["MessageAttributes"];
    assert_eq!(attrs["tool"]["Value"], "workday");
    assert_eq!(attrs["category"]["Value"], "LMS");
    assert_eq!(attrs["origin_id"]["Value"], "36123");
    assert_eq!(attrs["event_type"]["Value"], "connection-flow-failed");
    let claims = stack.claims().await;
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["status"], "COMPLETED");
    assert!(claims[0]["expires_at"].is_i64());
}

/// Sends `n` identical deliveries at once; returns the status codes.
async fn storm<E: shared::Webhook + 'static>(
    stack: &Stack,
    route: &'static str,
    body: String,
    n: usize,
) -> Vec<i64> {
    let app = std::sync::Arc::new(stack.app_for_concurrency().await);
    // All start together, so the deliveries really overlap.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (app, req, barrier) = (app.clone(), signed(route, &body), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                status(&app.serve::<E>(&req).await)
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_alerts_publish_one_message() {
    let stack = Stack::new("storm-flow");
    let body = flow_failed_body("ev-storm", Some("42"));
    let codes = storm::<ConnectionFlowFailed>(&stack, FLOW_FAILED, body.clone(), 50).await;
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    assert!(codes.contains(&200));
    assert!(codes.contains(&429), "the deliveries overlapped: {codes:?}");
    // Kombo retries the ones told 429 (in progress): they converge on 200, no new message.
    let app = stack.app().await;
    for _ in codes.iter().filter(|c| **c == 429) {
        let r = app
            .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
            .await;
        assert_eq!(body_json(&r)["outcome"], "already_alerted");
    }
    assert_eq!(stack.alerts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_invalid_states_page_once() {
    // The page's claim is on the row: the deliveries that find another delivery's claim of
    // the same event, not expired, are told 429; none takes it over.
    let stack = Stack::new("storm-invalid");
    let body = state_body("ev-storm-i", "workday:storm-invalid", "INVALID");
    let codes = storm::<IntegrationStateChanged>(&stack, STATE_CHANGED, body.clone(), 50).await;
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    assert!(codes.contains(&429), "the deliveries overlapped: {codes:?}");
    let app = stack.app().await;
    for _ in codes.iter().filter(|c| **c == 429) {
        let r = app
            .serve::<IntegrationStateChanged>(&signed(STATE_CHANGED, &body))
            .await;
        assert_eq!(body_json(&r)["outcome"], "already_alerted");
    }
    assert_eq!(stack.alerts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_creates_store_one_row_and_one_notice() {
    let stack = Stack::new("storm-created");
    let body = created_body("ev-storm-c", "workday:storm", None);
    let codes = storm::<IntegrationCreated>(&stack, CREATED, body, 50).await;
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    assert!(codes.contains(&429), "the deliveries overlapped: {codes:?}");
    assert_eq!(stack.rows().await.len(), 1);
    assert_eq!(stack.alerts().await.len(), 1);

    let body = created_body("ev-storm-d", "workday:storm-assigned", Some("7"));
    let codes = storm::<IntegrationCreated>(&stack, CREATED, body, 50).await;
    assert!(
        codes.iter().all(|c| *c == 200),
        "one conditional write, no claim: {codes:?}"
    );
    assert_eq!(stack.rows().await.len(), 2);
    assert!(stack.alerts().await.is_empty());
}

#[tokio::test]
async fn dynamodb_unreachable_answers_503_and_changes_nothing() {
    let stack = Stack::new("ddb-down");
    let sdk_ok = stack.sdk().await;
    let sdk_down = Stack::sdk_at(REFUSED).await;
    let app = stack.app_with(&sdk_down, &sdk_ok);
    for (route, body) in [
        (CREATED, created_body("e1", "workday:down", Some("1"))),
        (CREATED, created_body("e1u", "workday:down-u", None)),
        (DELETED, deleted_body("e2", "workday:down", Some("1"))),
        (FLOW_FAILED, flow_failed_body("e3", Some("1"))),
        (STATE_CHANGED, state_body("e4", "workday:down", "INVALID")),
        (STATE_CHANGED, state_body("e5", "workday:down", "ACTIVE")),
    ] {
        let req = signed(route, &body);
        let resp = serve_route(&app, route, &req).await;
        assert_eq!(status(&resp), 503, "{route}");
        assert_eq!(body_json(&resp)["error"]["code"], "dependency_unavailable");
        assert_eq!(resp.headers["retry-after"], "30");
    }
    // The backend routes that touch DynamoDB (connection-link touches none).
    let kombo = FakeKombo::start();
    let backend = shared::backend::Backend {
        store: shared::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk_down),
            &stack.settings(),
        ),
        kombo: Some(kombo.client()),
        settings: stack.settings(),
        clock: OffsetDateTime::now_utc,
    };
    for (route, req) in [
        (
            Route::CustomerIntegrations,
            backend_event(
                "GET",
                "GET /customers/{origin_id}/integrations",
                "/customers/1/integrations",
                serde_json::json!({"origin_id": "1"}),
                None,
            ),
        ),
        (
            Route::AssignCustomer,
            backend_event(
                "PUT",
                "PUT /integrations/{integration_id}/customer",
                "/integrations/workday:down/customer",
                serde_json::json!({"integration_id": "workday:down"}),
                Some(serde_json::json!({"origin_id": "1"})),
            ),
        ),
        (
            Route::DeleteIntegration,
            backend_event(
                "DELETE",
                "DELETE /integrations/{integration_id}",
                "/integrations/workday:down",
                serde_json::json!({"integration_id": "workday:down"}),
                None,
            ),
        ),
    ] {
        let req = serde_json::from_value(req).unwrap();
        let resp = backend.serve(route, &req).await;
        assert_eq!(status(&resp), 503, "{route:?}");
        assert_eq!(body_json(&resp)["error"]["code"], "dependency_unavailable");
    }
    assert!(stack.rows().await.is_empty() && stack.claims().await.is_empty());
    assert!(stack.alerts().await.is_empty());
}

#[tokio::test]
async fn sns_failing_after_the_claim_releases_it_and_the_retry_publishes_once() {
    let stack = Stack::new("sns-down");
    let broken = stack.app_with(&stack.ddb_sdk().await, &Stack::sdk_at(REFUSED).await);
    let body = flow_failed_body("ev-sns", Some("42"));
    let resp = broken
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(status(&resp), 503);
    assert!(stack.claims().await.is_empty(), "the claim is released");
    assert!(stack.alerts().await.is_empty());

    let healthy = stack.app().await;
    let retry = healthy
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(body_json(&retry)["outcome"], "alerted");
    let again = healthy
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(body_json(&again)["outcome"], "already_alerted");
    assert_eq!(stack.alerts().await.len(), 1);
}

#[tokio::test]
async fn unassigned_notice_lost_to_an_sns_failure_is_sent_by_the_retry() {
    let stack = Stack::new("sns-down-created");
    let broken = stack.app_with(&stack.ddb_sdk().await, &Stack::sdk_at(REFUSED).await);
    let body = created_body("ev-un", "workday:un", None);
    assert_eq!(
        status(
            &broken
                .serve::<IntegrationCreated>(&signed(CREATED, &body))
                .await
        ),
        503
    );
    assert_eq!(
        stack.rows().await.len(),
        1,
        "the row is stored; only the notice failed"
    );

    let healthy = stack.app().await;
    let retry = healthy
        .serve::<IntegrationCreated>(&signed(CREATED, &body))
        .await;
    assert_eq!(body_json(&retry)["outcome"], "stored_unassigned");
    assert_eq!(stack.alerts().await.len(), 1);
}

fn an_hour_later() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::hours(1)
}

#[tokio::test]
async fn a_claim_left_by_a_killed_invocation_is_taken_over_after_it_expires() {
    let stack = Stack::new("killed");
    let app = stack.app().await;
    // An invocation claimed the event, then the Lambda was killed before publishing.
    let claim = app
        .effects
        .store
        .claim("ev-killed", "dead-invocation", OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(claim, Claim::Acquired);

    let body = flow_failed_body("ev-killed", Some("42"));
    let early = app
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(status(&early), 429, "still in progress: retry later");
    assert_eq!(body_json(&early)["error"]["code"], "in_progress");
    assert!(stack.alerts().await.is_empty());

    let mut later = stack.app().await;
    later.effects.clock = an_hour_later;
    let retry = later
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &body))
        .await;
    assert_eq!(body_json(&retry)["outcome"], "alerted");
    assert_eq!(stack.alerts().await.len(), 1);
}

/// The claim of `event_id` as stored (`Null`: none).
async fn claim_of(stack: &Stack, event_id: &str) -> Value {
    stack
        .claims()
        .await
        .into_iter()
        .find(|c| c["event_id"] == event_id)
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_dead_invocations_token_can_no_longer_complete_or_release_the_claim() {
    let stack = Stack::new("dead-token");
    let store = stack.app().await.effects.store;
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        store
            .claim("ev-dead", "dead-invocation", now)
            .await
            .unwrap(),
        Claim::Acquired
    );
    // It expired; a live invocation took it over and is publishing.
    assert_eq!(
        store
            .claim("ev-dead", "live-invocation", an_hour_later())
            .await
            .unwrap(),
        Claim::Acquired
    );
    let held = |c: &Value| (c["status"].clone(), c["token"].clone());
    let live = (json!("IN_PROGRESS"), json!("live-invocation"));
    // The dead one wakes up: its complete must not mark the live one's work done...
    store
        .complete("ev-dead", "dead-invocation", an_hour_later(), "alerted")
        .await
        .unwrap();
    assert_eq!(held(&claim_of(&stack, "ev-dead").await), live);
    // ...and its release must not free the claim for a third invocation.
    store.release("ev-dead", "dead-invocation").await.unwrap();
    assert_eq!(held(&claim_of(&stack, "ev-dead").await), live);
    assert_eq!(
        store
            .claim("ev-dead", "third-invocation", an_hour_later())
            .await
            .unwrap(),
        Claim::InProgress
    );
    // The live one completes; the dead one's release then removes nothing either.
    store
        .complete("ev-dead", "live-invocation", an_hour_later(), "alerted")
        .await
        .unwrap();
    store.release("ev-dead", "dead-invocation").await.unwrap();
    assert_eq!(
        held(&claim_of(&stack, "ev-dead").await),
        (json!("COMPLETED"), json!("live-invocation"))
    );
}

mod interleavings {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Ev {
        Created { integration: usize, event: usize },
        Deleted { integration: usize, event: usize },
    }

    fn ev() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (0..4usize, 0..2usize)
                .prop_map(|(integration, event)| Ev::Created { integration, event }),
            (0..4usize, 0..2usize)
                .prop_map(|(integration, event)| Ev::Deleted { integration, event }),
        ]
    }

    /// The model: per integration, (status, last_event_id, create seen before delete).
    fn model(events: &[Ev]) -> BTreeMap<usize, (&'static str, String, bool)> {
        let mut m: BTreeMap<usize, (&'static str, String, bool)> = BTreeMap::new();
        for e in events {
            match e {
                Ev::Created { integration, event } => {
                    m.entry(*integration).or_insert((
                        "ACTIVE",
                        format!("c{integration}-{event}"),
                        true,
                    ));
                }
                Ev::Deleted { integration, event } => {
                    let had_create = m.get(integration).map(|s| s.0 == "ACTIVE");
                    match m.get(integration) {
                        Some(("DELETED", ..)) => {}
                        _ => {
                            m.insert(
                                *integration,
                                (
                                    "DELETED",
                                    format!("d{integration}-{event}"),
                                    had_create.unwrap_or(false),
                                ),
                            );
                        }
                    }
                }
            }
        }
        m
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn random_interleavings_with_duplicates_end_in_the_modelled_table(events in proptest::collection::vec(ev(), 1..14)) {
            // One stack for all cases; each case's ids carry a prefix of their own.
            static STACK: std::sync::OnceLock<Stack> = std::sync::OnceLock::new();
            let stack = STACK.get_or_init(|| Stack::new("prop"));
            let case = uuid::Uuid::new_v4().simple().to_string();
            let integration_id = |i: &usize| format!("{case}:{i}");
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let app = stack.app().await;
                for e in &events {
                    let resp = match e {
                        Ev::Created { integration, event } => {
                            let body = created_body(&format!("c{integration}-{event}"), &integration_id(integration), Some("42"));
                            app.serve::<IntegrationCreated>(&signed(CREATED, &body)).await
                        }
                        Ev::Deleted { integration, event } => {
                            let body = deleted_body(&format!("d{integration}-{event}"), &integration_id(integration), Some("42"));
                            app.serve::<IntegrationDeleted>(&signed(DELETED, &body)).await
                        }
                    };
                    prop_assert_eq!(status(&resp), 200);
                }
                let actual: BTreeMap<usize, (String, String, bool)> = stack
                    .rows()
                    .await
                    .iter()
                    .filter_map(|r: &Value| r["integration_id"].as_str().unwrap().strip_prefix(&format!("{case}:")).map(|i| (i.parse().unwrap(), r)))
                    .map(|(integration, r)| {
                        (integration, (r["status"].as_str().unwrap().to_owned(), r["last_event_id"].as_str().unwrap().to_owned(), r.get("created_at").is_some()))
                    })
                    .collect();
                let expected: BTreeMap<usize, (String, String, bool)> =
                    model(&events).into_iter().map(|(k, (s, e, c))| (k, (s.to_owned(), e, c))).collect();
                prop_assert_eq!(actual, expected);
                Ok(())
            })?;
        }
    }
}

fn state_body(event_id: &str, integration_id: &str, state: &str) -> String {
    state_changed_body(
        event_id,
        integration_id,
        Some("1"),
        state,
        "PASSED",
        "2026-11-20T10:00:00Z",
    )
}

#[tokio::test]
async fn a_claim_expires_at_its_expiry_and_a_taken_over_claim_refuses_the_old_token() {
    let stack = Stack::new("takeover");
    let app = stack.app().await; // CLAIM_EXPIRY_SECONDS 30
    let t0 = OffsetDateTime::now_utc();
    let secs = |s: i64| t0 + time::Duration::seconds(s);
    let store = &app.effects.store;
    assert_eq!(
        store.claim("ev-to", "first", t0).await.unwrap(),
        Claim::Acquired
    );
    // Just before its expiry the claim still holds; just after, another invocation takes it.
    assert_eq!(
        store.claim("ev-to", "second", secs(29)).await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        store.claim("ev-to", "second", secs(31)).await.unwrap(),
        Claim::Acquired
    );
    // The first invocation wakes up: its release and its completion are both refused.
    store.release("ev-to", "first").await.unwrap();
    store
        .complete("ev-to", "first", secs(32), "alerted")
        .await
        .unwrap();
    let claim = &stack.claims().await[0];
    assert_eq!(
        (&claim["status"], &claim["token"]),
        (
            &serde_json::json!("IN_PROGRESS"),
            &serde_json::json!("second")
        )
    );
    // The holder's own token completes it.
    store
        .complete("ev-to", "second", secs(33), "alerted")
        .await
        .unwrap();
    assert_eq!(stack.claims().await[0]["status"], "COMPLETED");
    // And the holder's release (after a failed effect) frees it for the retry.
    assert_eq!(
        store.claim("ev-rel", "a", t0).await.unwrap(),
        Claim::Acquired
    );
    store.release("ev-rel", "a").await.unwrap();
    assert_eq!(
        store.claim("ev-rel", "b", t0).await.unwrap(),
        Claim::Acquired
    );
}
