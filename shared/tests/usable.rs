//! `usable`, the one attribute a backend filters on to ask "can I use this integration
//! now?", through the built binaries on DynamoDB Local/moto: every writer (both creates,
//! state changes, the delete webhook and route, assign, import, reconcile) leaves it what
//! the row's status, state and setup status say; rows written before the attribute existed
//! read right and are set by the reconcile run; the customer route filters on it; the
//! query the docs give returns exactly the usable rows.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::*;

struct Run {
    stack: Stack,
    kombo: FakeKombo,
    dir: PathBuf,
    n: std::cell::Cell<usize>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Run {
    fn new(name: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("usable-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Run {
            stack: Stack::new(name),
            kombo: FakeKombo::start(),
            dir,
            n: Default::default(),
        }
    }

    fn env(&self, function: &str) -> Vec<(String, String)> {
        with_env(
            template_env(&self.stack, function),
            "KOMBO_API_BASE_URL",
            &self.kombo.base_url,
        )
    }

    fn path(&self) -> PathBuf {
        self.n.set(self.n.get() + 1);
        self.dir.join(format!("event-{}.json", self.n.get()))
    }

    /// One signed webhook through its function's binary: (status, outcome).
    fn webhook(&self, route: &str, body: &str) -> (i64, String) {
        let function = route.rsplit('/').next().unwrap();
        let file = event_file(&self.dir, &format!("w{}", self.n.get()), route, body);
        self.n.set(self.n.get() + 1);
        self.one(function, file)
    }

    /// One backend request (`event`, as API Gateway delivers it) through `function`.
    fn backend(&self, function: &str, event: Value) -> (i64, Value) {
        let file = self.path();
        std::fs::write(&file, event.to_string()).unwrap();
        let (result, log) = invoke_files(function, &self.env(function), &[file], 10_000);
        let mut got = response_bodies(&result);
        assert_eq!(got.len(), 1, "{result}\n{log}");
        got.remove(0)
    }

    fn one(&self, function: &str, file: PathBuf) -> (i64, String) {
        let (result, log) = invoke_files(function, &self.env(function), &[file], 10_000);
        let got = answers(&result);
        assert_eq!(got.len(), 1, "{result}\n{log}");
        got[0].clone()
    }

    /// A reconcile run; its report.
    fn reconcile(&self) -> Value {
        let file = self.path();
        std::fs::write(&file, "{}").unwrap();
        let (result, log) = invoke_files("reconcile", &self.env("reconcile"), &[file], 60_000);
        let report = result["responses"][0]["response"].clone();
        assert!(report.is_object(), "no report: {result}\n{log}");
        report
    }

    /// The customer route for customer 42 with `query` (e.g. `usable=true`).
    fn customer(&self, query: &str) -> (i64, Value) {
        let mut event = backend_event(
            "GET",
            "GET /customers/{origin_id}/integrations",
            "/customers/42/integrations",
            json!({ "origin_id": "42" }),
            None,
        );
        event["rawQueryString"] = json!(query);
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), json!(v))
            })
            .collect();
        event["queryStringParameters"] = Value::Object(params);
        self.backend("customer-integrations", event)
    }

    async fn usable(&self, id: &str) -> Value {
        self.stack.row(id).await["usable"].clone()
    }

    async fn set_kombo(&self, id: &str, doc: Value) {
        self.kombo.set_integration(id, doc).await
    }

    /// A row as a version without `usable` wrote it (straight into the table).
    async fn put_old_row(&self, item: Value) {
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(item).unwrap();
        self.stack
            .ddb()
            .await
            .put_item()
            .table_name(&self.stack.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

fn state(event_id: &str, id: &str, state: &str, setup: &str, at: &str) -> String {
    json!({
        "id": event_id,
        "type": "integration-state-changed",
        "data": {
            "integration_id": id, "integration_tool": "workday", "integration_category": "LMS",
            "end_user": { "origin_id": "42", "creator_email": "jane.doe@example.com", "organization_name": "Acme, Inc." },
            "qa_status": "PASSED", "setup_status": setup, "state": state, "updated_at": at
        }
    })
    .to_string()
}

/// (integration id, `usable`) of every integration in a customer route's answer.
fn flags(answer: &Value) -> Vec<(String, Value)> {
    answer["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["integration_id"].as_str().unwrap().to_owned(),
                m["usable"].clone(),
            )
        })
        .collect()
}

/// The rule as the table contract states it, for the invariant over every row.
fn as_documented(row: &Value) -> bool {
    row["status"] == "ACTIVE"
        && !matches!(row["state"].as_str(), Some("INVALID" | "INACTIVE"))
        && !matches!(
            row["setup_status"].as_str(),
            Some("INCOMPLETE" | "FINAL_SYNC_PENDING")
        )
        && row["qa_status"] != "FAILED"
}

