//! On-call across event sequences, through the built binaries (a Lambda Runtime API server
//! on loopback) with a ten-minute fold window, time moved past it by travel
//! ([`Stack::travel`]), never by waiting: a storm of connection failures pages once
//! and its count is reported by the next page or by the sweep; concurrent duplicates stay
//! exactly-once; a create after failures sends one "resolved" notice; an integration
//! leaving INVALID one "recovered" notice; customers never fold into each other.

mod support;

use serde_json::{Value, json};
use support::*;

const FOLD: &str = "ALERT_FOLD_WINDOW_SECONDS";

/// A desk whose fold window is `window_s` seconds.
fn desk(name: &str, window_s: u64) -> Desk {
    Desk::new(name, &[(FOLD, window_s)])
}

impl Desk {
    fn fail(&self, bodies: &[String]) -> Vec<(i64, String)> {
        self.deliver("connection-flow-failed", FLOW_FAILED, bodies)
    }

    fn create(&self, bodies: &[String]) -> Vec<(i64, String)> {
        self.deliver("integration-created", CREATED, bodies)
    }

    fn state(&self, bodies: &[String]) -> Vec<(i64, String)> {
        self.deliver("integration-state-changed", STATE_CHANGED, bodies)
    }

    /// Delivers `bodies` to `function` from three warm processes at once, then again until
    /// every delivery is answered 200 ([`Desk::at_once`]).
    fn three_at_once(&self, function: &str, route: &str, bodies: &[String]) {
        self.at_once(
            function,
            route,
            &[bodies.to_vec(), bodies.to_vec(), bodies.to_vec()],
        );
    }

    /// One sweep run configured with a ten-minute fold window: every window this test
    /// opened is still open for it, however slow the machine was since (a sweep sharing the
    /// test's window of seconds could find it closed on a loaded machine); its report.
    fn sweep_inside_window(&self) -> Value {
        let env = with_env(self.env("failure-sweep"), FOLD, "600");
        sweep_run(&env, &self.dir, None).0
    }

    /// Moves time past the window opened now ([`Stack::travel`]): no wait, no race.
    async fn after_window(&self) {
        self.stack.travel(self.setting(FOLD) as f64 + 1.0).await;
    }
}

/// The value of `label` among an alert's fields.
fn field<'a>(alert: &'a Value, label: &str) -> Option<&'a str> {
    alert["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == label)
        .and_then(|f| f["value"].as_str())
}

fn outcomes(answers: &[(i64, String)]) -> Vec<&str> {
    answers
        .iter()
        .map(|(status, what)| {
            assert_eq!(*status, 200, "{answers:?}");
            what.as_str()
        })
        .collect()
}

const ACME: &str = "Acme, Inc.";
const KEY: &str = "failures#36123#workday";

#[tokio::test]
async fn six_failures_in_a_window_page_once_and_the_next_failure_after_it_reports_the_count() {
    let d = desk("storm", 600);
    let storm: Vec<String> = (1..=6)
        .map(|i| failure_body(&format!("f{i}"), Some("36123"), ACME, "workday"))
        .collect();
    let got = d.fail(&storm);
    assert_eq!(
        outcomes(&got),
        ["alerted", "folded", "folded", "folded", "folded", "folded"]
    );
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].0,
        "Kombo connection failed: Acme, Inc. (workday LMS)"
    );
    assert_eq!(alerts[0].1["event_id"], "f1");
    assert_eq!(field(&alerts[0].1, "Failed since the last page"), None);

    // The count and the last log are on the record, for the backend.
    let record = d.record(KEY).await;
    assert_eq!(record["total"], 6, "{record}");
    assert_eq!(record["folded"], 5, "{record}");
    assert_eq!(
        record["last_log_url"],
        "https://app.kombo.dev/env/production/logs/f6"
    );
    assert_eq!(record["origin_id"], "36123");

    // The same failures delivered again (Kombo's retries): nothing new.
    assert_eq!(outcomes(&d.fail(&storm)), ["already_alerted"; 6]);
    assert!(d.alerts().await.is_empty());

    // Inside the window the sweep owes nothing yet.
    let report = d.sweep_inside_window();
    assert_eq!(report["summaries"], 0, "{report}");

    d.after_window().await;
    let got = d.fail(&[failure_body("f7", Some("36123"), ACME, "workday")]);
    assert_eq!(outcomes(&got), ["alerted"]);
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(field(&alerts[0].1, "Failed since the last page"), Some("5"));
    assert!(
        alerts[0].1["summary"]
            .as_str()
            .unwrap()
            .contains("failed 5 times more"),
        "{}",
        alerts[0].1
    );
    // Reported by that page: the sweep has nothing to add, now or after the new window.
    d.after_window().await;
    assert_eq!(d.sweep()["summaries"], 0);
    assert!(d.alerts().await.is_empty());
    assert_eq!(d.record(KEY).await["total"], 7);
}

