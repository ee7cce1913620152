//! The Connect completion route (`POST /customers/{origin_id}/connection-completion`)
//! through its built binary, on DynamoDB Local, moto's SNS and the fake Kombo's activation
//! tokens: it meets the `integration-created` webhook in one row whichever comes first, sends
//! at most one "resolved" notice, refuses another customer's integration, and answers every
//! failure with the status the route's documentation gives.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::*;

const ROUTE: &str = "POST /customers/{origin_id}/connection-completion";

/// One test's stack, fake Kombo and folder of event files.
struct Run {
    stack: Stack,
    kombo: FakeKombo,
    dir: PathBuf,
    n: usize,
}

impl Run {
    fn new(name: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("connect-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Run {
            stack: Stack::new(name),
            kombo: FakeKombo::start(),
            dir,
            n: 0,
        }
    }

    /// An activation token the fake Kombo redeems (once) for `integration_id` of `origin`.
    async fn token(&self, integration_id: &str, origin: Option<&str>) -> String {
        self.kombo.mint_token(integration_id, origin).await
    }

    /// A completion request for customer `origin` with `body` (raw, so malformed ones too).
    fn completion(&mut self, origin: &str, body: &str) -> PathBuf {
        self.n += 1;
        let mut event = backend_event(
            "POST",
            ROUTE,
            &format!("/customers/{origin}/connection-completion"),
            json!({ "origin_id": origin }),
            None,
        );
        event["body"] = json!(body);
        let path = self.dir.join(format!("completion-{}.json", self.n));
        std::fs::write(&path, serde_json::to_vec(&event).unwrap()).unwrap();
        path
    }

    fn with_token(&mut self, origin: &str, token: &str) -> PathBuf {
        self.completion(origin, &json!({ "token": token }).to_string())
    }

    fn webhook(&mut self, route: &str, body: &str) -> PathBuf {
        self.n += 1;
        event_file(&self.dir, &format!("webhook-{}", self.n), route, body)
    }

    fn env(&self, function: &str) -> Vec<(String, String)> {
        with_env(
            template_env(&self.stack, function),
            "KOMBO_API_BASE_URL",
            &self.kombo.base_url,
        )
    }

    /// Runs the completion binary on `events`; the answers (status, body) and the log.
    fn complete(&self, events: &[PathBuf]) -> (Vec<(i64, Value)>, String) {
        self.complete_with(&self.env("connection-completion"), events, 10_000)
    }

    fn complete_with(
        &self,
        env: &[(String, String)],
        events: &[PathBuf],
        deadline_ms: u64,
    ) -> (Vec<(i64, Value)>, String) {
        let (result, log) = invoke_files("connection-completion", env, events, deadline_ms);
        assert_eq!(result["timed_out"], false, "{result}\n{log}");
        (response_bodies(&result), log)
    }

    fn deliver(&self, function: &str, events: &[PathBuf]) -> Vec<(i64, String)> {
        let (result, log) = invoke_files(function, &self.env(function), events, 10_000);
        assert_eq!(result["timed_out"], false, "{result}\n{log}");
        answers(&result)
    }

    /// The Kombo requests made so far, as (method, path).
    async fn kombo_calls(&self) -> Vec<(String, String)> {
        self.kombo.calls().await
    }

    /// Customer 42's failure paged (its failures on record), and the completion's
    /// environment with SNS behind a proxy that fails `publishes` Publish requests.
    fn failed_then_sns_failing(
        &mut self,
        event_id: &str,
        publishes: u32,
    ) -> (FaultServer, Vec<(String, String)>) {
        let failed = self.webhook(FLOW_FAILED, &flow_failed_body(event_id, Some("42")));
        assert_eq!(
            self.deliver("connection-flow-failed", &[failed]),
            pairs(&[(200, "alerted")])
        );
        let sns = FaultServer::proxy(&self.stack.endpoint, &[&format!("500:Publish:{publishes}")]);
        let env = with_env(
            self.env("connection-completion"),
            "AWS_ENDPOINT_URL_SNS",
            &sns.endpoint,
        );
        (sns, env)
    }

