//! The on-call desk of a test through the built binaries: a stack, a folder for its event
//! files (removed with it), the settings every function runs with (fold and fleet windows
//! of seconds), and a fake Kombo where the test needs one; deliveries, backend calls,
//! sweeps, and what was published.

use std::path::PathBuf;

use serde_json::Value;

use super::*;

pub struct Desk {
    pub stack: Stack,
    pub dir: PathBuf,
    /// Environment variables every function of the test runs with, over the template's.
    settings: Vec<(String, String)>,
    /// The Kombo the functions call (`KOMBO_API_BASE_URL`), where the test has one.
    pub kombo: Option<FakeKombo>,
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Desk {
    pub fn new(name: &str, settings: &[(&str, u64)]) -> Desk {
        let dir = std::env::temp_dir().join(format!("kombo-desk-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Desk {
            stack: Stack::new(name),
            dir,
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_string()))
                .collect(),
            kombo: None,
        }
    }

    /// A desk whose functions call a fake Kombo of its own.
    pub fn with_kombo(name: &str, settings: &[(&str, u64)]) -> Desk {
        let mut desk = Desk::new(name, settings);
        let kombo = FakeKombo::start();
        desk.settings
            .push(("KOMBO_API_BASE_URL".into(), kombo.base_url.clone()));
        desk.kombo = Some(kombo);
        desk
    }

    /// The desk's fake Kombo.
    pub fn kombo(&self) -> &FakeKombo {
        self.kombo.as_ref().expect("a desk with Kombo")
    }

    /// Sends backend `requests` ((path, path parameters, body)) to the route `function`
    /// (`route_key`: "METHOD /pattern") in one warm process: the answers with their bodies.
    pub fn call(
        &self,
        function: &str,
        route_key: &str,
        requests: &[(String, Value, Option<Value>)],
    ) -> Vec<(i64, Value)> {
        let method = route_key.split(' ').next().unwrap();
        let files: Vec<PathBuf> = requests
            .iter()
            .map(|(path, params, body)| {
                let file = self.dir.join(format!("{}.json", uuid::Uuid::new_v4()));
                let event = backend_event(method, route_key, path, params.clone(), body.clone());
                std::fs::write(&file, event.to_string()).unwrap();
                file
            })
            .collect();
        let (r, log) = invoke_files(function, &self.env(function), &files, 10_000);
        let got = response_bodies(&r);
        assert_eq!(got.len(), requests.len(), "{r}\n{log}");
        got
    }

    /// Sets `key` to `value` for the functions run from now on.
    pub fn set(&mut self, key: &str, value: u64) {
        self.settings.retain(|(k, _)| k != key);
        self.settings.push((key.to_owned(), value.to_string()));
    }

    /// The number `key` is set to.
    pub fn setting(&self, key: &str) -> u64 {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} is not set"))
    }

    /// `function`'s environment: the template's, with the desk's settings.
    pub fn env(&self, function: &str) -> Vec<(String, String)> {
        self.settings
            .iter()
            .fold(template_env(&self.stack, function), |env, (k, v)| {
                with_env(env, k, v)
            })
    }

    /// A file holding one delivery of `body` to `route`.
    pub fn file(&self, route: &str, body: &str) -> PathBuf {
        event_file(&self.dir, &uuid::Uuid::new_v4().to_string(), route, body)
    }

    /// Delivers `bodies` in order to one warm process of `function` with `env`; the answers
    /// (the creator's e-mail never in its log).
    pub fn deliver_with(
        &self,
        function: &str,
        env: &[(String, String)],
        route: &str,
        bodies: &[String],
    ) -> Vec<(i64, String)> {
        let files: Vec<PathBuf> = bodies.iter().map(|b| self.file(route, b)).collect();
        let (result, log) = invoke_files(function, env, &files, 10_000);
        let got = answers(&result);
        assert_eq!(got.len(), bodies.len(), "{result}\n{log}");
        assert!(
            !log.contains("jane.doe@example.com"),
            "creator e-mail logged:\n{log}"
        );
        got
    }

    /// [`Desk::deliver_with`] with the desk's environment of `function`.
    pub fn deliver(&self, function: &str, route: &str, bodies: &[String]) -> Vec<(i64, String)> {
        self.deliver_with(function, &self.env(function), route, bodies)
    }

    /// Delivers each of `orders` from its own warm process of `function`, all held until
    /// the same moment (and required to have overlapped), then the first order again, as
    /// Kombo retries a 429, until every delivery is answered 200.
    pub fn at_once(&self, function: &str, route: &str, orders: &[Vec<String>]) {
        let env = self.env(function);
        let files: Vec<Vec<PathBuf>> = orders
            .iter()
            .map(|bodies| bodies.iter().map(|b| self.file(route, b)).collect())
            .collect();
        let start = moment_in(2_500);
        let runs: Vec<Value> = std::thread::scope(|s| {
            let runs: Vec<_> = files
                .iter()
                .map(|files| {
                    let env = &env;
                    s.spawn(move || invoke_at(function, env, files, 10_000, start).0)
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert!(
            overlapped(&runs),
            "the {} processes did not overlap: {runs:?}",
            runs.len()
        );
        for (run, order) in runs.iter().zip(orders) {
            assert_eq!(answers(run).len(), order.len(), "{run}");
        }
        let mut answered: Vec<(i64, String)> = runs.iter().flat_map(answers).collect();
        // A delivery that met another's claim in progress is told to retry (429); Kombo's
        // retry then finds it done.
        while answered.iter().any(|(c, _)| *c != 200) {
            assert!(
                answered.iter().all(|(c, _)| *c == 200 || *c == 429),
                "{answered:?}"
            );
            answered = self.deliver_with(function, &env, route, &orders[0]);
        }
    }

    /// One sweep run, held until `start` if given; its report and the whole result.
    pub fn sweep_run(&self, start: Option<std::time::SystemTime>) -> (Value, Value) {
        sweep_run(&self.env("failure-sweep"), &self.dir, start)
    }

    /// Two sweep runs held until `start` (they must have overlapped); their reports.
    pub fn two_sweeps_at(&self, start: std::time::SystemTime) -> Vec<Value> {
        let (reports, runs): (Vec<Value>, Vec<Value>) = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| self.sweep_run(Some(start))))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).unzip()
        });
        assert!(
            overlapped(&runs),
            "the two sweeps did not overlap: {runs:?}"
        );
        reports
    }

    /// One sweep run; its report.
    pub fn sweep(&self) -> Value {
        self.sweep_run(None).0
    }

    /// The alerts published since the last call: (subject, the machine-readable form).
    pub async fn alerts(&self) -> Vec<(String, Value)> {
        self.stack.alert_messages().await
    }

    /// The item `key` of the idempotency table (a failure or fleet record).
    pub async fn record(&self, key: &str) -> Value {
        self.stack.failure_record(key).await
    }
}
