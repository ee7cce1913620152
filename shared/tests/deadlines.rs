//! Every function answers inside its invocation's deadline with its documented error,
//! whatever hangs and wherever: DynamoDB, SNS or Kombo accepting a request and never
//! answering, at each step of each function. Driven through the built binaries with a
//! short `Lambda-Runtime-Deadline-Ms` (3 s), so each case takes seconds: the SDK's own
//! budget (5 s an operation) would overshoot it, so an answer in time proves that the
//! invocation's one deadline is shared by every call.

mod support;

use serde_json::{Value, json};
use support::*;

const DEADLINE_MS: u64 = 3_000;
/// The deadline less the answer margin (500 ms) and the undo reserve (700 ms): the
/// earliest a hang inside a claimed effect may be cut off. A budget that fired at once
/// (or not at all) fails the lower (or upper) bound.
const EARLIEST_MS: f64 = 1_700.0;

fn invalid_body(event_id: &str, integration_id: &str) -> String {
    state_changed_body(
        event_id,
        integration_id,
        Some("42"),
        "INVALID",
        "FAILED",
        "2026-11-20T10:00:00Z",
    )
}

fn active_body(event_id: &str, integration_id: &str) -> String {
    state_changed_body(
        event_id,
        integration_id,
        Some("42"),
        "ACTIVE",
        "PASSED",
        "2026-11-20T11:00:00Z",
    )
}

struct Case {
    name: &'static str,
    function: &'static str,
    /// The event, and the (status, code) it must be answered with in time.
    event: Value,
    expect: (i64, &'static str),
    /// Proxy rules in front of DynamoDB (`ddb`) and SNS (`sns`), and extra environment.
    ddb: &'static [&'static str],
    sns: &'static [&'static str],
    kombo: bool,
}

fn webhook(route: &str, body: &str) -> Value {
    serde_json::to_value(signed(route, body)).unwrap()
}

