//! The built function binaries, run the way Lambda (and `sam local invoke`) runs them: a
//! Lambda Runtime API server on loopback (`scripts/runtime_api.py`) starts a binary with
//! the environment the template gives it, hands it events and records the answers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::{FakeKombo, Stack, repo_root, signed, tool};

/// Builds the function binaries (debug; incremental) and returns where they are.
pub fn binaries() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(repo_root())
            .args(["build", "--quiet", "--bins"])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --bins failed");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("target"));
        target.join("debug")
    })
}

/// Runs `function` on the runtime API server with `env`, feeding it the event files in
/// order, each with `deadline_ms` to its deadline. Returns runtime_api.py's report and
/// what the function logged.
pub fn invoke_files(
    function: &str,
    env: &[(String, String)],
    events: &[PathBuf],
    deadline_ms: u64,
) -> (Value, String) {
    invoke_hooked(function, env, events, deadline_ms, &[])
}

/// [`invoke_files`], running each `(n, shell command)` once `n` events have been handed
/// out and before the next is: a change between two invocations of one warm process.
pub fn invoke_hooked(
    function: &str,
    env: &[(String, String)],
    events: &[PathBuf],
    deadline_ms: u64,
    hooks: &[(usize, String)],
) -> (Value, String) {
    invoke_with(function, env, events, deadline_ms, hooks, None)
}

/// [`invoke_files`] holding the first event until `start_at` (wall clock): runs started
/// together with the same `start_at` handle their events at the same moment.
pub fn invoke_at(
    function: &str,
    env: &[(String, String)],
    events: &[PathBuf],
    deadline_ms: u64,
    start_at: std::time::SystemTime,
) -> (Value, String) {
    invoke_with(function, env, events, deadline_ms, &[], Some(start_at))
}

/// A moment `ms` from now, for [`invoke_at`]: room for the runs to start and initialize.
pub fn moment_in(ms: u64) -> std::time::SystemTime {
    std::time::SystemTime::now() + std::time::Duration::from_millis(ms)
}

/// Whether two of `runs` (runtime_api.py results) handled the same event (by position)
/// at overlapping times: proof that a concurrency test was concurrent.
pub fn overlapped(runs: &[Value]) -> bool {
    let span = |r: &Value, i: usize| {
        let x = &r["responses"][i];
        (
            x["handed_out_at_ms"].as_f64().unwrap(),
            x["answered_at_ms"].as_f64().unwrap(),
        )
    };
    let events = runs
        .iter()
        .map(|r| r["responses"].as_array().map_or(0, Vec::len))
        .min()
        .unwrap_or(0);
    (0..events).any(|i| {
        runs.iter().enumerate().any(|(a, ra)| {
            runs.iter().skip(a + 1).any(|rb| {
                let ((s1, e1), (s2, e2)) = (span(ra, i), span(rb, i));
                s1 < e2 && s2 < e1
            })
        })
    })
}

fn invoke_with(
    function: &str,
    env: &[(String, String)],
    events: &[PathBuf],
    deadline_ms: u64,
    hooks: &[(usize, String)],
    start_at: Option<std::time::SystemTime>,
) -> (Value, String) {
    let mut cmd = Command::new(tool("python3"));
    cmd.arg(repo_root().join("scripts/runtime_api.py"))
        // The run's time limit: a minute, and a second per event past sixty (runtime_api.py's
        // default), so a long run on a loaded machine is not cut short.
        .args(["--name", function])
        .args(["--deadline-ms", &deadline_ms.to_string()]);
    for (n, hook) in hooks {
        cmd.arg("--hook").arg(format!("{n}={hook}"));
    }
    if let Some(at) = start_at {
        let epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap();
        cmd.arg("--start-at")
            .arg(format!("{:.3}", epoch.as_secs_f64()));
    }
    cmd.arg(binaries().join(function))
        .args(events)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("runtime_api.py printed {stdout:?}: {e}"));
    (result, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// [`invoke_files`] with sample events from `events/` and Lambda's 10 s.
pub fn invoke(function: &str, env: &[(String, String)], events: &[&str]) -> (Value, String) {
    let paths: Vec<PathBuf> = events
        .iter()
        .map(|e| repo_root().join("events").join(e))
        .collect();
    invoke_files(function, env, &paths, 10_000)
}

/// Writes a signed API Gateway event for `body` on `route` into `dir`, named `name`.
pub fn event_file(dir: &Path, name: &str, route: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(&signed(route, body)).unwrap()).unwrap();
    path
}

