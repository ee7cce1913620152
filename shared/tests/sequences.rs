//! Whole lifecycles through the built binaries (the Lambda Runtime API, as in
//! production): events in the orders Kombo may send them, retries after a failed
//! dependency, and other events arriving between an event and its retry. What is
//! asserted is what on-call receives (the SNS messages, through a subscribed queue) and
//! what the table says, after every sequence.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::*;

fn state_body(event_id: &str, integration_id: &str, state: &str, qa: &str, at: &str) -> String {
    state_body_for(Some("42"), event_id, integration_id, state, qa, at)
}

fn state_body_for(
    origin_id: Option<&str>,
    event_id: &str,
    integration_id: &str,
    state: &str,
    qa: &str,
    at: &str,
) -> String {
    state_changed_body(event_id, integration_id, origin_id, state, qa, at)
}

/// One test's stack, a folder for its event files, and a way to run one delivery.
struct Run {
    stack: Stack,
    dir: tempdir::Dir,
}

mod tempdir {
    /// A folder under the target directory, removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Dir {
            let p = std::env::temp_dir().join(format!("kombo-seq-{name}-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Run {
    fn new(name: &str) -> Run {
        Run {
            stack: Stack::new(name),
            dir: tempdir::Dir::new(name),
        }
    }

    fn file(&self, name: &str, route: &str, body: &str) -> PathBuf {
        event_file(&self.dir.0, name, route, body)
    }

    /// Delivers `(route, body)` in order to the function of each route, in one process
    /// per function run (a cold start each time the function changes), with `env_extra`.
    fn deliver(
        &self,
        deliveries: &[(&str, String)],
        env_extra: &[(&str, &str)],
    ) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        for (i, (route, body)) in deliveries.iter().enumerate() {
            let function = route.rsplit('/').next().unwrap();
            let mut env = template_env(&self.stack, function);
            for (k, v) in env_extra {
                env = with_env(env, k, v);
            }
            let file = self.file(&format!("{i}-{function}"), route, body);
            let (result, log) = invoke_files(function, &env, &[file], 10_000);
            let got = answers(&result);
            assert_eq!(got.len(), 1, "{result}\n{log}");
            out.push(got[0].clone());
        }
        out
    }

    async fn subjects(&self) -> Vec<String> {
        self.stack.subjects().await
    }

    async fn row(&self, integration_id: &str) -> Value {
        self.stack.row(integration_id).await
    }
}

fn pairs(expected: &[(i64, &str)]) -> Vec<(i64, String)> {
    expected.iter().map(|(c, o)| (*c, o.to_string())).collect()
}

/// A port nothing listens on: SNS (or DynamoDB) "down".
fn closed_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_unassigned_notice_survives_a_state_change_between_its_failure_and_its_retry() {
    let run = Run::new("seq-unassigned");
    let id = "workday:unassigned1";
    let create = created_body("c-un", id, None);
    let down = closed_endpoint();
    // SNS down: the create stores the row, the notice fails, 503 for Kombo to retry.
    let first = run.deliver(
        &[(CREATED, create.clone())],
        &[("AWS_ENDPOINT_URL_SNS", &down)],
    );
    assert_eq!(first, pairs(&[(503, "dependency_unavailable")]));
    // A state change for the same integration arrives before the retry (it rewrites
    // last_event_id), then Kombo's retry, then a late duplicate.
    let rest = run.deliver(
        &[
            (
                STATE_CHANGED,
                state_body_for(None, "s-un", id, "ACTIVE", "PASSED", "2026-11-20T10:00:00Z"),
            ),
            (CREATED, create.clone()),
            (CREATED, create),
        ],
        &[],
    );
    assert_eq!(
        rest,
        pairs(&[
            (200, "state_recorded"),
            (200, "stored_unassigned"),
            (200, "already_stored")
        ])
    );
    assert_eq!(
        run.subjects().await,
        ["Kombo integration without customer: Acme, Inc. (workday LMS)"]
    );
    let row = run.row(id).await;
    assert_eq!(row["created_event_id"], "c-un");
    assert_eq!(row["state"], "ACTIVE");
    assert_eq!(row.get("origin_id"), None);
}

#[tokio::test]
async fn an_integration_from_before_the_stack_is_recorded_from_its_state_and_paged_on_invalid() {
    let run = Run::new("seq-preexisting");
    let id = "workday:preexisting1";
    let got = run.deliver(
        &[
            // Kombo never sends its create: the state change records it, and INVALID pages.
            (
                STATE_CHANGED,
                state_body("s-pre1", id, "INVALID", "FAILED", "2026-11-20T10:00:00Z"),
            ),
            (
                STATE_CHANGED,
                state_body("s-pre1", id, "INVALID", "FAILED", "2026-11-20T10:00:00Z"),
            ),
            // A late (or retried) create completes the row instead of being ignored.
            (CREATED, created_body("c-pre", id, Some("42"))),
            (CREATED, created_body("c-pre", id, Some("42"))),
            (DELETED, deleted_body("d-pre", id, Some("42"))),
            // A tombstone is never revived by a state change.
            (
                STATE_CHANGED,
                state_body("s-pre2", id, "ACTIVE", "PASSED", "2026-11-21T10:00:00Z"),
            ),
        ],
        &[],
    );
    assert_eq!(
        got,
        pairs(&[
            (200, "state_recorded_alerted"),
            (200, "already_alerted"),
            (200, "completed"),
            (200, "already_stored"),
            (200, "deleted"),
            (200, "ignored_tombstoned"),
        ])
    );
    assert_eq!(
        run.subjects().await,
        ["Kombo integration invalid: Acme, Inc. (workday LMS)"]
    );
    let row = run.row(id).await;
    assert_eq!(row["status"], "DELETED");
    assert_eq!(row["origin_id"], "42");
    assert_eq!(row["created_event_id"], "c-pre");
    assert_eq!(
        row["state"], "INVALID",
        "the state after the delete was not applied"
    );
}

#[tokio::test]
async fn on_call_is_paged_when_an_integration_becomes_invalid_not_on_every_invalid() {
    let run = Run::new("seq-becomes");
    let id = "workday:becomes1";
    let st = |ev: &str, state: &str, qa: &str, at: &str| {
        (STATE_CHANGED, state_body(ev, id, state, qa, at))
    };
    let got = run.deliver(
        &[
            (CREATED, created_body("c-b", id, Some("42"))),
            st("s1", "ACTIVE", "PASSED", "2026-11-20T10:00:00Z"),
            st("s2", "INVALID", "PASSED", "2026-11-20T11:00:00Z"), // becomes INVALID: page
            st("s3", "INVALID", "FAILED", "2026-11-20T12:00:00Z"), // still INVALID: no page
            st("s0", "INVALID", "FAILED", "2026-11-20T09:00:00Z"), // older, late: no page
            st("s4", "ACTIVE", "PASSED", "2026-11-20T13:00:00Z"),  // leaves INVALID: "recovered"
            st("s5", "INVALID", "PASSED", "2026-11-20T14:00:00Z"), // becomes INVALID again: page
        ],
        &[],
    );
    assert_eq!(
        got,
        pairs(&[
            (200, "stored"),
            (200, "state_recorded"),
            (200, "state_recorded_alerted"),
            (200, "state_recorded"),
            (200, "ignored_stale"),
            (200, "state_recorded_recovered"),
            (200, "state_recorded_alerted"),
        ])
    );
    assert_eq!(
        run.subjects().await,
        [
            "Kombo integration invalid: Acme, Inc. (workday LMS)",
            "Kombo integration invalid: Acme, Inc. (workday LMS)",
            "Recovered: Acme, Inc. (workday LMS) is ACTIVE again",
        ],
        "two pages, one notice in between (sorted)"
    );
    let row = run.row(id).await;
    assert_eq!(
        (&row["state"], &row["last_event_id"]),
        (&json!("INVALID"), &json!("s5"))
    );
}

#[tokio::test]
async fn an_invalid_page_lost_to_sns_is_sent_by_its_retry_even_after_a_newer_invalid_detail() {
    let run = Run::new("seq-invalid-retry");
    let id = "workday:invalidretry1";
    let invalid = state_body("s-inv", id, "INVALID", "PASSED", "2026-11-20T11:00:00Z");
    run.deliver(&[(CREATED, created_body("c-ir", id, Some("42")))], &[]);
    let down = closed_endpoint();
    let first = run.deliver(
        &[(STATE_CHANGED, invalid.clone())],
        &[("AWS_ENDPOINT_URL_SNS", &down)],
    );
    assert_eq!(first, pairs(&[(503, "dependency_unavailable")]));
    let rest = run.deliver(
        &[
            // A newer INVALID (only qa_status differs) arrives before the retry.
            (
                STATE_CHANGED,
                state_body("s-inv2", id, "INVALID", "FAILED", "2026-11-20T12:00:00Z"),
            ),
            (STATE_CHANGED, invalid.clone()),
            (STATE_CHANGED, invalid),
        ],
        &[],
    );
    assert_eq!(
        rest,
        pairs(&[
            (200, "state_recorded"),
            (200, "state_recorded_alerted"),
            (200, "already_alerted")
        ])
    );
    assert_eq!(
        run.subjects().await.len(),
        1,
        "exactly one page for one INVALID period"
    );
    assert_eq!(
        run.row(id).await["qa_status"],
        "FAILED",
        "the newer detail stands"
    );
}

#[tokio::test]
async fn an_invalid_pages_once_even_when_its_duplicate_comes_after_a_newer_detail() {
    let run = Run::new("seq-invalid-dup-late");
    let id = "workday:invaliddup1";
    let invalid = state_body("s-id1", id, "INVALID", "PASSED", "2026-11-20T11:00:00Z");
    let got = run.deliver(
        &[
            (CREATED, created_body("c-id", id, Some("42"))),
            (STATE_CHANGED, invalid.clone()),
            // A newer INVALID detail: it pages nobody and must not disturb the page's claim.
            (
                STATE_CHANGED,
                state_body("s-id2", id, "INVALID", "FAILED", "2026-11-20T12:00:00Z"),
            ),
            (STATE_CHANGED, invalid),
        ],
        &[],
    );
    assert_eq!(
        got,
        pairs(&[
            (200, "stored"),
            (200, "state_recorded_alerted"),
            (200, "state_recorded"),
            (200, "already_alerted")
        ])
    );
    assert_eq!(run.subjects().await.len(), 1, "one page");
    assert_eq!(run.row(id).await["invalid_page"], "SENT");
}

#[tokio::test]
async fn a_second_invalid_period_pages_its_own_opener_on_a_retry_after_a_newer_detail() {
    let run = Run::new("seq-second-period");
    let id = "workday:secondperiod1";
    let state = |event: &str, state: &str, qa: &str, at: &str| {
        (STATE_CHANGED, state_body(event, id, state, qa, at))
    };
    let first = run.deliver(
        &[
            (CREATED, created_body("c-sp", id, Some("42"))),
            state("s-inv1", "INVALID", "PASSED", "2026-11-20T11:00:00Z"),
            state("s-act", "ACTIVE", "PASSED", "2026-11-20T12:00:00Z"),
        ],
        &[],
    );
    assert_eq!(
        first,
        pairs(&[
            (200, "stored"),
            (200, "state_recorded_alerted"),
            (200, "state_recorded_recovered")
        ])
    );
    let second = state("s-inv2", "INVALID", "PASSED", "2026-11-20T13:00:00Z");
    let down = closed_endpoint();
    let lost = run.deliver(
        std::slice::from_ref(&second),
        &[("AWS_ENDPOINT_URL_SNS", &down)],
    );
    assert_eq!(lost, pairs(&[(503, "dependency_unavailable")]));
    let rest = run.deliver(
        &[
            state("s-inv3", "INVALID", "FAILED", "2026-11-20T14:00:00Z"),
            second,
        ],
        &[],
    );
    assert_eq!(
        rest,
        pairs(&[(200, "state_recorded"), (200, "state_recorded_alerted")]),
        "the second period's page is its opener's, not the first period's"
    );
    assert_eq!(
        run.subjects().await.len(),
        3,
        "two pages and one recovered notice"
    );
    assert_eq!(run.row(id).await["invalid_event_id"], "s-inv2");
}

#[tokio::test]
async fn a_recovered_notice_lost_to_sns_is_sent_by_its_retry_even_after_a_newer_state() {
    let run = Run::new("seq-recovered-retry");
    let id = "workday:recoveredretry1";
    run.deliver(
        &[
            (CREATED, created_body("c-rr", id, Some("42"))),
            (
                STATE_CHANGED,
                state_body("s-inv", id, "INVALID", "PASSED", "2026-11-20T11:00:00Z"),
            ),
        ],
        &[],
    );
    let active = state_body("s-act", id, "ACTIVE", "PASSED", "2026-11-20T12:00:00Z");
    let down = closed_endpoint();
    let first = run.deliver(
        &[(STATE_CHANGED, active.clone())],
        &[("AWS_ENDPOINT_URL_SNS", &down)],
    );
    assert_eq!(first, pairs(&[(503, "dependency_unavailable")]));
    let rest = run.deliver(
        &[
            // A newer ACTIVE (only qa_status differs) arrives before the retry.
            (
                STATE_CHANGED,
                state_body("s-act2", id, "ACTIVE", "FAILED", "2026-11-20T13:00:00Z"),
            ),
            (STATE_CHANGED, active.clone()),
            (STATE_CHANGED, active),
        ],
        &[],
    );
    assert_eq!(
        rest,
        pairs(&[
            (200, "state_recorded"),
            (200, "state_recorded_recovered"),
            (200, "already_alerted")
        ])
    );
    let subjects = run.subjects().await;
    assert_eq!(
        subjects.len(),
        3,
        "the page, the newer detail's QA notice and one recovered notice: {subjects:?}"
    );
    for wanted in ["Kombo integration invalid", "Kombo QA failed", "Recovered"] {
        assert!(
            subjects.iter().any(|s| s.starts_with(wanted)),
            "{wanted}: {subjects:?}"
        );
    }
    let row = run.row(id).await;
    assert_eq!(
        (row["state"].as_str(), row["qa_status"].as_str()),
        (Some("ACTIVE"), Some("FAILED"))
    );
    assert_eq!(row["recovered_event_id"], "s-act");
}

#[tokio::test]
async fn a_late_duplicate_of_a_failure_handled_before_is_not_counted_again() {
    let run = Run::new("seq-late-duplicate");
    // A ten-minute window, moved past by travel (no wait): the first duplicate below comes
    // after the window that counted it, the second inside f3's.
    let env = [("ALERT_FOLD_WINDOW_SECONDS", "600")];
    let (f1, f2) = (
        flow_failed_body("f-late-1", Some("42")),
        flow_failed_body("f-late-2", Some("42")),
    );
    let first = run.deliver(
        &[(FLOW_FAILED, f1.clone()), (FLOW_FAILED, f2.clone())],
        &env,
    );
    assert_eq!(first, pairs(&[(200, "alerted"), (200, "folded")]));
    run.stack.travel(601.0).await;
    // A duplicate of the page, after its window closed: it must not open a window (then the
    // next real failure would fold into it and page nobody).
    let late = run.deliver(&[(FLOW_FAILED, f1)], &env);
    assert_eq!(late, pairs(&[(200, "already_alerted")]));
    let f3 = run.deliver(
        &[(FLOW_FAILED, flow_failed_body("f-late-3", Some("42")))],
        &env,
    );
    assert_eq!(f3, pairs(&[(200, "alerted")]), "the next failure pages");
    // A duplicate of the fold, into the window f3 opened: not counted there.
    let late = run.deliver(&[(FLOW_FAILED, f2)], &env);
    assert_eq!(late, pairs(&[(200, "already_alerted")]));
    let records: Vec<Value> = run
        .stack
        .idempotency_items()
        .await
        .into_iter()
        .filter(|i| {
            i["event_id"]
                .as_str()
                .is_some_and(|k| k.starts_with("failures#"))
        })
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["window_opened_by"], "f-late-3", "{r}");
    assert_eq!(r["total"], 3, "three failures, each counted once: {r}");
    assert_eq!(r["folded"], 0, "nothing folded into f3's window: {r}");
    assert_eq!(
        r["carried"], 1,
        "f2, folded before, carried into f3's page: {r}"
    );
    assert_eq!(run.subjects().await.len(), 2, "two pages");
}