#[tokio::test]
async fn the_sweep_reports_a_window_that_closed_with_folded_failures_exactly_once() {
    let d = desk("sweep", 600);
    let storm: Vec<String> = (1..=3)
        .map(|i| failure_body(&format!("s{i}"), Some("36123"), ACME, "workday"))
        .collect();
    assert_eq!(outcomes(&d.fail(&storm)), ["alerted", "folded", "folded"]);
    assert_eq!(d.alerts().await.len(), 1);
    let report = d.sweep_inside_window();
    assert_eq!(report["summaries"], 0, "the window is still open: {report}");

    d.after_window().await;
    let report = d.sweep();
    assert_eq!(report["summaries"], 1, "{report}");
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].0,
        "Kombo connection failed 2 more times: Acme, Inc. (workday LMS)"
    );
    assert_eq!(alerts[0].1["kind"], "connection-flow-failed-summary");
    assert_eq!(field(&alerts[0].1, "Failed since the last page"), Some("2"));
    assert_eq!(field(&alerts[0].1, "Last Kombo event id"), Some("s3"));
    assert_eq!(
        alerts[0].1["log_url"],
        "https://app.kombo.dev/env/production/logs/s3"
    );
    assert_eq!(alerts[0].1["thread_id"], "kombo-36123-workday");

    // Again: nothing (the record left the sweep's index).
    let again = d.sweep();
    assert_eq!(again["summaries"], 0, "{again}");
    assert_eq!(again["checked"], 0, "{again}");
    assert!(d.alerts().await.is_empty());

    // The next failure pages without repeating what the sweep reported.
    assert_eq!(
        outcomes(&d.fail(&[failure_body("s4", Some("36123"), ACME, "workday")])),
        ["alerted"]
    );
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(field(&alerts[0].1, "Failed since the last page"), None);
}

#[tokio::test]
async fn interleaved_customers_and_tools_never_fold_into_each_other() {
    let d = desk("interleave", 600);
    let round = |n: u32| -> Vec<String> {
        vec![
            failure_body(&format!("a{n}"), Some("36123"), ACME, "workday"),
            failure_body(&format!("b{n}"), Some("48213"), "Beta GmbH", "workday"),
            failure_body(&format!("c{n}"), None, "Gamma Ltd", "workday"),
            failure_body(&format!("d{n}"), Some("36123"), ACME, "personio"),
            // Another organization without origin_id: not Gamma.
            failure_body(&format!("e{n}"), None, "Delta AG", "workday"),
        ]
    };
    // Four customers of workday within the fleet window, none with a live integration
    // (sign-ups, two without origin_id): no fleet incident (only established customers open
    // one, fleet.rs); each is paged on its own, then folds into its own window; personio is
    // its own.
    assert_eq!(outcomes(&d.fail(&round(1))), ["alerted"; 5]);
    assert_eq!(outcomes(&d.fail(&round(2))), ["folded"; 5]);
    let mut pages: Vec<String> = d.alerts().await.into_iter().map(|a| a.0).collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "Kombo connection failed: Acme, Inc. (personio LMS)",
            "Kombo connection failed: Acme, Inc. (workday LMS)",
            "Kombo connection failed: Beta GmbH (workday LMS)",
            "Kombo connection failed: Delta AG (workday LMS)",
            "Kombo connection failed: Gamma Ltd (workday LMS)",
        ]
    );
    // Each customer's own record counts its failures.
    for key in [
        "failures#36123#workday",
        "failures#48213#workday",
        "failures#org:Gamma Ltd#workday",
        "failures#36123#personio",
        "failures#org:Delta AG#workday",
    ] {
        let r = d.record(key).await;
        assert_eq!(
            (r["total"].as_i64(), r["folded"].as_i64()),
            (Some(2), Some(1)),
            "{key}: {r}"
        );
    }
}

