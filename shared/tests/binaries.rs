//! The sample events in `events/` through the built function binaries, the way Lambda
//! (and `sam local invoke`) runs them: a Lambda Runtime API server on loopback
//! (`scripts/runtime_api.py`) starts each binary with the environment the template
//! gives it, pointed at moto, hands it the events and records the answers.

mod support;

use serde_json::{Value, json};
use support::*;

#[test]
fn sample_events_are_signed_for_their_current_bodies() {
    script("events.py", &["--check"]);
}

/// (function, events fed in order, expected (status, outcome or error code) per event)
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [(i64, &'static str)],
);

#[tokio::test]
async fn every_sample_event_through_its_built_binary() {
    let stack = Stack::new("binaries");
    // The two other customers of the fleet samples had integrations before (as imported
    // ones): established, so the third customer's failure opens the tool's incident.
    stack.establish(&["48213", "51007"]).await;
    let cases: [Case; 3] = [
        (
            "integration-created",
            &[
                "integration-created.json",
                "integration-created-unassigned.json",
                "integration-created.json",
            ],
            &[
                (200, "stored"),
                (200, "stored_unassigned"),
                (200, "already_stored"),
            ],
        ),
        (
            "integration-deleted",
            &[
                "integration-deleted.json",
                "integration-deleted-wrong-type.json",
            ],
            &[(200, "deleted"), (422, "wrong_event_type")],
        ),
        (
            "connection-flow-failed",
            &[
                "connection-flow-failed.json",
                "connection-flow-failed-forged.json",
                "connection-flow-failed.json",
                // The same customer again, inside the window: counted, not paged.
                "connection-flow-failed-again.json",
                // Two more customers of the tool: the third opens the fleet incident.
                "connection-flow-failed-customer-2.json",
                "connection-flow-failed-customer-3.json",
            ],
            &[
                (200, "alerted"),
                (401, "unauthorized"),
                (200, "already_alerted"),
                (200, "folded"),
                (200, "alerted"),
                (200, "incident_opened"),
            ],
        ),
    ];
    for (function, events, expected) in cases {
        let (result, stderr) = invoke(function, &template_env(&stack, function), events);
        assert_eq!(result["timed_out"], false, "{function}: {result}\n{stderr}");
        let expected: Vec<(i64, String)> =
            expected.iter().map(|(c, o)| (*c, o.to_string())).collect();
        assert_eq!(answers(&result), expected, "{function}\n{stderr}");
        assert!(
            !stderr.contains("user@example.com"),
            "{function} logged creator_email:\n{stderr}"
        );
        // A slow warm-up (over its 1 s on a busy machine) is fine; a failed one is not.
        assert!(
            !stderr.contains("connection warm-up failed"),
            "{function}: the init warm-up failed:\n{stderr}"
        );
    }

    // The backend route links the unassigned sample to its customer.
    let (r, err) = invoke(
        "assign-customer",
        &template_env(&stack, "assign-customer"),
        &["assign-customer.json", "assign-customer.json"],
    );
    assert_eq!(
        answers(&r),
        [(200, "assigned".to_owned()), (200, "unchanged".to_owned())],
        "{err}"
    );

    let rows = stack.rows().await;
    let summary: Vec<(String, String, Option<String>)> = rows
        .iter()
        .filter(|r| {
            !r["integration_id"]
                .as_str()
                .unwrap()
                .starts_with("bamboohr:est-")
        })
        .map(|r| {
            (
                r["integration_id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r.get("origin_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "successfactors:CBNMt7dSNCzBdnRTx87dev4E".into(),
                "ACTIVE".into(),
                Some("36123".into())
            ),
            (
                "workday:8d1hpPsbjxUkoCoa1veLZGe5".into(),
                "ACTIVE".into(),
                Some("48213".into())
            ),
            (
                "workday:CBNMt7dSNCzBdnRTx87dev4E".into(),
                "DELETED".into(),
                Some("36123".into())
            ),
        ]
    );
    let alerts = stack.alerts().await;
    let mut subjects: Vec<&str> = alerts
        .iter()
        .map(|a| a["Subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Kombo connection failed: Acme, Inc. (workday LMS)",
            "Kombo connection failed: Beta GmbH (workday LMS)",
            "Kombo connections failing for workday: 3 customers in 10 min",
            "Kombo integration without customer: Globex Corp (workday LMS)",
        ]
    );
}

#[tokio::test]
async fn a_binary_without_its_secret_refuses_to_start_and_says_which_variable() {
    let stack = Stack::new("nosecret");
    let env: Vec<_> = template_env(&stack, "integration-deleted")
        .into_iter()
        .filter(|(k, _)| k != "KOMBO_WEBHOOK_SECRET")
        .collect();
    let (result, stderr) = invoke("integration-deleted", &env, &["integration-deleted.json"]);
    assert_ne!(
        result["exited_early"],
        Value::Null,
        "it must exit, not serve: {result}"
    );
    assert_eq!(
        result["responses"][0],
        Value::Null,
        "nothing may be answered"
    );
    assert!(stderr.contains("KOMBO_WEBHOOK_SECRET"), "{stderr}");
    assert!(stack.rows().await.is_empty());
}

/// The functions take their credentials from the environment, as Lambda gives them (no
/// default chain is linked): without them, a webhook, a backend route and a scheduled
/// function each stop at init naming the variable, and nothing is answered. (The runtime
/// sets `AWS_REGION` itself, as Lambda does, so its absence is not reachable here.)
#[tokio::test]
async fn a_binary_without_lambdas_credentials_stops_at_init_naming_them() {
    let stack = Stack::new("nocredentials");
    for (function, event) in [
        ("integration-created", "integration-created.json"),
        ("connection-link", "connection-link.json"),
        ("failure-sweep", "failure-sweep-scheduled.json"),
    ] {
        for missing in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let env: Vec<_> = template_env(&stack, function)
                .into_iter()
                .filter(|(k, _)| k != missing)
                .collect();
            let (result, stderr) = invoke(function, &env, &[event]);
            assert_ne!(
                result["exited_early"],
                Value::Null,
                "{function} without {missing} must exit, not serve: {result}"
            );
            assert_eq!(result["responses"][0], Value::Null, "{function}: {result}");
            assert!(
                stderr.contains(&format!("{missing} is not set")),
                "{function} without {missing}: {stderr}"
            );
        }
    }
    assert!(stack.rows().await.is_empty());
}

/// `sam local` gives every variable the template declares a value: where the template's
/// condition leaves an endpoint out, the empty string. Empty means unset: the service
/// variable falls back to `AWS_ENDPOINT_URL`, and the binary starts (the SDK alone takes
/// "" as the endpoint and panics at init).
#[tokio::test]
async fn an_empty_endpoint_variable_counts_as_unset() {
    let stack = Stack::new("emptyendpoint");
    for (function, event, empty, expected) in [
        (
            "integration-created",
            "integration-created.json",
            "AWS_ENDPOINT_URL",
            "stored",
        ),
        (
            "connection-flow-failed",
            "connection-flow-failed.json",
            "AWS_ENDPOINT_URL_SNS",
            "alerted",
        ),
    ] {
        let env = with_env(template_env(&stack, function), empty, "");
        let (result, stderr) = invoke(function, &env, &[event]);
        assert_eq!(
            answers(&result),
            [(200, expected.to_string())],
            "{function} with {empty}=\"\": {result}\n{stderr}"
        );
    }
    assert_eq!(stack.rows().await.len(), 1);
    assert_eq!(stack.alerts().await.len(), 1);
}

fn response_body(result: &Value, i: usize) -> (i64, Value) {
    response_bodies(result).swap_remove(i)
}

#[tokio::test]
async fn the_lifecycle_samples_through_their_built_binaries() {
    let stack = Stack::new("lifecycle-bin");
    let kombo = FakeKombo::start();
    let with_kombo = |function: &str| {
        let mut env = template_env(&stack, function);
        env.retain(|(k, _)| k != "KOMBO_API_BASE_URL");
        env.push(("KOMBO_API_BASE_URL".into(), kombo.base_url.clone()));
        env
    };

    let (r, err) = invoke(
        "integration-created",
        &template_env(&stack, "integration-created"),
        &["integration-created.json"],
    );
    assert_eq!(answers(&r), [(200, "stored".to_owned())], "{err}");
    let (r, err) = invoke(
        "integration-state-changed",
        &template_env(&stack, "integration-state-changed"),
        &[
            "integration-state-changed.json",
            "integration-state-changed.json",
        ],
    );
    assert_eq!(
        answers(&r),
        [
            (200, "state_recorded_alerted".to_owned()),
            (200, "already_alerted".to_owned())
        ],
        "{err}"
    );

    let (r, err) = invoke(
        "customer-integrations",
        &template_env(&stack, "customer-integrations"),
        &["customer-integrations.json"],
    );
    let (code, body) = response_body(&r, 0);
    assert_eq!(code, 200, "{body} {err}");
    let list = body["integrations"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["integration_id"],
        "successfactors:CBNMt7dSNCzBdnRTx87dev4E"
    );
    assert_eq!(list[0]["state"], "INVALID");

    // The embedded flow's activation token for the integration the create stored: the
    // two ways in meet in its row (a retry, the token used up, is answered by that row).
    let (r, err) = invoke(
        "connection-completion",
        &with_kombo("connection-completion"),
        &["connection-completion.json", "connection-completion.json"],
    );
    assert_eq!(
        answers(&r),
        [
            (200, "already_stored".to_owned()),
            (200, "already_stored".to_owned())
        ],
        "{err}"
    );
    let (_, body) = response_body(&r, 0);
    assert_eq!(
        body["integration"]["integration_id"],
        "successfactors:CBNMt7dSNCzBdnRTx87dev4E"
    );

    let (r, err) = invoke(
        "connection-link",
        &with_kombo("connection-link"),
        &["connection-link.json"],
    );
    let (code, body) = response_body(&r, 0);
    assert_eq!((code, &body["origin_id"]), (200, &json!("36123")), "{err}");
    // The fake Kombo's link opens its Connect sandbox for this customer's link.
    let link = body["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/connect?token=link-36123-", kombo.root)),
        "{link}"
    );
    let (r, err) = invoke(
        "delete-integration",
        &with_kombo("delete-integration"),
        &["delete-integration.json"],
    );
    assert_eq!(
        response_body(&r, 0),
        (
            200,
            json!({ "integration_id": "successfactors:CBNMt7dSNCzBdnRTx87dev4E", "outcome": "deleted", "kombo": "deleted" })
        ),
        "{err}"
    );

    let sent = kombo.calls().await;
    assert_eq!(
        sent,
        [
            (
                "GET".to_owned(),
                "/v1/connect/integration-by-token/sample-activation-token-not-real".to_owned()
            ),
            (
                "GET".to_owned(),
                "/v1/connect/integration-by-token/sample-activation-token-not-real".to_owned()
            ),
            ("POST".to_owned(), "/v1/connect/create-link".to_owned()),
            (
                "DELETE".to_owned(),
                "/v1/integrations/successfactors:CBNMt7dSNCzBdnRTx87dev4E".to_owned()
            )
        ]
    );
    assert_eq!(stack.rows().await[0]["status"], "DELETED");
    let alerts = stack.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0]["Subject"],
        "Kombo integration invalid: Acme, Inc. (successfactors LMS)"
    );
}