#[tokio::test]
async fn a_claim_the_sdk_retried_after_dynamodb_applied_it_is_recognised_as_its_own() {
    let run = Run::new("seq-claim-retry");
    // The first PutItem (the claim) is applied by DynamoDB, then answered 500: the SDK
    // sends it again, and the condition fails on our own claim.
    let proxy = FaultServer::proxy(&run.stack.ddb_endpoint, &["apply-then-500:PutItem:1"]);
    let got = run.deliver(
        &[(FLOW_FAILED, flow_failed_body("f-claim", Some("42")))],
        &[("AWS_ENDPOINT_URL_DYNAMODB", &proxy.endpoint)],
    );
    assert_eq!(proxy.count().await, 1, "the fault fired");
    assert_eq!(got, pairs(&[(200, "alerted")]));
    assert_eq!(run.subjects().await.len(), 1);
    assert_eq!(run.stack.claims().await[0]["status"], "COMPLETED");
}

#[tokio::test]
async fn rows_and_retries_written_by_the_previous_version_keep_working() {
    let run = Run::new("seq-upgrade");
    let ddb = run.stack.ddb().await;
    // Rows as the previous version wrote them: no created_event_id, no invalid_event_id.
    let put = |item: Value| {
        let ddb = ddb.clone();
        let table = run.stack.table.clone();
        async move {
            ddb.put_item()
                .table_name(table)
                .set_item(Some(serde_dynamo::to_item(item).unwrap()))
                .send()
                .await
                .unwrap();
        }
    };
    let base = |id: &str, last: &str| {
        json!({"integration_id": id, "tool": "workday", "category": "LMS",
               "organization_name": "Acme, Inc.", "status": "ACTIVE",
               "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
               "last_event_id": last})
    };
    // An unassigned create whose notice failed before the upgrade: its retry notifies.
    put(base("workday:legacy-un", "c-legacy")).await;
    // An INVALID recorded before the upgrade whose page failed: its retry pages.
    let mut invalid = base("workday:legacy-inv", "s-legacy");
    invalid["origin_id"] = json!("42");
    invalid["state"] = json!("INVALID");
    invalid["state_updated_at_ms"] = json!(1_795_000_000_000_i64);
    put(invalid).await;
    let got = run.deliver(
        &[
            (CREATED, created_body("c-legacy", "workday:legacy-un", None)),
            (CREATED, created_body("c-other", "workday:legacy-un", None)),
            (
                STATE_CHANGED,
                state_body(
                    "s-legacy",
                    "workday:legacy-inv",
                    "INVALID",
                    "PASSED",
                    "2026-11-18T11:06:40Z",
                ),
            ),
        ],
        &[],
    );
    assert_eq!(
        got,
        pairs(&[
            (200, "stored_unassigned"),
            (200, "already_stored"),
            (200, "state_recorded_alerted")
        ])
    );
    assert_eq!(run.subjects().await.len(), 2);
}

