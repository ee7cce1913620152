//! The stores' conditional writes, each staged against the race it guards on DynamoDB Local:
//! the ports called as the effects call them, in the order the race would take, at fixed
//! moments (no test here waits or depends on timing). Every test fails when the condition it
//! names is removed (the mutations are listed in the issue note).

mod support;

use serde_json::{Value, json};
use shared::decide::fleet::{FleetKind, FleetRecord, Incident, Strike};
use shared::ports::{FleetStore, MappingStore};
use support::*;
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

/// Puts `item` (JSON, as stored) into the mappings table as it stands.
async fn put_row(stack: &Stack, item: Value) {
    stack
        .ddb()
        .await
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(serde_dynamo::to_item(item).unwrap()))
        .send()
        .await
        .unwrap();
}

/// A live row of customer 42 in state `state`, last changed by `state_event`.
fn row(id: &str, state: &str, state_event: &str) -> Value {
    json!({
        "integration_id": id,
        "origin_id": "42",
        "tool": "workday",
        "category": "HRIS",
        "status": "ACTIVE",
        "state": state,
        "state_event_id": state_event,
        "state_updated_at": "2026-11-25T12:00:00Z",
        "state_updated_at_ms": 1_795_608_000_000_i64,
        "updated_at": "2026-11-25T12:00:00Z",
        "last_event_id": state_event,
    })
}

#[tokio::test]
async fn two_retries_taking_over_one_expired_page_claim_move_it_once() {
    // Guard: `invalid_page = :from` (swap_page_claim). Two deliveries that both read the
    // dead invocation's claim must not both page.
    let stack = Stack::new("cond-swap");
    let store = stack.app().await.effects.store;
    let dead = "1|dead-invocation|s1";
    let mut r = row("workday:p1", "INVALID", "s1");
    r["invalid_page"] = json!(dead);
    put_row(&stack, r).await;
    let (a, b) = tokio::join!(
        store.swap_page_claim("workday:p1", Some(dead), Some("9|a|s1")),
        store.swap_page_claim("workday:p1", Some(dead), Some("9|b|s1")),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one takes it over: {a} {b}");
    let winner = if a { "9|a|s1" } else { "9|b|s1" };
    assert_eq!(stack.row("workday:p1").await["invalid_page"], winner);

    // Guard: a new claim only where none stands and the row is INVALID.
    put_row(&stack, row("workday:p2", "ACTIVE", "s2")).await;
    let took = store
        .swap_page_claim("workday:p2", None, Some("9|c|s2"))
        .await
        .unwrap();
    assert!(!took, "no page claim on a row that is not INVALID");
    assert!(stack.row("workday:p2").await["invalid_page"].is_null());
}

#[tokio::test]
async fn a_recovery_noted_after_a_newer_state_is_not_written() {
    // Guard: `state_event_id = :me` (note_recovery). A recovery's retry that comes after a
    // newer state must not name itself on the row (the newer writer decided for itself).
    let stack = Stack::new("cond-recovery");
    let store = stack.app().await.effects.store;
    put_row(&stack, row("workday:r1", "INVALID", "s3-newer")).await;
    store.note_recovery("workday:r1", "s2").await.unwrap();
    assert!(
        stack.row("workday:r1").await["recovered_event_id"].is_null(),
        "{}",
        stack.row("workday:r1").await
    );
    // Its own state: noted.
    store.note_recovery("workday:r1", "s3-newer").await.unwrap();
    assert_eq!(
        stack.row("workday:r1").await["recovered_event_id"],
        "s3-newer"
    );
}

#[tokio::test]
async fn a_token_is_noted_only_on_its_customers_live_row() {
    // Guard: `origin_id = :o AND status <> deleted` (note_token).
    let stack = Stack::new("cond-token");
    let store = stack.app().await.effects.store;
    put_row(&stack, row("workday:t1", "ACTIVE", "s1")).await;
    let noted = store
        .note_token("workday:t1", "43", "digest")
        .await
        .unwrap();
    assert!(!noted, "another customer's row");
    assert!(stack.row("workday:t1").await["connect_token_sha256"].is_null());
    let mut gone = row("workday:t2", "ACTIVE", "s1");
    gone["status"] = json!("DELETED");
    put_row(&stack, gone).await;
    assert!(
        !store
            .note_token("workday:t2", "42", "digest")
            .await
            .unwrap()
    );
    assert!(stack.row("workday:t2").await["connect_token_sha256"].is_null());
    assert!(
        store
            .note_token("workday:t1", "42", "digest")
            .await
            .unwrap()
    );
    assert_eq!(
        stack.row("workday:t1").await["connect_token_sha256"],
        "digest"
    );
}

#[tokio::test]
async fn usable_settled_from_a_stale_read_is_not_written() {
    // Guard: the fields `usable` follows from are still what was read (settle_usable). The
    // reconcile run read an ACTIVE row written before `usable` existed; a webhook made it
    // INVALID (usable false) since: the run must not write `usable: true` over it.
    let stack = Stack::new("cond-settle");
    let store = stack.app().await.effects.store;
    put_row(&stack, row("workday:u1", "ACTIVE", "s1")).await;
    let read = store.row("workday:u1").await.unwrap().unwrap();
    assert_eq!(read.usable, None, "written before the attribute existed");
    let mut now_invalid = row("workday:u1", "INVALID", "s2");
    now_invalid["usable"] = json!(false);
    now_invalid["unusable_reason"] = json!("invalid");
    put_row(&stack, now_invalid).await;
    assert!(!store.settle_usable(&read).await.unwrap());
    let stored = stack.row("workday:u1").await;
    assert_eq!(stored["usable"], false, "{stored}");
    assert_eq!(stored["unusable_reason"], "invalid", "{stored}");
    // From a read that still stands: settled.
    let fresh = store.row("workday:u1").await.unwrap().unwrap();
    put_row(&stack, row("workday:u2", "ACTIVE", "s1")).await;
    let u2 = store.row("workday:u2").await.unwrap().unwrap();
    assert!(store.settle_usable(&u2).await.unwrap());
    assert_eq!(stack.row("workday:u2").await["usable"], true);
    assert_eq!(fresh.usable, Some(false));
}

fn strike(customer: &str, event_id: &str) -> Strike {
    Strike {
        kind: FleetKind::ConnectionFailures,
        tool: "workday".into(),
        category: "HRIS".into(),
        customer: customer.into(),
        organization: format!("Org {customer}"),
        reference: format!("log-{event_id}"),
        event_id: event_id.into(),
        established: true,
    }
}

const KEY: &str = "fleet#connection-failures#workday";

/// The fleet record of `workday` as the sweep reads it.
async fn read(store: &impl FleetStore) -> FleetRecord {
    store
        .fleet_records()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.key == KEY)
        .expect("the record")
}