    /// How many "resolved" notices were received so far.
    async fn resolved_notices(&self) -> usize {
        let subjects = self.stack.subjects().await;
        subjects
            .iter()
            .filter(|s| s.starts_with("Resolved:"))
            .count()
    }
}

/// (status, outcome or error code) of each answer.
fn codes(answers: &[(i64, Value)]) -> Vec<(i64, String)> {
    answers
        .iter()
        .map(|(s, b)| {
            let what = b["outcome"].as_str().or(b["error"]["code"].as_str());
            (*s, what.unwrap().to_owned())
        })
        .collect()
}

fn pairs(expected: &[(i64, &str)]) -> Vec<(i64, String)> {
    expected
        .iter()
        .map(|(s, w)| (*s, (*w).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_completion_first_then_the_webhook_meet_in_one_row_and_no_notice() {
    let mut run = Run::new("completion-first");
    let token = run.token("workday:c1", Some("42")).await;
    let first = run.with_token("42", &token);
    let (answers, log) = run.complete(&[first]);
    assert_eq!(codes(&answers), pairs(&[(200, "stored")]), "{log}");
    let integration = &answers[0].1["integration"];
    assert_eq!(integration["integration_id"], "workday:c1");
    assert_eq!(integration["origin_id"], "42");
    assert_eq!(integration["status"], "ACTIVE");
    assert_eq!(integration["setup_status"], "COMPLETED");
    assert!(integration.get("category").is_none(), "{integration}");
    assert!(!log.contains(&token), "the token is never logged:\n{log}");
    // The token's digest stays in the table: in no answer, the list's neither.
    assert!(
        integration.get("connect_token_sha256").is_none(),
        "{integration}"
    );
    assert!(run.stack.row("workday:c1").await["connect_token_sha256"].is_string());
    let list = backend_event(
        "GET",
        "GET /customers/{origin_id}/integrations",
        "/customers/42/integrations",
        serde_json::json!({"origin_id": "42"}),
        None,
    );
    let file = run.dir.join("list.json");
    std::fs::write(&file, list.to_string()).unwrap();
    let (r, log) = invoke_files(
        "customer-integrations",
        &template_env(&run.stack, "customer-integrations"),
        &[file],
        10_000,
    );
    let (status, listed) = response_bodies(&r).swap_remove(0);
    assert_eq!(status, 200, "{listed}\n{log}");
    assert_eq!(listed["integrations"][0]["integration_id"], "workday:c1");
    assert!(
        listed["integrations"][0]
            .get("connect_token_sha256")
            .is_none(),
        "{listed}"
    );
    assert_eq!(
        run.kombo_calls().await,
        [(
            "GET".to_owned(),
            format!("/v1/connect/integration-by-token/{token}")
        )]
    );
    let row = run.stack.row("workday:c1").await;
    assert_eq!(row["created_event_id"], "connect:workday:c1");

    // The webhook comes later: it fills in what the token did not tell, answers as a
    // duplicate does, and nobody is notified (no failures were on record).
    let hook = run.webhook(CREATED, &created_body("ev-c1", "workday:c1", Some("42")));
    let again = run.webhook(CREATED, &created_body("ev-c1", "workday:c1", Some("42")));
    assert_eq!(
        run.deliver("integration-created", &[hook, again]),
        pairs(&[(200, "already_stored"), (200, "already_stored")])
    );
    let rows = run.stack.rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["category"], "LMS");
    assert_eq!(row["creator_email"], "jane.doe@example.com");
    assert_eq!(row["origin_id"], "42");
    assert_eq!(row["created_event_id"], "connect:workday:c1");
    assert_eq!(row["created_at"], integration["created_at"], "kept");
    assert!(run.stack.alerts().await.is_empty());

    // A second completion for the same integration (a new token) finds the row.
    let token2 = run.token("workday:c1", Some("42")).await;
    let second = run.with_token("42", &token2);
    let (answers, log) = run.complete(&[second]);
    assert_eq!(codes(&answers), pairs(&[(200, "already_stored")]), "{log}");
    assert_eq!(answers[0].1["integration"]["category"], "LMS");
}

#[tokio::test]
async fn the_webhook_first_then_the_completion_answer_already_stored() {
    let mut run = Run::new("webhook-first");
    let hook = run.webhook(CREATED, &created_body("ev-w1", "workday:w1", Some("42")));
    assert_eq!(
        run.deliver("integration-created", &[hook]),
        pairs(&[(200, "stored")])
    );
    let token = run.token("workday:w1", Some("42")).await;
    let completion = run.with_token("42", &token);
    // Its answer lost, the caller retries: Kombo has used the token up, the row answers.
    let retry = run.with_token("42", &token);
    let (answers, log) = run.complete(&[completion, retry]);
    assert_eq!(
        codes(&answers),
        pairs(&[(200, "already_stored"), (200, "already_stored")]),
        "{log}"
    );
    assert_eq!(answers[1].1["integration"]["integration_id"], "workday:w1");
    assert_eq!(answers[0].1["integration"]["category"], "LMS");
    assert_eq!(answers[0].1["integration"]["created_event_id"], "ev-w1");
    let rows = run.stack.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["created_event_id"], "ev-w1", "unchanged");
    assert!(run.stack.alerts().await.is_empty());
}

/// A customer who failed to connect, then connected through the embedded flow: one page,
/// then exactly one "resolved" notice, whichever of the completion and the webhook (and
/// their retries) comes first.
#[tokio::test]
async fn a_failure_then_a_completion_and_its_webhook_send_one_resolved_notice() {
    let mut run = Run::new("resolved-once");
    let failed = run.webhook(FLOW_FAILED, &flow_failed_body("ev-f1", Some("42")));
    assert_eq!(
        run.deliver("connection-flow-failed", &[failed]),
        pairs(&[(200, "alerted")])
    );
    let token = run.token("workday:r1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let (answers, log) = run.complete(&[completion]);
    assert_eq!(codes(&answers), pairs(&[(200, "stored")]), "{log}");
    let hook = run.webhook(CREATED, &created_body("ev-r1", "workday:r1", Some("42")));
    assert_eq!(
        run.deliver("integration-created", &[hook]),
        pairs(&[(200, "already_stored")])
    );
    let token2 = run.token("workday:r1", Some("42")).await;
    let again = run.with_token("42", &token2);
    let (answers, _) = run.complete(&[again]);
    assert_eq!(codes(&answers), pairs(&[(200, "already_stored")]));

    let mut subjects = run.stack.subjects().await;
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Kombo connection failed: Acme, Inc. (workday LMS)",
            "Resolved: Acme, Inc. connected workday after 1 failed attempt",
        ]
    );
    let record = run.stack.failure_record("failures#42#workday").await;
    assert_eq!(record["resolved_by"], "connect:workday:r1", "{record}");
    assert_eq!(record["total"], 0);
}