/// Every row holds `usable`, and it is what its own fields say.
async fn every_row_consistent(stack: &Stack, after: &str) {
    for row in stack.rows().await {
        assert_eq!(
            row["usable"],
            json!(as_documented(&row)),
            "after {after}: {row}"
        );
    }
}

#[tokio::test]
async fn every_writer_keeps_usable_what_the_row_says() {
    let run = Run::new("usable-writers");
    let ok = |got: (i64, String), outcome: &str| assert_eq!(got, (200, outcome.to_owned()));

    // The create: usable; each state change sets it from its own state and setup status.
    ok(
        run.webhook(CREATED, &created_body("c-1", "workday:u1", Some("42"))),
        "stored",
    );
    assert_eq!(run.usable("workday:u1").await, json!(true));
    let steps = [
        ("INVALID", "COMPLETED", false),
        ("ACTIVE", "COMPLETED", true),
        ("INACTIVE", "COMPLETED", false),
        ("ACTIVE", "INCOMPLETE", false),
        ("ACTIVE", "FINAL_SYNC_PENDING", false),
        ("ACTIVE", "COMPLETED", true),
    ];
    for (i, (st, setup, usable)) in steps.into_iter().enumerate() {
        let at = format!("2026-11-20T10:0{i}:00Z");
        let (code, _) = run.webhook(
            STATE_CHANGED,
            &state(&format!("s-1-{i}"), "workday:u1", st, setup, &at),
        );
        assert_eq!(code, 200);
        assert_eq!(
            run.usable("workday:u1").await,
            json!(usable),
            "{st} {setup}"
        );
    }
    // An older state arriving late changes nothing, `usable` included.
    run.webhook(
        STATE_CHANGED,
        &state(
            "s-1-old",
            "workday:u1",
            "INVALID",
            "COMPLETED",
            "2026-11-19T00:00:00Z",
        ),
    );
    assert_eq!(run.usable("workday:u1").await, json!(true));
    every_row_consistent(&run.stack, "state changes").await;

    // A state change before its create: the row it records is not usable, and the create
    // that completes it keeps that.
    run.webhook(
        STATE_CHANGED,
        &state(
            "s-2",
            "workday:u2",
            "INVALID",
            "COMPLETED",
            "2026-11-20T10:00:00Z",
        ),
    );
    assert_eq!(run.usable("workday:u2").await, json!(false));
    ok(
        run.webhook(CREATED, &created_body("c-2", "workday:u2", Some("42"))),
        "completed",
    );
    assert_eq!(run.usable("workday:u2").await, json!(false));

    // The delete webhook: a tombstone is never usable.
    ok(
        run.webhook(DELETED, &deleted_body("d-1", "workday:u1", Some("42"))),
        "deleted",
    );
    assert_eq!(run.usable("workday:u1").await, json!(false));

    // A create without customer, then the assign route: usable throughout.
    ok(
        run.webhook(CREATED, &created_body("c-3", "workday:u3", None)),
        "stored_unassigned",
    );
    let (code, body) = run.backend(
        "assign-customer",
        backend_event(
            "PUT",
            "PUT /integrations/{integration_id}/customer",
            "/integrations/workday:u3/customer",
            json!({ "integration_id": "workday:u3" }),
            Some(json!({ "origin_id": "42" })),
        ),
    );
    assert_eq!(
        (code, &body["outcome"]),
        (200, &json!("assigned")),
        "{body}"
    );
    assert_eq!(run.usable("workday:u3").await, json!(true));

    // The import makes a row: usable.
    let csv = run.dir.join("mappings.csv");
    std::fs::write(&csv, "origin_id,integration_id\n42,workday:u4\n").unwrap();
    let (code, out) = run.stack.import(&csv);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(run.usable("workday:u4").await, json!(true));

    // The Connect completion: Kombo's token says the setup is INCOMPLETE: not usable yet.
    let token = run
        .kombo
        .mint_token_with("workday:u5", Some("42"), "INCOMPLETE")
        .await;
    let completion = backend_event(
        "POST",
        "POST /customers/{origin_id}/connection-completion",
        "/customers/42/connection-completion",
        json!({ "origin_id": "42" }),
        Some(json!({ "token": token })),
    );
    let (code, body) = run.backend("connection-completion", completion);
    assert_eq!((code, &body["outcome"]), (200, &json!("stored")), "{body}");
    assert_eq!(run.usable("workday:u5").await, json!(false));
    // Its webhook create fills the row in and keeps it so; the COMPLETED state makes it usable.
    ok(
        run.webhook(CREATED, &created_body("c-5", "workday:u5", Some("42"))),
        "already_stored",
    );
    assert_eq!(run.usable("workday:u5").await, json!(false));
    run.webhook(
        STATE_CHANGED,
        &state(
            "s-5",
            "workday:u5",
            "ACTIVE",
            "COMPLETED",
            "2026-11-20T11:00:00Z",
        ),
    );
    assert_eq!(run.usable("workday:u5").await, json!(true));

    // The delete route: Kombo's DELETE, then the tombstone: not usable.
    let (code, body) = run.backend(
        "delete-integration",
        backend_event(
            "DELETE",
            "DELETE /integrations/{integration_id}",
            "/integrations/workday:u3",
            json!({ "integration_id": "workday:u3" }),
            None,
        ),
    );
    assert_eq!((code, &body["outcome"]), (200, &json!("deleted")), "{body}");
    assert_eq!(run.usable("workday:u3").await, json!(false));

    // The reconcile run: what Kombo says now (INVALID, gone) sets it like a webhook would.
    run.set_kombo("workday:u4", json!({ "status": "INVALID" }))
        .await;
    run.set_kombo("workday:u5", json!({ "gone": true })).await;
    run.set_kombo("workday:u2", json!({ "status": "INVALID" }))
        .await;
    let report = run.reconcile();
    assert_eq!(report["failures"], 0, "{report}");
    assert_eq!(run.usable("workday:u4").await, json!(false));
    assert_eq!(run.usable("workday:u5").await, json!(false));
    assert_eq!(run.stack.row("workday:u5").await["status"], "DELETED");
    every_row_consistent(&run.stack, "every writer").await;
}

