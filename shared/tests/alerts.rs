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
