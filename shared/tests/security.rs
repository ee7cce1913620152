//! Security checks as tests: least privilege in `template.yaml`, no secret in the
//! template or in any error message.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use support::*;

fn template() -> Value {
    serde_json::from_slice(&script("local_aws.py", &["template"])).unwrap()
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// What each function's code calls, on which template resource. A permission beyond
/// this is one the function does not use; one missing breaks it in AWS.
/// What every function that alerts uses besides its own: the claim records (conditional
/// put, read, complete, release), the topic (publish, and a read to open the connection
/// at init), and the topic's key.
const ALERTING: &[(&str, &str)] = &[
    ("dynamodb:PutItem", "IdempotencyTable"),
    ("dynamodb:GetItem", "IdempotencyTable"),
    ("dynamodb:UpdateItem", "IdempotencyTable"),
    ("dynamodb:DeleteItem", "IdempotencyTable"),
    ("sns:Publish", "AlertTopic"),
    ("sns:GetTopicAttributes", "AlertTopic"),
    ("kms:GenerateDataKey", "AlertKey"),
    ("kms:Decrypt", "AlertKey"),
];

fn used() -> BTreeMap<&'static str, BTreeSet<(String, String)>> {
    let set = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect::<BTreeSet<_>>()
    };
    let alerting = |own: &[(&str, &str)]| set(own).union(&set(ALERTING)).cloned().collect();
    BTreeMap::from([
        (
            "IntegrationCreatedFunction",
            // insert (conditional put; get only where a server omits the old item), and
            // alerting for the unassigned notice
            alerting(&[
                ("dynamodb:PutItem", "MappingsTable"),
                ("dynamodb:GetItem", "MappingsTable"),
            ]),
        ),
        (
            "IntegrationDeletedFunction",
            set(&[
                ("dynamodb:UpdateItem", "MappingsTable"),
                ("dynamodb:GetItem", "MappingsTable"),
            ]), // GetItem: warm-up at init
        ),
        (
            "IntegrationStateChangedFunction",
            alerting(&[("dynamodb:UpdateItem", "MappingsTable")]),
        ),
        // Calls only Kombo: no AWS permission beyond its logs.
        ("ConnectionLinkFunction", set(&[])),
        (
            "CustomerIntegrationsFunction",
            set(&[
                ("dynamodb:Query", "MappingsTable/index/by-origin-id"),
                ("dynamodb:GetItem", "MappingsTable"),
            ]), // GetItem: warm-up at init
        ),
        (
            "DeleteIntegrationFunction",
            set(&[
                ("dynamodb:UpdateItem", "MappingsTable"),
                ("dynamodb:GetItem", "MappingsTable"),
            ]), // GetItem: warm-up at init
        ),
        ("ConnectionFlowFailedFunction", alerting(&[])),
    ])
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

#[test]
fn every_function_is_granted_exactly_what_its_code_uses() {
    let t = template();
    let used = used();
    let mut seen = 0;
    for (logical, res) in t["Resources"].as_object().unwrap() {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        seen += 1;
        let mut granted = BTreeSet::new();
        let policies = res["Properties"]
            .get("Policies")
            .map(as_list)
            .unwrap_or_default();
        for policy in policies {
            let statements = policy.get("Statement").unwrap_or_else(|| panic!("{logical}: only inline statements, no managed or SAM policy templates: {policy}"));
            for st in as_list(statements) {
                assert_eq!(st["Effect"], "Allow", "{logical}");
                for action in as_list(&st["Action"]) {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{logical}: wildcard action {action}");
                    assert_ne!(action, "dynamodb:Scan", "{logical}: Scan");
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
        let expected = used
            .get(logical.as_str())
            .unwrap_or_else(|| panic!("{logical}: add what it uses to this test"));
        assert_eq!(
            &granted, expected,
            "{logical}: granted permissions differ from what its code uses"
        );
    }
    assert_eq!(seen, used.len(), "every function is checked");
}

#[test]
fn the_secret_is_a_noecho_parameter_without_default_and_logs_have_retention() {
    let t = template();
    let p = &t["Parameters"]["KomboWebhookSecret"];
    assert_eq!(p["NoEcho"], true);
    assert!(
        p.get("Default").is_none(),
        "a default secret would be deployed by accident"
    );
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
            assert!(
                groups[0]["Properties"]["RetentionInDays"].is_object()
                    || groups[0]["Properties"]["RetentionInDays"].is_number()
            );
        }
    }
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
        if let Err(e) = secrets.verify(header.as_deref(), b"{\"other\":1}") {
            let text = format!("{e} {e:?} {}", e.body());
            assert!(!text.contains(SECRET) && !text.contains(&good), "{text}");
        }
    }
}