#[tokio::test]
async fn rows_written_before_usable_existed_read_right_and_the_reconcile_run_sets_them() {
    let run = Run::new("usable-upgrade");
    // As an earlier version left them: an active row, an INACTIVE one, a tombstone, and a
    // row a state change recorded INVALID before its create (no `created_at`).
    let base = |id: &str| {
        json!({
            "integration_id": id, "origin_id": "42", "tool": "workday", "category": "LMS",
            "organization_name": "Acme, Inc.", "status": "ACTIVE",
            "created_at": "2026-10-01T00:00:00Z", "updated_at": "2026-10-01T00:00:00Z",
            "last_event_id": format!("c-{id}"), "created_event_id": format!("c-{id}"),
        })
    };
    run.put_old_row(base("workday:old-active")).await;
    let mut inactive = base("workday:old-inactive");
    inactive["state"] = json!("INACTIVE");
    inactive["setup_status"] = json!("COMPLETED");
    inactive["state_updated_at"] = json!("2026-10-02T00:00:00Z");
    inactive["state_updated_at_ms"] = json!(1_790_899_200_000_i64);
    run.put_old_row(inactive).await;
    let mut tomb = base("workday:old-deleted");
    tomb["status"] = json!("DELETED");
    tomb["deleted_at"] = json!("2026-10-03T00:00:00Z");
    run.put_old_row(tomb).await;
    run.put_old_row(json!({
        "integration_id": "workday:old-early", "origin_id": "42", "tool": "workday",
        "category": "LMS", "organization_name": "Acme, Inc.", "status": "ACTIVE",
        "updated_at": "2026-10-01T00:00:00Z", "last_event_id": "s-early",
        "state": "INVALID", "setup_status": "COMPLETED", "invalid_event_id": "s-early",
        "state_updated_at": "2026-10-01T00:00:00Z", "state_updated_at_ms": 1_790_812_800_000_i64,
    }))
    .await;

    // The customer route reads them right before anything set the attribute.
    let (code, all) = run.customer("include_deleted=true");
    assert_eq!(code, 200, "{all}");
    let usable = flags(&all);
    assert_eq!(
        usable,
        [
            ("workday:old-active".to_owned(), json!(true)),
            ("workday:old-deleted".to_owned(), json!(false)),
            ("workday:old-early".to_owned(), json!(false)),
            ("workday:old-inactive".to_owned(), json!(false)),
        ]
    );

    // The create that meets the early row (written without `usable`) sets it from the
    // row's INVALID state, not its own `true`.
    assert_eq!(
        run.webhook(
            CREATED,
            &created_body("c-early", "workday:old-early", Some("42"))
        ),
        (200, "completed".to_owned())
    );
    assert_eq!(run.usable("workday:old-early").await, json!(false));

    // One reconcile run (Kombo agrees with every row) sets the rest; a second sets nothing.
    run.set_kombo("workday:old-inactive", json!({ "status": "INACTIVE" }))
        .await;
    run.set_kombo("workday:old-early", json!({ "status": "INVALID" }))
        .await;
    let report = run.reconcile();
    assert_eq!(
        (
            &report["usable_set"],
            &report["failures"],
            &report["in_step"]
        ),
        (&json!(3), &json!(0), &json!(3)),
        "{report}"
    );
    assert_eq!(run.usable("workday:old-active").await, json!(true));
    assert_eq!(run.usable("workday:old-inactive").await, json!(false));
    assert_eq!(run.usable("workday:old-deleted").await, json!(false));
    every_row_consistent(&run.stack, "the reconcile run").await;
    let again = run.reconcile();
    assert_eq!(again["usable_set"], 0, "{again}");
}

