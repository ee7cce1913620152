//! The failure sweep's conditional writes, each staged against the race it guards, on
//! DynamoDB Local (or moto): a page or fold landing between the sweep's read and its write.
//! Every test here fails when the guard it names is removed (the mutations are listed in
//! the issue note); the races are staged in order with fixed clocks, not left to timing.

mod support;

use serde_json::Value;
use shared::decide::FailureRecord;
use shared::event::ConnectionFlowFailed;
use shared::ports::FailureStore;
use support::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

/// Fold window of the test stack's settings (15 min): a failure this long after T0 opens a
/// new window.
const AFTER_WINDOW: Duration = Duration::seconds(15 * 60 + 10);

/// Delivers a connection-flow failure of customer `origin` at `clock`; its outcome.
async fn fail(stack: &Stack, clock: fn() -> OffsetDateTime, id: &str, origin: &str) -> String {
    let mut app = stack.app().await;
    app.effects.clock = clock;
    let resp = app
        .serve::<ConnectionFlowFailed>(&signed(FLOW_FAILED, &flow_failed_body(id, Some(origin))))
        .await;
    assert_eq!(status(&resp), 200, "{}", body_json(&resp));
    body_json(&resp)["outcome"].as_str().unwrap().to_owned()
}

fn key(origin: &str) -> String {
    format!("failures#{origin}#workday")
}

/// The record of `origin` as the sweep reads it from the pending-summaries index (None:
/// not in the index).
async fn pending(stack: &Stack, origin: &str) -> Option<FailureRecord> {
    let store = stack.app().await.effects.store;
    store
        .closed_windows(i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.key == key(origin))
}

async fn record(stack: &Stack, origin: &str) -> Value {
    stack.failure_record(&key(origin)).await
}

/// A paged window at T0 with one failure folded into it.
async fn window_with_one_folded(stack: &Stack, origin: &str) -> FailureRecord {
    assert_eq!(
        fail(stack, || T0, &format!("{origin}-1"), origin).await,
        "alerted"
    );
    assert_eq!(
        fail(
            stack,
            || T0 + Duration::seconds(1),
            &format!("{origin}-2"),
            origin
        )
        .await,
        "folded"
    );
    let r = pending(stack, origin)
        .await
        .expect("a folded window is pending");
    assert_eq!((r.folded, r.summary.is_none()), (1, true));
    r
}

#[tokio::test]
async fn take_summary_refuses_a_read_that_a_later_fold_made_stale() {
    // Guard: `folded = :n`. A failure folded after the sweep read the record must not be
    // swallowed by a summary that counts only what was read.
    let stack = Stack::new("guard-take-count");
    let store = stack.app().await.effects.store;
    let read = window_with_one_folded(&stack, "41").await;
    assert_eq!(
        fail(&stack, || T0 + Duration::seconds(2), "41-3", "41").await,
        "folded"
    );
    assert!(
        !store.take_summary(&read).await.unwrap(),
        "took a summary of 1 while 2 were folded"
    );
    let rec = record(&stack, "41").await;
    assert_eq!(
        (rec["folded"].as_i64(), rec.get("summary_id")),
        (Some(2), None)
    );
    // Read again, it is taken with both.
    let fresh = pending(&stack, "41").await.unwrap();
    assert!(store.take_summary(&fresh).await.unwrap());
    assert_eq!(record(&stack, "41").await["summary_pending"], 2);
}

#[tokio::test]
async fn take_summary_refuses_a_read_of_a_window_a_page_has_since_replaced() {
    // Guard: `window_start_ms = :w`. A page opened the next window (carrying the count)
    // and one failure folded into it: the same folded count, another window. The stale
    // read must not take the new window's failure under the old window's summary id.
    let stack = Stack::new("guard-take-window");
    let store = stack.app().await.effects.store;
    let read = window_with_one_folded(&stack, "42").await;
    assert_eq!(
        fail(&stack, || T0 + AFTER_WINDOW, "42-3", "42").await,
        "alerted"
    );
    assert_eq!(
        fail(
            &stack,
            || T0 + AFTER_WINDOW + Duration::seconds(1),
            "42-4",
            "42"
        )
        .await,
        "folded"
    );
    let rec = record(&stack, "42").await;
    assert_eq!(rec["folded"], 1, "{rec}");
    assert_ne!(rec["window_start_ms"].as_i64(), Some(read.window_start_ms));
    assert!(
        !store.take_summary(&read).await.unwrap(),
        "took the new window's failure under the old window's summary"
    );
    assert_eq!(record(&stack, "42").await.get("summary_id"), None);
}

