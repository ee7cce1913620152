//! The recommended secrets mode through the built binaries: the webhook secret and the
//! Kombo API key in Secrets Manager (moto), the functions given only their ARNs; a rotation
//! in the middle of a run of one warm process, with no deploy; a missing secret stops the
//! function at init naming its ARN.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::*;

const NEW: &str = "brand-new-fake-kombo-secret";

fn secret_arn(stack: &Stack) -> String {
    stack.raw["resources"]["WebhookSecret"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A shell command that puts `value` into the secret (as an operator's rotation would),
/// then waits `sleep` seconds.
fn put_secret(stack: &Stack, value: &str, sleep: f64) -> String {
    format!(
        "{} -c \"import boto3, time; boto3.client('secretsmanager', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing').put_secret_value(SecretId='{}', SecretString='{}'); time.sleep({})\"",
        tool("python3").display(),
        stack.endpoint,
        secret_arn(stack),
        value,
        sleep
    )
}

fn signed_with(dir: &std::path::Path, name: &str, secret: &str, id: &str) -> PathBuf {
    let body = deleted_body(&format!("d-{name}"), id, Some("42"));
    let mut event = serde_json::to_value(api_event(
        DELETED,
        &body,
        serde_json::json!({ "x-kombo-signature": shared::signature::Secrets::parse(secret).unwrap().sign(body.as_bytes()) }),
    ))
    .unwrap();
    event["headers"]["content-type"] = Value::from("application/json");
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[tokio::test]
async fn a_rotation_in_secrets_manager_takes_effect_without_a_deploy() {
    let stack = Stack::with_secrets_manager("rotation");
    let env = template_env(&stack, "integration-deleted");
    assert!(
        env.iter()
            .all(|(k, v)| k != "KOMBO_WEBHOOK_SECRET" && v != SECRET),
        "no secret value in the environment: {env:?}"
    );
    // Every Secrets Manager request goes through a recording proxy.
    let sm = FaultServer::proxy(&stack.endpoint, &[]);
    let env = with_env(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER", &sm.endpoint);
    let env = with_env(env, "SECRET_REFRESH_SECONDS", "1");
    let dir = std::env::temp_dir().join(format!("kombo-rot-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = [
        signed_with(&dir, "1-old", SECRET, "workday:r1"),
        // The operator puts `new,old` (then Kombo signs with the new one):
        signed_with(&dir, "2-new", NEW, "workday:r2"),
        signed_with(&dir, "3-old", SECRET, "workday:r3"),
        // The operator puts `new`:
        signed_with(&dir, "4-new", NEW, "workday:r4"),
        signed_with(&dir, "5-forged", "someone-elses-fake-secret", "workday:r5"),
        signed_with(&dir, "6-old", SECRET, "workday:r6"),
        signed_with(&dir, "7-forged", "someone-elses-fake-secret", "workday:r7"),
    ];
    let hooks = [
        (1, put_secret(&stack, &format!("{NEW},{SECRET}"), 1.2)),
        (3, put_secret(&stack, NEW, 1.2)),
    ];
    let (result, log) = invoke_hooked("integration-deleted", &env, &events, 10_000, &hooks);
    let codes: Vec<i64> = answers(&result).iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes,
        [
            200, // old, as read at init
            200, // new: no cached secret matched, re-read → new,old
            200, // old still accepted during the rotation
            200, // new (cached)
            401, // no match: re-read (a second passed) → only new is left
            401, // old: gone since that re-read; no second read within the second
            401, // no match again within the second: no read
        ],
        "{result}\n{log}"
    );
    let reads = sm
        .operations()
        .await
        .iter()
        .filter(|(op, _)| op == "secretsmanager:GetSecretValue")
        .count();
    assert_eq!(
        reads, 3,
        "init, then one re-read per refusal at most once a second\n{log}"
    );
    assert!(
        !log.contains(SECRET) && !log.contains(NEW),
        "a secret was logged:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_api_key_comes_from_secrets_manager_for_the_functions_that_call_kombo() {
    let stack = Stack::with_secrets_manager("apikey");
    let kombo = FakeKombo::start();
    let env = with_env(
        template_env(&stack, "connection-link"),
        "KOMBO_API_BASE_URL",
        &kombo.base_url,
    );
    assert!(env.iter().any(|(k, _)| k == "KOMBO_API_KEY_ARN"));
    assert!(
        env.iter().all(|(k, _)| k != "KOMBO_API_KEY"),
        "no key in the environment: {env:?}"
    );
    let (result, log) = invoke("connection-link", &env, &["connection-link.json"]);
    let resp = &result["responses"][0]["response"];
    assert_eq!(resp["statusCode"], 200, "{result}\n{log}");
    // The fake Kombo accepts only the local key: the function sent what Secrets Manager holds.
    let sent = kombo.requests().await;
    assert_eq!(
        sent[0]["headers"]["authorization"],
        format!("Bearer {KOMBO_KEY}")
    );
}

#[tokio::test]
async fn a_missing_secret_stops_the_function_at_init_naming_its_arn() {
    let stack = Stack::with_secrets_manager("missing");
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf";
    let env = with_env(
        template_env(&stack, "integration-deleted"),
        "KOMBO_WEBHOOK_SECRET_ARN",
        arn,
    );
    let (result, log) = invoke("integration-deleted", &env, &["integration-deleted.json"]);
    assert_ne!(result["exited_early"], Value::Null, "{result}");
    assert_eq!(result["responses"][0], Value::Null, "nothing answered");
    assert!(log.contains(arn), "the error names the ARN:\n{log}");
    assert!(stack.rows().await.is_empty());
}