/// The resolved notice's publish fails on the completion: the webhook, arriving later,
/// sends it under the completion's claim (and a retry of the webhook does not send it
/// twice).
#[tokio::test]
async fn a_notice_the_completion_could_not_send_is_sent_by_the_webhook_once() {
    let mut run = Run::new("notice-by-webhook");
    let (_sns, env) = run.failed_then_sns_failing("ev-f2", 99);
    let token = run.token("workday:n1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let (answers, log) = run.complete_with(&env, &[completion], 10_000);
    assert_eq!(
        codes(&answers),
        pairs(&[(503, "dependency_unavailable")]),
        "{log}"
    );
    // The row is stored (one write), the notice is owed.
    assert_eq!(run.stack.row("workday:n1").await["origin_id"], "42");
    let hook = run.webhook(CREATED, &created_body("ev-n1", "workday:n1", Some("42")));
    let retry = run.webhook(CREATED, &created_body("ev-n1", "workday:n1", Some("42")));
    assert_eq!(
        run.deliver("integration-created", &[hook, retry]),
        pairs(&[(200, "resolved"), (200, "already_stored")])
    );
    assert_eq!(run.resolved_notices().await, 1);
}

/// The completion's retry after Kombo used the token up: the row the first try stored
/// (found by the token's digest) answers, and a notice that try could not send goes out.
#[tokio::test]
async fn a_retry_with_a_used_up_token_is_answered_by_the_row_it_stored() {
    let mut run = Run::new("used-token");
    let (_sns, env) = run.failed_then_sns_failing("ev-f3", 3);
    let token = run.token("workday:u1", Some("42")).await;
    let first = run.with_token("42", &token);
    let retry = run.with_token("42", &token);
    let (answers, log) = run.complete_with(&env, &[first, retry], 10_000);
    assert_eq!(
        codes(&answers),
        pairs(&[(503, "dependency_unavailable"), (200, "already_stored")]),
        "{log}"
    );
    assert_eq!(answers[1].1["integration"]["integration_id"], "workday:u1");
    assert_eq!(run.kombo_calls().await.len(), 2, "both asked Kombo");
    assert_eq!(run.resolved_notices().await, 1);
    // The same used token for another customer is not that customer's row.
    let other = run.with_token("43", &token);
    let (answers, _) = run.complete(&[other]);
    assert_eq!(codes(&answers), pairs(&[(400, "invalid_token")]));
}

#[tokio::test]
async fn another_customers_integration_is_refused_and_nothing_is_written() {
    let mut run = Run::new("another-customer");
    let theirs = run.token("workday:o1", Some("43")).await;
    let nobodys = run.token("workday:o2", None).await;
    let a = run.with_token("42", &theirs);
    let b = run.with_token("42", &nobodys);
    let (answers, log) = run.complete(&[a, b]);
    assert_eq!(
        codes(&answers),
        pairs(&[
            (403, "integration_of_another_customer"),
            (403, "integration_of_another_customer")
        ]),
        "{log}"
    );
    // The answer names neither the other customer nor the integration (the caller's
    // browser may see it); the log line names both, as a warning.
    let message = answers[0].1["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("43") && !message.contains("workday:o1"),
        "{message}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("workday:o1"))
        .unwrap_or_else(|| panic!("no log line names the integration:\n{log}"));
    assert!(
        line.contains("\"token_origin_id\":\"43\"") && line.contains("WARN"),
        "{line}"
    );
    assert!(run.stack.rows().await.is_empty());
    assert!(run.stack.alerts().await.is_empty());
}

#[tokio::test]
async fn a_deleted_integration_is_a_conflict_and_stays_deleted() {
    let mut run = Run::new("tombstoned");
    let deleted = run.webhook(DELETED, &deleted_body("ev-d1", "workday:d1", Some("42")));
    assert_eq!(
        run.deliver("integration-deleted", &[deleted]),
        pairs(&[(200, "deleted")])
    );
    let token = run.token("workday:d1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let (answers, log) = run.complete(&[completion]);
    assert_eq!(
        codes(&answers),
        pairs(&[(409, "integration_deleted")]),
        "{log}"
    );
    assert_eq!(run.stack.row("workday:d1").await["status"], "DELETED");
}

/// Malformed requests are the caller's: 400 naming the field, and Kombo never asked.
#[tokio::test]
async fn malformed_requests_name_the_field_and_never_reach_kombo() {
    let mut run = Run::new("malformed");
    let long_origin = "x".repeat(2049);
    let cases = [
        run.completion("42", "[\"token\"]"),
        run.completion("42", "not json"),
        run.completion("42", "{}"),
        run.completion("42", r#"{"token": ""}"#),
        run.completion("42", r#"{"token": "   "}"#),
        run.completion("42", r#"{"token": 42}"#),
        run.completion("42", &json!({ "token": "t".repeat(4097) }).to_string()),
        run.completion("42", r#"{"token": "t", "origin_id": "43"}"#),
        run.with_token(&long_origin, "t"),
    ];
    let (answers, log) = run.complete(&cases);
    let names: Vec<(i64, String)> = answers
        .iter()
        .map(|(s, b)| (*s, b["error"]["message"].as_str().unwrap().to_owned()))
        .collect();
    for (i, (status, message)) in names.iter().enumerate() {
        assert_eq!(*status, 400, "case {i}: {message}\n{log}");
        let names_field = if i == 8 {
            message.contains("origin_id")
        } else if i < 2 {
            message.contains("body")
        } else {
            message.contains("token") || message.contains("origin_id")
        };
        assert!(names_field, "case {i}: {message}");
    }
    assert!(run.kombo_calls().await.is_empty());
    assert!(run.stack.rows().await.is_empty());
}

/// What Kombo answers decides the status: its refusal of the token is the caller's (400,
/// no page); our key refused 502; its rate limit 503 with Retry-After; no answer 504.
#[tokio::test]
async fn kombo_failures_map_to_the_documented_answers() {
    let mut run = Run::new("kombo-failures");
    let unknown = run.with_token("42", "no-such-token");
    let limited = run.with_token("42", "tok-rate-limited");
    let broken = run.with_token("42", "tok-broken");
    let (answers, log) = run.complete(&[unknown, limited, broken]);
    assert_eq!(
        codes(&answers),
        pairs(&[
            (400, "invalid_token"),
            (503, "kombo_rate_limited"),
            (502, "kombo_error")
        ]),
        "{log}"
    );
    assert_eq!(
        answers[0].1["error"]["kombo_code"], "PLATFORM.INPUT_INVALID",
        "Kombo's code is passed on"
    );
    let asked = |calls: Vec<(String, String)>, token: &str| {
        calls
            .iter()
            .filter(|(_, path)| path.ends_with(token))
            .count()
    };
    let calls = run.kombo_calls().await;
    assert_eq!(
        asked(calls.clone(), "/tok-rate-limited"),
        1,
        "a rate limit is answered at once, never retried inside the request: {calls:?}"
    );
    assert_eq!(
        asked(calls, "/tok-broken"),
        3,
        "a 5xx is retried: the lookup is a GET"
    );

    // Retry-After on the rate limit (the raw answer).
    let limited = run.with_token("42", "tok2-rate-limited");
    let (result, _) = invoke_files(
        "connection-completion",
        &run.env("connection-completion"),
        &[limited],
        10_000,
    );
    assert_eq!(
        result["responses"][0]["response"]["headers"]["retry-after"],
        "30"
    );

    // Our API key refused.
    let token = run.token("workday:k1", Some("42")).await;
    let refused = run.with_token("42", &token);
    let env = with_env(
        run.env("connection-completion"),
        "KOMBO_API_KEY",
        "wrong-fake-key",
    );
    let (answers, _) = run.complete_with(&env, &[refused], 10_000);
    assert_eq!(codes(&answers), pairs(&[(502, "kombo_error")]));
    assert_eq!(
        answers[0].1["error"]["kombo_code"],
        "PLATFORM.AUTHENTICATION_INVALID"
    );

    // Unreachable, and hanging past the deadline: 504 inside the deadline.
    let closed = format!("http://127.0.0.1:{}/v1", free_port());
    let env = with_env(
        run.env("connection-completion"),
        "KOMBO_API_BASE_URL",
        &closed,
    );
    let unreachable = run.with_token("42", "t-unreachable");
    let (answers, _) = run.complete_with(&env, &[unreachable], 10_000);
    assert_eq!(codes(&answers), pairs(&[(504, "kombo_unreachable")]));
    let hang = run.with_token("42", "tok:hang");
    let started = std::time::Instant::now();
    let (answers, log) = run.complete_with(&run.env("connection-completion"), &[hang], 2_000);
    assert_eq!(
        codes(&answers),
        pairs(&[(504, "kombo_unreachable")]),
        "{log}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert!(run.stack.rows().await.is_empty());
    assert!(run.stack.alerts().await.is_empty());
}

/// DynamoDB failing after Kombo answered: 503 (retry), nothing half-written.
#[tokio::test]
async fn dynamodb_failing_after_kombo_answered_is_a_503_and_writes_nothing() {
    let mut run = Run::new("ddb-fails");
    let throttled = FaultServer::start("dynamodb-throttled");
    let env = with_env(
        run.env("connection-completion"),
        "AWS_ENDPOINT_URL_DYNAMODB",
        &throttled.endpoint,
    );
    let token = run.token("workday:t1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let (answers, log) = run.complete_with(&env, &[completion], 10_000);
    assert_eq!(
        codes(&answers),
        pairs(&[(503, "dependency_unavailable")]),
        "{log}"
    );
    assert!(run.stack.rows().await.is_empty());
    assert!(run.stack.alerts().await.is_empty());
    assert_eq!(run.kombo_calls().await.len(), 1);
}

/// On the wire: a fresh completion is one Kombo GET and the create's requests: its write,
/// with the failure record's read and the customer's other rows alongside; nothing else.
#[tokio::test]
async fn a_fresh_completion_costs_one_kombo_get_and_the_creates_requests() {
    let mut run = Run::new("completion-requests");
    let ddb = FaultServer::proxy(&run.stack.ddb_endpoint, &[]);
    let sns = FaultServer::proxy(&run.stack.endpoint, &[]);
    let token = run.token("workday:q1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let env = with_env(
        with_env(
            run.env("connection-completion"),
            "AWS_ENDPOINT_URL_DYNAMODB",
            &ddb.endpoint,
        ),
        "AWS_ENDPOINT_URL_SNS",
        &sns.endpoint,
    );
    // Before the request: the init's warm-up (one GetItem, one GetTopicAttributes).
    let (answers, log) = run.complete_with(&env, &[completion], 10_000);
    assert_eq!(codes(&answers), pairs(&[(200, "stored")]), "{log}");
    let mut ops: Vec<String> = ddb
        .operations()
        .await
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    // The create's two go out at once: their order on the wire is not fixed.
    ops[1..].sort();
    assert_eq!(
        ops,
        [
            "dynamodb:GetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem"
        ],
        "warm-up, then the create's write with the failure record's read and the customer's rows (a duplicate?) alongside (no failures, no other: nothing more)"
    );
    assert_eq!(run.kombo_calls().await.len(), 1);
    let sns_ops: Vec<String> = sns.operations().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(sns_ops, ["sns:GetTopicAttributes"], "the warm-up only");
}

/// docs/connect.md's backend snippet is real code: run as written against a loopback stand-in for
/// API Gateway, it calls both routes with the customer id as one path segment, the right
/// bodies, and a SigV4 signature for execute-api that verifies.
#[test]
fn the_readme_backend_snippet_signs_both_requests_with_sigv4() {
    let out: Value = serde_json::from_slice(&script("readme_sigv4_check.py", &[])).unwrap();
    let seen = out["seen"].as_array().unwrap();
    assert_eq!(seen.len(), 6, "{out}");
    assert_eq!(seen[0]["path"], "/customers/acme%2F42%20eu/connection-link");
    assert_eq!(seen[0]["body"]["end_user_organization_name"], "Acme, Inc.");
    assert_eq!(
        seen[1]["path"],
        "/customers/acme%2F42%20eu/connection-completion"
    );
    assert_eq!(seen[1]["body"], json!({ "token": "tok-123" }));
    assert_eq!(seen[2]["method"], "GET");
    assert_eq!(seen[2]["path"], "/customers/acme%2F42%20eu/integrations");
    // The handle the page sent back names the integration again; a made-up one, nothing.
    assert_eq!(seen[3]["method"], "GET");
    assert_eq!(
        seen[4]["path"],
        "/customers/acme%2F42%20eu/integrations/workday:8d1hpPsbjxUkoCoa1veLZGe5/reconnection-link"
    );
    assert_eq!(seen[4]["body"], json!({ "link_type": "EMBEDDED" }));
    assert_eq!(
        seen[5]["method"], "GET",
        "an unknown handle: the list read, no link asked"
    );
    for request in seen {
        assert_eq!(request["scope_ok"], true, "{request}");
        assert_eq!(request["signature_ok"], true, "{request}");
    }
    let answers = &out["answers"];
    assert_eq!(
        answers[1],
        json!([200, { "outcome": "stored", "tool": "workday" }])
    );
    let listed = &answers[2][0];
    assert_eq!(listed["reason"], "invalid");
    assert!(
        listed["handle"].as_str().is_some_and(|h| h.len() > 16),
        "{listed}"
    );
    assert_eq!(
        answers[3],
        json!([200, { "link": "https://connect.kombo.dev/relink" }])
    );
    assert_eq!(answers[4][0], 404, "an unknown handle reaches no route");
    assert_eq!(
        out["page_clean"], true,
        "the page saw an id or a digest: {out}"
    );
}

/// The notice's claim held by another invocation (the webhook sending it right now): the
/// completion's row is stored, so it answers 200, not 429; the holder's failure leaves the
/// notice to a retry of the webhook, which sends it once.
#[tokio::test]
async fn a_notice_in_flight_elsewhere_does_not_fail_the_completion() {
    use shared::ports::ClaimStore;
    let mut run = Run::new("notice-in-flight");
    let failed = run.webhook(FLOW_FAILED, &flow_failed_body("ev-f4", Some("42")));
    assert_eq!(
        run.deliver("connection-flow-failed", &[failed]),
        pairs(&[(200, "alerted")])
    );
    let app = run.stack.app().await;
    let notice = "resolved:connect:workday:h1";
    let now = time::OffsetDateTime::now_utc();
    app.effects
        .store
        .claim(notice, "the-webhook", now)
        .await
        .unwrap();
    let token = run.token("workday:h1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let (answers, log) = run.complete(&[completion]);
    assert_eq!(codes(&answers), pairs(&[(200, "stored")]), "{log}");
    assert_eq!(run.resolved_notices().await, 0);
    // The holder failed and released it: the webhook's retry sends it.
    app.effects
        .store
        .release(notice, "the-webhook")
        .await
        .unwrap();
    let hook = run.webhook(CREATED, &created_body("ev-h1", "workday:h1", Some("42")));
    assert_eq!(
        run.deliver("integration-created", &[hook]),
        pairs(&[(200, "resolved")])
    );
    assert_eq!(run.resolved_notices().await, 1);
}

/// A state change before either create (Kombo's order is not guaranteed): the completion
/// completes the row the state change recorded (its state kept, the answer the merged row),
/// and the webhook's create later fills in the rest and answers as a duplicate.
#[tokio::test]
async fn a_state_change_first_then_the_completion_then_the_webhook_keep_one_row() {
    let mut run = Run::new("state-first");
    let invalid = run.webhook(
        STATE_CHANGED,
        &state_changed_body(
            "ev-s1",
            "workday:s1",
            Some("42"),
            "INVALID",
            "FAILED",
            "2026-11-20T10:00:00Z",
        ),
    );
    assert_eq!(
        run.deliver("integration-state-changed", &[invalid]),
        pairs(&[(200, "state_recorded_alerted")])
    );
    let token = run.token("workday:s1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let (answers, log) = run.complete(&[completion]);
    assert_eq!(codes(&answers), pairs(&[(200, "stored")]), "{log}");
    let integration = &answers[0].1["integration"];
    assert_eq!(integration["state"], "INVALID", "{integration}");
    assert_eq!(integration["created_event_id"], "connect:workday:s1");
    let hook = run.webhook(CREATED, &created_body("ev-s2", "workday:s1", Some("42")));
    assert_eq!(
        run.deliver("integration-created", &[hook]),
        pairs(&[(200, "already_stored")])
    );
    let rows = run.stack.rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "INVALID");
    assert_eq!(rows[0]["category"], "LMS");
    assert_eq!(rows[0]["created_event_id"], "connect:workday:s1");
}

/// DynamoDB hanging at the create (after Kombo answered): 503 well inside the function's
/// 10 s, and nothing written or published.
#[tokio::test]
async fn dynamodb_hanging_at_the_create_is_a_503_inside_the_timeout() {
    let mut run = Run::new("ddb-hangs");
    let hang = FaultServer::proxy(&run.stack.ddb_endpoint, &["hang:UpdateItem"]);
    let env = with_env(
        run.env("connection-completion"),
        "AWS_ENDPOINT_URL_DYNAMODB",
        &hang.endpoint,
    );
    let token = run.token("workday:g1", Some("42")).await;
    let completion = run.with_token("42", &token);
    let started = std::time::Instant::now();
    let (answers, log) = run.complete_with(&env, &[completion], 10_000);
    assert_eq!(
        codes(&answers),
        pairs(&[(503, "dependency_unavailable")]),
        "{log}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stack.rows().await.is_empty());
    assert!(run.stack.alerts().await.is_empty());
}
