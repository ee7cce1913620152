//! Test harness: a real DynamoDB/SNS/SQS API server (moto) on a free loopback port,
//! started once per test process and killed with it, and per test a fresh set of the
//! resources `template.yaml` declares (created by `scripts/local_aws.py`).
#![allow(dead_code)]

pub mod desk;
pub mod lambda;
#[allow(unused_imports)]
pub use desk::Desk;
#[allow(unused_imports)]
pub use lambda::*;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde_json::{Value, json};
use shared::AwsApp;
use shared::config::Settings;
use shared::signature::Secrets;

/// Obviously fake: the secret the sample events are signed with.
pub const SECRET: &str = "local-fake-kombo-secret-not-real";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Python tool (`python3`, `moto_server`): the one in the project's virtual environment
/// (`.venv/tools`, made by `scripts/deps.sh test`) where it exists, so that `cargo test`
/// run by hand finds what `make test` installed; otherwise whatever PATH has.
pub fn tool(name: &str) -> PathBuf {
    let local = repo_root().join(".venv/tools/bin").join(name);
    if local.exists() {
        local
    } else {
        PathBuf::from(name)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawns `cmd` through `scripts/tied.py` from a thread that lives as long as the test
/// process and holds the wrapper's stdin: when the test process ends, for whatever reason,
/// the pipe closes and the wrapper stops the service (Linux and macOS alike). Returns the
/// service's stdout.
fn spawn_tied_to_process(cmd: Command) -> std::process::ChildStdout {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tied = Command::new(tool("python3"));
        tied.arg(repo_root().join("scripts/tied.py"))
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = tied
            .spawn()
            .expect("spawning a test service (run `scripts/deps.sh test`?)");
        tx.send(child.stdout.take().unwrap()).unwrap();
        // Holds the stdin pipe open for the life of the test process (`wait` would close
        // it if the child still owned it).
        let _stdin = child.stdin.take();
        let _ = child.wait();
    });
    rx.recv().unwrap()
}

/// Starts `python3 scripts/<script> <args>` (a loopback service that prints `PORT <n>`
/// once listening) with `env` set, tied to this process; returns `<scheme>://127.0.0.1:<n>`.
fn start_service(script: &str, args: &[&str], env: &[(&str, &str)], scheme: &str) -> String {
    let mut cmd = Command::new(tool("python3"));
    cmd.arg(repo_root().join("scripts").join(script)).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let stdout = spawn_tied_to_process(cmd);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("{script} did not print its port: {line:?}"));
    format!("{scheme}://127.0.0.1:{port}")
}

fn start_script_service(script: &str, args: &[&str]) -> String {
    start_service(script, args, &[], "http")
}

/// The moto server of this test process: `http://127.0.0.1:PORT`.
pub fn moto() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let port = free_port();
        let mut cmd = Command::new(tool("moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        spawn_tied_to_process(cmd);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        format!("http://127.0.0.1:{port}")
    })
}

/// The DynamoDB engine of this test process: Amazon's DynamoDB Local (the default), or
/// moto's DynamoDB with `TEST_DYNAMODB=moto`. Started once, named once on stderr; no
/// silent fallback from one to the other.
pub struct Engine {
    pub endpoint: String,
    pub name: String,
}

pub fn dynamodb() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let engine = match std::env::var("TEST_DYNAMODB").as_deref() {
            Ok("moto") => Engine {
                endpoint: moto().to_owned(),
                name: format!(
                    "moto {}",
                    String::from_utf8_lossy(&script_with(
                        &tool("python3"),
                        &["-c", "import moto; print(moto.__version__)"]
                    ))
                    .trim()
                ),
            },
            Ok("local") | Err(_) => Engine {
                endpoint: start_script_service("dynamodb_local.py", &[]),
                name: format!(
                    "DynamoDB Local {}",
                    String::from_utf8_lossy(&script("dynamodb_local.py", &["--version"])).trim()
                ),
            },
            Ok(other) => panic!("TEST_DYNAMODB={other}: expected local or moto"),
        };
        // Straight to the process's stderr (not the test's captured output), so every run
        // says which engine it tested against.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "DynamoDB engine for these tests: {} at {}\n",
                engine.name, engine.endpoint
            )
            .as_bytes(),
        );
        engine
    })
}

/// A loopback endpoint that fails every request like AWS (`scripts/fault_server.py`).
pub struct FaultServer {
    pub endpoint: String,
}