/// The function's environment as the template declares it, resolved against `stack`.
pub fn template_env(stack: &Stack, function: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = stack.raw["functions"][function]
        .as_object()
        .unwrap_or_else(|| panic!("template.yaml has no function {function}"))
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", stack.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_SNS", stack.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.ddb_endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        env.push((k.into(), v.into()));
    }
    env
}

/// `env` with `key` set to `value` (replacing it if present).
pub fn with_env(mut env: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    env.retain(|(k, _)| k != key);
    env.push((key.into(), value.into()));
    env
}

/// (status, JSON body) of every answer, in order.
pub fn response_bodies(result: &Value) -> Vec<(i64, Value)> {
    result["responses"]
        .as_array()
        .unwrap_or_else(|| panic!("no responses: {result}"))
        .iter()
        .map(|r| {
            let resp = &r["response"];
            (
                resp["statusCode"].as_i64().unwrap(),
                serde_json::from_str(resp["body"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// (status, outcome or error code) of every answer, in order.
pub fn answers(result: &Value) -> Vec<(i64, String)> {
    response_bodies(result)
        .into_iter()
        .map(|(status, body)| {
            let what = body["outcome"]
                .as_str()
                .or(body["error"]["code"].as_str())
                .unwrap()
                .to_owned();
            (status, what)
        })
        .collect()
}

/// An IAM-authorized backend request as API Gateway delivers it (payload 2.0).
pub fn backend_event(
    method: &str,
    route_key: &str,
    path: &str,
    params: Value,
    body: Option<Value>,
) -> Value {
    json!({
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "pathParameters": params,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "local", "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": route_key, "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64,
            "authorizer": {"iam": {"accessKey": "AKIA", "accountId": "123456789012", "callerId": "x", "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/x", "userId": "x"}}
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

/// One failure-sweep run with `env` (its event written into `dir`), held until `start` if
/// given: its report (which must show no failure) and the whole result.
pub fn sweep_run(
    env: &[(String, String)],
    dir: &Path,
    start: Option<std::time::SystemTime>,
) -> (Value, Value) {
    let file = dir.join(format!("sweep-{}.json", uuid::Uuid::new_v4()));
    std::fs::copy(
        repo_root().join("events/failure-sweep-scheduled.json"),
        &file,
    )
    .unwrap();
    let (result, log) = match start {
        Some(at) => invoke_at("failure-sweep", env, &[file], 30_000, at),
        None => invoke_files("failure-sweep", env, &[file], 30_000),
    };
    let report = result["responses"][0]["response"].clone();
    assert!(report.is_object(), "no report: {result}\n{log}");
    assert_eq!(report["failures"], 0, "{report}\n{log}");
    (report, result)
}

/// `env` with a 1 s fold window (`ALERT_FOLD_WINDOW_SECONDS`).
pub fn one_second_window(env: Vec<(String, String)>) -> Vec<(String, String)> {
    with_env(env, "ALERT_FOLD_WINDOW_SECONDS", "1")
}

/// Work for the scheduled runs, through the webhook binaries: customer `origin`'s failure
/// paged and a second one folded into its window (a 1 s window, closed when this returns),
/// and `rows` stored for customer 7 (never `origin`: its create would resolve the failures),
/// of which Kombo no longer has `gone`.
pub async fn scheduled_work(
    stack: &Stack,
    kombo: &FakeKombo,
    dir: &Path,
    origin: &str,
    rows: &[&str],
    gone: &str,
) {
    assert_ne!(origin, "7", "the rows' customer");
    let failures: Vec<PathBuf> = (1..=2)
        .map(|i| {
            let id = format!("{origin}-f{i}");
            event_file(
                dir,
                &id,
                super::FLOW_FAILED,
                &super::flow_failed_body(&id, Some(origin)),
            )
        })
        .collect();
    let env = one_second_window(template_env(stack, "connection-flow-failed"));
    let (r, log) = invoke_files("connection-flow-failed", &env, &failures, 10_000);
    assert_eq!(
        answers(&r),
        [(200, "alerted".to_owned()), (200, "folded".to_owned())],
        "{log}"
    );
    let creates: Vec<PathBuf> = rows
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let event = format!("{origin}-c{i}");
            event_file(
                dir,
                &event,
                super::CREATED,
                &super::created_body(&event, id, Some("7")),
            )
        })
        .collect();
    let env = template_env(stack, "integration-created");
    let (r, log) = invoke_files("integration-created", &env, &creates, 10_000);
    assert!(
        answers(&r).iter().all(|(c, o)| *c == 200 && o == "stored"),
        "{r}\n{log}"
    );
    kombo.set_integration(gone, json!({"gone": true})).await;
    std::thread::sleep(std::time::Duration::from_millis(1_200));
}
