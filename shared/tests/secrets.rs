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
    assert_eq!(
        reads_in(&sm.operations().await),
        3,
        "init, then one re-read per refusal at most once a second\n{log}"
    );
    assert!(
        !log.contains(SECRET) && !log.contains(NEW),
        "a secret was logged:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The maximum-age re-read (`refresh_if_old`), with `SECRET_MAX_AGE_SECONDS` at 4 s instead
/// of 15 min: a value removed from Secrets Manager keeps being accepted from the cache until
/// the cached read is that old, and then not, although every delivery matched the cache.
#[tokio::test]
async fn a_cached_secret_older_than_its_maximum_age_is_read_again_before_use() {
    let stack = Stack::with_secrets_manager("max-age");
    let sm = FaultServer::proxy(&stack.endpoint, &[]);
    let env = template_env(&stack, "integration-deleted");
    let env = with_env(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER", &sm.endpoint);
    let env = with_env(env, "SECRET_REFRESH_SECONDS", "1");
    let env = with_env(env, "SECRET_MAX_AGE_SECONDS", "4");
    let dir = std::env::temp_dir().join(format!("kombo-age-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = [
        signed_with(&dir, "1-old", SECRET, "workday:a1"),
        // The operator removed the old value; the cached read is younger than 4 s:
        signed_with(&dir, "2-old", SECRET, "workday:a2"),
        // 4.5 s later the cached read is older than the maximum age:
        signed_with(&dir, "3-old", SECRET, "workday:a3"),
    ];
    let hooks = [
        (1, put_secret(&stack, NEW, 0.0)),
        (2, put_secret(&stack, NEW, 4.5)),
    ];
    let (result, log) = invoke_hooked("integration-deleted", &env, &events, 10_000, &hooks);
    let codes: Vec<i64> = answers(&result).iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes,
        [
            200, // read at init
            200, // the cached value, not older than its maximum age: no read
            401, // older: read again first, and the old value is gone
        ],
        "{result}\n{log}"
    );
    assert_eq!(
        reads_in(&sm.operations().await),
        2,
        "init, then the one re-read the maximum age caused\n{log}"
    );
    assert!(
        log.contains("older than its maximum age"),
        "the re-read says why:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cold start in the recommended mode reads the secret and warms the connections up at
/// the same time: with each of those round trips made 0.9 s long, the function asks for its
/// first event after about 0.9 s, not 1.8 s.
#[tokio::test]
async fn the_secret_read_and_the_warm_up_run_at_once_during_init() {
    let stack = Stack::with_secrets_manager("init-concurrent");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-init-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let created = event_file(
        &dir,
        "c",
        CREATED,
        &created_body("init-c1", "workday:init1", Some("42")),
    );
    let samples = repo_root().join("events");
    // The webhook secret, or the Kombo API key, read while the connections warm up.
    for (function, event) in [
        ("integration-created", created),
        (
            "connection-completion",
            samples.join("connection-completion.json"),
        ),
        (
            "delete-integration",
            samples.join("delete-integration.json"),
        ),
    ] {
        let aws = FaultServer::proxy(
            &stack.endpoint,
            &["slow:GetSecretValue", "slow:GetTopicAttributes"],
        );
        let ddb = FaultServer::proxy(&stack.ddb_endpoint, &["slow:GetItem"]);
        let env = template_env(&stack, function);
        let env = with_env(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER", &aws.endpoint);
        let env = with_env(env, "AWS_ENDPOINT_URL_SNS", &aws.endpoint);
        let env = with_env(env, "AWS_ENDPOINT_URL_DYNAMODB", &ddb.endpoint);
        let env = with_env(env, "KOMBO_API_BASE_URL", &kombo.base_url);
        let (result, log) = invoke_files(function, &env, &[event], 10_000);
        assert_eq!(answers(&result).len(), 1, "{function}: {result}\n{log}");
        let ready = result["ready_ms"].as_f64().unwrap();
        assert!(
            (900.0..1_600.0).contains(&ready),
            "{function}: ready after {ready} ms: the 0.9 s secret read and the 0.9 s warm-up ran one after the other (or were not reached)\n{log}"
        );
        assert!(
            aws.count().await >= 1 && ddb.count().await >= 1,
            "{function}: every slow request was made"
        );
        assert!(
            !log.contains("warm-up"),
            "{function}: the warm-up finished in time:\n{log}"
        );
    }
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

/// A shell command that writes the proxy's recorded operations to `file`.
fn snapshot_ops(proxy: &FaultServer, file: &std::path::Path) -> String {
    format!(
        "{} -c \"import urllib.request; open('{}', 'w').write(urllib.request.urlopen('{}/__ops').read().decode())\"",
        tool("python3").display(),
        file.display(),
        proxy.endpoint
    )
}

fn reads_in(ops: &[(String, String)]) -> usize {
    ops.iter()
        .filter(|(op, _)| op == "secretsmanager:GetSecretValue")
        .count()
}

/// An unsigned request (`signature` None) or one with that header, for integration-deleted.
fn unsigned(dir: &std::path::Path, name: &str, signature: Option<&str>) -> PathBuf {
    let body = deleted_body(&format!("d-{name}"), "workday:s1", Some("42"));
    let headers = match signature {
        Some(s) => {
            serde_json::json!({ "x-kombo-signature": s, "content-type": "application/json" })
        }
        None => serde_json::json!({ "content-type": "application/json" }),
    };
    let event = serde_json::to_value(api_event(DELETED, &body, headers)).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// Secrets Manager refusing every read after init (a deleted secret, a removed permission,
/// an outage): a flood of unsigned and malformed requests costs no read; forged ones cost
/// one (the first well-formed signature once the secret is old), never a second within
/// SECRET_REFRESH_SECONDS (5 s here, 60 s by default), counted on the wire. The cached
/// secret keeps serving up to four maximum ages; after that every signed request answers
/// 503 and the reason is logged once, not per request.
#[tokio::test]
async fn a_failing_secrets_manager_costs_one_read_a_minute_and_then_fails_closed() {
    let stack = Stack::with_secrets_manager("sm-failing");
    let sm = FaultServer::proxy(
        &stack.endpoint,
        &["pass:GetSecretValue:1", "denied:GetSecretValue"],
    );
    let env = with_env(
        template_env(&stack, "integration-deleted"),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        &sm.endpoint,
    );
    // A maximum age of 3 s: old after 3 s, refused after 12 s; one attempt per 5 s. (The
    // flood of 31 events takes about 1.5 s: seconds of margin either way.)
    let env = with_env(env, "SECRET_MAX_AGE_SECONDS", "3");
    let env = with_env(env, "SECRET_REFRESH_SECONDS", "5");
    let dir = std::env::temp_dir().join(format!("kombo-smfail-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let forged = shared::signature::Secrets::parse("someone-elses-fake-secret").unwrap();
    let forged_sig = forged.sign(b"{}");
    let mut events = vec![signed_with(&dir, "00-valid", SECRET, "workday:v0")];
    for i in 0..10 {
        events.push(unsigned(&dir, &format!("01-unsigned-{i}"), None));
        events.push(unsigned(
            &dir,
            &format!("02-malformed-{i}"),
            Some("not-a-signature"),
        ));
    }
    let after_unsigned = events.len();
    for i in 0..10 {
        events.push(unsigned(&dir, &format!("03-forged-{i}"), Some(&forged_sig)));
    }
    events.push(signed_with(&dir, "04-valid", SECRET, "workday:v1"));
    let before_limit = events.len();
    events.push(signed_with(&dir, "05-valid", SECRET, "workday:v2"));
    events.push(unsigned(&dir, "06-forged", Some(&forged_sig)));
    events.push(unsigned(&dir, "07-unsigned", None));
    let snapshot = dir.join("ops-after-unsigned.json");
    let hooks = [
        (1, "sleep 5.2".to_owned()),
        (after_unsigned, snapshot_ops(&sm, &snapshot)),
        (before_limit, "sleep 6.5".to_owned()),
    ];
    let (result, log) = invoke_hooked("integration-deleted", &env, &events, 10_000, &hooks);
    let mut expected = vec![200];
    expected.extend([401; 20]);
    expected.extend([401; 10]);
    expected.push(200); // the cached secret still serves while re-reads fail
    expected.extend([503, 503]); // past four maximum ages: refused, Kombo retries
    expected.push(401); // unsigned: refused from the cache, no read
    let codes: Vec<i64> = answers(&result).iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, expected, "{result}\n{log}");
    let unsigned_ops: Vec<(String, String)> =
        serde_json::from_str(&std::fs::read_to_string(&snapshot).unwrap()).unwrap();
    assert_eq!(
        reads_in(&unsigned_ops),
        1,
        "unsigned and malformed requests never read the secret (only init did)"
    );
    assert_eq!(
        reads_in(&sm.operations().await),
        3,
        "init, one failed re-read for the whole forged flood, one more 6.5 s later\n{log}"
    );
    assert_eq!(
        log.matches("secret not re-read").count(),
        2,
        "each failed re-read is logged once:\n{log}"
    );
    assert_eq!(
        log.matches("secret refused: too old").count(),
        1,
        "the refusal is said once a minute, not per request:\n{log}"
    );
    assert_eq!(
        stack.rows().await.len(),
        2,
        "only the two valid deliveries before the limit wrote"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