#[tokio::test]
async fn a_create_after_failures_sends_one_resolved_notice_and_closes_the_record() {
    let d = desk("resolve", 600);
    let storm: Vec<String> = (1..=3)
        .map(|i| failure_body(&format!("r{i}"), Some("36123"), ACME, "workday"))
        .collect();
    assert_eq!(outcomes(&d.fail(&storm)), ["alerted", "folded", "folded"]);
    d.alerts().await;

    // Another customer's create, and this customer's create of another tool, resolve nothing.
    let other = created_body("c-other", "workday:other", Some("48213"));
    let other_tool = created_body("c-tool", "personio:acme", Some("36123"));
    assert_eq!(
        outcomes(&d.create(&[other, other_tool])),
        ["stored", "stored"]
    );
    assert!(d.alerts().await.is_empty());

    let create = created_body("c-1", "workday:acme", Some("36123"));
    assert_eq!(
        outcomes(&d.create(std::slice::from_ref(&create))),
        ["resolved"]
    );
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].0,
        "Resolved: Acme, Inc. connected workday after 3 failed attempts"
    );
    assert_eq!(alerts[0].1["kind"], "connection-flow-resolved");
    assert_eq!(alerts[0].1["thread_id"], "kombo-36123-workday");
    let record = d.record(KEY).await;
    assert_eq!(record["resolved_by"], "c-1", "{record}");
    assert_eq!(record["resolved_total"], 3, "{record}");
    assert_eq!(record["total"], 0, "{record}");

    // Kombo delivers the create again: no second notice.
    assert_eq!(outcomes(&d.create(&[create])), ["already_stored"]);
    assert!(d.alerts().await.is_empty());
    // The folded failures were told by the notice: the sweep owes nothing.
    d.after_window().await;
    assert_eq!(d.sweep()["summaries"], 0);
    assert!(d.alerts().await.is_empty());

    // A failure after that starts afresh: it pages, counting only itself.
    assert_eq!(
        outcomes(&d.fail(&[failure_body("r4", Some("36123"), ACME, "workday")])),
        ["alerted"]
    );
    let alerts = d.alerts().await;
    assert_eq!(field(&alerts[0].1, "Failed since the last page"), None);
    assert_eq!(d.record(KEY).await["total"], 1);
}

/// `env` with SNS on a port nothing listens on: every publish fails.
fn without_sns(env: Vec<(String, String)>) -> Vec<(String, String)> {
    let dead = format!("http://127.0.0.1:{}", free_port());
    with_env(
        with_env(env, "AWS_ENDPOINT_URL_SNS", &dead),
        "AWS_ENDPOINT_URL",
        &dead,
    )
}

#[tokio::test]
async fn a_page_or_notice_whose_publish_failed_goes_out_on_the_retry_and_only_once() {
    let d = desk("retry", 600);
    let first = failure_body("p1", Some("36123"), ACME, "workday");
    let broken = without_sns(d.env("connection-flow-failed"));
    let got = d.deliver_with(
        "connection-flow-failed",
        &broken,
        FLOW_FAILED,
        std::slice::from_ref(&first),
    );
    assert_eq!(got[0].0, 503, "{got:?}");
    // A second failure meanwhile folds into the window the first one opened.
    assert_eq!(
        outcomes(&d.fail(&[failure_body("p2", Some("36123"), ACME, "workday")])),
        ["folded"]
    );
    assert!(d.alerts().await.is_empty());
    // Kombo's retry of the first: the page goes out now, once.
    assert_eq!(
        outcomes(&d.fail(&[first.clone(), first])),
        ["alerted", "already_alerted"]
    );
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].1["event_id"], "p1");
    assert_eq!(d.record(KEY).await["total"], 2);

    // The same for the resolved notice.
    let create = created_body("c-9", "workday:acme", Some("36123"));
    let broken = without_sns(d.env("integration-created"));
    let got = d.deliver_with(
        "integration-created",
        &broken,
        CREATED,
        std::slice::from_ref(&create),
    );
    assert_eq!(got[0].0, 503, "{got:?}");
    assert!(d.alerts().await.is_empty());
    assert_eq!(
        outcomes(&d.create(&[create.clone(), create])),
        ["resolved", "already_stored"]
    );
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].0,
        "Resolved: Acme, Inc. connected workday after 2 failed attempts"
    );
}