#[tokio::test]
async fn take_summary_refuses_while_another_sweeps_summary_is_pending() {
    // Guard: `attribute_not_exists(summary_id)`. Sweep A took the window's summary (not sent
    // yet); a late failure folded into the same window; sweep B, with a read that looks
    // untaken, must not overwrite A's pending summary.
    let stack = Stack::new("guard-take-pending");
    let store = stack.app().await.effects.store;
    let read = window_with_one_folded(&stack, "43").await;
    assert!(store.take_summary(&read).await.unwrap(), "sweep A takes it");
    let a_id = read.summary_id();
    assert_eq!(
        fail(&stack, || T0 + Duration::seconds(2), "43-3", "43").await,
        "folded"
    );
    // B's read: the same window and count, and (as B read it before A's take) no summary.
    assert!(
        !store.take_summary(&read).await.unwrap(),
        "sweep B took over sweep A's pending summary"
    );
    let rec = record(&stack, "43").await;
    assert_eq!(
        (rec["summary_id"].as_str(), rec["summary_pending"].as_i64()),
        (Some(a_id.as_str()), Some(1)),
        "{rec}"
    );
}

#[tokio::test]
async fn a_sent_summary_keeps_the_record_pending_when_a_failure_folded_since() {
    // Guard: `folded = :zero` in summary_sent's first write. The summary of 1 went out, but
    // a failure folded after it was taken: the record must stay in the index for the next
    // sweep, with only the sent summary forgotten.
    let stack = Stack::new("guard-sent");
    let store = stack.app().await.effects.store;
    let read = window_with_one_folded(&stack, "44").await;
    assert!(store.take_summary(&read).await.unwrap());
    assert_eq!(
        fail(&stack, || T0 + Duration::seconds(2), "44-3", "44").await,
        "folded"
    );
    store
        .summary_sent(&key("44"), &read.summary_id())
        .await
        .unwrap();
    let left = pending(&stack, "44")
        .await
        .expect("the later failure keeps the record in the index");
    assert_eq!((left.folded, left.summary), (1, None));
    // With nothing folded since, a sent summary takes the record out of the index.
    let read = window_with_one_folded(&stack, "45").await;
    assert!(store.take_summary(&read).await.unwrap());
    store
        .summary_sent(&key("45"), &read.summary_id())
        .await
        .unwrap();
    assert!(pending(&stack, "45").await.is_none());
    assert_eq!(record(&stack, "45").await.get("sweep"), None);
}

#[tokio::test]
async fn tidy_leaves_a_record_that_a_failure_or_a_summary_reached_after_the_read() {
    // Guard: tidy's condition. A record with nothing folded (a page opened its new window)
    // is read for tidying; before the tidy a failure folds into it: the record must stay in
    // the index, or that failure is never reported.
    let stack = Stack::new("guard-tidy");
    let store = stack.app().await.effects.store;
    window_with_one_folded(&stack, "46").await;
    assert_eq!(
        fail(&stack, || T0 + AFTER_WINDOW, "46-3", "46").await,
        "alerted"
    );
    let read = pending(&stack, "46").await.expect("still in the index");
    assert_eq!((read.folded, read.summary.is_none()), (0, true));
    assert_eq!(
        fail(
            &stack,
            || T0 + AFTER_WINDOW + Duration::seconds(1),
            "46-4",
            "46"
        )
        .await,
        "folded"
    );
    store.tidy(&read.key).await.unwrap();
    assert_eq!(
        pending(&stack, "46").await.map(|r| r.folded),
        Some(1),
        "tidy took a record with a folded failure out of the index"
    );
    // Another sweep took that failure's summary (folded back to 0, the summary pending):
    // the stale tidy must still leave it, or a failed publish is never retried.
    let now = pending(&stack, "46").await.unwrap();
    assert!(store.take_summary(&now).await.unwrap());
    store.tidy(&read.key).await.unwrap();
    assert!(
        pending(&stack, "46")
            .await
            .is_some_and(|r| r.summary.is_some()),
        "tidy took a record with a pending summary out of the index"
    );
    // The summary sent with nothing folded since, the record leaves the index.
    store
        .summary_sent(&key("46"), &now.summary_id())
        .await
        .unwrap();
    assert!(pending(&stack, "46").await.is_none());
}