/// Strikes A, B and C (a second apart from T0) and opens an incident on them.
async fn incident_of_three(store: &impl FleetStore) -> FleetRecord {
    for (i, c) in ["A", "B", "C"].into_iter().enumerate() {
        store
            .strike(
                &strike(c, &format!("{c}1")),
                T0 + time::Duration::seconds(i as i64),
            )
            .await
            .unwrap();
    }
    let opened_ms = shared::clock::epoch_ms(T0) + 2_000;
    let incident = Incident {
        id: "incident-1".into(),
        opened_by: "C1".into(),
        opened_seq: 3,
        opened_ms,
        since_ms: shared::clock::epoch_ms(T0),
        reported: 3,
        reported_ms: opened_ms,
    };
    store.open_incident(KEY, &incident).await.unwrap();
    read(store).await
}

#[tokio::test]
async fn two_sweeps_from_one_read_take_one_update() {
    // Guard: `incident_reported_ms = :from` (take_update), staged: both sweeps read the
    // record before either writes, in this order, every time.
    let stack = Stack::new("cond-update");
    let store = stack.app().await.effects.store;
    let r = incident_of_three(&store).await;
    let later = r.last_ms + 700_000;
    assert!(store.take_update(&r, 5, later).await.unwrap());
    assert!(
        !store.take_update(&r, 5, later + 1).await.unwrap(),
        "the second sweep's read is stale: no second update"
    );
    let record = stack.failure_record(KEY).await;
    assert_eq!(record["incident_reported"], 5, "{record}");
    assert_eq!(record["incident_reported_ms"], later, "{record}");
    // An update whose publish failed is given back: the next sweep's read takes it again.
    store.give_back_update(&r, later).await.unwrap();
    let again = read(&store).await;
    assert_eq!(
        again.incident.as_ref().unwrap().reported_ms,
        r.incident.as_ref().unwrap().reported_ms
    );
    assert!(store.take_update(&again, 5, later + 2).await.unwrap());
}

