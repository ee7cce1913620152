//! What each kind of subscriber of the alert topic receives, through the built binary:
//! the Publish request as sent (one message, a rendering per protocol), what an SQS queue
//! and an HTTP endpoint subscribed to the topic receive (captured on loopback), and that
//! docs/on-call.md's three examples are exactly what the sample event produces.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::*;

/// An HTTP endpoint on loopback that records every POST body and answers 200.
fn http_subscriber() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(doc) = serde_json::from_slice(&body)
            {
                sink.lock().unwrap().push(doc);
            }
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// The fenced block that follows `<!-- alert:NAME -->` in docs/on-call.md.
fn readme_example(name: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("docs/on-call.md")).unwrap();
    let marker = format!("<!-- alert:{name} -->");
    let after = readme
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("docs/on-call.md has no {marker}"));
    let block = after.split("```").nth(1).unwrap();
    block.split_once('\n').unwrap().1.to_owned()
}

#[tokio::test]
async fn every_subscriber_gets_its_rendering_and_readme_shows_them_exactly() {
    let stack = Stack::new("renderings");
    let (url, received) = http_subscriber();
    let sns = aws_sdk_sns::Client::new(&stack.sdk().await);
    sns.subscribe()
        .topic_arn(&stack.topic_arn)
        .protocol("http")
        .endpoint(&url)
        .send()
        .await
        .unwrap();
    let proxy = FaultServer::proxy(&stack.endpoint, &[]);
    let env = with_env(
        template_env(&stack, "connection-flow-failed"),
        "AWS_ENDPOINT_URL_SNS",
        &proxy.endpoint,
    );
    let (result, log) = invoke(
        "connection-flow-failed",
        &env,
        &["connection-flow-failed.json"],
    );
    assert_eq!(answers(&result), [(200, "alerted".to_owned())], "{log}");

    // The Publish request: one message, a rendering per protocol.
    let published = proxy.published().await;
    assert_eq!(published.len(), 1, "{published:?}");
    let p = &published[0];
    assert_eq!(p["MessageStructure"], "json");
    assert_eq!(
        p["Subject"],
        "Kombo connection failed: Acme, Inc. (workday LMS)"
    );
    let message: Value = serde_json::from_str(p["Message"].as_str().unwrap()).unwrap();
    let mut keys: Vec<&str> = message
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["default", "email", "https", "lambda", "sqs"]);
    let email = message["email"].as_str().unwrap();
    let https: Value = serde_json::from_str(message["https"].as_str().unwrap()).unwrap();
    let default: Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
    assert_eq!(message["sqs"], message["default"]);
    assert_eq!(message["lambda"], message["default"]);

    // docs/on-call.md shows exactly these.
    assert_eq!(
        readme_example("email"),
        email,
        "docs/on-call.md's e-mail example"
    );
    let readme_https: Value = serde_json::from_str(&readme_example("https")).unwrap();
    assert_eq!(
        readme_https, https,
        "docs/on-call.md's chat example; actual:\n{https:#}"
    );
    let readme_default: Value = serde_json::from_str(&readme_example("default")).unwrap();
    assert_eq!(
        readme_default, default,
        "docs/on-call.md's JSON example; actual:\n{default:#}"
    );

    // An SQS queue gets the JSON form, with the attributes for filter policies.
    let alerts = stack.alerts().await;
    assert_eq!(alerts.len(), 1);
    let queued: Value = serde_json::from_str(alerts[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(queued, default);
    assert_eq!(
        alerts[0]["MessageAttributes"]["alert_kind"]["Value"],
        "connection-flow-failed"
    );
    // So does an HTTP endpoint (no `http` key: SNS falls back to `default`).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let notification = loop {
        let got = received.lock().unwrap().clone();
        if let Some(n) = got.iter().find(|n| n["Type"] == "Notification") {
            break n.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the http subscriber got nothing: {got:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let posted: Value = serde_json::from_str(notification["Message"].as_str().unwrap()).unwrap();
    assert_eq!(posted, default);
    assert_eq!(notification["Subject"], p["Subject"]);
}

/// `docs/on-call.md`'s fleet examples, through the built binaries with the template's
/// defaults (3 customers, 10 min): three customers of workday fail (the third's delivery
/// opens the incident: its page is checked in all three renderings), a fourth is counted on
/// it; the sweep's update and "incident over" come after the stored times are moved back by
/// a window (as eleven minutes passing would). The incident id (the opening's epoch ms) is
/// the one thing that differs per run: the docs show `connection-failures:workday:<ms>`.
#[tokio::test]
async fn the_fleet_incident_page_update_and_end_are_what_the_docs_show() {
    let desk = Desk::new("fleet-docs", &[]);
    let (stack, dir) = (&desk.stack, &desk.dir);
    // The first three have live integrations (they open it); Delta AG is a sign-up: counted
    // on it, no notice of its own.
    stack.establish(&["36123", "48213", "51007"]).await;
    let proxy = FaultServer::proxy(&stack.endpoint, &[]);
    let env =
        |function: &str| with_env(desk.env(function), "AWS_ENDPOINT_URL_SNS", &proxy.endpoint);
    let customers = [
        ("36123", "Acme, Inc.", "C3xUo6XAsB2sbKC7M1gyXaRX"),
        ("48213", "Beta GmbH", "9hQ2vTt4bW1mXo7ZsRkqPe3L"),
        ("51007", "Gamma Ltd", "Vn5cYw8JkL2pQa6DuEr1TgHs"),
        ("60412", "Delta AG", "Mb7KsQ3nXe9Wd2FtYu5RaLc8"),
    ];
    let files: Vec<std::path::PathBuf> = customers
        .iter()
        .enumerate()
        .map(|(i, (origin, org, log))| {
            let mut body: Value =
                serde_json::from_str(&flow_failed_body(&format!("fleet-{i}"), Some(origin)))
                    .unwrap();
            body["data"]["end_user"]["organization_name"] = (*org).into();
            body["data"]["log_url"] =
                format!("https://app.kombo.dev/env/production/logs/{log}").into();
            event_file(dir, &format!("f{i}"), FLOW_FAILED, &body.to_string())
        })
        .collect();
    let (result, log) = invoke_files(
        "connection-flow-failed",
        &env("connection-flow-failed"),
        &files,
        10_000,
    );
    assert_eq!(
        answers(&result),
        [
            (200, "alerted".to_owned()),
            (200, "alerted".to_owned()),
            (200, "incident_opened".to_owned()),
            (200, "folded_into_incident".to_owned()),
        ],
        "{log}"
    );
    let published = proxy.published().await;
    assert_eq!(published.len(), 3, "{published:?}");
    let page = &published[2];
    let message: Value = serde_json::from_str(page["Message"].as_str().unwrap()).unwrap();
    let default: Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
    let id = default["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = "connection-failures:workday:1796300000000";
    let docs = |s: &str| s.replace(&id, shown);
    assert_eq!(
        page["Subject"],
        "Kombo connections failing for workday: 3 customers in 10 min"
    );
    let pretty = |s: &str| format!("{:#}", serde_json::from_str::<Value>(&docs(s)).unwrap());
    // What was sent, by the docs' example names.
    let mut sent: Vec<(&str, String)> = vec![
        ("fleet-email", docs(message["email"].as_str().unwrap())),
        ("fleet-https", pretty(message["https"].as_str().unwrap())),
        (
            "fleet-default",
            pretty(message["default"].as_str().unwrap()),
        ),
    ];
    let alerts = stack.alerts().await;
    assert_eq!(
        alerts[2]["MessageAttributes"]["alert_kind"]["Value"],
        "fleet-incident"
    );
    assert_eq!(
        alerts[2]["MessageAttributes"]["fleet_kind"]["Value"],
        "connection-failures"
    );

    // Eleven minutes on: the update (the incident is a window old and grew), then the end
    // (nothing failed for a window).
    let ddb = stack.ddb().await;
    let key = "fleet#connection-failures#workday";
    let back = |attr: &str, by_ms: i64| {
        let ddb = ddb.clone();
        let table = stack.idempotency_table.clone();
        let attr = attr.to_owned();
        async move {
            let item = ddb
                .get_item()
                .table_name(&table)
                .key(
                    "event_id",
                    aws_sdk_dynamodb::types::AttributeValue::S(key.into()),
                )
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            let was: i64 = item[&attr].as_n().unwrap().parse().unwrap();
            ddb.update_item()
                .table_name(&table)
                .key(
                    "event_id",
                    aws_sdk_dynamodb::types::AttributeValue::S(key.into()),
                )
                .update_expression("SET #a = :v")
                .expression_attribute_names("#a", &attr)
                .expression_attribute_values(
                    ":v",
                    aws_sdk_dynamodb::types::AttributeValue::N((was - by_ms).to_string()),
                )
                .send()
                .await
                .unwrap();
        }
    };
    const ELEVEN_MIN: i64 = 11 * 60 * 1000;
    back("incident_reported_ms", ELEVEN_MIN).await;
    let sweep = || sweep_run(&env("failure-sweep"), dir, None).0;
    assert_eq!(sweep()["incident_updates"], 1);
    for attr in ["incident_opened_ms", "incident_since_ms"]
        .into_iter()
        .map(String::from)
        .chain(
            customers
                .iter()
                .flat_map(|(origin, ..)| [format!("s#{origin}"), format!("f#{origin}")]),
        )
    {
        back(&attr, ELEVEN_MIN).await;
    }
    assert_eq!(sweep()["incidents_ended"], 1);
    let published = proxy.published().await;
    assert_eq!(published.len(), 5, "{published:?}");
    for (i, name) in [(3, "fleet-update-email"), (4, "fleet-over-email")] {
        let message: Value =
            serde_json::from_str(published[i]["Message"].as_str().unwrap()).unwrap();
        sent.push((name, docs(message["email"].as_str().unwrap())));
    }
    // `DOCS_EXAMPLES_OUT=<dir>` writes what was sent there, to paste after a change.
    if let Ok(out) = std::env::var("DOCS_EXAMPLES_OUT") {
        for (name, text) in &sent {
            std::fs::write(std::path::Path::new(&out).join(name), text).unwrap();
        }
    }
    for (name, text) in &sent {
        let shown = readme_example(name);
        if name.ends_with("email") {
            assert_eq!(&shown, text, "docs/on-call.md's {name}");
        } else {
            let shown: Value = serde_json::from_str(&shown).unwrap();
            let text: Value = serde_json::from_str(text).unwrap();
            assert_eq!(shown, text, "docs/on-call.md's {name}; actual:\n{text:#}");
        }
    }
    assert_eq!(
        published[3]["Subject"],
        "Kombo connections failing for workday: now 4 customers"
    );
    assert_eq!(
        published[4]["Subject"],
        "Over: Kombo connections failing for workday (4 customers)"
    );
}

/// `docs/on-call.md`'s issue examples: the page the sample `issue-status-changed.json` (a
/// login failing) publishes, in its three renderings, and the subjects of its resolution and
/// of the environment-wide sample.
#[tokio::test]
async fn the_issue_page_is_what_the_docs_show() {
    let stack = Stack::new("issue-docs");
    let proxy = FaultServer::proxy(&stack.endpoint, &[]);
    let env = with_env(
        template_env(&stack, "issue-status-changed"),
        "AWS_ENDPOINT_URL_SNS",
        &proxy.endpoint,
    );
    let (result, log) = invoke(
        "issue-status-changed",
        &env,
        &[
            "issue-status-changed.json",
            "issue-status-changed-resolved.json",
            "issue-status-changed-environment.json",
        ],
    );
    assert_eq!(
        answers(&result),
        [
            (200, "alerted".to_owned()),
            (200, "issue_resolved_notified".to_owned()),
            (200, "alerted".to_owned())
        ],
        "{log}"
    );
    let published = proxy.published().await;
    let subjects: Vec<&str> = published
        .iter()
        .map(|p| p["Subject"].as_str().unwrap())
        .collect();
    let docs = std::fs::read_to_string(repo_root().join("docs/on-call.md")).unwrap();
    for subject in &subjects {
        assert!(
            docs.contains(&format!("`{subject}`")),
            "docs/on-call.md names the subject `{subject}`"
        );
    }
    let message: Value = serde_json::from_str(published[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(
        readme_example("issue-email"),
        message["email"].as_str().unwrap(),
        "docs/on-call.md's issue e-mail"
    );
    for key in ["https", "default"] {
        let got: Value = serde_json::from_str(message[key].as_str().unwrap()).unwrap();
        let shown: Value = serde_json::from_str(&readme_example(&format!("issue-{key}"))).unwrap();
        assert_eq!(
            shown, got,
            "docs/on-call.md's issue {key}; actual:\n{got:#}"
        );
    }
}
