//! Security checks as tests: least privilege in `template.yaml`, no secret in the
//! template or in any error message.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use support::*;

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// The logical id a policy resource names (`!GetAtt X.Arn`, `!Ref X`, or
/// `!Sub ${X.Arn}/rest`, named `X/rest`).
fn resource_name(r: &Value) -> String {
    if let Some(sub) = r.get("Fn::Sub").and_then(Value::as_str) {
        let rest = sub
            .strip_prefix("${")
            .unwrap_or_else(|| panic!("policy resource {sub} must start with a template ARN"));
        let (arn, tail) = rest.split_once('}').unwrap();
        return format!("{}{tail}", arn.strip_suffix(".Arn").unwrap());
    }
    if let Some(g) = r.get("Fn::GetAtt") {
        return g[0].as_str().unwrap().to_owned();
    }
    if let Some(x) = r.get("Ref") {
        return x.as_str().unwrap().to_owned();
    }
    panic!("policy resource must name a template resource, got {r}");
}

/// An `Fn::If` of the template as the recommended deployment resolves it (the secrets in
/// Secrets Manager: both secret parameters empty); `None` for `AWS::NoValue`.
fn recommended(v: &Value) -> Option<Value> {
    let Some(branches) = v.get("Fn::If") else {
        return Some(v.clone());
    };
    let holds = match branches[0].as_str().unwrap() {
        "WebhookSecretInSecretsManager" | "ApiKeyInSecretsManager" => true,
        other => panic!("the least-privilege test does not know the condition {other}"),
    };
    let chosen = &branches[if holds { 1 } else { 2 }];
    (chosen != &serde_json::json!({"Ref": "AWS::NoValue"})).then(|| chosen.clone())
}

/// What the template grants each function, as (action, logical resource id), after
/// checking the policy's form: inline statements only, no wildcard, no `Scan` but for the
/// reconcile run (the one function that reads the whole table).
fn granted() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let t = template();
    let mut all = BTreeMap::new();
    for (logical, res) in t["Resources"].as_object().unwrap() {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let mut granted = BTreeSet::new();
        let policies = res["Properties"]
            .get("Policies")
            .map(as_list)
            .unwrap_or_default();
        for policy in policies.iter().filter_map(recommended) {
            let statements = policy.get("Statement").unwrap_or_else(|| panic!("{logical}: only inline statements, no managed or SAM policy templates: {policy}"));
            for st in as_list(statements).iter().filter_map(recommended) {
                assert_eq!(st["Effect"], "Allow", "{logical}");
                for action in as_list(&st["Action"]) {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{logical}: wildcard action {action}");
                    if action == "dynamodb:Scan" {
                        assert_eq!(logical, "ReconcileFunction", "{logical}: Scan");
                    }
                    for r in as_list(&st["Resource"]) {
                        assert_ne!(r, "*", "{logical}: wildcard resource");
                        assert!(
                            !r.to_string().contains('*'),
                            "{logical}: wildcard in resource {r}"
                        );
                        granted.insert((action.to_owned(), resource_name(&r)));
                    }
                }
            }
        }
        all.insert(logical.clone(), granted);
    }
    all
}

fn active_body(event_id: &str) -> String {
    state_changed_body(
        event_id,
        "workday:lp",
        Some("42"),
        "ACTIVE",
        "PASSED",
        "2026-11-20T11:00:00Z",
    )
}

fn invalid_body(event_id: &str) -> String {
    state_changed_body(
        event_id,
        "workday:lp",
        Some("42"),
        "INVALID",
        "FAILED",
        "2026-11-20T10:00:00Z",
    )
}