#[tokio::test]
async fn the_customer_route_and_the_documented_query_return_only_usable_integrations() {
    let run = Run::new("usable-query");
    for (i, id) in [
        "workday:q-ok",
        "workday:q-invalid",
        "workday:q-setup",
        "workday:q-gone",
    ]
    .iter()
    .enumerate()
    {
        run.webhook(CREATED, &created_body(&format!("c-{i}"), id, Some("42")));
    }
    run.webhook(
        STATE_CHANGED,
        &state(
            "s-1",
            "workday:q-invalid",
            "INVALID",
            "COMPLETED",
            "2026-11-20T10:00:00Z",
        ),
    );
    run.webhook(
        STATE_CHANGED,
        &state(
            "s-2",
            "workday:q-setup",
            "ACTIVE",
            "INCOMPLETE",
            "2026-11-20T10:00:00Z",
        ),
    );
    run.webhook(DELETED, &deleted_body("d-1", "workday:q-gone", Some("42")));

    let ids = |body: &Value| -> Vec<String> {
        body["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["integration_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (code, usable) = run.customer("usable=true");
    assert_eq!(code, 200, "{usable}");
    assert_eq!(ids(&usable), ["workday:q-ok"]);
    assert_eq!(usable["integrations"][0]["usable"], true);
    // Without the filter: every mapping that exists, each saying whether it is usable.
    let (_, existing) = run.customer("");
    let flags = flags(&existing);
    assert_eq!(
        flags,
        [
            ("workday:q-invalid".to_owned(), json!(false)),
            ("workday:q-ok".to_owned(), json!(true)),
            ("workday:q-setup".to_owned(), json!(false)),
        ]
    );
    let (_, with_deleted) = run.customer("include_deleted=true&usable=true");
    assert_eq!(ids(&with_deleted), ["workday:q-ok"]);
    // A filter value that is neither true nor false is the caller's mistake, named.
    let (code, bad) = run.customer("usable=yes");
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("usable"),
        "{bad}"
    );

    // The query the table contract documents, run as written.
    let query = documented_query();
    let got: Vec<String> = run
        .stack
        .ddb()
        .await
        .query()
        .table_name(&run.stack.table)
        .index_name(&query.index)
        .key_condition_expression(&query.key_condition)
        .filter_expression(&query.filter)
        .set_expression_attribute_names(query.names.clone())
        .set_expression_attribute_values(Some(query.values.clone()))
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .map(|i| i["integration_id"].as_s().unwrap().clone())
        .collect();
    assert_eq!(got, ["workday:q-ok"], "the documented query: {query:?}");
}

#[derive(Debug)]
struct Query {
    index: String,
    key_condition: String,
    filter: String,
    names: Option<std::collections::HashMap<String, String>>,
    values: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
}

/// The `aws dynamodb query` of the table contract (docs/table-contract.md), its options
/// read as the AWS CLI reads them; the customer id is the one it names (42).
fn documented_query() -> Query {
    let doc = std::fs::read_to_string(repo_root().join("docs/table-contract.md")).unwrap();
    let start = doc
        .find("aws dynamodb query")
        .expect("docs/table-contract.md shows an aws dynamodb query");
    let block = &doc[start..doc[start..].find("```").unwrap() + start];
    let words = shell_words(&block.replace("\\\n", " "));
    let opt = |name: &str| -> Option<String> {
        words
            .iter()
            .position(|w| w == name)
            .map(|i| words[i + 1].clone())
    };
    let values: Value =
        serde_json::from_str(&opt("--expression-attribute-values").unwrap()).unwrap();
    Query {
        index: opt("--index-name").unwrap(),
        key_condition: opt("--key-condition-expression").unwrap(),
        filter: opt("--filter-expression").expect("the query filters"),
        names: opt("--expression-attribute-names").map(|n| serde_json::from_str(&n).unwrap()),
        values: values
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = if let Some(s) = v.get("S") {
                    aws_sdk_dynamodb::types::AttributeValue::S(s.as_str().unwrap().into())
                } else if let Some(b) = v.get("BOOL") {
                    aws_sdk_dynamodb::types::AttributeValue::Bool(b.as_bool().unwrap())
                } else {
                    panic!("an attribute value the test does not read: {v}")
                };
                (k.clone(), v)
            })
            .collect(),
    }
}

/// POSIX shell words of one command line: single quotes, double quotes, blanks.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}