impl FaultServer {
    /// `fault`: `dynamodb-throttled` or `sns-500`.
    pub fn start(fault: &str) -> FaultServer {
        FaultServer {
            endpoint: start_script_service("fault_server.py", &[fault]),
        }
    }

    /// A proxy to `upstream` that applies `rules` (`hang:Publish`, `apply-then-500:PutItem:1`,
    /// ...; see `scripts/fault_server.py`) and forwards everything else.
    pub fn proxy(upstream: &str, rules: &[&str]) -> FaultServer {
        let mut args = vec!["proxy", upstream];
        args.extend_from_slice(rules);
        FaultServer {
            endpoint: start_script_service("fault_server.py", &args),
        }
    }

    /// As a proxy: each request a `slow` rule slowed, as (operation, arrived, answered) in
    /// epoch seconds.
    pub async fn slow_spans(&self) -> Vec<(String, f64, f64)> {
        reqwest::get(format!("{}/__slow", self.endpoint))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// As a proxy: every request it saw, as (IAM action, resource name or ARN).
    pub async fn operations(&self) -> Vec<(String, String)> {
        reqwest::get(format!("{}/__ops", self.endpoint))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every SNS `Publish` the proxy forwarded: its Subject, Message and MessageStructure.
    pub async fn published(&self) -> Vec<Value> {
        reqwest::get(format!("{}/__published", self.endpoint))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// [`FaultServer::proxy`] serving HTTPS with `cert` and `key` (PEM files).
    pub fn proxy_tls(upstream: &str, rules: &[&str], cert: &str, key: &str) -> FaultServer {
        let mut args = vec!["proxy", upstream];
        args.extend_from_slice(rules);
        let tls = format!("{cert} {key}");
        FaultServer {
            endpoint: start_service(
                "fault_server.py",
                &args,
                &[("FAULT_SERVER_TLS", &tls)],
                "https",
            ),
        }
    }

    /// How many requests it has failed.
    pub async fn count(&self) -> usize {
        reqwest::get(format!("{}/__count", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// Obviously fake: the API key the fake Kombo accepts.
pub const KOMBO_KEY: &str = "local-fake-kombo-api-key-not-real";

/// A fake Kombo API of its own (`scripts/fake_kombo.py`) that records every request.
pub struct FakeKombo {
    pub base_url: String,
    pub root: String,
}

impl FakeKombo {
    pub fn start() -> FakeKombo {
        let root = start_script_service("fake_kombo.py", &["--api-key", KOMBO_KEY]);
        FakeKombo {
            base_url: format!("{root}/v1"),
            root,
        }
    }

    /// Every request it received, in order.
    pub async fn requests(&self) -> Vec<Value> {
        reqwest::get(format!("{}/__requests", self.root))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every request it received, as (method, path), in order.
    pub async fn calls(&self) -> Vec<(String, String)> {
        self.requests()
            .await
            .iter()
            .map(|q| {
                (
                    q["method"].as_str().unwrap().to_owned(),
                    q["path"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// What its `GET /integrations/{id}` answers for `id` from now on: `{"status": ...}`,
    /// or `{"gone": true}` (not found).
    pub async fn set_integration(&self, id: &str, doc: Value) {
        reqwest::Client::new()
            .put(format!("{}/__integrations/{id}", self.root))
            .json(&doc)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    /// An activation token it redeems once (its Connect sandbox's test hook): for
    /// `integration_id`, of the tool its prefix names, made for customer `origin` of Acme, Inc.
    pub async fn mint_token(&self, integration_id: &str, origin: Option<&str>) -> String {
        self.mint_token_with(integration_id, origin, "COMPLETED")
            .await
    }

    /// [`FakeKombo::mint_token`] for an integration whose setup is `setup_status`.
    pub async fn mint_token_with(
        &self,
        integration_id: &str,
        origin: Option<&str>,
        setup_status: &str,
    ) -> String {
        let body = json!({
            "id": integration_id,
            "tool": integration_id.split(':').next().unwrap(),
            "end_user_origin_id": origin,
            "end_user_organization_name": "Acme, Inc.",
            "end_user_email": "jane.doe@example.com",
            "setup_status": setup_status,
        });
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/__connect/tokens", self.root))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["token"].as_str().unwrap().to_owned()
    }

    /// A fake Kombo serving HTTPS with `cert` and `key` (PEM files).
    pub fn start_tls(cert: &str, key: &str) -> FakeKombo {
        let root = start_service(
            "fake_kombo.py",
            &["--api-key", KOMBO_KEY, "--tls", cert, key],
            &[],
            "https",
        );
        FakeKombo {
            base_url: format!("{root}/v1"),
            root,
        }
    }

    pub fn client(&self) -> shared::kombo::KomboClient {
        shared::kombo::KomboClient::new(&self.base_url, KOMBO_KEY)
            .unwrap()
            .with_backoff(Duration::from_millis(10))
    }
}

/// template.yaml as CloudFormation reads it (intrinsic functions as `{"Ref": ...}` objects).
pub fn template() -> Value {
    serde_json::from_slice(&script("local_aws.py", &["template"])).unwrap()
}

/// Runs `python3 scripts/<script> <args>`, requires success, returns its stdout.
pub fn script(script: &str, args: &[&str]) -> Vec<u8> {
    let path = repo_root().join("scripts").join(script);
    let mut all = vec![path.to_str().unwrap()];
    all.extend_from_slice(args);
    script_with(&tool("python3"), &all)
}

/// Runs `program args`, requires success, returns its stdout.
fn script_with(program: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let script = args.first().copied().unwrap_or_default();
    let out = Command::new(program).args(args).output().expect("python3");
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Resources created from the template for one test.
#[derive(Clone, Debug)]
pub struct Stack {
    /// moto: SNS and SQS.
    pub endpoint: String,
    /// The DynamoDB engine ([`dynamodb`]).
    pub ddb_endpoint: String,
    pub table: String,
    pub idempotency_table: String,
    pub topic_arn: String,
    pub queue_url: String,
    /// The raw output of `local_aws.py create` (function environments included).
    pub raw: Value,
}

impl Stack {
    /// The template's resources with the secrets in plain parameters.
    pub fn new(name: &str) -> Stack {
        Self::create(name, false)
    }

    /// The template's recommended mode: the secrets in Secrets Manager (on moto), the
    /// functions given their ARNs.
    pub fn with_secrets_manager(name: &str) -> Stack {
        Self::create(name, true)
    }

    fn create(name: &str, secrets_manager: bool) -> Stack {
        let endpoint = moto().to_owned();
        let ddb_endpoint = dynamodb().endpoint.clone();
        let prefix = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut args = vec![
            "create",
            "--endpoint",
            &endpoint,
            "--dynamodb-endpoint",
            &ddb_endpoint,
            "--prefix",
            &prefix,
            "--secret",
            SECRET,
        ];
        if secrets_manager {
            args.push("--secrets-manager");
        }
        let out = script("local_aws.py", &args);
        let raw: Value = serde_json::from_slice(&out).unwrap();
        let r = &raw["resources"];
        Stack {
            table: r["MappingsTable"].as_str().unwrap().into(),
            idempotency_table: r["IdempotencyTable"].as_str().unwrap().into(),
            topic_arn: r["AlertTopic"].as_str().unwrap().into(),
            queue_url: raw["alert_queue_url"].as_str().unwrap().into(),
            endpoint,
            ddb_endpoint,
            raw,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings::for_tests(&self.table, &self.idempotency_table, &self.topic_arn)
    }

    /// The production SDK configuration (timeouts, retries) pointed at `endpoint`.
    pub async fn sdk_at(endpoint: &str) -> SdkConfig {
        shared::aws_config_loader()
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .load()
            .await
    }

    /// For SNS and SQS clients (moto).
    pub async fn sdk(&self) -> SdkConfig {
        Self::sdk_at(&self.endpoint).await
    }

    /// For DynamoDB clients (the DynamoDB engine).
    pub async fn ddb_sdk(&self) -> SdkConfig {
        Self::sdk_at(&self.ddb_endpoint).await
    }

    /// The production app for many concurrent deliveries: moto (one Python process on 2
    /// cores) then queues requests for seconds. With the production budget (2 s an
    /// attempt) that turns into client timeouts, and a publish that timed out at the client
    /// after moto executed it is sent again (the known limit in RELIABILITY). Tests of the
    /// exactly-once logic under concurrency use this app instead: an SDK budget that fits
    /// moto's queueing (20 s an attempt, 25 s an operation) and claims that expire only
    /// after the longest hold (claim + publish + complete at 25 s each: 90 s).
    pub async fn app_for_concurrency(&self) -> AwsApp {
        let mut settings = self.settings();
        settings.rules.claim_expiry = time::Duration::seconds(90);
        let patient = |endpoint: String| async move {
            shared::aws_config_loader()
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_attempt_timeout(Duration::from_secs(20))
                        .operation_timeout(Duration::from_secs(25))
                        .build(),
                )
                .endpoint_url(endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
                .load()
                .await
        };
        let (ddb, sns) = (
            patient(self.ddb_endpoint.clone()).await,
            patient(self.endpoint.clone()).await,
        );
        let mut app = self.app_with(&ddb, &sns);
        app.effects.rules = settings.rules;
        app
    }

    /// The production app wired to this stack.
    pub async fn app(&self) -> AwsApp {
        self.app_with(&self.ddb_sdk().await, &self.sdk().await)
    }

    /// The production app with DynamoDB and SNS reached through the given configurations
    /// (a stopped port, a fault server, ...): for fault injection.
    pub fn app_with(&self, ddb: &SdkConfig, sns: &SdkConfig) -> AwsApp {
        shared::App {
            secrets: shared::secrets::Cached::fixed(Secrets::parse(SECRET).unwrap()),
            effects: shared::AwsEffects::with_clients(
                &self.settings(),
                aws_sdk_dynamodb::Client::new(ddb),
                aws_sdk_sns::Client::new(sns),
            ),
        }
    }

    /// Runs the `import-mappings` binary on `csv` against this stack's mappings table:
    /// (exit code, standard output).
    pub fn import(&self, csv: &std::path::Path) -> (Option<i32>, String) {
        let out = std::process::Command::new(lambda::binaries().join("import-mappings"))
            .args(["--table", &self.table])
            .arg(csv)
            .env("AWS_ENDPOINT_URL", &self.ddb_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    pub async fn ddb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.ddb_sdk().await)
    }

    /// Every row of the mappings table, as JSON objects, sorted by integration id.
    pub async fn rows(&self) -> Vec<Value> {
        scan(&self.ddb().await, &self.table, "integration_id").await
    }

    /// Gives each of `customers` a live integration (of the tool `bamboohr`, which nothing
    /// else here fails), as an account that had integrations before: established customers,
    /// the only ones that open a fleet incident.
    pub async fn establish(&self, customers: &[&str]) {
        use aws_sdk_dynamodb::types::AttributeValue::{Bool, S};
        let ddb = self.ddb().await;
        for c in customers {
            ddb.put_item()
                .table_name(&self.table)
                .item("integration_id", S(format!("bamboohr:est-{c}")))
                .item("origin_id", S((*c).to_owned()))
                .item("tool", S("bamboohr".into()))
                .item("category", S("HRIS".into()))
                .item("organization_name", S(format!("Org {c}")))
                .item("status", S("ACTIVE".into()))
                .item("usable", Bool(true))
                .item("updated_at", S("2026-11-01T00:00:00Z".into()))
                .item("last_event_id", S(format!("est-{c}")))
                .send()
                .await
                .unwrap();
        }
    }

    /// One row by integration id (`Null` when there is none).
    pub async fn row(&self, integration_id: &str) -> Value {
        self.rows()
            .await
            .into_iter()
            .find(|r| r["integration_id"] == integration_id)
            .unwrap_or(Value::Null)
    }

    /// Drains the alert queue: the subjects of the alerts received, sorted.
    pub async fn subjects(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .alerts()
            .await
            .iter()
            .map(|a| a["Subject"].as_str().unwrap().to_owned())
            .collect();
        s.sort();
        s
    }

    /// Every claim record, sorted by event id (the failure records that share the table
    /// left out: [`Stack::failure_records`]).
    pub async fn claims(&self) -> Vec<Value> {
        let mut all = scan(&self.ddb().await, &self.idempotency_table, "event_id").await;
        all.retain(|r| r["record_type"] != "connection-failures" && r["record_type"] != "fleet");
        all
    }

    /// Every item of the idempotency table: claims, failure records, fleet records, the
    /// reconcile cursor.
    pub async fn idempotency_items(&self) -> Vec<Value> {
        scan(&self.ddb().await, &self.idempotency_table, "event_id").await
    }

    /// Moves time on by `seconds` for everything the functions stored about it: every moment
    /// on the records table (claims, failure records, fleet records: epoch milliseconds,
    /// epoch seconds and RFC 3339 text) is rewritten that much earlier, as if that long had
    /// passed since. The functions read the real clock; a test that travels waits on no
    /// window, so its windows can be far longer than the test (no race with a slow machine).
    /// The mappings table is left as it is: its moments are Kombo's events', not the
    /// clock's. Call it between deliveries, never beside one.
    pub async fn travel(&self, seconds: f64) {
        use aws_sdk_dynamodb::types::AttributeValue;
        use time::format_description::well_known::Rfc3339;
        fn earlier(v: &AttributeValue, seconds: f64) -> Option<AttributeValue> {
            match v {
                AttributeValue::N(n) => {
                    let x: i64 = n.parse().ok()?;
                    let moved = match x {
                        1_000_000_000_000..=9_999_999_999_999 => x - (seconds * 1000.0) as i64,
                        1_000_000_000..=9_999_999_999 => x - seconds.ceil() as i64,
                        _ => return None,
                    };
                    Some(AttributeValue::N(moved.to_string()))
                }
                AttributeValue::S(t) => {
                    let at = time::OffsetDateTime::parse(t, &Rfc3339).ok()?;
                    let moved = at - time::Duration::seconds_f64(seconds);
                    Some(AttributeValue::S(moved.format(&Rfc3339).unwrap()))
                }
                _ => None,
            }
        }
        let ddb = self.ddb().await;
        let items: Vec<_> = ddb
            .scan()
            .table_name(&self.idempotency_table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .unwrap();
        for mut item in items {
            for (name, v) in item.iter_mut() {
                if name == "event_id" {
                    continue;
                }
                if let Some(moved) = earlier(v, seconds) {
                    *v = moved;
                }
            }
            ddb.put_item()
                .table_name(&self.idempotency_table)
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
    }

    /// The failure record of `key` (`failures#<customer>#<tool>`), `Null` if none.
    pub async fn failure_record(&self, key: &str) -> Value {
        self.idempotency_items()
            .await
            .into_iter()
            .find(|r| r["event_id"] == key)
            .unwrap_or(Value::Null)
    }

    /// [`Stack::alerts`] as (subject, the machine-readable form).
    pub async fn alert_messages(&self) -> Vec<(String, Value)> {
        self.alerts()
            .await
            .into_iter()
            .map(|a| {
                (
                    a["Subject"].as_str().unwrap().to_owned(),
                    serde_json::from_str(a["Message"].as_str().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    /// Drains the alert queue: the SNS notifications received (JSON envelopes).
    pub async fn alerts(&self) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk().await);
        let mut all = Vec::new();
        loop {
            let out = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let msgs = out.messages.unwrap_or_default();
            if msgs.is_empty() {
                return all;
            }
            for m in msgs {
                all.push(serde_json::from_str(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

async fn scan(ddb: &aws_sdk_dynamodb::Client, table: &str, key: &str) -> Vec<Value> {
    let out = ddb
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let mut rows: Vec<Value> = serde_dynamo::from_items(out.items().to_vec()).unwrap();
    rows.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
    rows
}

/// An API Gateway HTTP API (payload 2.0) event, as API Gateway delivers it.
pub fn api_event(route: &str, body: &str, headers: Value) -> ApiGatewayV2httpRequest {
    serde_json::from_value(json!({
        "version": "2.0",
        "routeKey": format!("POST {route}"),
        "rawPath": route,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": { "method": "POST", "path": route, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "Kombo" },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("POST {route}"),
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_000_000_000_i64
        },
        "body": body,
        "isBase64Encoded": false
    }))
    .unwrap()
}

/// A correctly signed delivery of `body`.
pub fn signed(route: &str, body: &str) -> ApiGatewayV2httpRequest {
    let sig = Secrets::parse(SECRET).unwrap().sign(body.as_bytes());
    api_event(
        route,
        body,
        json!({ "content-type": "application/json", "x-kombo-signature": sig }),
    )
}

pub fn status(resp: &ApiGatewayV2httpResponse) -> i64 {
    resp.status_code
}

pub fn body_json(resp: &ApiGatewayV2httpResponse) -> Value {
    match resp.body.as_ref().expect("a body") {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

/// Serves `req` on the function of `route` (one of the three webhook routes below).
pub async fn serve_route(
    app: &AwsApp,
    route: &str,
    req: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    use shared::event::{ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted};
    match route {
        CREATED => app.serve::<IntegrationCreated>(req).await,
        DELETED => app.serve::<IntegrationDeleted>(req).await,
        FLOW_FAILED => app.serve::<ConnectionFlowFailed>(req).await,
        STATE_CHANGED => {
            app.serve::<shared::event::IntegrationStateChanged>(req)
                .await
        }
        other => panic!("no webhook function for route {other}"),
    }
}

pub const CREATED: &str = "/webhooks/kombo/integration-created";
pub const DELETED: &str = "/webhooks/kombo/integration-deleted";
pub const FLOW_FAILED: &str = "/webhooks/kombo/connection-flow-failed";
pub const STATE_CHANGED: &str = "/webhooks/kombo/integration-state-changed";
pub const ISSUE: &str = "/webhooks/kombo/issue-status-changed";

pub fn created_body(event_id: &str, integration_id: &str, origin_id: Option<&str>) -> String {
    json!({
        "id": event_id,
        "type": "integration-created",
        "data": {
            "id": integration_id,
            "tool": integration_id.split(':').next().unwrap(),
            "category": "LMS",
            "end_user": { "origin_id": origin_id, "creator_email": "jane.doe@example.com", "organization_name": "Acme, Inc." }
        }
    })
    .to_string()
}

/// An `issue-status-changed` delivery (`integration`: its id and `origin_id`; `None`: an
/// environment-wide issue).
pub fn issue_body(
    event: &str,
    change: &str,
    issue_id: &str,
    kind: &str,
    first_observed: &str,
    integration: Option<(&str, &str)>,
) -> String {
    let resolved = if change == "resolved" {
        json!("2026-12-01T12:00:00Z")
    } else {
        Value::Null
    };
    let integration = integration.map_or(Value::Null, |(id, origin)| {
        json!({"id": id, "tool": "workday", "category": "LMS",
               "end_user": {"organization_name": format!("Org {origin}"), "creator_email": "jane.doe@example.com", "origin_id": origin}})
    });
    json!({"id": event, "type": "issue-status-changed", "data": {
        "change": change,
        "issue": {"id": issue_id, "type": kind, "title": "Login failing", "status": if change == "raised" { "OPEN" } else { "RESOLVED" },
                  "markdown_message": "The **login** for `workday` failed.\nTry [again](https://x).",
                  "first_observed_at": first_observed, "resolved_at": resolved},
        "integration": integration}})
    .to_string()
}

pub fn deleted_body(event_id: &str, integration_id: &str, origin_id: Option<&str>) -> String {
    json!({
        "id": event_id,
        "type": "integration-deleted",
        "data": {
            "id": integration_id,
            "tool": integration_id.split(':').next().unwrap(),
            "category": "LMS",
            "end_user": { "origin_id": origin_id, "creator_email": "jane.doe@example.com", "organization_name": "Acme, Inc." },
            "deleted_at": "2026-11-02T10:50:10.242Z"
        }
    })
    .to_string()
}

pub fn flow_failed_body(event_id: &str, origin_id: Option<&str>) -> String {
    json!({
        "id": event_id,
        "type": "connection-flow-failed",
        "data": {
            "integration_tool": "workday",
            "integration_category": "LMS",
            "end_user": { "origin_id": origin_id, "creator_email": "jane.doe@example.com", "organization_name": "Acme, Inc." },
            "log_url": "https://app.kombo.dev/env/production/logs/C3xUo6XAsB2sbKC7M1gyXaRX"
        }
    })
    .to_string()
}

/// [`flow_failed_body`] of `tool` for the organization `org` (`origin`: its `origin_id`),
/// its log URL named after the event.
pub fn failure_body(event_id: &str, origin: Option<&str>, org: &str, tool: &str) -> String {
    let mut body: Value = serde_json::from_str(&flow_failed_body(event_id, origin)).unwrap();
    body["data"]["integration_tool"] = json!(tool);
    body["data"]["end_user"]["organization_name"] = json!(org);
    body["data"]["log_url"] = json!(format!(
        "https://app.kombo.dev/env/production/logs/{event_id}"
    ));
    body.to_string()
}

/// An `integration-state-changed` body (setup status COMPLETED) for `integration_id` of
/// customer `origin_id`.
pub fn state_changed_body(
    event_id: &str,
    integration_id: &str,
    origin_id: Option<&str>,
    state: &str,
    qa_status: &str,
    updated_at: &str,
) -> String {
    json!({
        "id": event_id,
        "type": "integration-state-changed",
        "data": {
            "integration_id": integration_id, "integration_tool": "workday", "integration_category": "LMS",
            "end_user": { "origin_id": origin_id, "creator_email": "jane.doe@example.com", "organization_name": "Acme, Inc." },
            "qa_status": qa_status, "setup_status": "COMPLETED", "state": state, "updated_at": updated_at
        }
    })
    .to_string()
}