#[tokio::test]
async fn a_strike_between_the_sweeps_read_and_its_prune_or_end_is_kept() {
    // Guard: `last_ms = :last` on prune's delete and removals: a customer struck after the
    // sweep read the record must not be erased with the customers it found stale.
    let stack = Stack::new("cond-prune");
    let store = stack.app().await.effects.store;
    store.strike(&strike("A", "A1"), T0).await.unwrap();
    let r = read(&store).await;
    let d_at = T0 + time::Duration::seconds(30);
    store.strike(&strike("D", "D1"), d_at).await.unwrap();
    store.prune(&r, i64::MAX).await.unwrap();
    let after = read(&store).await;
    let customers: Vec<&str> = after.members.iter().map(|m| m.customer.as_str()).collect();
    assert_eq!(customers, ["A", "D"], "nothing forgotten from a stale read");

    // Some stale, some not: A (stale in the read) failed again since: kept.
    let stack = Stack::new("cond-prune-some");
    let store = stack.app().await.effects.store;
    store.strike(&strike("A", "A1"), T0).await.unwrap();
    store
        .strike(&strike("B", "B1"), T0 + time::Duration::seconds(100))
        .await
        .unwrap();
    let r = read(&store).await;
    store
        .strike(&strike("A", "A2"), T0 + time::Duration::seconds(200))
        .await
        .unwrap();
    let before = shared::clock::epoch_ms(T0 + time::Duration::seconds(50));
    store.prune(&r, before).await.unwrap();
    let after = read(&store).await;
    let a = after.members.iter().find(|m| m.customer == "A");
    assert_eq!(a.map(|m| m.failures), Some(2), "{:?}", after.members);

    // The same for an incident's end: it ends, and D (struck after the read) stays.
    let stack = Stack::new("cond-end");
    let store = stack.app().await.effects.store;
    let r = incident_of_three(&store).await;
    store
        .strike(&strike("D", "D1"), T0 + time::Duration::seconds(30))
        .await
        .unwrap();
    store.end_incident(&r, i64::MAX).await.unwrap();
    let after = read(&store).await;
    assert!(after.incident.is_none(), "ended");
    assert!(
        after.members.iter().any(|m| m.customer == "D"),
        "D kept: {:?}",
        after.members
    );
    // From a read that still stands, everyone stale goes and so does the record.
    store.prune(&after, i64::MAX).await.unwrap();
    assert!(stack.failure_record(KEY).await.is_null());
}

#[tokio::test]
async fn a_recovery_of_a_customer_not_on_the_record_adds_nobody() {
    // Guard: `attribute_exists(s#<customer>)` (recover).
    let stack = Stack::new("cond-recover");
    let store = stack.app().await.effects.store;
    store.strike(&strike("A", "A1"), T0).await.unwrap();
    assert!(store.recover(KEY, "B").await.unwrap().is_none());
    let record = stack.failure_record(KEY).await;
    let names: Vec<&String> = record
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with("#B"))
        .collect();
    assert!(names.is_empty(), "B added: {record}");
    let after = store.recover(KEY, "A").await.unwrap().expect("A is on it");
    assert!(after.members[0].recovered);
}

#[tokio::test]
async fn a_late_duplicates_strike_is_taken_back_only_while_it_is_the_customers_last() {
    // Guard: `l#<customer> = :me AND n#<customer> > 1` (unstrike).
    let stack = Stack::new("cond-unstrike");
    let store = stack.app().await.effects.store;
    store.strike(&strike("A", "A1"), T0).await.unwrap();
    // A1 is A's only failure: never taken below one.
    store.unstrike(&strike("A", "A1")).await.unwrap();
    assert_eq!(read(&store).await.members[0].failures, 1);
    store
        .strike(&strike("A", "A2"), T0 + time::Duration::seconds(1))
        .await
        .unwrap();
    // A1's late duplicate: A2 is A's last: A1 cannot take back A2's count.
    store.unstrike(&strike("A", "A1")).await.unwrap();
    assert_eq!(read(&store).await.members[0].failures, 2);
    // A2's own duplicate: taken back.
    store.unstrike(&strike("A", "A2")).await.unwrap();
    assert_eq!(read(&store).await.members[0].failures, 1);
}

/// The failure `id` of customer 42 (workday) as the webhook decides it at `now`.
fn failure(stack: &Stack, id: &str, now: OffsetDateTime) -> shared::decide::Failure {
    use shared::decide::{Decide, Decision};
    let e = shared::event::parse::<shared::event::ConnectionFlowFailed>(
        flow_failed_body(id, Some("42")).as_bytes(),
    )
    .unwrap();
    match shared::event::ConnectionFlowFailed::decide(e, now, &stack.settings().rules) {
        Decision::Failure(f) => f,
        other => panic!("{other:?}"),
    }
}

const RECORD: &str = "failures#42#workday";

