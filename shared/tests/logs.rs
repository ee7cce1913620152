//! What the logs say: one JSON line per request with the facts on-call needs, and
//! never the creator's e-mail or the secret. Its own test binary: tracing caches
//! per-callsite interest process-wide, so a capturing subscriber must not share the
//! process with tests that log through no subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use shared::event::{ConnectionFlowFailed, IntegrationCreated};
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn one_json_log_line_per_request_without_email_or_secret() {
    let stack = Stack::new("logs");
    let captured = Captured::default();
    let sink = captured.clone();
    // The production format at the production default level, whatever RUST_LOG says here.
    let _guard = tracing::subscriber::set_default(shared::telemetry::subscriber_at(
        move || sink.clone(),
        shared::telemetry::DEFAULT_FILTER,
    ));
    let app = stack.app().await;

    let ok = signed(CREATED, &created_body("ev-log", "workday:log", Some("42")));
    let forged = api_event(
        CREATED,
        &created_body("ev-forged", "workday:log", Some("42")),
        json!({ "x-kombo-signature": "A".repeat(43) }),
    );
    // No signature at all: a 401 that counts as a signature failure, not a mismatch.
    let unsigned = api_event(
        CREATED,
        &created_body("ev-unsigned", "workday:log", Some("42")),
        json!({}),
    );
    let alert = signed(FLOW_FAILED, &flow_failed_body("ev-log-alert", None));
    assert_eq!(status(&app.serve::<IntegrationCreated>(&ok).await), 200);
    assert_eq!(status(&app.serve::<IntegrationCreated>(&forged).await), 401);
    assert_eq!(
        status(&app.serve::<IntegrationCreated>(&unsigned).await),
        401
    );
    assert_eq!(
        status(&app.serve::<ConnectionFlowFailed>(&alert).await),
        200
    );
    // A dependency failure: logged with its cause (the error chain, not the raw response).
    let down = stack.app_with(
        &Stack::sdk_at("http://127.0.0.1:9").await,
        &stack.sdk().await,
    );
    let unreachable = signed(
        CREATED,
        &created_body("ev-log-down", "workday:down", Some("42")),
    );
    assert_eq!(
        status(&down.serve::<IntegrationCreated>(&unreachable).await),
        503
    );

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0]["event_id"], "ev-log");
    assert_eq!(lines[0]["event_type"], "integration-created");
    assert_eq!(lines[0]["integration_id"], "workday:log");
    assert_eq!(lines[0]["outcome"], "stored");
    assert_eq!(lines[0]["status"], 200);
    assert!(lines[0]["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[1]["outcome"], "unauthorized");
    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[2]["status"], 401);
    assert_eq!(lines[3]["outcome"], "alerted");
    assert_eq!(lines[4]["outcome"], "dependency_unavailable");
    assert_eq!(lines[4]["status"], 503);
    assert_eq!(lines[4]["level"], "ERROR");
    // Each request's line carries its metrics in Embedded Metric Format: the `_aws` object
    // names fields of the same line, which CloudWatch turns into metrics. A well-formed
    // signature that matches no secret is a mismatch (the alarm's metric); a missing one only
    // a signature failure (the dashboard's).
    // A body whose signature verified (whatever came after) is `signatures_verified`: the
    // alarm pages only while none does.
    for (line, (verified, sig, mismatch, alerts, dep)) in lines.iter().zip([
        (1, 0, 0, 0, 0),
        (0, 1, 1, 0, 0),
        (0, 1, 0, 0, 0),
        (1, 0, 0, 1, 0),
        (1, 0, 0, 0, 1),
    ]) {
        let emf = &line["_aws"];
        assert!(emf["Timestamp"].is_i64(), "{line}");
        let directive = &emf["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "KomboWebhooks");
        assert_eq!(
            directive["Dimensions"],
            json!([["event_type", "outcome"], ["event_type"], []])
        );
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(
                line[name].is_number(),
                "{name} is no number field of {line}"
            );
        }
        for dim in ["event_type", "outcome"] {
            assert!(line[dim].is_string(), "{dim} missing in {line}");
        }
        assert_eq!(line["webhooks"], 1);
        assert_eq!(
            (
                line["signatures_verified"].as_u64().unwrap(),
                line["signature_failures"].as_u64().unwrap(),
                line["signature_mismatches"].as_u64().unwrap(),
                line["alerts_published"].as_u64().unwrap(),
                line["dependency_failures"].as_u64().unwrap()
            ),
            (verified, sig, mismatch, alerts, dep),
            "{line}"
        );
    }
    let cause = lines[4]["cause"].as_str().expect("a cause");
    assert!(cause.contains("dispatch failure"), "{cause}");
    assert!(
        !text.contains("jane.doe@example.com"),
        "creator_email logged: {text}"
    );
    assert!(!text.contains(SECRET), "secret logged: {text}");
    // None of the signatures actually sent appears, whole or in part.
    for req in [&ok, &forged, &alert, &unreachable] {
        let sent = req.headers["x-kombo-signature"].to_str().unwrap();
        assert!(
            !text.contains(&sent[..12]),
            "signature {sent} logged: {text}"
        );
    }
}