/// Kombo's earliest warning, a duplicate and the repairs, as the samples run them: the login
/// failing pages once and sits on the row until its resolution's one notice; the environment's
/// issue pages; the same tool connected twice is noticed once and a third link refused; the
/// INVALID integration gets its reconnection and setup links.
#[tokio::test]
async fn the_issue_duplicate_and_repair_samples_through_their_built_binaries() {
    let stack = Stack::new("issues-bin");
    let kombo = FakeKombo::start();
    let with_kombo = |function: &str| {
        with_env(
            template_env(&stack, function),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        )
    };
    let run = |function: &str, events: &[&str]| {
        let (r, err) = invoke(function, &with_kombo(function), events);
        assert!(
            !err.contains("user@example.com"),
            "{function} logged creator_email:\n{err}"
        );
        (r, err)
    };
    let (r, err) = run(
        "integration-created",
        &[
            "integration-created.json",
            "integration-created-duplicate.json",
            "integration-created-duplicate.json",
        ],
    );
    assert_eq!(
        answers(&r),
        [
            (200, "stored".to_owned()),
            (200, "stored".to_owned()),
            (200, "already_stored".to_owned())
        ],
        "{err}"
    );
    let (r, err) = run(
        "issue-status-changed",
        &[
            "issue-status-changed.json",
            "issue-status-changed.json",
            "issue-status-changed-resolved.json",
            "issue-status-changed-environment.json",
        ],
    );
    assert_eq!(
        answers(&r),
        [
            (200, "alerted".to_owned()),
            (200, "already_alerted".to_owned()),
            (200, "issue_resolved_notified".to_owned()),
            (200, "alerted".to_owned())
        ],
        "{err}"
    );
    let (r, err) = run(
        "integration-state-changed",
        &["integration-state-changed.json"],
    );
    assert_eq!(
        answers(&r),
        [(200, "state_recorded_alerted".to_owned())],
        "{err}"
    );
    let (r, err) = run(
        "connection-link",
        &["connection-link-already-connected.json"],
    );
    let (code, body) = response_body(&r, 0);
    assert_eq!(
        (code, &body["error"]["code"]),
        (409, &json!("already_connected")),
        "{err}"
    );
    for function in ["reconnection-link", "setup-link"] {
        let (r, err) = run(function, &[&format!("{function}.json")]);
        let (code, body) = response_body(&r, 0);
        assert_eq!(code, 200, "{function}: {body} {err}");
        assert_eq!(
            body["integration_id"],
            "successfactors:CBNMt7dSNCzBdnRTx87dev4E"
        );
    }
    let mut subjects: Vec<String> = stack
        .alerts()
        .await
        .iter()
        .map(|a| a["Subject"].as_str().unwrap().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Kombo duplicate integration: Acme, Inc. (successfactors LMS)",
            "Kombo environment issue: Webhook deliveries failing",
            "Kombo integration invalid: Acme, Inc. (successfactors LMS)",
            "Kombo issue: Authentication failed: Acme, Inc. (successfactors LMS)",
            "Resolved: Kombo issue Authentication failed: Acme, Inc. (successfactors LMS)",
        ]
    );
    let listed = run("customer-integrations", &["customer-integrations.json"]).0;
    let (_, body) = response_body(&listed, 0);
    let open: Vec<&Value> = body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["open_issues"].as_array().is_some_and(|o| !o.is_empty()))
        .collect();
    assert!(open.is_empty(), "the issue resolved: {body}");
}
