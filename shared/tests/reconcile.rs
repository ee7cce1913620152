//! The reconcile run through its built binary (a Lambda Runtime API server on loopback),
//! against DynamoDB Local/moto and a local Kombo that answers `GET /integrations/{id}` per
//! id: present, deleted, INVALID, INACTIVE, rate-limited, slow, hanging.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::*;

struct Run {
    stack: Stack,
    kombo: FakeKombo,
    dir: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Run {
    fn new(name: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("kombo-rec-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Run {
            stack: Stack::new(name),
            kombo: FakeKombo::start(),
            dir,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        with_env(
            template_env(&self.stack, "reconcile"),
            "KOMBO_API_BASE_URL",
            &self.kombo.base_url,
        )
    }

    /// Stores each integration through the integration-created binary (all of customer
    /// 36123, so its "duplicate integration" notices are drained: the runs' alerts are
    /// what these tests read).
    async fn create(&self, ids: &[&str]) {
        let files: Vec<PathBuf> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                event_file(
                    &self.dir,
                    &format!("create-{i}"),
                    CREATED,
                    &created_body(&format!("c-{i}"), id, Some("36123")),
                )
            })
            .collect();
        let (result, log) = invoke_files(
            "integration-created",
            &template_env(&self.stack, "integration-created"),
            &files,
            10_000,
        );
        assert!(
            answers(&result).iter().all(|(c, _)| *c == 200),
            "{result}\n{log}"
        );
        let notices = self.stack.subjects().await;
        assert!(
            notices
                .iter()
                .all(|s| s.starts_with("Kombo duplicate integration")),
            "{notices:?}"
        );
    }