/// The scheduled runs' log lines through their binaries: each is one JSON line whose
/// Embedded Metric Format directive (namespace `KomboWebhooks`, dimension `Function`) names
/// every metric the template's alarms and dashboard read for that function, each a number
/// on the line, with the figures of the run that was made.
#[test]
fn the_reconcile_and_sweep_lines_carry_the_metrics_the_alarms_and_dashboard_read() {
    let stack = Stack::new("emf-runs");
    let kombo = FakeKombo::start();
    let dir = std::env::temp_dir().join(format!("kombo-emf-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let window = one_second_window;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scheduled_work(
            &stack,
            &kombo,
            &dir,
            "42",
            &["workday:emf-here", "workday:emf-gone"],
            "workday:emf-gone",
        ));

    let run = |function: &str, env: Vec<(String, String)>| -> serde_json::Value {
        let file = dir.join(format!("{function}.json"));
        std::fs::write(&file, "{}").unwrap();
        let (result, log) = invoke_files(function, &env, &[file], 60_000);
        assert!(
            result["responses"][0]["response"].is_object(),
            "{result}\n{log}"
        );
        let lines: Vec<serde_json::Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l.get("_aws").is_some())
            .collect();
        assert_eq!(lines.len(), 1, "one metrics line per run:\n{log}");
        lines.into_iter().next().unwrap()
    };
    let reconcile = run(
        "reconcile",
        with_env(
            template_env(&stack, "reconcile"),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        ),
    );
    let sweep = run(
        "failure-sweep",
        window(template_env(&stack, "failure-sweep")),
    );

    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    for (line, function, prefix, figures) in [
        (
            &reconcile,
            "reconcile",
            "Reconcile",
            &[
                ("ReconcileChecked", 2),
                ("ReconcileDeleted", 1),
                ("ReconcileFailures", 0),
            ][..],
        ),
        (
            &sweep,
            "failure-sweep",
            "Sweep",
            &[
                ("SweepChecked", 1),
                ("SweepSummaries", 1),
                ("SweepFailures", 0),
            ][..],
        ),
    ] {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "KomboWebhooks", "{line}");
        assert_eq!(directive["Dimensions"], json!([["Function"]]), "{line}");
        assert_eq!(line["Function"], function, "{line}");
        assert!(line["_aws"]["Timestamp"].is_i64(), "{line}");
        let named: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in &named {
            assert!(line[*name].is_number(), "{name} is no number on {line}");
        }
        // Every metric of this function the template's alarms or dashboard read.
        let read: std::collections::BTreeSet<&str> = template
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| {
                w.starts_with(prefix)
                    && w.len() > prefix.len()
                    && w[prefix.len()..].starts_with(|c: char| c.is_ascii_uppercase())
            })
            .filter(|w| {
                !w.ends_with("Alarm")
                    && !w.ends_with("Schedule")
                    && !w.ends_with("Function")
                    && !w.ends_with("Logs")
            })
            .collect();
        assert!(!read.is_empty(), "the template reads no {prefix}* metric");
        for metric in &read {
            assert!(
                named.contains(metric),
                "{function}: the template reads {metric}, the line has {named:?}"
            );
        }
        for (name, value) in figures {
            assert_eq!(line[*name], *value, "{name} on {line}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