#[tokio::test]
async fn concurrent_duplicates_of_failures_creates_and_sweeps_stay_exactly_once() {
    let d = desk("concurrent", 600);
    let storm: Vec<String> = (1..=4)
        .map(|i| failure_body(&format!("k{i}"), Some("36123"), ACME, "workday"))
        .collect();
    // Three deliveries of every failure at once, from three warm processes.
    d.three_at_once("connection-flow-failed", FLOW_FAILED, &storm);
    let alerts = d.alerts().await;
    assert_eq!(
        alerts.len(),
        1,
        "one page for four failures delivered three times each: {alerts:?}"
    );
    let record = d.record(KEY).await;
    assert_eq!(
        (record["total"].as_i64(), record["folded"].as_i64()),
        (Some(4), Some(3)),
        "{record}"
    );

    // Two sweeps at once after the window (held until the same moment; they must have
    // overlapped): one summary.
    d.after_window().await;
    let reports = d.two_sweeps_at(moment_in(2_500));
    let sent: i64 = reports
        .iter()
        .map(|r| r["summaries"].as_i64().unwrap())
        .sum();
    let alerts = d.alerts().await;
    assert_eq!((sent, alerts.len()), (1, 1), "{reports:?} {alerts:?}");
    assert_eq!(field(&alerts[0].1, "Failed since the last page"), Some("3"));

    // Three deliveries of the create at once: one resolved notice.
    let create = created_body("c-k", "workday:acme", Some("36123"));
    d.three_at_once("integration-created", CREATED, &[create]);
    let alerts = d.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].0,
        "Resolved: Acme, Inc. connected workday after 4 failed attempts"
    );
}

/// docs/on-call.md's stated limit: only a direct INVALID → ACTIVE is "recovered";
/// INVALID → INACTIVE → ACTIVE pages once (the INVALID) and then says nothing.
#[tokio::test]
async fn invalid_then_inactive_then_active_says_nothing_after_the_page() {
    let d = desk("via-inactive", 600);
    let id = "workday:via-inactive";
    let state = |event: &str, state: &str, at: &str| {
        state_changed_body(event, id, Some("36123"), state, "PASSED", at)
    };
    let got = d.state(&[
        state("v1", "INVALID", "2026-11-27T10:00:00Z"),
        state("v2", "INACTIVE", "2026-11-27T11:00:00Z"),
        state("v3", "ACTIVE", "2026-11-27T12:00:00Z"),
    ]);
    assert_eq!(
        outcomes(&got),
        ["state_recorded_alerted", "state_recorded", "state_recorded"]
    );
    let alerts = d.alerts().await;
    let subjects: Vec<&str> = alerts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        subjects,
        ["Kombo integration invalid: Acme, Inc. (workday LMS)"]
    );
    let limit = std::fs::read_to_string(repo_root().join("docs/on-call.md")).unwrap();
    assert!(limit.contains("(INVALID → INACTIVE → ACTIVE says\nnothing)"));
    let row = d.stack.row(id).await;
    assert_eq!(
        (&row["state"], &row["usable"]),
        (&json!("ACTIVE"), &json!(true))
    );
}

#[tokio::test]
async fn an_integration_leaving_invalid_sends_one_recovered_notice() {
    let d = desk("recover", 600);
    let id = "workday:acme";
    let invalid = state_changed_body(
        "i1",
        id,
        Some("36123"),
        "INVALID",
        "PASSED",
        "2026-11-27T10:00:00Z",
    );
    let active = state_changed_body(
        "i2",
        id,
        Some("36123"),
        "ACTIVE",
        "PASSED",
        "2026-11-27T11:00:00Z",
    );
    let active_later = state_changed_body(
        "i3",
        id,
        Some("36123"),
        "ACTIVE",
        "PASSED",
        "2026-11-27T12:00:00Z",
    );
    let got = d.state(&[invalid, active.clone(), active.clone(), active_later]);
    assert_eq!(
        outcomes(&got),
        [
            "state_recorded_alerted",
            "state_recorded_recovered",
            "already_alerted",
            "state_recorded"
        ]
    );
    let alerts = d.alerts().await;
    let subjects: Vec<&str> = alerts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Kombo integration invalid: Acme, Inc. (workday LMS)",
            "Recovered: Acme, Inc. (workday LMS) is ACTIVE again"
        ]
    );
    assert_eq!(alerts[1].1["kind"], "integration-recovered");
    assert_eq!(alerts[1].1["thread_id"], alerts[0].1["thread_id"]);

    // Three deliveries at once of the ACTIVE that ends a second INVALID: one notice.
    let invalid = state_changed_body(
        "i6",
        id,
        Some("36123"),
        "INVALID",
        "PASSED",
        "2026-11-27T12:30:00Z",
    );
    assert_eq!(outcomes(&d.state(&[invalid])), ["state_recorded_alerted"]);
    let active = state_changed_body(
        "i7",
        id,
        Some("36123"),
        "ACTIVE",
        "PASSED",
        "2026-11-27T12:40:00Z",
    );
    d.three_at_once("integration-state-changed", STATE_CHANGED, &[active]);
    let subjects: Vec<String> = d.alerts().await.into_iter().map(|a| a.0).collect();
    assert_eq!(
        subjects,
        [
            "Kombo integration invalid: Acme, Inc. (workday LMS)",
            "Recovered: Acme, Inc. (workday LMS) is ACTIVE again"
        ]
    );

    // An ACTIVE that was never INVALID, and an older ACTIVE arriving late: no notice.
    let fresh = state_changed_body(
        "j1",
        "workday:fresh",
        Some("36123"),
        "ACTIVE",
        "PASSED",
        "2026-11-27T10:00:00Z",
    );
    let late = state_changed_body(
        "i0",
        id,
        Some("36123"),
        "ACTIVE",
        "PASSED",
        "2026-11-27T09:00:00Z",
    );
    assert_eq!(
        outcomes(&d.state(&[fresh, late])),
        ["state_recorded", "ignored_stale"]
    );
    assert!(d.alerts().await.is_empty());

    // A recovered notice whose publish failed goes out on the retry.
    let again = state_changed_body(
        "i4",
        id,
        Some("36123"),
        "INVALID",
        "PASSED",
        "2026-11-27T13:00:00Z",
    );
    let back = state_changed_body(
        "i5",
        id,
        Some("36123"),
        "ACTIVE",
        "PASSED",
        "2026-11-27T14:00:00Z",
    );
    assert_eq!(outcomes(&d.state(&[again])), ["state_recorded_alerted"]);
    let broken = without_sns(d.env("integration-state-changed"));
    let got = d.deliver_with(
        "integration-state-changed",
        &broken,
        STATE_CHANGED,
        std::slice::from_ref(&back),
    );
    assert_eq!(got[0].0, 503, "{got:?}");
    assert_eq!(outcomes(&d.state(&[back])), ["state_recorded_recovered"]);
    let subjects: Vec<String> = d.alerts().await.into_iter().map(|a| a.0).collect();
    assert_eq!(
        subjects,
        [
            "Kombo integration invalid: Acme, Inc. (workday LMS)",
            "Recovered: Acme, Inc. (workday LMS) is ACTIVE again"
        ]
    );
}