    /// One reconcile invocation with `deadline_ms`; (the report, the whole result, the log).
    fn reconcile(
        &self,
        env: &[(String, String)],
        payload: Value,
        deadline_ms: u64,
    ) -> (Value, Value, String) {
        let file = self.dir.join(format!("run-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&file, payload.to_string()).unwrap();
        let (result, log) = invoke_files("reconcile", env, &[file], deadline_ms);
        let report = result["responses"][0]["response"].clone();
        assert!(report.is_object(), "no report: {result}\n{log}");
        let answered = result["responses"][0]["answered_ms"].as_f64().unwrap();
        assert!(
            answered < deadline_ms as f64,
            "answered after {answered} ms, past its {deadline_ms} ms deadline\n{log}"
        );
        (report, result, log)
    }

    fn run(&self) -> Value {
        self.reconcile(&self.env(), json!({}), 60_000).0
    }

    async fn row(&self, id: &str) -> Value {
        self.stack.row(id).await
    }

    async fn subjects(&self) -> Vec<String> {
        self.stack.subjects().await
    }

    async fn gets(&self, id: &str) -> usize {
        let path = format!("/v1/integrations/{id}");
        self.kombo
            .requests()
            .await
            .iter()
            .filter(|q| q["method"] == "GET" && q["path"] == path.as_str())
            .count()
    }

    /// The cursor item the run keeps in the idempotency table, if any.
    async fn cursor(&self) -> Option<Value> {
        self.stack
            .claims()
            .await
            .into_iter()
            .find(|c| c["event_id"] == "reconcile#cursor")
    }

    async fn set_kombo(&self, id: &str, doc: Value) {
        self.kombo.set_integration(id, doc).await
    }
}

const PRESENT: &str = "workday:present";
const GONE: &str = "workday:gone";
const INVALID: &str = "workday:now-invalid";
const INACTIVE: &str = "workday:now-inactive";

#[tokio::test]
async fn one_run_converges_the_table_to_kombo_and_repeated_runs_change_nothing() {
    let r = Run::new("converge");
    r.create(&[PRESENT, GONE, INVALID, INACTIVE]).await;
    // A tombstone from the webhooks: never asked about, never revived.
    let tomb = "workday:deleted-by-webhook";
    r.create(&[tomb]).await;
    let file = event_file(
        &r.dir,
        "del",
        DELETED,
        &deleted_body("d-1", tomb, Some("36123")),
    );
    invoke_files(
        "integration-deleted",
        &template_env(&r.stack, "integration-deleted"),
        &[file],
        10_000,
    );
    let before_present = r.row(PRESENT).await;

    let report = r.run();
    assert_eq!(report["checked"], 4, "{report}");
    assert_eq!(report["in_step"], 1, "{report}");
    assert_eq!(report["deleted"], 1, "{report}");
    assert_eq!(report["state_repaired"], 2, "{report}");
    assert_eq!(report["invalid_paged"], 1, "{report}");
    assert_eq!(report["failures"], 0, "{report}");
    assert_eq!(report["stopped"], Value::Null, "{report}");

    assert_eq!(
        r.row(PRESENT).await,
        before_present,
        "an integration in step is not written"
    );
    let gone = r.row(GONE).await;
    assert_eq!(gone["status"], "DELETED");
    assert_eq!(gone["last_event_id"], "reconcile-deleted:workday:gone");
    assert!(
        gone["expires_at"].is_number(),
        "a tombstone expires: {gone}"
    );
    let invalid = r.row(INVALID).await;
    assert_eq!(invalid["state"], "INVALID");
    assert_eq!(invalid["setup_status"], "COMPLETED");
    assert_eq!(
        invalid["origin_id"], "36123",
        "the customer stays: {invalid}"
    );
    assert_eq!(r.row(INACTIVE).await["state"], "INACTIVE");
    assert_eq!(r.row(tomb).await["status"], "DELETED");
    assert_eq!(r.gets(tomb).await, 0, "a tombstone is not asked about");
    assert_eq!(
        r.subjects().await,
        [
            "Kombo integration deleted outside the webhooks: Acme, Inc. (workday LMS)",
            "Kombo integration invalid: Acme, Inc. (workday LMS)",
        ]
    );

    // Again, twice: nothing changes, nobody is paged again, the tombstone is not revived.
    let rows = r.stack.rows().await;
    for _ in 0..2 {
        let again = r.run();
        assert_eq!(
            again["checked"], 3,
            "the tombstones are not asked about: {again}"
        );
        assert_eq!(again["in_step"], 3, "{again}");
        assert_eq!(again["changes"], json!([]), "{again}");
    }
    assert_eq!(r.stack.rows().await, rows);
    assert_eq!(r.subjects().await, Vec::<String>::new());
    assert_eq!(r.gets(GONE).await, 1);

    // The webhook for the same INVALID arrives late: recorded, no second page.
    let file = event_file(
        &r.dir,
        "late",
        STATE_CHANGED,
        &state_changed_body(
            "s-late",
            INVALID,
            Some("36123"),
            "INVALID",
            "PASSED",
            "2026-11-01T10:00:00.000Z",
        ),
    );
    let (res, log) = invoke_files(
        "integration-state-changed",
        &template_env(&r.stack, "integration-state-changed"),
        &[file],
        10_000,
    );
    assert_eq!(answers(&res)[0].0, 200, "{log}");
    assert_ne!(answers(&res)[0].1, "state_recorded_alerted", "{log}");
    assert_eq!(r.subjects().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_dry_run_lists_the_changes_and_writes_nothing() {
    let r = Run::new("dry");
    r.create(&[PRESENT, GONE, INVALID]).await;
    let rows = r.stack.rows().await;
    let claims = r.stack.claims().await;
    let (report, _, log) = r.reconcile(&r.env(), json!({"dry_run": true}), 60_000);
    assert_eq!(report["dry_run"], true);
    let mut changes: Vec<(String, String, String)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["outcome"], "dry_run");
            (
                c["integration_id"].as_str().unwrap().to_owned(),
                c["repair"].as_str().unwrap().to_owned(),
                c["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            (GONE.to_owned(), "deleted".to_owned(), "DELETED".to_owned()),
            (
                INVALID.to_owned(),
                "state".to_owned(),
                "INVALID COMPLETED".to_owned()
            ),
        ],
        "{log}"
    );
    assert_eq!(r.stack.rows().await, rows, "a dry run writes no row");
    assert_eq!(r.stack.claims().await, claims, "nor a claim or cursor");
    assert!(r.stack.alerts().await.is_empty(), "nor pages anyone");
}

#[tokio::test]
async fn rate_limited_it_stops_and_the_next_run_goes_on_from_there() {
    let r = Run::new("ratelimit");
    let limited = "workday:x:rate-limited";
    let ids = [
        PRESENT,
        GONE,
        INVALID,
        INACTIVE,
        limited,
        "workday:a",
        "workday:b",
        "workday:c",
    ];
    r.create(&ids).await;
    let first = r.run();
    assert_eq!(first["stopped"], "rate_limited", "{first}");
    let checked_first = first["checked"].as_u64().unwrap();
    assert!(checked_first < 8, "{first}");
    assert!(
        r.cursor().await.is_some(),
        "the run remembers where it stopped"
    );
    // Kombo lets it through again: the next run starts where the first stopped, and the
    // two together asked about every row; the table has converged.
    r.set_kombo(limited, json!({"status": "ACTIVE"})).await;
    let second = r.run();
    assert_eq!(second["stopped"], Value::Null, "{second}");
    assert_eq!(
        checked_first + second["checked"].as_u64().unwrap(),
        8,
        "{first}\n{second}"
    );
    assert_eq!(r.row(GONE).await["status"], "DELETED");
    assert_eq!(r.row(INVALID).await["state"], "INVALID");
    assert_eq!(r.row(INACTIVE).await["state"], "INACTIVE");
    assert_eq!(r.subjects().await.len(), 2);
    assert_eq!(
        r.cursor().await,
        None,
        "a finished pass starts over next time"
    );
}

#[tokio::test]
async fn every_run_ends_inside_its_deadline_and_a_long_table_takes_several() {
    let r = Run::new("deadline");
    let slow: Vec<String> = (0..6).map(|i| format!("workday:{i}:slow")).collect();
    let ids: Vec<&str> = slow.iter().map(String::as_str).collect();
    r.create(&ids).await;
    // 12 s: a row is begun only with 9 s left (a GET's 5 s and the writes' 4 s), and each
    // GET takes 1 s, so a run gets through about three rows.
    let mut checked = 0;
    let mut runs = 0;
    loop {
        let (report, _, _) = r.reconcile(&r.env(), json!({}), 12_000);
        runs += 1;
        checked += report["checked"].as_u64().unwrap();
        if report["stopped"].is_null() {
            break;
        }
        assert_eq!(report["stopped"], "deadline", "{report}");
        assert!(runs < 6, "no progress: {report}");
    }
    assert!(runs >= 2, "six slow rows do not fit one 12 s run");
    assert_eq!(
        checked, 6,
        "every row asked about exactly once over {runs} runs"
    );

    // Kombo hangs: the run gives up on it after its 5 s budget and stops, well inside
    // the invocation's deadline, without moving past the row.
    let r = Run::new("hang");
    r.create(&["workday:x:hang"]).await;
    let (report, result, _) = r.reconcile(&r.env(), json!({}), 15_000);
    assert_eq!(report["stopped"], "kombo_unavailable", "{report}");
    assert!(
        result["responses"][0]["answered_ms"].as_f64().unwrap() < 8_000.0,
        "{result}"
    );
    assert_eq!(r.row("workday:x:hang").await["status"], "ACTIVE");
}

#[tokio::test]
async fn a_run_never_writes_an_older_state_over_a_webhooks() {
    let r = Run::new("newer");
    r.create(&[INVALID]).await;
    // A webhook recorded ACTIVE at a moment after the run's request: the run's INVALID
    // (observed earlier) must not overwrite it, and nobody is paged.
    let file = event_file(
        &r.dir,
        "newer",
        STATE_CHANGED,
        &state_changed_body(
            "s-new",
            INVALID,
            Some("36123"),
            "ACTIVE",
            "PASSED",
            "2099-01-01T00:00:00.000Z",
        ),
    );
    invoke_files(
        "integration-state-changed",
        &template_env(&r.stack, "integration-state-changed"),
        &[file],
        10_000,
    );
    let report = r.run();
    assert_eq!(report["state_repaired"], 0, "{report}");
    assert_eq!(r.row(INVALID).await["state"], "ACTIVE");
    assert_eq!(r.row(INVALID).await["last_event_id"], "s-new");
    assert!(r.stack.alerts().await.is_empty());
}

#[tokio::test]
async fn a_page_that_failed_goes_out_with_the_next_run_and_only_once() {
    let r = Run::new("pageretry");
    r.create(&[INVALID, GONE]).await;
    let no_sns = with_env(
        r.env(),
        "AWS_ENDPOINT_URL_SNS",
        &format!("http://127.0.0.1:{}", free_port()),
    );
    let (first, _, _) = r.reconcile(&no_sns, json!({}), 60_000);
    assert_eq!(
        first["failures"], 2,
        "the page and the notice failed: {first}"
    );
    assert_eq!(
        r.row(INVALID).await["state"],
        "INVALID",
        "the state is recorded"
    );
    assert_eq!(
        r.row(GONE).await["status"],
        "DELETED",
        "the tombstone is written"
    );
    assert!(r.stack.alerts().await.is_empty());

    let second = r.run();
    assert_eq!(second["failures"], 0, "{second}");
    assert_eq!(second["invalid_paged"], 1, "{second}");
    assert_eq!(second["deleted"], 1, "{second}");
    assert_eq!(r.subjects().await.len(), 2);
    let third = r.run();
    assert_eq!(third["changes"], json!([]), "{third}");
    assert!(r.stack.alerts().await.is_empty(), "sent once");
}

/// The operator's way (`scripts/reconcile.sh`, the `reconcile-table` binary): a dry run
/// prints the changes and writes nothing; a real one makes them.
#[tokio::test]
async fn the_operator_script_dry_runs_then_runs() {
    let r = Run::new("script");
    r.create(&[PRESENT, GONE, INVALID]).await;
    let rows = r.stack.rows().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(binaries().join("reconcile-table"))
            .args(args)
            .env_clear()
            .envs(r.env())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["--dry-run"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("deleted    {GONE}")), "{out}");
    assert!(out.contains(&format!("state      {INVALID}")), "{out}");
    assert!(out.contains("-> INVALID COMPLETED  (dry_run)"), "{out}");
    assert!(
        out.contains("dry run: checked 3, in step 1, deleted 0"),
        "{out}"
    );
    assert_eq!(r.stack.rows().await, rows, "a dry run writes nothing");
    assert!(r.stack.alerts().await.is_empty());

    let (ok, out, err) = run(&[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(
            "checked 3, in step 1, deleted 1, state repaired 1 (INVALID paged 1, recovered 0), failures 0"
        ),
        "{out}"
    );
    assert_eq!(r.row(GONE).await["status"], "DELETED");
    assert_eq!(r.subjects().await.len(), 2);
}

/// The samples in `events/` (the schedule's event, an operator's dry run) run the binary
/// as the schedule and `sam local invoke` do.
#[tokio::test]
async fn the_sample_events_start_a_run_and_a_dry_run() {
    let r = Run::new("samples");
    r.create(&[GONE]).await;
    let files = [
        repo_root().join("events/reconcile-dry-run.json"),
        repo_root().join("events/reconcile-scheduled.json"),
    ];
    let (result, log) = invoke_files("reconcile", &r.env(), &files, 60_000);
    let reports: Vec<&Value> = result["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["response"])
        .collect();
    assert_eq!(reports[0]["dry_run"], true, "{result}\n{log}");
    assert_eq!(reports[0]["deleted"], 0);
    assert_eq!(reports[1]["dry_run"], false);
    assert_eq!(reports[1]["deleted"], 1);
    assert_eq!(r.row(GONE).await["status"], "DELETED");
}

#[tokio::test]
async fn a_recovery_the_run_finds_sends_one_recovered_notice_even_after_a_failed_publish() {
    let r = Run::new("recovered");
    r.create(&[INVALID]).await;
    let first = r.run();
    assert_eq!(first["invalid_paged"], 1, "{first}");
    r.stack.alerts().await;
    // The integration works again; no webhook told.
    r.set_kombo(INVALID, json!({"status": "ACTIVE"})).await;
    let no_sns = with_env(
        r.env(),
        "AWS_ENDPOINT_URL_SNS",
        &format!("http://127.0.0.1:{}", free_port()),
    );
    let (failed, _, _) = r.reconcile(&no_sns, json!({}), 60_000);
    assert_eq!(failed["failures"], 1, "the notice failed: {failed}");
    let row = r.row(INVALID).await;
    assert_eq!(row["state"], "ACTIVE", "the state is recorded: {row}");
    let written_at = row["updated_at"].clone();
    assert!(r.stack.alerts().await.is_empty());

    let second = r.run();
    assert_eq!(
        (&second["recovered_notified"], &second["failures"]),
        (&json!(1), &json!(0)),
        "{second}"
    );
    assert_eq!(
        r.subjects().await,
        ["Recovered: Acme, Inc. (workday LMS) is ACTIVE again"]
    );
    for _ in 0..2 {
        let again = r.run();
        assert_eq!(again["changes"], json!([]), "{again}");
        assert_eq!(again["in_step"], 1, "{again}");
    }
    assert!(r.stack.alerts().await.is_empty(), "sent once");
    assert_eq!(
        r.row(INVALID).await["updated_at"],
        written_at,
        "the retries rewrote nothing"
    );
}