#[tokio::test]
async fn what_aws_cannot_take_is_left_out_or_refused_never_a_503_forever() {
    let run = Run::new("seq-permanent");
    // An empty category: SNS refuses an empty attribute value, so it is left out and the
    // alert still goes.
    let mut flow: Value =
        serde_json::from_str(&flow_failed_body("f-empty-cat", Some("42"))).unwrap();
    flow["data"]["integration_category"] = json!("");
    // Ids over DynamoDB's 2,048-byte key limit: nothing useful can be stored, so the
    // caller's 400 names the field (a 503 would be retried forever).
    let long = "x".repeat(2049);
    let got = run.deliver(
        &[
            (FLOW_FAILED, flow.to_string()),
            (
                CREATED,
                created_body("c-long-origin", "workday:long1", Some(&long)),
            ),
            (
                CREATED,
                created_body("c-long-id", &format!("workday:{long}"), Some("42")),
            ),
        ],
        &[],
    );
    assert_eq!(
        got,
        pairs(&[(200, "alerted"), (400, "bad_request"), (400, "bad_request")])
    );
    let alerts = run.stack.alerts().await;
    assert_eq!(alerts.len(), 1);
    let attrs = alerts[0]["MessageAttributes"].as_object().unwrap();
    assert!(!attrs.contains_key("category"), "{attrs:?}");
    assert_eq!(attrs["tool"]["Value"], "workday");
    assert!(run.stack.rows().await.is_empty());

    // A request the service refuses as such (here: a table that does not exist, a
    // misconfiguration) is a 500 logged as a refusal, not "unavailable, retry later".
    let file = run.file(
        "missing-table",
        CREATED,
        &created_body("c-nt", "workday:nt", Some("42")),
    );
    let env = with_env(
        template_env(&run.stack, "integration-created"),
        "TABLE_NAME",
        "no-such-table",
    );
    let (result, log) = invoke_files("integration-created", &env, &[file], 10_000);
    assert_eq!(
        answers(&result),
        pairs(&[(500, "dependency_rejected")]),
        "{log}"
    );
    assert!(log.contains("refused the request (not an outage)"), "{log}");
    assert!(!log.contains("sender should retry"), "{log}");
}