/// Requests that take each function down every path that touches AWS: the happy path, a
/// duplicate, and for alerting functions a publish that fails (SNS answers 500 to all
/// three attempts, so the claim is released) followed by the retry that publishes.
fn exercise(stack: &Stack, function: &str, kombo: &FakeKombo) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("kombo-lp-{function}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let webhook = |name: &str, route: &str, body: String| event_file(&dir, name, route, &body);
    let backend = |name: &str, request: serde_json::Value| {
        let p = dir.join(format!("{name}.json"));
        std::fs::write(&p, request.to_string()).unwrap();
        p
    };
    let events: Vec<std::path::PathBuf> = match function {
        "integration-created" => vec![
            webhook(
                "a",
                CREATED,
                created_body("lp-c1", "workday:lp1", Some("42")),
            ),
            webhook(
                "b",
                CREATED,
                created_body("lp-c1", "workday:lp1", Some("42")),
            ),
            webhook("c", CREATED, created_body("lp-c2", "workday:lp2", None)),
            webhook("d", CREATED, created_body("lp-c2", "workday:lp2", None)),
            // Kombo has never heard of it: the reconcile run tombstones it.
            webhook(
                "e",
                CREATED,
                created_body("lp-c3", "workday:lp-gone", Some("42")),
            ),
        ],
        "integration-deleted" => vec![
            webhook(
                "a",
                DELETED,
                deleted_body("lp-d1", "workday:lp3", Some("42")),
            ),
            webhook(
                "b",
                DELETED,
                deleted_body("lp-d1", "workday:lp3", Some("42")),
            ),
        ],
        // A page (its first try meets the failing SNS), its duplicate, then two failures
        // of the same customer folded into its window (for the failure sweep below).
        "connection-flow-failed" => vec![
            webhook("a", FLOW_FAILED, flow_failed_body("lp-f1", Some("42"))),
            webhook("b", FLOW_FAILED, flow_failed_body("lp-f1", Some("42"))),
            webhook("c", FLOW_FAILED, flow_failed_body("lp-f1", Some("42"))),
            webhook("d", FLOW_FAILED, flow_failed_body("lp-f2", Some("42"))),
            webhook("e", FLOW_FAILED, flow_failed_body("lp-f3", Some("42"))),
        ],
        // A page (its first try meets the failing SNS: the claim on the row is released),
        // its retry, an INVALID that pages nobody, then a recovery whose notice meets the
        // failing SNS (its claim in the idempotency table released) and its retry.
        "integration-state-changed" => vec![
            webhook("a", STATE_CHANGED, invalid_body("lp-s1")),
            webhook("b", STATE_CHANGED, invalid_body("lp-s1")),
            webhook("c", STATE_CHANGED, invalid_body("lp-s2")),
            webhook("d", STATE_CHANGED, active_body("lp-s3")),
            webhook("e", STATE_CHANGED, active_body("lp-s3")),
        ],
        "customer-integrations" => vec![backend(
            "a",
            backend_event(
                "GET",
                "GET /customers/{origin_id}/integrations",
                "/customers/42/integrations",
                serde_json::json!({"origin_id": "42"}),
                None,
            ),
        )],
        "delete-integration" => vec![backend(
            "a",
            backend_event(
                "DELETE",
                "DELETE /integrations/{integration_id}",
                "/integrations/workday:lp1",
                serde_json::json!({"integration_id": "workday:lp1"}),
                None,
            ),
        )],
        "assign-customer" => vec![backend(
            "a",
            backend_event(
                "PUT",
                "PUT /integrations/{integration_id}/customer",
                "/integrations/workday:lp2/customer",
                serde_json::json!({"integration_id": "workday:lp2"}),
                Some(serde_json::json!({"origin_id": "42"})),
            ),
        )],
        // Any tool, then a named one (the customer's rows are read: a second of it?).
        "connection-link" => ["", "personio"]
            .iter()
            .map(|tool| {
                let mut body = serde_json::json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme"});
                if !tool.is_empty() {
                    body["integration_tool"] = serde_json::json!(tool);
                }
                backend(
                    if tool.is_empty() { "a" } else { "b" },
                    backend_event(
                        "POST",
                        "POST /customers/{origin_id}/connection-link",
                        "/customers/42/connection-link",
                        serde_json::json!({"origin_id": "42"}),
                        Some(body),
                    ),
                )
            })
            .collect(),
        // The customer's own integration (assigned above): its row read, Kombo asked.
        "reconnection-link" | "setup-link" => vec![backend(
            "a",
            backend_event(
                "POST",
                &format!("POST /customers/{{origin_id}}/integrations/{{integration_id}}/{function}"),
                &format!("/customers/42/integrations/workday:lp2/{function}"),
                serde_json::json!({"origin_id": "42", "integration_id": "workday:lp2"}),
                Some(serde_json::json!({"link_type": "EMBEDDED"})),
            ),
        )],
        // A login failing: its page meets the failing SNS (the claim released), its retry
        // sends it, the issue on the row; its resolution's notice; an environment-wide one.
        "issue-status-changed" => {
            let auth = "integration.authentication_failed";
            let at = "2026-11-20T10:00:00Z";
            let raised = issue_body("lp-i1", "raised", "iss_lp", auth, at, Some(("workday:lp2", "42")));
            vec![
                webhook("a", ISSUE, raised.clone()),
                webhook("b", ISSUE, raised),
                webhook(
                    "c",
                    ISSUE,
                    issue_body("lp-i2", "resolved", "iss_lp", auth, at, Some(("workday:lp2", "42"))),
                ),
                webhook("d", ISSUE, issue_body("lp-i3", "raised", "iss_env", "environment.webhook_failing", at, None)),
            ]
        }
        // The customer's failures on record are resolved: the notice meets the failing
        // SNS, then the retry (Kombo has used the token up: the customer index finds the
        // row by the token's digest) sends it.
        "connection-completion" => {
            let token = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(kombo.mint_token("workday:lp-cc", Some("42")));
            let request = || {
                backend_event(
                    "POST",
                    "POST /customers/{origin_id}/connection-completion",
                    "/customers/42/connection-completion",
                    serde_json::json!({"origin_id": "42"}),
                    Some(serde_json::json!({ "token": token })),
                )
            };
            vec![backend("a", request()), backend("b", request())]
        }
        // A pass whose notice meets the failing SNS, then the pass that sends it.
        "reconcile" | "failure-sweep" => vec![
            backend("a", serde_json::json!({})),
            backend("b", serde_json::json!({})),
        ],
        other => panic!("{other}: add the requests that exercise it to this test"),
    };
    let ddb = FaultServer::proxy(&stack.ddb_endpoint, &[]);
    // The first publish fails (the SDK's three tries); for the state changes, the third
    // publish too (the recovered notice after the page).
    let failing: &[&str] = if function == "integration-state-changed" {
        &["500:Publish:3", "pass:Publish:1", "500:Publish:3"]
    } else {
        &["500:Publish:3"]
    };
    let sns = FaultServer::proxy(&stack.endpoint, failing);
    let mut env = template_env(stack, function);
    env = with_env(env, "AWS_ENDPOINT_URL_DYNAMODB", &ddb.endpoint);
    env = with_env(env, "AWS_ENDPOINT_URL_SNS", &sns.endpoint);
    // Secrets Manager is on moto too, behind the same recording proxy; so is every other
    // service (the SDK's general endpoint): a call to any of them is recorded.
    env = with_env(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER", &sns.endpoint);
    env = with_env(env, "AWS_ENDPOINT_URL", &sns.endpoint);
    env = with_env(env, "KOMBO_API_BASE_URL", &kombo.base_url);
    if function == "failure-sweep" {
        // The folded failures' window (opened seconds ago) counts as closed.
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        env = with_env(env, "ALERT_FOLD_WINDOW_SECONDS", "1");
    }
    // The reconcile run's template timeout is 300 s; a webhook's 10 s.
    let deadline = if function == "reconcile" {
        300_000
    } else {
        10_000
    };
    let (result, log) = invoke_files(function, &env, &events, deadline);
    for (i, r) in result["responses"].as_array().unwrap().iter().enumerate() {
        if function == "reconcile" {
            assert!(r["response"]["checked"].is_number(), "{r}\n{log}");
            continue;
        }
        if function == "failure-sweep" {
            // The summary meets the failing SNS, then goes out.
            let expected = [(1, 0), (0, 1)][i];
            let got = (&r["response"]["failures"], &r["response"]["summaries"]);
            assert_eq!(
                (got.0.as_i64(), got.1.as_i64()),
                (Some(expected.0), Some(expected.1)),
                "{r}\n{log}"
            );
            continue;
        }
        let code = r["response"]["statusCode"].as_i64().unwrap();
        // The first delivery of an alert meets the failing SNS; everything else succeeds.
        assert!(
            code == 200 || code == 503,
            "{function} request {i}: {r}\n{log}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ops = rt.block_on(ddb.operations());
    ops.extend(rt.block_on(sns.operations()));
    ops
}

/// The logical id of a resource name or ARN the functions used (`…/index/NAME` kept).
fn logical_id(stack: &Stack, resource: &str) -> String {
    let (base, index) = match resource.split_once("/index/") {
        Some((b, i)) => (b, format!("/index/{i}")),
        None => (resource, String::new()),
    };
    let resources = stack.raw["resources"].as_object().unwrap();
    let logical = resources
        .iter()
        .find(|(_, v)| v.as_str() == Some(base))
        .unwrap_or_else(|| panic!("{resource} is no resource of the template"))
        .0;
    format!("{logical}{index}")
}

/// In the recommended mode no function's environment holds a secret value: the template's
/// conditions, resolved as CloudFormation resolves them, leave only the secrets' ARNs.
#[test]
fn no_secret_value_is_in_any_function_environment_in_the_recommended_mode() {
    let stack = Stack::with_secrets_manager("no-secret-env");
    let functions = stack.raw["functions"].as_object().unwrap();
    for (function, env) in functions {
        for (k, v) in env.as_object().unwrap() {
            assert!(
                k != "KOMBO_WEBHOOK_SECRET" && k != "KOMBO_API_KEY",
                "{function} has {k}"
            );
            let v = v.as_str().unwrap();
            assert!(
                v != SECRET && v != KOMBO_KEY,
                "{function}: {k} holds a secret value"
            );
        }
    }
    let resources = &stack.raw["resources"];
    for (var, logical, who) in [
        ("KOMBO_WEBHOOK_SECRET_ARN", "WebhookSecret", 5),
        ("KOMBO_API_KEY_ARN", "KomboApiKeySecret", 6),
    ] {
        let holders: Vec<&String> = functions
            .iter()
            .filter(|(_, env)| env.get(var) == Some(&resources[logical]))
            .map(|(f, _)| f)
            .collect();
        assert_eq!(holders.len(), who, "{var}: {holders:?}");
    }
    // And the plain mode still gives the values (for those who chose it).
    let plain = Stack::new("plain-env");
    assert_eq!(
        plain.raw["functions"]["integration-created"]["KOMBO_WEBHOOK_SECRET"],
        SECRET
    );
    assert!(
        plain.raw["functions"]["integration-created"]
            .get("KOMBO_WEBHOOK_SECRET_ARN")
            .is_none()
    );
}

/// Least privilege, proven both ways: the AWS operations each function's binary actually
/// performs (every AWS request it makes, to any service, recorded on the wire while it runs
/// every path) equal what the template grants it.
///
/// KMS is the one grant no recording can observe: the functions never call KMS. SNS calls
/// it server-side, under the publisher's identity, to encrypt a message for a topic with a
/// customer-managed key, so whatever publishes needs `kms:GenerateDataKey` and `kms:Decrypt`
/// on that key; moto stores a topic's key without encrypting (no local emulator calls
/// KMS). So the test derives the pair from what is observed — a `Publish` to a topic whose
/// `KmsMasterKeyId` is `AlertKey`, checked in the template — instead of recording it.
#[test]
fn every_function_is_granted_exactly_the_operations_it_performs() {
    // The recommended deployment: the secrets in Secrets Manager.
    let stack = Stack::with_secrets_manager("least-privilege");
    let kombo = FakeKombo::start();
    let granted = granted();
    // In lifecycle order: the later functions act on rows the earlier ones wrote.
    let order = [
        "integration-created",
        "integration-deleted",
        "connection-flow-failed",
        "integration-state-changed",
        "customer-integrations",
        "assign-customer",
        "reconnection-link",
        "setup-link",
        "issue-status-changed",
        "delete-integration",
        "connection-link",
        "reconcile",
        "failure-sweep",
        "connection-completion",
    ];
    let functions = stack.raw["functions"].as_object().unwrap();
    let checked: BTreeSet<&str> = order
        .iter()
        .map(|f| functions[*f]["_logical_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        checked,
        granted.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "every function is checked"
    );
    for function in order {
        let logical = functions[function]["_logical_id"].as_str().unwrap();
        let grants = &granted[logical];
        let mut used: BTreeSet<(String, String)> = exercise(&stack, function, &kombo)
            .into_iter()
            .map(|(action, resource)| {
                assert!(
                    !resource.is_empty(),
                    "{logical} called {action}: a service no function is granted"
                );
                (action, logical_id(&stack, &resource))
            })
            .collect();
        if used.iter().any(|(a, _)| a == "sns:Publish") {
            // Why the pair follows from a publish (see above): the topic uses AlertKey.
            assert_eq!(
                template()["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"],
                json!({"Ref": "AlertKey"})
            );
            used.insert(("kms:GenerateDataKey".into(), "AlertKey".into()));
            used.insert(("kms:Decrypt".into(), "AlertKey".into()));
        }
        assert_eq!(
            grants, &used,
            "{logical}: granted (left) differs from what its binary does (right)"
        );
    }
}

#[test]
fn the_secret_parameters_are_noecho_and_empty_by_default_and_logs_have_retention() {
    let t = template();
    for name in ["KomboWebhookSecret", "KomboApiKey"] {
        let p = &t["Parameters"][name];
        assert_eq!(p["NoEcho"], true, "{name}");
        // Empty: the recommended Secrets Manager mode; never a default secret value.
        assert_eq!(p["Default"], "", "{name}");
    }
    for (logical, res) in t["Resources"].as_object().unwrap() {
        if res["Type"] == "AWS::Serverless::Function" {
            let groups: Vec<_> = t["Resources"]
                .as_object()
                .unwrap()
                .values()
                .filter(|r| {
                    r["Type"] == "AWS::Logs::LogGroup"
                        && r["Properties"]["LogGroupName"]
                            .to_string()
                            .contains(&format!("${{{logical}}}"))
                })
                .collect();
            assert_eq!(groups.len(), 1, "{logical} needs one log group");
        }
    }
    // Every log group (each function's and the API's access log) keeps its logs for
    // `LogRetentionDays`, which defaults to the 30 days docs/deploying.md states.
    let groups: Vec<(&String, &Value)> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Logs::LogGroup")
        .collect();
    let functions = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .count();
    assert_eq!(
        groups.len(),
        functions + 1,
        "a group per function and the access log"
    );
    for (name, group) in groups {
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{name}"
        );
    }
    assert_eq!(t["Parameters"]["LogRetentionDays"]["Default"], 30);
    let deploying = std::fs::read_to_string(repo_root().join("docs/deploying.md")).unwrap();
    assert!(
        deploying.contains("| `LogRetentionDays` | 30 | CloudWatch log retention |"),
        "docs/deploying.md states the default retention"
    );
}

#[test]
fn no_error_message_carries_the_secret_or_the_signature() {
    use shared::signature::Secrets;
    let secrets = Secrets::parse(SECRET).unwrap();
    let body = b"{}";
    let good = secrets.sign(body);
    for header in [
        None,
        Some(good.clone().into_bytes()),
        Some(b"garbage".to_vec()),
        Some(format!("{good}=").into_bytes()),
    ] {
        let e = secrets
            .verify(header.as_deref(), b"{\"other\":1}")
            .expect_err("none of these verifies another body");
        let text = format!("{e} {e:?} {}", e.body());
        assert!(!text.contains(SECRET) && !text.contains(&good), "{text}");
    }
}

/// docs/configuration.md's table says which functions read each variable the template
/// sets: it must say exactly what `template.yaml` gives each function.
#[test]
fn the_readme_configuration_table_matches_the_template() {
    let stack_free = template();
    let mut set: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let globals: Vec<String> = stack_free["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut all = BTreeSet::new();
    for res in stack_free["Resources"].as_object().unwrap().values() {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        all.insert(binary.clone());
        let vars = res["Properties"]["Environment"]["Variables"].as_object();
        for k in vars
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(globals.iter())
        {
            set.entry(k.clone()).or_default().insert(binary.clone());
        }
    }
    let alerting: BTreeSet<String> = [
        "integration-created",
        "connection-completion",
        "connection-flow-failed",
        "integration-state-changed",
        "issue-status-changed",
        "reconcile",
        "failure-sweep",
    ]
    .map(String::from)
    .into();
    let webhooks: BTreeSet<String> = [
        "integration-created",
        "connection-flow-failed",
        "integration-state-changed",
        "integration-deleted",
        "issue-status-changed",
    ]
    .map(String::from)
    .into();
    let readme = std::fs::read_to_string(repo_root().join("docs/configuration.md")).unwrap();
    let section = readme
        .split("## Configuration")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut documented = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let used_by = cells[2];
        if used_by.contains("not set by the template") {
            assert!(
                !set.contains_key(&name),
                "{name}: docs/configuration.md says the template does not set it"
            );
            continue;
        }
        let mut who = BTreeSet::new();
        for part in used_by.split(", ") {
            match part {
                "all" => who.extend(all.iter().cloned()),
                "the webhook functions" => who.extend(webhooks.iter().cloned()),
                "functions that alert" => who.extend(alerting.iter().cloned()),
                f => {
                    assert!(
                        all.contains(f),
                        "{name}: docs/configuration.md names {f:?}, no such function"
                    );
                    who.insert(f.to_owned());
                }
            }
        }
        documented.insert(name, who);
    }
    assert_eq!(
        documented, set,
        "docs/configuration.md (left) vs template.yaml (right)"
    );
}

/// The local endpoints exist for `sam local` only: each comes from a parameter that is
/// empty by default, through a condition, and is `AWS::NoValue` (absent, never empty)
/// otherwise, so a deployed function never receives one.
#[test]
fn a_deployed_function_never_receives_a_local_or_empty_endpoint() {
    let t = template();
    let vars = &t["Globals"]["Function"]["Environment"]["Variables"];
    for (var, param, condition) in [
        (
            "AWS_ENDPOINT_URL",
            "LocalAwsEndpoint",
            "HasLocalAwsEndpoint",
        ),
        (
            "AWS_ENDPOINT_URL_SNS",
            "LocalAwsEndpoint",
            "HasLocalAwsEndpoint",
        ),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            "LocalDynamoDbEndpoint",
            "HasLocalDynamoDbEndpoint",
        ),
    ] {
        assert_eq!(
            vars[var],
            serde_json::json!({"Fn::If": [condition, {"Ref": param}, {"Ref": "AWS::NoValue"}]}),
            "{var}"
        );
        assert_eq!(
            t["Parameters"][param]["Default"], "",
            "{param} defaults to empty"
        );
        assert_eq!(
            t["Conditions"][condition],
            serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]}),
            "{condition}"
        );
    }
    // Nowhere else does the template set an endpoint.
    for (logical, res) in t["Resources"].as_object().unwrap() {
        let own = &res["Properties"]["Environment"]["Variables"];
        for var in [
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_SNS",
            "AWS_ENDPOINT_URL_DYNAMODB",
        ] {
            assert!(own.get(var).is_none(), "{logical} sets {var}");
        }
    }
}