#[tokio::test]
async fn a_late_duplicates_count_is_taken_back_only_from_the_window_that_counted_it() {
    // Guards: `window_opened_by = :me AND window_start_ms = :w` and `contains(folded_ids,
    // :me) AND window_start_ms = :w` (uncount): a take-back that comes after the record
    // moved on takes nothing from the window standing, whichever part moved.
    use shared::decide::failures::Wrote;
    use shared::ports::FailureStore;
    let stack = Stack::new("cond-uncount");
    let store = stack.app().await.effects.store;
    let window = stack.settings().rules.fold_window;
    let at = |w: i32, s: i64| T0 + window * w + time::Duration::seconds(10 * i64::from(w) + s);
    let count = |id: &'static str, when: OffsetDateTime| {
        let f = failure(&stack, id, when);
        let store = &store;
        async move {
            let wrote = store.count_failure(&f, when).await.unwrap().wrote.unwrap();
            (f, wrote)
        }
    };
    let record = || async { stack.failure_record(RECORD).await };
    // f1 opens window 0, f2 window 1, and f1 again (a late duplicate) window 2.
    let (f1, w0) = count("f1", at(0, 0)).await;
    assert!(matches!(w0, Wrote::Opened { .. }));
    count("f2", at(1, 0)).await;
    let (_, w2) = count("f1", at(2, 0)).await;
    assert!(matches!(w2, Wrote::Opened { .. }));
    // The take-back of window 0's opening: f1 opened the standing window too, but not at
    // window 0's start.
    let stands = record().await;
    store.uncount(&f1, w0).await.unwrap();
    assert_eq!(record().await, stands, "window 2 untouched");
    // f3 folds into window 2; f5 opens window 3 and f3, again, folds into it. The take-back
    // of the fold into window 2 (f3 is folded into the standing window, but not that one)
    // and of a fold that never happened (f9) take nothing.
    let (f3, fold2) = count("f3", at(2, 1)).await;
    assert!(matches!(fold2, Wrote::Folded { .. }));
    let (f5, w3) = count("f5", at(3, 0)).await;
    let (_, fold3) = count("f3", at(3, 1)).await;
    assert!(
        matches!(fold3, Wrote::Folded { .. }),
        "{fold3:?} {}",
        record().await
    );
    let stands = record().await;
    store.uncount(&f3, fold2).await.unwrap();
    let f9 = failure(&stack, "f9", at(3, 2));
    store.uncount(&f9, fold3).await.unwrap();
    assert_eq!(record().await, stands, "window 3 untouched");
    // f5's window taken back (a duplicate's), then f6 opens one at the same moment: f5's
    // repeated take-back finds the same start but another opener: nothing.
    store.uncount(&f5, w3).await.unwrap();
    count("f6", at(3, 0)).await;
    let stands = record().await;
    assert_eq!(stands["window_opened_by"], "f6", "{stands}");
    store.uncount(&f5, w3).await.unwrap();
    assert_eq!(record().await, stands, "f6's window untouched");
    // Its own, while it stands: taken back.
    let (f7, fold7) = count("f7", at(3, 3)).await;
    let before = record().await;
    store.uncount(&f7, fold7).await.unwrap();
    let after = record().await;
    assert_eq!(
        after["total"].as_i64().unwrap(),
        before["total"].as_i64().unwrap() - 1,
        "{after}"
    );
}

/// The sweep at `clock`, its SNS behind `sns` (moto, or a proxy failing its publishes).
async fn sweeper(stack: &Stack, sns: &str, clock: fn() -> OffsetDateTime) -> shared::AwsSweeper {
    let mut effects = shared::AwsEffects::with_clients(
        &stack.settings(),
        stack.ddb().await,
        aws_sdk_sns::Client::new(&Stack::sdk_at(sns).await),
    );
    effects.clock = clock;
    shared::sweep::Sweeper { effects }
}

#[tokio::test]
async fn an_update_whose_publish_failed_is_given_back_and_sent_by_the_next_sweep() {
    // Guard: the sweep gives the update it took back when the publish fails
    // (`give_back_update`): else the next sweep finds it taken and the update is lost.
    let stack = Stack::new("cond-give-back");
    let store = stack.app().await.effects.store;
    incident_of_three(&store).await;
    // A fourth customer joins: the incident grew.
    store
        .strike(&strike("D", "D1"), T0 + time::Duration::seconds(300))
        .await
        .unwrap();
    stack.alerts().await;
    // A window after the opening, before it is a window quiet.
    let at = || T0 + time::Duration::seconds(700);
    let failing = FaultServer::proxy(&stack.endpoint, &["500:Publish"]);
    let deadline = || shared::deadline::Deadline::after(std::time::Duration::from_secs(10));
    let first = sweeper(&stack, &failing.endpoint, at)
        .await
        .run(deadline())
        .await
        .unwrap();
    assert_eq!(
        (first.incident_updates, first.failures),
        (0, 1),
        "the publish failed: {first:?}"
    );
    assert!(stack.alerts().await.is_empty());
    let report = sweeper(&stack, &stack.endpoint, at)
        .await
        .run(deadline())
        .await
        .unwrap();
    assert_eq!(report.incident_updates, 1, "{report:?}");
    let alerts = stack.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0]["Subject"],
        "Kombo connections failing for workday: now 4 customers"
    );
}