fn assign(id: &str, origin: &str, force: bool) -> Value {
    backend_event(
        "PUT",
        "PUT /integrations/{integration_id}/customer",
        &format!("/integrations/{id}/customer"),
        json!({"integration_id": id}),
        Some(json!({"origin_id": origin, "force": force})),
    )
}

/// Runs the backend `function` on each request in order; (status, body) per answer.
fn backend(run: &Run, function: &str, requests: &[Value]) -> Vec<(i64, Value)> {
    let files: Vec<PathBuf> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = run.dir.0.join(format!("{function}-{i}.json"));
            std::fs::write(&p, r.to_string()).unwrap();
            p
        })
        .collect();
    let (result, log) = invoke_files(
        function,
        &template_env(&run.stack, function),
        &files,
        10_000,
    );
    assert!(result["responses"].is_array(), "{result}\n{log}");
    response_bodies(&result)
}

#[tokio::test]
async fn an_unassigned_integration_is_linked_to_its_customer_through_the_backend_route() {
    let run = Run::new("seq-assign");
    let id = "workday:assign1";
    run.deliver(
        &[
            (CREATED, created_body("c-as", id, None)),
            (
                CREATED,
                created_body("c-as-gone", "workday:assign-gone", Some("9")),
            ),
            (
                DELETED,
                deleted_body("d-as-gone", "workday:assign-gone", Some("9")),
            ),
        ],
        &[],
    );
    let got = backend(
        &run,
        "assign-customer",
        &[
            assign(id, "42", false),
            assign(id, "42", false),
            assign(id, "7", false),
            assign(id, "7", true),
            assign("workday:never-seen", "42", false),
            assign("workday:assign-gone", "42", false),
        ],
    );
    let summary: Vec<(i64, &str)> = got
        .iter()
        .map(|(c, b)| {
            (
                *c,
                b["outcome"]
                    .as_str()
                    .or(b["error"]["code"].as_str())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (200, "assigned"),
            (200, "unchanged"),
            (409, "assigned_to_another_customer"),
            (200, "assigned"),
            (404, "not_found"),
            (409, "integration_deleted"),
        ]
    );
    assert_eq!(got[3].1["previous_origin_id"], "42");
    assert!(
        got[2].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("belongs to customer 42")
    );
    let row = run.row(id).await;
    assert_eq!(row["origin_id"], "7");
    assert_eq!(
        row["created_event_id"], "c-as",
        "the create's own fields are kept"
    );
    assert!(
        run.row("workday:never-seen").await.is_null(),
        "a 404 writes nothing"
    );
    assert_eq!(
        run.row("workday:assign-gone").await.get("origin_id"),
        Some(&json!("9"))
    );
}

#[tokio::test]
async fn existing_mappings_import_in_bulk_report_per_line_and_re_run_safely() {
    let run = Run::new("seq-import");
    run.deliver(
        &[
            (
                CREATED,
                created_body("c-im1", "workday:im-unassigned", None),
            ),
            (
                CREATED,
                created_body("c-im2", "workday:im-taken", Some("7")),
            ),
            (
                DELETED,
                deleted_body("d-im3", "workday:im-deleted", Some("8")),
            ),
        ],
        &[],
    );
    let csv = run.dir.0.join("mappings.csv");
    std::fs::write(
        &csv,
        "origin_id,integration_id,tool,category\n\
         42,workday:im-new\n\
         42,workday:im-unassigned\n\
         42,workday:im-taken\n\
         42,workday:im-deleted\n\
         43,successfactors:im-other,successfactors,LMS\n\
         ,workday:im-broken\n",
    )
    .unwrap();
    let import = || run.stack.import(&csv);
    let (code, report) = import();
    assert_eq!(
        code,
        Some(1),
        "conflicts and bad lines fail the run:\n{report}"
    );
    let expected_first = [
        "line 2: workday:im-new -> 42: created",
        "line 3: workday:im-unassigned -> 42: assigned",
        "line 4: workday:im-taken -> 42: conflict: belongs to customer 7 (re-run with --force to move it)",
        "line 5: workday:im-deleted -> 42: skipped: the integration is deleted",
        "line 6: successfactors:im-other -> 43: created",
        "line 7: error: origin_id is empty",
        "6 lines, 3 not done",
    ];
    assert_eq!(report.lines().collect::<Vec<_>>(), expected_first);
    // Safe to re-run: what is done is unchanged, nothing is written twice.
    let (_, again) = import();
    assert!(
        again.contains("line 2: workday:im-new -> 42: unchanged"),
        "{again}"
    );
    assert!(
        again.contains("line 3: workday:im-unassigned -> 42: unchanged"),
        "{again}"
    );
    let row = run.row("workday:im-new").await;
    assert_eq!(
        (&row["origin_id"], &row["tool"], &row["status"]),
        (&json!("42"), &json!("workday"), &json!("ACTIVE"))
    );
    assert_eq!(row["last_event_id"], "import:mappings.csv:2");
    assert_eq!(run.row("workday:im-taken").await["origin_id"], "7");
    // Kombo's create for an imported integration completes the row and keeps the customer.
    let got = run.deliver(
        &[(
            CREATED,
            created_body("c-im-new", "workday:im-new", Some("42")),
        )],
        &[],
    );
    assert_eq!(got, pairs(&[(200, "completed")]));
    assert_eq!(
        run.row("workday:im-new").await["organization_name"],
        "Acme, Inc."
    );
    // The customer's lookup reads imported rows.
    let found = backend(
        &run,
        "customer-integrations",
        &[backend_event(
            "GET",
            "GET /customers/{origin_id}/integrations",
            "/customers/43/integrations",
            json!({"origin_id": "43"}),
            None,
        )],
    );
    assert_eq!(found[0].0, 200, "{:?}", found[0].1);
    assert_eq!(
        found[0].1["integrations"][0]["integration_id"],
        "successfactors:im-other"
    );
}

#[tokio::test]
async fn another_delivery_in_progress_is_a_429_with_retry_after_and_its_retry_converges() {
    let run = Run::new("seq-429");
    // Another invocation holds the claim on this event (a concurrent duplicate), its lease
    // running until `until_ms`.
    let ddb = run.stack.ddb().await;
    let hold = |until_ms: i64| {
        ddb.put_item()
            .table_name(&run.stack.idempotency_table)
            .set_item(Some(
                serde_dynamo::to_item(
                    json!({"event_id": "f-429", "status": "IN_PROGRESS", "token": "other",
                    "in_progress_until": until_ms, "expires_at": 1_900_000_000}),
                )
                .unwrap(),
            ))
            .send()
    };
    let now_ms = || time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    hold(now_ms() + 60_000).await.unwrap();
    let file = run.file("f-429", FLOW_FAILED, &flow_failed_body("f-429", Some("42")));
    let env = template_env(&run.stack, "connection-flow-failed");
    let (result, log) = invoke_files(
        "connection-flow-failed",
        &env,
        std::slice::from_ref(&file),
        10_000,
    );
    assert_eq!(answers(&result), pairs(&[(429, "in_progress")]), "{log}");
    assert_eq!(
        result["responses"][0]["response"]["headers"]["retry-after"],
        "30"
    );
    assert!(run.subjects().await.is_empty());
    // The holder never finished (killed): once its lease ran out (written as a minute having
    // passed, not waited for: a wait of seconds made the first delivery's 429 a race with a
    // loaded machine's process start), the retry publishes once.
    hold(now_ms() - 1_000).await.unwrap();
    let (result, log) = invoke_files(
        "connection-flow-failed",
        &env,
        &[file.clone(), file],
        10_000,
    );
    assert_eq!(
        answers(&result),
        pairs(&[(200, "alerted"), (200, "already_alerted")]),
        "{log}"
    );
    assert_eq!(run.subjects().await.len(), 1);
}

#[tokio::test]
async fn the_link_route_through_its_binary_answers_a_callers_mistake_with_400_and_never_repeats_a_post()
 {
    let run = Run::new("seq-link");
    let kombo = FakeKombo::start();
    let link = |origin: &str, body: Value| {
        backend_event(
            "POST",
            "POST /customers/{origin_id}/connection-link",
            &format!("/customers/{origin}/connection-link"),
            json!({"origin_id": origin}),
            Some(body),
        )
    };
    let files: Vec<PathBuf> = [
        link("42", json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme", "integration_tool": "no-such-tool"})),
        link("cust:flaky", json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme"})),
        link("43", json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme", "remote_environment": "sandbox", "enable_static_ips": true})),
    ]
    .iter()
    .enumerate()
    .map(|(i, r)| {
        let p = run.dir.0.join(format!("link-{i}.json"));
        std::fs::write(&p, r.to_string()).unwrap();
        p
    })
    .collect();
    let env = with_env(
        template_env(&run.stack, "connection-link"),
        "KOMBO_API_BASE_URL",
        &kombo.base_url,
    );
    let (result, log) = invoke_files("connection-link", &env, &files, 10_000);
    let codes: Vec<(i64, String)> = result["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let body: Value =
                serde_json::from_str(r["response"]["body"].as_str().unwrap()).unwrap();
            (
                r["response"]["statusCode"].as_i64().unwrap(),
                body["error"]["code"].as_str().unwrap_or("link").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        pairs(&[
            (400, "kombo_input_invalid"),
            (502, "kombo_error"),
            (200, "link")
        ]),
        "{log}"
    );
    assert!(
        !log.contains("\"status\":5") || log.contains("kombo_error"),
        "{log}"
    );
    let posts = kombo.requests().await;
    assert_eq!(
        posts.len(),
        3,
        "the POST Kombo answered 503 was not sent again"
    );
    assert_eq!(posts[2]["body"]["remote_environment"], "sandbox");
    assert_eq!(posts[2]["body"]["enable_static_ips"], true);
}

#[tokio::test]
async fn header_names_in_any_case_reach_the_binary_as_the_same_headers() {
    // API Gateway's HTTP API lower-cases header names, but a proxy or a test tool in front
    // may not: the raw event JSON with mixed-case names is what the runtime parses.
    let run = Run::new("seq-header-case");
    let body = created_body("c-case", "workday:case", Some("42"));
    let mut event = serde_json::to_value(signed(CREATED, &body)).unwrap();
    let sig = event["headers"]["x-kombo-signature"].clone();
    event["headers"] = json!({ "Content-Type": "application/json", "X-KOMBO-SIGNATURE": sig });
    let file = run.dir.0.join("case.json");
    std::fs::write(&file, event.to_string()).unwrap();
    let env = template_env(&run.stack, "integration-created");
    let (result, log) = invoke_files("integration-created", &env, &[file], 10_000);
    assert_eq!(answers(&result), pairs(&[(200, "stored")]), "{log}");
}