/// What is deployed is arm64 unless the deployer says otherwise; `x86_64` is there for
/// `sam local` on an x86_64 machine, and nothing else may pick the architecture.
#[test]
fn functions_deploy_as_arm64_by_default() {
    let t = template();
    assert_eq!(t["Parameters"]["Architecture"]["Default"], "arm64");
    assert_eq!(
        t["Parameters"]["Architecture"]["AllowedValues"],
        serde_json::json!(["arm64", "x86_64"])
    );
    assert_eq!(
        t["Globals"]["Function"]["Architectures"],
        serde_json::json!([{"Ref": "Architecture"}])
    );
    for (logical, res) in t["Resources"].as_object().unwrap() {
        assert!(
            res["Properties"].get("Architectures").is_none(),
            "{logical} sets its own architecture"
        );
    }
}

/// The mappings table survives a `DeleteTable` (Retain only covers a stack deletion).
#[test]
fn the_table_is_deletion_protected() {
    let t = template();
    let table = &t["Resources"]["MappingsTable"];
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
}

/// Every grant to an AWS service principal (CloudWatch on the alert key and topic) holds only
/// for this account's own resources: `aws:SourceAccount` (no confused deputy).
#[test]
fn every_service_principal_grant_is_for_this_account_only() {
    let t = template();
    let statements = [
        &t["Resources"]["AlertKey"]["Properties"]["KeyPolicy"]["Statement"],
        &t["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"],
    ];
    let mut granted = 0;
    for s in statements.iter().flat_map(|s| s.as_array().unwrap()) {
        if s["Principal"]["Service"].is_null() {
            continue;
        }
        granted += 1;
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            json!({"Ref": "AWS::AccountId"}),
            "{s}"
        );
    }
    assert_eq!(granted, 2, "the key's and the topic's grant to CloudWatch");
}