/// The `UpdateItem` requests that went through `proxy`.
async fn updates(proxy: &FaultServer) -> usize {
    proxy
        .operations()
        .await
        .iter()
        .filter(|(op, _)| op == "dynamodb:UpdateItem")
        .count()
}

#[tokio::test]
async fn a_failure_record_write_the_sdk_repeated_after_dynamodb_applied_it_counts_once() {
    let d = desk("sdk-retry", 600);
    let through = |rules: &[&str], body: String| {
        let proxy = FaultServer::proxy(&d.stack.ddb_endpoint, rules);
        let env = with_env(
            d.env("connection-flow-failed"),
            "AWS_ENDPOINT_URL_DYNAMODB",
            &proxy.endpoint,
        );
        let got = d.deliver_with("connection-flow-failed", &env, FLOW_FAILED, &[body]);
        (got, proxy)
    };
    // The opening write of the failure record (its key picks it out of the writes sent at
    // once) is applied, its answer lost (500), and the SDK sends it again: the repeat finds
    // the window opened by this very failure and pages (once).
    let (got, proxy) = through(
        &["apply-then-500:UpdateItem@failures#36123:1"],
        failure_body("w1", Some("36123"), ACME, "workday"),
    );
    assert_eq!(outcomes(&got), ["alerted"]);
    assert_eq!(proxy.count().await, 1, "the repeated write was reached");
    // The record's open and the SDK's repeat of it (recognised at once: no fold tried),
    // the fleet strike, the claim's completion.
    assert_eq!(updates(&proxy).await, 4);
    // The same for a fold (the record's second write: a fresh process tries to open first,
    // refused): the repeat finds this failure already in `folded_ids`.
    let (got, proxy) = through(
        &[
            "pass:UpdateItem@failures#36123:1",
            "apply-then-500:UpdateItem@failures#36123:1",
        ],
        failure_body("w2", Some("36123"), ACME, "workday"),
    );
    assert_eq!(outcomes(&got), ["folded"]);
    assert_eq!(proxy.count().await, 1);
    // The open tried first (refused: the window is open), the fold and the SDK's repeat of
    // it (recognised at once: no second open tried), the strike, the completion.
    assert_eq!(updates(&proxy).await, 5);
    assert_eq!(d.alerts().await.len(), 1);
    let record = d.record(KEY).await;
    assert_eq!(
        (record["total"].as_i64(), record["folded"].as_i64()),
        (Some(2), Some(1)),
        "each failure counted once: {record}"
    );
}
