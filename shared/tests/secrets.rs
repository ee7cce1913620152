//! The recommended secrets mode through the built binaries: the webhook secret and the
//! Kombo API key in Secrets Manager (moto), the functions given only their ARNs; a rotation
//! in the middle of a run of one warm process, with no deploy; a missing secret stops the
//! function at init naming its ARN. The binaries' waits are lower bounds only (at least the
//! interval they pass); the timing rules themselves (reads inside an interval, the hour of
//! grace) are tested at the end on a clock the test moves (`Cached::load_on`).

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
    // The waits are lower bounds only (each at least the refresh interval); what the rule
    // says of reads inside the interval is the clock tests' below.
    let snapshot = dir.join("ops-after-5.json");
    let hooks = [
        (1, put_secret(&stack, &format!("{NEW},{SECRET}"), 1.2)),
        (3, put_secret(&stack, NEW, 1.2)),
        (5, snapshot_ops(&sm, &snapshot)),
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
            401, // old: gone since that re-read
            401, // forged
        ],
        "{result}\n{log}"
    );
    let ops: Vec<(String, String)> =
        serde_json::from_str(&std::fs::read_to_string(&snapshot).unwrap()).unwrap();
    assert_eq!(
        reads_in(&ops),
        3,
        "init, the new signature's re-read, the forged one's (each a second after the last)\n{log}"
    );
    assert!(
        !log.contains(SECRET) && !log.contains(NEW),
        "a secret was logged:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The maximum-age re-read (`refresh_if_old`) as the function is configured:
/// `SECRET_MAX_AGE_SECONDS` at 1 s instead of 15 min, and a wait longer than that (a lower
/// bound only: what happens before the maximum age is the clock test's below): a value
/// removed from Secrets Manager is refused although every delivery matched the cache.
#[tokio::test]
async fn a_cached_secret_older_than_its_maximum_age_is_read_again_before_use() {
    let stack = Stack::with_secrets_manager("max-age");
    let sm = FaultServer::proxy(&stack.endpoint, &[]);
    let env = template_env(&stack, "integration-deleted");
    let env = with_env(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER", &sm.endpoint);
    let env = with_env(env, "SECRET_REFRESH_SECONDS", "1");
    let env = with_env(env, "SECRET_MAX_AGE_SECONDS", "1");
    let dir = std::env::temp_dir().join(format!("kombo-age-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = [
        // The operator removes the old value; 1.5 s later the cached read is older than the
        // maximum age:
        signed_with(&dir, "1-old", SECRET, "workday:a1"),
    ];
    let hooks = [(0, put_secret(&stack, NEW, 1.5))];
    let (result, log) = invoke_hooked("integration-deleted", &env, &events, 10_000, &hooks);
    let codes: Vec<i64> = answers(&result).iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes,
        [401], // older: read again first, and the old value is gone
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
/// the same time: with each of those round trips made 0.9 s long by the proxies, the secret
/// read and the warm-up's DynamoDB read overlap (each proxy says when it held its request:
/// concurrency seen, not timed, so a loaded machine tells the same). The cold start's length
/// is a benchmark's (BENCHMARKS.md), not this test's.
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
        let spans = |all: Vec<(String, f64, f64)>, op: &str| {
            all.into_iter()
                .find(|(o, _, _)| o == op)
                .unwrap_or_else(|| panic!("{function}: no slowed {op}\n{log}"))
        };
        let (_, read_from, read_to) = spans(aws.slow_spans().await, "GetSecretValue");
        let (_, warm_from, warm_to) = spans(ddb.slow_spans().await, "GetItem");
        assert!(
            read_from < warm_to && warm_from < read_to,
            "{function}: the secret read ({read_from}..{read_to}) and the warm-up ({warm_from}..{warm_to}) ran one after the other\n{log}"
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
/// an outage), as the function is configured: a maximum age of 1 s and a wait past four of
/// them (a lower bound only; the flood's costs and the hour of grace on the clock test's
/// above): every signed request answers 503 (Kombo retries), an unsigned one 401, nothing is
/// written, and the refusal is logged once, not per request.
#[tokio::test]
async fn a_failing_secrets_manager_fails_closed_after_four_maximum_ages() {
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
    let env = with_env(env, "SECRET_MAX_AGE_SECONDS", "1");
    let env = with_env(env, "SECRET_REFRESH_SECONDS", "1");
    let dir = std::env::temp_dir().join(format!("kombo-smfail-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = [
        signed_with(&dir, "1-valid", SECRET, "workday:v1"),
        signed_with(&dir, "2-valid", SECRET, "workday:v2"),
        unsigned(&dir, "3-unsigned", None),
    ];
    let hooks = [(0, "sleep 4.5".to_owned())];
    let (result, log) = invoke_hooked("integration-deleted", &env, &events, 10_000, &hooks);
    let codes: Vec<i64> = answers(&result).iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [503, 503, 401], "{result}\n{log}");
    assert!(
        reads_in(&sm.operations().await) >= 2,
        "init, then at least one failed re-read\n{log}"
    );
    assert!(
        log.contains("secret not re-read"),
        "the failed re-read is logged:\n{log}"
    );
    assert_eq!(
        log.matches("secret refused: too old").count(),
        1,
        "the refusal is said once a minute, not per request:\n{log}"
    );
    assert!(stack.rows().await.is_empty(), "nothing written");
    assert!(!log.contains(SECRET), "a secret was logged:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

// The timing rules on a clock the test moves (`Cached::load_on`): the production code with
// Secrets Manager on moto behind the recording proxy, a delivery served as the function
// serves it, the default refresh (60 s) and maximum age (15 min); time moves only when the
// test says, so no figure depends on how fast the machine is.

/// A clock of one test: the moment it was first read, plus what the test moved it by.
macro_rules! test_clock {
    ($name:ident) => {
        mod $name {
            use std::sync::LazyLock;
            use std::sync::atomic::{AtomicU64, Ordering};
            use std::time::{Duration, Instant};
            static START: LazyLock<Instant> = LazyLock::new(Instant::now);
            static MOVED_MS: AtomicU64 = AtomicU64::new(0);
            pub fn now() -> Instant {
                *START + Duration::from_millis(MOVED_MS.load(Ordering::SeqCst))
            }
            pub fn advance(seconds: u64) {
                MOVED_MS.fetch_add(seconds * 1000, Ordering::SeqCst);
            }
        }
    };
}

/// The app of `stack` whose webhook secret is read from Secrets Manager through `proxy`,
/// its ages on `clock`.
async fn app_on(
    stack: &Stack,
    proxy: &FaultServer,
    clock: fn() -> std::time::Instant,
) -> shared::AwsApp {
    let sm = shared::clients::secretsmanager_client(&Stack::sdk_at(&proxy.endpoint).await);
    let source = shared::secrets::Source::new(sm, secret_arn(stack));
    let secrets =
        shared::secrets::Cached::load_on(source, shared::signature::Secrets::parse, clock)
            .await
            .unwrap();
    shared::App {
        secrets,
        effects: stack.app().await.effects,
    }
}

/// A delete delivery signed with `secret` (`None`: unsigned; `Some("")`: a malformed header).
fn delivery(
    id: &str,
    secret: Option<&str>,
) -> lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest {
    let body = deleted_body(&format!("d-{id}"), &format!("workday:{id}"), Some("42"));
    let headers = match secret {
        None => serde_json::json!({ "content-type": "application/json" }),
        Some("") => {
            serde_json::json!({ "x-kombo-signature": "not-a-signature", "content-type": "application/json" })
        }
        Some(s) => serde_json::json!({
            "x-kombo-signature": shared::signature::Secrets::parse(s).unwrap().sign(body.as_bytes()),
            "content-type": "application/json",
        }),
    };
    api_event(DELETED, &body, headers)
}

async fn put_value(stack: &Stack, value: &str) {
    aws_sdk_secretsmanager::Client::new(&stack.sdk().await)
        .put_secret_value()
        .secret_id(secret_arn(stack))
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

async fn served(app: &shared::AwsApp, id: &str, secret: Option<&str>) -> i64 {
    status(
        &app.serve::<shared::event::IntegrationDeleted>(&delivery(id, secret))
            .await,
    )
}

test_clock!(rotation_clock);

/// A rotation (`new,old`, then `new`) on the clock: a signature matching no cached secret
/// re-reads it at most once a minute (init included), whatever the refusals in between.
#[tokio::test]
async fn a_rotation_re_reads_at_most_once_a_minute_on_a_clock_the_test_moves() {
    let stack = Stack::with_secrets_manager("rotation-clock");
    let sm = FaultServer::proxy(&stack.endpoint, &[]);
    let app = app_on(&stack, &sm, rotation_clock::now).await;
    let reads = || async { reads_in(&sm.operations().await) };
    assert_eq!(served(&app, "r1", Some(SECRET)).await, 200);
    put_value(&stack, &format!("{NEW},{SECRET}")).await;
    // Within the minute of init: the new signature is refused, nothing read.
    rotation_clock::advance(59);
    assert_eq!(served(&app, "r2", Some(NEW)).await, 401);
    assert_eq!(reads().await, 1, "init only");
    // A minute after init: read again, and both are accepted.
    rotation_clock::advance(1);
    assert_eq!(served(&app, "r3", Some(NEW)).await, 200);
    assert_eq!(served(&app, "r4", Some(SECRET)).await, 200);
    assert_eq!(reads().await, 2);
    // The old one removed: the next miss a minute later reads `new` only.
    put_value(&stack, NEW).await;
    rotation_clock::advance(60);
    assert_eq!(
        served(&app, "r5", Some("someone-elses-fake-secret")).await,
        401
    );
    assert_eq!(
        served(&app, "r6", Some(SECRET)).await,
        401,
        "the old one is gone"
    );
    assert_eq!(served(&app, "r7", Some(NEW)).await, 200);
    // Refusals within the minute read nothing; the first a minute after the read does.
    rotation_clock::advance(59);
    for i in 0..5 {
        let forged = served(&app, &format!("f{i}"), Some("someone-elses-fake-secret")).await;
        assert_eq!(forged, 401);
    }
    assert_eq!(reads().await, 3, "one read a minute");
    rotation_clock::advance(1);
    assert_eq!(
        served(&app, "f5", Some("someone-elses-fake-secret")).await,
        401
    );
    assert_eq!(reads().await, 4);
}

test_clock!(max_age_clock);

/// A removed value keeps being accepted from the cache until the cached read is fifteen
/// minutes old, and then not, although every delivery matched the cache.
#[tokio::test]
async fn a_cached_secret_is_read_again_once_its_maximum_age_passed_on_a_clock_the_test_moves() {
    let stack = Stack::with_secrets_manager("max-age-clock");
    let sm = FaultServer::proxy(&stack.endpoint, &[]);
    let app = app_on(&stack, &sm, max_age_clock::now).await;
    put_value(&stack, NEW).await;
    max_age_clock::advance(15 * 60 - 1);
    assert_eq!(
        served(&app, "a1", Some(SECRET)).await,
        200,
        "younger: the cache"
    );
    assert_eq!(reads_in(&sm.operations().await), 1);
    max_age_clock::advance(1);
    assert_eq!(
        served(&app, "a2", Some(SECRET)).await,
        401,
        "read again first"
    );
    assert_eq!(reads_in(&sm.operations().await), 2);
}

test_clock!(failing_clock);

/// Secrets Manager refusing every read after init: a flood of unsigned and malformed
/// requests costs no read, a forged flood one; the cached secret serves up to four maximum
/// ages (an hour), then every signed request is a 503 until a read succeeds.
#[tokio::test]
async fn a_failing_secrets_manager_costs_one_read_a_minute_and_then_fails_closed_on_a_clock_the_test_moves()
 {
    let stack = Stack::with_secrets_manager("sm-failing-clock");
    let sm = FaultServer::proxy(
        &stack.endpoint,
        &["pass:GetSecretValue:1", "denied:GetSecretValue"],
    );
    let app = app_on(&stack, &sm, failing_clock::now).await;
    let reads = || async { reads_in(&sm.operations().await) };
    failing_clock::advance(15 * 60);
    for i in 0..10 {
        assert_eq!(served(&app, &format!("u{i}"), None).await, 401);
        assert_eq!(served(&app, &format!("m{i}"), Some("")).await, 401);
    }
    assert_eq!(
        reads().await,
        1,
        "unsigned and malformed never read (only init did)"
    );
    for i in 0..10 {
        let forged = served(&app, &format!("f{i}"), Some("someone-elses-fake-secret")).await;
        assert_eq!(forged, 401);
    }
    assert_eq!(
        reads().await,
        2,
        "one failed re-read for the whole forged flood"
    );
    assert_eq!(
        served(&app, "v1", Some(SECRET)).await,
        200,
        "the cache still serves"
    );
    // Four maximum ages: still served (a re-read a minute, each failing).
    failing_clock::advance(45 * 60);
    assert_eq!(served(&app, "v2", Some(SECRET)).await, 200);
    assert_eq!(reads().await, 3);
    // Past them: refused, Kombo retries; unsigned is still a 401, read from nothing.
    failing_clock::advance(1);
    assert_eq!(served(&app, "v3", Some(SECRET)).await, 503);
    assert_eq!(served(&app, "v4", Some(SECRET)).await, 503);
    assert_eq!(served(&app, "u", None).await, 401);
    assert_eq!(reads().await, 3, "no second attempt within the minute");
    assert_eq!(
        stack.rows().await.len(),
        2,
        "only the two valid deliveries served from the cache wrote"
    );
}