/// The signature alarm, as CloudWatch evaluates its metric math over one 15-minute period:
/// `IF(FILL(mismatches, 0) >= N AND FILL(verified, 0) == 0, 1, 0)` against 1.
fn signature_alarm_fires(mismatches: u64, verified: u64) -> bool {
    let alarm = &template()["Resources"]["SignatureFailuresAlarm"]["Properties"];
    let metrics = alarm["Metrics"].as_array().unwrap();
    let metric = |id: &str| {
        let m = metrics.iter().find(|m| m["Id"] == id).unwrap();
        assert_eq!(m["MetricStat"]["Metric"]["Namespace"], "KomboWebhooks");
        assert_eq!(m["MetricStat"]["Stat"], "Sum");
        assert_eq!(m["MetricStat"]["Period"], 900);
        m["MetricStat"]["Metric"]["MetricName"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(metric("mismatches"), "signature_mismatches");
    assert_eq!(metric("verified"), "signatures_verified");
    let expression = metrics.iter().find(|m| m["ReturnData"] == true).unwrap()["Expression"]
        .as_str()
        .unwrap();
    let shape = regex_lite::Regex::new(
        r"^IF\(FILL\(mismatches, 0\) >= (\d+) AND FILL\(verified, 0\) == 0, 1, 0\)$",
    )
    .unwrap();
    let threshold: u64 = shape
        .captures(expression)
        .unwrap_or_else(|| panic!("the alarm's expression changed: {expression}"))[1]
        .parse()
        .unwrap();
    assert_eq!(threshold, 5, "docs/security.md: 5 in 15 minutes");
    assert_eq!(alarm["Threshold"], 1);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert!(alarm.get("OKActions").is_none(), "{alarm}");
    assert!(alarm["AlarmActions"].is_array());
    mismatches >= threshold && verified == 0
}

/// The signature alarm pages only when Kombo's own deliveries fail: a stranger's flood of
/// well-formed forged signatures while signed deliveries verify pages nobody; the same
/// flood with nothing verifying (a one-sided rotation) pages. The figures are what the built
/// binary emits (its EMF lines), summed as CloudWatch sums them.
#[test]
fn the_signature_alarm_fires_only_while_no_delivery_verifies() {
    let stack = Stack::new("sig-alarm");
    let dir = std::env::temp_dir().join(format!("kombo-sig-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let forged: Vec<std::path::PathBuf> = (0..6)
        .map(|i| {
            let body = created_body(&format!("sig-f{i}"), "workday:sig", Some("42"));
            let event = api_event(CREATED, &body, json!({"x-kombo-signature": "A".repeat(43)}));
            let p = dir.join(format!("forged-{i}.json"));
            std::fs::write(&p, serde_json::to_string(&event).unwrap()).unwrap();
            p
        })
        .collect();
    let good = event_file(
        &dir,
        "good",
        CREATED,
        &created_body("sig-ok", "workday:sig", Some("42")),
    );
    let emitted = |files: &[std::path::PathBuf]| {
        let (r, log) = invoke_files(
            "integration-created",
            &template_env(&stack, "integration-created"),
            files,
            10_000,
        );
        assert_eq!(answers(&r).len(), files.len(), "{log}");
        let (mut mismatches, mut verified) = (0, 0);
        for line in log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        {
            if line["_aws"].is_object() {
                mismatches += line["signature_mismatches"].as_u64().unwrap();
                verified += line["signatures_verified"].as_u64().unwrap();
            }
        }
        (mismatches, verified)
    };
    let mut flood_and_kombo = forged.clone();
    flood_and_kombo.push(good);
    let (m, v) = emitted(&flood_and_kombo);
    assert_eq!((m, v), (6, 1));
    assert!(!signature_alarm_fires(m, v), "a stranger's flood paged");
    let (m, v) = emitted(&forged);
    assert_eq!((m, v), (6, 0));
    assert!(signature_alarm_fires(m, v), "Kombo refused and nobody told");
    // The metrics the alarm reads are ones the webhooks declare (the EMF directive).
    let webhook = std::fs::read_to_string(repo_root().join("shared/src/webhook.rs")).unwrap();
    for name in ["signature_mismatches", "signatures_verified"] {
        assert!(webhook.contains(&format!(r#"{{"Name":"{name}","Unit":"Count"}}"#)));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `BackendCallerPolicy` grants `execute-api:Invoke` on exactly the IAM-authorized routes the
/// template declares (each `{param}` one `*`), none of the webhook routes; the stack outputs
/// its ARN, and every backend function is given `AllowedBackendCallers`.
#[test]
fn the_backend_caller_policy_covers_exactly_the_backend_routes() {
    let t = template();
    let mut routes = BTreeSet::new();
    let mut backend_functions = 0;
    for res in t["Resources"].as_object().unwrap().values() {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let mut iam = false;
        for event in res["Properties"]["Events"].as_object().unwrap().values() {
            let p = &event["Properties"];
            if p["Auth"]["Authorizer"] == "AWS_IAM" {
                iam = true;
                let path: Vec<String> = p["Path"]
                    .as_str()
                    .unwrap()
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') {
                            "*".into()
                        } else {
                            s.to_owned()
                        }
                    })
                    .collect();
                routes.insert(format!(
                    "{}{}",
                    p["Method"].as_str().unwrap(),
                    path.join("/")
                ));
            }
        }
        if iam {
            backend_functions += 1;
            assert_eq!(
                res["Properties"]["Environment"]["Variables"]["ALLOWED_BACKEND_CALLERS"],
                json!({"Ref": "AllowedBackendCallers"})
            );
        }
    }
    assert_eq!(backend_functions, 7);
    let statements =
        &t["Resources"]["BackendCallerPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(statements.as_array().unwrap().len(), 1);
    assert_eq!(statements[0]["Action"], "execute-api:Invoke");
    let prefix = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebhookApi}/$default/";
    let granted: BTreeSet<String> = statements[0]["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["Fn::Sub"]
                .as_str()
                .unwrap()
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{r}"))
                .to_owned()
        })
        .collect();
    assert_eq!(granted, routes);
    assert_eq!(
        t["Outputs"]["BackendCallerPolicyArn"]["Value"],
        json!({"Ref": "BackendCallerPolicy"})
    );
}

/// With `AllowedBackendCallers` set, a caller IAM let through but not on the list gets 403
/// `caller_not_allowed` from every backend route, before anything is read, written or asked
/// of Kombo; a session of an allowed role is served.
#[tokio::test]
async fn backend_routes_serve_only_the_allowed_callers() {
    let stack = Stack::new("callers");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-callers-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let as_caller = |name: &str, mut event: Value, arn: &str| {
        event["requestContext"]["authorizer"]["iam"]["userArn"] = json!(arn);
        let p = dir.join(format!("{name}.json"));
        std::fs::write(&p, event.to_string()).unwrap();
        p
    };
    let allowed_role = "arn:aws:iam::123456789012:role/service/team-backend";
    let session = "arn:aws:sts::123456789012:assumed-role/team-backend/i-0abc";
    let stranger = "arn:aws:sts::123456789012:assumed-role/data-science/notebook";
    let lookup = backend_event(
        "GET",
        "GET /customers/{origin_id}/integrations",
        "/customers/42/integrations",
        json!({"origin_id": "42"}),
        None,
    );
    let delete = backend_event(
        "DELETE",
        "DELETE /integrations/{integration_id}",
        "/integrations/workday:c1",
        json!({"integration_id": "workday:c1"}),
        None,
    );
    let complete = backend_event(
        "POST",
        "POST /customers/{origin_id}/connection-completion",
        "/customers/42/connection-completion",
        json!({"origin_id": "42"}),
        Some(json!({"token": "any"})),
    );
    for (function, event, expect_allowed) in [
        ("customer-integrations", &lookup, 200),
        ("delete-integration", &delete, 200),
        ("connection-completion", &complete, 400),
    ] {
        let env = with_env(
            with_env(
                template_env(&stack, function),
                "ALLOWED_BACKEND_CALLERS",
                &format!("arn:aws:iam::123456789012:user/ci, {allowed_role}"),
            ),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        );
        let calls_before = kombo.calls().await.len();
        let refused = as_caller(&format!("{function}-stranger"), event.clone(), stranger);
        let (r, log) = invoke_files(function, &env, &[refused], 10_000);
        assert_eq!(
            answers(&r),
            [(403, "caller_not_allowed".to_owned())],
            "{function}\n{log}"
        );
        assert_eq!(
            kombo.calls().await.len(),
            calls_before,
            "{function}: Kombo asked"
        );
        let served = as_caller(&format!("{function}-session"), event.clone(), session);
        let (r, log) = invoke_files(function, &env, &[served], 10_000);
        assert_eq!(
            response_bodies(&r)[0].0,
            expect_allowed,
            "{function}: {r}\n{log}"
        );
    }
    // The refused delete deleted nothing in Kombo: only the allowed one reached it.
    let deletes = kombo
        .calls()
        .await
        .into_iter()
        .filter(|(m, _)| m == "DELETE")
        .count();
    assert_eq!(deletes, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The backend is closed by default: the template has no default for `AllowedBackendCallers`
/// and its pattern refuses a value that lists nobody (empty, `" , "`), and a built function
/// given one anyway refuses every caller, an admin's session too, before Kombo or the table
/// is asked; `*` (said on purpose) leaves it to IAM.
#[tokio::test]
async fn the_backend_refuses_every_caller_when_the_allow_list_is_empty() {
    let t = template();
    let param = &t["Parameters"]["AllowedBackendCallers"];
    assert!(
        param.get("Default").is_none(),
        "a default opens it: {param}"
    );
    // CloudFormation's AllowedPattern matches the whole value.
    let pattern = regex_lite::Regex::new(param["AllowedPattern"].as_str().unwrap()).unwrap();
    for refused in ["", " , ", ",", "everyone", "arn:aws:iam::123:role/x", "*,*"] {
        assert!(!pattern.is_match(refused), "{refused:?} accepted");
    }
    for accepted in [
        "*",
        "arn:aws:iam::123456789012:role/team/backend",
        "arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:user/ci",
    ] {
        assert!(pattern.is_match(accepted), "{accepted:?} refused");
    }

    let stack = Stack::new("closed");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-closed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut lookup = backend_event(
        "GET",
        "GET /customers/{origin_id}/integrations",
        "/customers/42/integrations",
        json!({"origin_id": "42"}),
        None,
    );
    lookup["requestContext"]["authorizer"]["iam"]["userArn"] =
        json!("arn:aws:sts::123456789012:assumed-role/Admin/someone");
    let file = dir.join("lookup.json");
    std::fs::write(&file, lookup.to_string()).unwrap();
    for (allowed, expected) in [("", 403), (" , ", 403), ("*", 200)] {
        let env = with_env(
            with_env(
                template_env(&stack, "customer-integrations"),
                "ALLOWED_BACKEND_CALLERS",
                allowed,
            ),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        );
        let (r, log) = invoke_files(
            "customer-integrations",
            &env,
            std::slice::from_ref(&file),
            10_000,
        );
        let (code, body) = response_bodies(&r).swap_remove(0);
        assert_eq!(code, expected, "{allowed:?}: {body}\n{log}");
        if expected == 403 {
            assert_eq!(body["error"]["code"], "caller_not_allowed");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("AllowedBackendCallers is empty"),
                "{body}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `origin_id` path parameter is checked against DynamoDB's key limit: over it is the
/// caller's mistake (400 naming it), never a 500 that counts toward the 5xx alarm; Kombo is
/// not asked.
#[tokio::test]
async fn an_origin_id_over_the_key_limit_is_a_400_naming_it_on_every_route() {
    let stack = Stack::new("long-origin");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-long-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let long = "4".repeat(2049);
    for (function, method, route, body) in [
        (
            "customer-integrations",
            "GET",
            "GET /customers/{origin_id}/integrations",
            None,
        ),
        (
            "connection-link",
            "POST",
            "POST /customers/{origin_id}/connection-link",
            Some(
                json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme"}),
            ),
        ),
        (
            "connection-completion",
            "POST",
            "POST /customers/{origin_id}/connection-completion",
            Some(json!({"token": "t"})),
        ),
    ] {
        let suffix = route.rsplit('/').next().unwrap();
        let event = backend_event(
            method,
            route,
            &format!("/customers/{long}/{suffix}"),
            json!({ "origin_id": long }),
            body,
        );
        let path = dir.join(format!("{function}.json"));
        std::fs::write(&path, event.to_string()).unwrap();
        let env = with_env(
            template_env(&stack, function),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        );
        let (r, log) = invoke_files(function, &env, &[path], 10_000);
        let (status, body) = response_bodies(&r).swap_remove(0);
        assert_eq!(status, 400, "{function}: {body}\n{log}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("origin_id") && message.contains("2049 bytes"),
            "{function}: {message}"
        );
    }
    // The same for every `integration_id` path parameter (Kombo's delete is not called).
    for (function, method, route, path, body) in [
        (
            "delete-integration",
            "DELETE",
            "DELETE /integrations/{integration_id}",
            format!("/integrations/{long}"),
            None,
        ),
        (
            "assign-customer",
            "PUT",
            "PUT /integrations/{integration_id}/customer",
            format!("/integrations/{long}/customer"),
            Some(json!({"origin_id": "42"})),
        ),
        (
            "reconnection-link",
            "POST",
            "POST /customers/{origin_id}/integrations/{integration_id}/reconnection-link",
            format!("/customers/42/integrations/{long}/reconnection-link"),
            Some(json!({})),
        ),
    ] {
        let event = backend_event(
            method,
            route,
            &path,
            json!({ "origin_id": "42", "integration_id": long }),
            body,
        );
        let file = dir.join(format!("{function}-id.json"));
        std::fs::write(&file, event.to_string()).unwrap();
        let env = with_env(
            template_env(&stack, function),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        );
        let (r, log) = invoke_files(function, &env, &[file], 10_000);
        let (status, body) = response_bodies(&r).swap_remove(0);
        assert_eq!(status, 400, "{function}: {body}\n{log}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("integration_id") && message.contains("2049 bytes"),
            "{function}: {message}"
        );
    }
    assert!(kombo.calls().await.is_empty());

    // The longest origin_id an event may carry: its failure is counted and paged, never a
    // 500 (its record's key names it bounded).
    let longest = "5".repeat(2048);
    let body = flow_failed_body("long-origin-1", Some(&longest));
    let file = event_file(&dir, "long-failure", FLOW_FAILED, &body);
    let (r, log) = invoke_files(
        "connection-flow-failed",
        &template_env(&stack, "connection-flow-failed"),
        &[file],
        10_000,
    );
    let (status, body) = response_bodies(&r).swap_remove(0);
    assert_eq!(status, 200, "{body}\n{log}");
    assert_eq!(body["outcome"], "alerted", "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The plain-secret mode is an explicit opt-in: a secret parameter without
/// `SecretsInEnvironment=true` is refused at deploy by the template's rule (evaluated as
/// CloudFormation evaluates it), and only the opt-in together with a value puts it in the
/// environment.
#[test]
fn secrets_in_the_environment_need_the_explicit_opt_in() {
    let conditions = |params: &[&str]| {
        let mut args = vec![
            repo_root()
                .join("scripts/local_aws.py")
                .to_string_lossy()
                .into_owned(),
            "conditions".to_owned(),
        ];
        args.extend(params.iter().map(|p| (*p).to_owned()));
        std::process::Command::new(tool("python3"))
            .args(&args)
            .output()
            .unwrap()
    };
    let modes = |params: &[&str]| {
        let out = conditions(params);
        assert!(out.status.success(), "{params:?}: {out:?}");
        let c: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            c["WebhookSecretInSecretsManager"].as_bool().unwrap(),
            c["ApiKeyInSecretsManager"].as_bool().unwrap(),
        )
    };
    assert_eq!(modes(&[]), (true, true), "the default");
    assert_eq!(
        modes(&["SecretsInEnvironment=true"]),
        (true, true),
        "the opt-in alone changes nothing"
    );
    assert_eq!(
        modes(&[
            "SecretsInEnvironment=true",
            "KomboWebhookSecret=x",
            "KomboApiKey=y"
        ]),
        (false, false)
    );
    for given in ["KomboWebhookSecret=x", "KomboApiKey=y"] {
        let out = conditions(&[given]);
        assert!(!out.status.success(), "{given} without the opt-in deployed");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("PlainSecretsNeedTheOptIn") && said.contains("SecretsInEnvironment=true"),
            "{said}"
        );
    }
    let t = template();
    assert_eq!(t["Parameters"]["SecretsInEnvironment"]["Default"], "false");
}

/// The HTTP API access log's format, as API Gateway fills it: substituting every
/// `$context` variable with a value of its kind yields one JSON object holding exactly the
/// fields docs/operations.md lists (and the time, method, path, protocol and response length),
/// with `status` and `responseLatency` as numbers; no variable it uses can carry a body, a
/// header other than the User-Agent, a signature or an e-mail (the checkov skip on the log
/// group relies on this).
#[test]
fn the_access_log_format_is_json_with_the_documented_fields_and_no_body_or_header() {
    let t = template();
    let format = t["Resources"]["WebhookApi"]["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .expect("the HTTP API has an access log format")
        .to_owned();
    let variables: Vec<String> = regex_lite::Regex::new(r"\$context\.[A-Za-z.]+")
        .unwrap()
        .find_iter(&format)
        .map(|m| m.as_str().to_owned())
        .collect();
    // Only request metadata: none of these reads a body, a header (bar the User-Agent), a
    // query string or an authorizer's claims.
    let allowed = [
        "$context.requestId",
        "$context.requestTime",
        "$context.httpMethod",
        "$context.routeKey",
        "$context.path",
        "$context.status",
        "$context.protocol",
        "$context.responseLength",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.integrationStatus",
        "$context.integrationErrorMessage",
        "$context.identity.sourceIp",
        "$context.identity.userAgent",
        "$context.identity.userArn",
    ];
    for v in &variables {
        assert!(allowed.contains(&v.as_str()), "the access log uses {v}");
    }
    assert!(
        !format.contains("$input") && !format.contains("$request"),
        "{format}"
    );
    // Filled in as API Gateway does (a number where the format leaves it unquoted).
    let mut line = format.clone();
    let mut sorted = variables.clone();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in sorted {
        let value = match v.as_str() {
            "$context.status" | "$context.responseLatency" => "401",
            _ => "x-value",
        };
        line = line.replace(&v, value);
    }
    let entry: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the access log line is not JSON ({e}): {line}"));
    assert!(
        entry["status"].is_number() && entry["responseLatency"].is_number(),
        "{entry}"
    );
    let ops = std::fs::read_to_string(repo_root().join("docs/operations.md")).unwrap();
    let documented = ops
        .split("- **Access log** (`ApiAccessLogGroup`): one JSON line per HTTP API request with ")
        .nth(1)
        .expect("docs/operations.md describes the access log")
        .split("never a body")
        .next()
        .unwrap();
    let listed: BTreeSet<&str> = documented.split('`').skip(1).step_by(2).collect();
    let fields: BTreeSet<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let extra: BTreeSet<&str> = ["time", "method", "path", "protocol", "responseLength"].into();
    assert_eq!(
        fields,
        listed.union(&extra).copied().collect(),
        "the access log's fields vs docs/operations.md"
    );
}