#[tokio::test]
async fn a_hang_at_any_step_is_answered_with_the_documented_error_before_the_deadline() {
    let stack = Stack::new("deadlines");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-deadlines-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = |origin: &str| {
        backend_event(
            "POST",
            "POST /customers/{origin_id}/connection-link",
            &format!("/customers/{origin}/connection-link"),
            json!({"origin_id": origin}),
            Some(
                json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme, Inc."}),
            ),
        )
    };
    let delete = |id: &str| {
        backend_event(
            "DELETE",
            "DELETE /integrations/{integration_id}",
            &format!("/integrations/{id}"),
            json!({"integration_id": id}),
            None,
        )
    };
    // Every connection failure its own customer: one customer's would fold into one window.
    let cases = [
        Case {
            name: "create: insert hangs",
            function: "integration-created",
            event: webhook(CREATED, &created_body("d1", "workday:d1", Some("42"))),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "unassigned create: claim hangs",
            function: "integration-created",
            event: webhook(CREATED, &created_body("d2", "workday:d2", None)),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:PutItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "unassigned create: the insert beside the claim hangs",
            function: "integration-created",
            event: webhook(CREATED, &created_body("d3", "workday:d3", None)),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "unassigned create: notice hangs",
            function: "integration-created",
            event: webhook(CREATED, &created_body("d4", "workday:d4", None)),
            expect: (503, "dependency_unavailable"),
            ddb: &[],
            sns: &["hang:Publish"],
            kombo: false,
        },
        Case {
            name: "delete: tombstone hangs",
            function: "integration-deleted",
            event: webhook(DELETED, &deleted_body("d5", "workday:d5", Some("42"))),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "flow failed: alert hangs",
            function: "connection-flow-failed",
            event: webhook(FLOW_FAILED, &flow_failed_body("d6", Some("cust-d6"))),
            expect: (503, "dependency_unavailable"),
            ddb: &[],
            sns: &["hang:Publish"],
            kombo: false,
        },
        Case {
            name: "flow failed: the failure record hangs",
            function: "connection-flow-failed",
            event: webhook(FLOW_FAILED, &flow_failed_body("d10", Some("cust-d10"))),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "create after failures: the resolution hangs",
            function: "integration-created",
            // cust-d6 has a failure on record (case d6 above: its page hung, its count stands).
            event: webhook(
                CREATED,
                &created_body("d11", "workday:d11", Some("cust-d6")),
            ),
            expect: (503, "dependency_unavailable"),
            // The insert (and the record's read beside it) go through; resolving the
            // customer's failures hangs.
            ddb: &["pass:UpdateItem:1", "hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "flow failed: completing the claim hangs (the alert went out)",
            function: "connection-flow-failed",
            event: webhook(FLOW_FAILED, &flow_failed_body("d7", Some("cust-d7"))),
            expect: (200, "alerted"),
            // The failure record's open and the fleet record's strike go through.
            ddb: &["pass:UpdateItem:2", "hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "state changed INVALID: update hangs",
            function: "integration-state-changed",
            event: webhook(STATE_CHANGED, &invalid_body("d8", "workday:d8")),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "state changed INVALID: page hangs",
            function: "integration-state-changed",
            event: webhook(STATE_CHANGED, &invalid_body("d9", "workday:d9")),
            expect: (503, "dependency_unavailable"),
            ddb: &[],
            sns: &["hang:Publish"],
            kombo: false,
        },
        Case {
            name: "flow failed: the claim hangs",
            function: "connection-flow-failed",
            event: webhook(FLOW_FAILED, &flow_failed_body("d12", Some("cust-d12"))),
            expect: (503, "dependency_unavailable"),
            // The failure record's open goes through beside it.
            ddb: &["hang:PutItem"],
            sns: &[],
            kombo: false,
        },
        // workday:d9 is INVALID now (its update went through; its page hung).
        Case {
            name: "state changed ACTIVE after INVALID: the recovery's update hangs",
            function: "integration-state-changed",
            event: webhook(STATE_CHANGED, &active_body("d13", "workday:d9")),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "state changed ACTIVE after INVALID: the recovered notice hangs",
            function: "integration-state-changed",
            event: webhook(STATE_CHANGED, &active_body("d14", "workday:d9")),
            expect: (503, "dependency_unavailable"),
            ddb: &[],
            sns: &["hang:Publish"],
            kombo: false,
        },
        Case {
            name: "assign: the assignment hangs",
            function: "assign-customer",
            event: backend_event(
                "PUT",
                "PUT /integrations/{integration_id}/customer",
                "/integrations/workday:d2/customer",
                json!({"integration_id": "workday:d2"}),
                Some(json!({"origin_id": "42"})),
            ),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "customer lookup: query hangs",
            function: "customer-integrations",
            event: backend_event(
                "GET",
                "GET /customers/{origin_id}/integrations",
                "/customers/42/integrations",
                json!({"origin_id": "42"}),
                None,
            ),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:Query"],
            sns: &[],
            kombo: false,
        },
        Case {
            name: "connection link: Kombo hangs",
            function: "connection-link",
            event: link("cust:hang"),
            expect: (504, "kombo_outcome_unknown"),
            ddb: &[],
            sns: &[],
            kombo: true,
        },
        Case {
            name: "delete: Kombo hangs after deleting",
            function: "delete-integration",
            event: delete("workday:hang-once"),
            expect: (504, "kombo_outcome_unknown"),
            ddb: &[],
            sns: &[],
            kombo: true,
        },
        Case {
            name: "delete: tombstone after Kombo's delete hangs",
            function: "delete-integration",
            event: delete("workday:d10"),
            expect: (503, "dependency_unavailable"),
            ddb: &["hang:UpdateItem"],
            sns: &[],
            kombo: true,
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut env = template_env(&stack, case.function);
        // Each case its own proxies, so a hung connection of one case never blocks another.
        let ddb = (!case.ddb.is_empty()).then(|| FaultServer::proxy(&stack.ddb_endpoint, case.ddb));
        let sns = (!case.sns.is_empty()).then(|| FaultServer::proxy(&stack.endpoint, case.sns));
        if let Some(p) = &ddb {
            env = with_env(env, "AWS_ENDPOINT_URL_DYNAMODB", &p.endpoint);
        }
        if let Some(p) = &sns {
            env = with_env(env, "AWS_ENDPOINT_URL_SNS", &p.endpoint);
        }
        if case.kombo {
            env = with_env(env, "KOMBO_API_BASE_URL", &kombo.base_url);
        }
        let file = dir.join(format!("{i}.json"));
        std::fs::write(&file, case.event.to_string()).unwrap();
        let (result, log) = invoke_files(case.function, &env, &[file], DEADLINE_MS);
        let got = answers(&result);
        assert_eq!(
            got,
            [(case.expect.0, case.expect.1.to_owned())],
            "{}: {result}\n{log}",
            case.name
        );
        let ms = result["responses"][0]["answered_ms"].as_f64().unwrap();
        assert!(
            ms < DEADLINE_MS as f64,
            "{}: answered after {ms} ms, past the {DEADLINE_MS} ms deadline",
            case.name
        );
        assert!(
            ms >= EARLIEST_MS,
            "{}: answered after only {ms} ms: the hang was not waited for",
            case.name
        );
        for p in [&ddb, &sns].into_iter().flatten() {
            assert!(
                p.count().await >= 1,
                "{}: the hang was not reached",
                case.name
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    // What the cut-off effects left behind converges: no claim is left in progress (each
    // was released, so Kombo's retry can publish at once) and the alert whose completion
    // hung was published once.
    let claims = stack.claims().await;
    let stuck: Vec<&Value> = claims
        .iter()
        .filter(|c| c["status"] == "IN_PROGRESS")
        .collect();
    assert!(
        stuck.iter().all(|c| c["event_id"] == "d7"),
        "claims left in progress: {stuck:?}"
    );
    assert_eq!(
        stack.alerts().await.len(),
        1,
        "only d7's alert was published"
    );
}

#[tokio::test]
async fn a_delete_whose_outcome_was_unknown_is_safe_to_retry() {
    let stack = Stack::new("delete-unknown");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-delete-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let id = "workday:retry-hang-once";
    let event = backend_event(
        "DELETE",
        "DELETE /integrations/{integration_id}",
        &format!("/integrations/{id}"),
        json!({"integration_id": id}),
        None,
    );
    let file = dir.join("delete.json");
    std::fs::write(&file, event.to_string()).unwrap();
    let env = with_env(
        template_env(&stack, "delete-integration"),
        "KOMBO_API_BASE_URL",
        &kombo.base_url,
    );
    let (first, log) = invoke_files(
        "delete-integration",
        &env,
        std::slice::from_ref(&file),
        DEADLINE_MS,
    );
    assert_eq!(
        answers(&first),
        [(504, "kombo_outcome_unknown".to_owned())],
        "{log}"
    );
    assert!(
        stack.rows().await.is_empty(),
        "no tombstone while the outcome is unknown"
    );
    let (second, log) = invoke_files("delete-integration", &env, &[file], DEADLINE_MS);
    let body: Value =
        serde_json::from_str(second["responses"][0]["response"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"integration_id": id, "outcome": "deleted", "kombo": "not_found"}),
        "{log}"
    );
    assert_eq!(stack.rows().await[0]["status"], "DELETED");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scheduled run answers its invocation, whatever hangs: a hang in a row's repair or a
/// record's summary costs that row (counted in `failures`, tried again by the next run) and
/// the run's report still arrives before the deadline; a hang in the read that starts the
/// run fails the invocation (the function's Errors alarm) before the deadline. Then a run
/// without faults converges: one summary, one notice.
#[tokio::test]
async fn a_hang_in_a_scheduled_run_costs_that_row_and_the_run_still_answers_in_time() {
    let stack = Stack::new("deadlines-scheduled");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-dl-sched-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let window = one_second_window;
    scheduled_work(
        &stack,
        &kombo,
        &dir,
        "ds",
        &["workday:ds-gone"],
        "workday:ds-gone",
    )
    .await;
    let sweep_env = || window(template_env(&stack, "failure-sweep"));
    let reconcile_env = || {
        with_env(
            template_env(&stack, "reconcile"),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        )
    };

    // (name, function, environment, DynamoDB rules, SNS rules, deadline ms, what must come back)
    type Sched<'a> = (
        &'a str,
        &'a str,
        Vec<(String, String)>,
        &'a [&'a str],
        &'a [&'a str],
        u64,
        &'a str,
    );
    let cases: Vec<Sched> = vec![
        (
            "sweep: reading the index hangs",
            "failure-sweep",
            sweep_env(),
            &["hang:Query"],
            &[],
            6_000,
            "error",
        ),
        (
            "sweep: taking the summary hangs",
            "failure-sweep",
            sweep_env(),
            &["hang:UpdateItem"],
            &[],
            6_000,
            "failures",
        ),
        (
            "sweep: the summary's publish hangs",
            "failure-sweep",
            sweep_env(),
            &[],
            &["hang:Publish"],
            6_000,
            "failures",
        ),
        (
            "reconcile: the scan hangs",
            "reconcile",
            reconcile_env(),
            &["hang:Scan"],
            &[],
            12_000,
            "error",
        ),
        (
            "reconcile: the tombstone hangs",
            "reconcile",
            reconcile_env(),
            &["hang:UpdateItem"],
            &[],
            12_000,
            "failures",
        ),
        (
            "reconcile: the deleted notice's publish hangs",
            "reconcile",
            reconcile_env(),
            &[],
            &["hang:Publish"],
            12_000,
            "failures",
        ),
    ];
    for (i, (name, function, mut env, ddb_rules, sns_rules, deadline_ms, expect)) in
        cases.into_iter().enumerate()
    {
        let ddb =
            (!ddb_rules.is_empty()).then(|| FaultServer::proxy(&stack.ddb_endpoint, ddb_rules));
        let sns = (!sns_rules.is_empty()).then(|| FaultServer::proxy(&stack.endpoint, sns_rules));
        if let Some(p) = &ddb {
            env = with_env(env, "AWS_ENDPOINT_URL_DYNAMODB", &p.endpoint);
        }
        if let Some(p) = &sns {
            env = with_env(env, "AWS_ENDPOINT_URL_SNS", &p.endpoint);
        }
        let file = dir.join(format!("run-{i}.json"));
        std::fs::write(&file, "{}").unwrap();
        let (result, log) = invoke_files(function, &env, &[file], deadline_ms);
        let answer = &result["responses"][0];
        let ms = answer["answered_ms"].as_f64().unwrap_or(f64::MAX);
        assert!(
            ms < deadline_ms as f64,
            "{name}: answered after {ms} ms: {result}\n{log}"
        );
        assert!(
            ms >= 1_000.0,
            "{name}: answered after only {ms} ms: the hang was not waited for"
        );
        match expect {
            "error" => assert!(
                answer["error"].is_object(),
                "{name}: the invocation fails: {result}\n{log}"
            ),
            _ => assert_eq!(answer["response"]["failures"], 1, "{name}: {result}\n{log}"),
        }
        for p in [&ddb, &sns].into_iter().flatten() {
            assert!(p.count().await >= 1, "{name}: the hang was not reached");
        }
    }
    // Without faults, each converges: the summary and the deleted notice go out once.
    let file = dir.join("sweep-ok.json");
    std::fs::write(&file, "{}").unwrap();
    let (r, log) = invoke_files("failure-sweep", &sweep_env(), &[file], 30_000);
    assert_eq!(r["responses"][0]["response"]["summaries"], 1, "{r}\n{log}");
    let file = dir.join("reconcile-ok.json");
    std::fs::write(&file, "{}").unwrap();
    let (r, log) = invoke_files("reconcile", &reconcile_env(), &[file], 60_000);
    assert_eq!(r["responses"][0]["response"]["failures"], 0, "{r}\n{log}");
    let subjects = stack.subjects().await;
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    assert_eq!(
        (
            count("Kombo connection failed once more"),
            count("Kombo integration deleted outside the webhooks")
        ),
        (1, 1),
        "{subjects:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
