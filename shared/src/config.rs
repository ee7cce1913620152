//! Settings read once at start-up from the environment the template sets: the tables and
//! topic a function uses, the callers the backend routes allow, and the timing rules
//! ([`Rules`]) with the variables that override their defaults.

use std::time::Duration as StdDuration;

use time::Duration;

use crate::decide::Rules;
use crate::decide::fleet::Fleet;
use crate::error::Error;

/// What the functions need besides the AWS clients and the secret.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TABLE_NAME`: the mappings table.
    pub mappings_table: String,
    /// `IDEMPOTENCY_TABLE_NAME` (the name it was deployed with): the records table, which
    /// holds the claim records that make alerts exactly-once, the failure and fleet records
    /// that fold them, and the reconcile run's cursor. Only functions that publish need it.
    pub records_table: Option<String>,
    /// `ALERT_TOPIC_ARN`: where alerts are published. Only functions that publish need it.
    pub alert_topic_arn: Option<String>,
    /// `TOMBSTONE_RETENTION_DAYS` (default 30): how long a tombstone, a completed claim and
    /// a failure or fleet record are kept before DynamoDB's TTL removes them (and how long
    /// the reconcile run retries its own page or notice: half of it).
    /// `CLAIM_EXPIRY_SECONDS` (default 30, above the function timeout): after this an
    /// in-progress claim left by a killed invocation may be taken over by a retry.
    /// `ALERT_FOLD_WINDOW_SECONDS` (default 900): after a connection-flow failure pages,
    /// further failures of the same customer and tool within this long are counted on its
    /// failure record instead of paging; the next page (or the sweep) reports the count.
    /// `FLEET_INCIDENT_CUSTOMERS` (default 3) and `FLEET_WINDOW_SECONDS` (default 600): that
    /// many distinct customers of one tool failing (or turning INVALID) within the window
    /// open one incident for the tool instead of a page each ([`crate::decide::fleet`]).
    /// `SETUP_NOTICE_HOURS` (default 24): how long a setup may stay `INCOMPLETE` before the
    /// reconcile run sends its one "setup not finished" notice. `ISSUE_PAGE_TYPES`
    /// (comma-separated, default `integration.authentication_failed`; empty: none page):
    /// the `issue-status-changed` issue types that page.
    pub rules: Rules,
    /// `ALLOWED_BACKEND_CALLERS` (backend routes; comma-separated IAM ARNs, or `*`): only
    /// these callers may use the backend routes, whatever else IAM lets invoke the API;
    /// unset or empty (`" , "` too), nobody ([`crate::backend::check_caller`]).
    pub allowed_backend_callers: Vec<String>,
}

fn required(name: &str) -> Result<String, Error> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(Error::Config(format!("{name} is not set"))),
    }
}

fn positive(name: &str, default: i64) -> Result<i64, Error> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Error::Config(format!(
                "{name} must be a positive whole number, got {v:?}"
            ))),
        },
    }
}

impl Settings {
    /// Reads the settings. `publishes` is true for functions that send alerts: they
    /// also need the topic and the records table; the others are not given either.
    pub fn from_env(publishes: bool) -> Result<Self, Error> {
        let for_alerts = |name: &str| publishes.then(|| required(name)).transpose();
        let d = Rules::default();
        Ok(Settings {
            mappings_table: required("TABLE_NAME")?,
            records_table: for_alerts("IDEMPOTENCY_TABLE_NAME")?,
            alert_topic_arn: for_alerts("ALERT_TOPIC_ARN")?,
            rules: Rules {
                tombstone_retention: Duration::days(positive(
                    "TOMBSTONE_RETENTION_DAYS",
                    d.tombstone_retention.whole_days(),
                )?),
                claim_expiry: Duration::seconds(positive(
                    "CLAIM_EXPIRY_SECONDS",
                    d.claim_expiry.whole_seconds(),
                )?),
                fold_window: Duration::seconds(positive(
                    "ALERT_FOLD_WINDOW_SECONDS",
                    d.fold_window.whole_seconds(),
                )?),
                fleet: Fleet {
                    customers: u32::try_from(positive(
                        "FLEET_INCIDENT_CUSTOMERS",
                        i64::from(d.fleet.customers),
                    )?)
                    .unwrap_or(u32::MAX),
                    window: Duration::seconds(positive(
                        "FLEET_WINDOW_SECONDS",
                        d.fleet.window.whole_seconds(),
                    )?),
                    max_life: Duration::hours(positive(
                        "FLEET_INCIDENT_MAX_HOURS",
                        d.fleet.max_life.whole_hours(),
                    )?),
                },
                setup_notice_after: Duration::hours(positive(
                    "SETUP_NOTICE_HOURS",
                    d.setup_notice_after.whole_hours(),
                )?),
                issue_page_types: match std::env::var("ISSUE_PAGE_TYPES") {
                    Err(_) => d.issue_page_types,
                    Ok(v) => v
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                },
            },
            allowed_backend_callers: std::env::var("ALLOWED_BACKEND_CALLERS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// The default rules with the given resource names.
    pub fn for_tests(mappings: &str, records: &str, topic: &str) -> Self {
        Settings {
            mappings_table: mappings.into(),
            records_table: Some(records.into()),
            alert_topic_arn: Some(topic.into()),
            rules: Rules::default(),
            allowed_backend_callers: vec!["*".into()],
        }
    }
}

/// Time budget for one AWS call: the function answers 503 well inside its own
/// timeout (10 s in the template) instead of being killed with the work half done.
pub const AWS_CONNECT_TIMEOUT: StdDuration = StdDuration::from_millis(1_000);
pub const AWS_ATTEMPT_TIMEOUT: StdDuration = StdDuration::from_millis(2_000);
pub const AWS_OPERATION_TIMEOUT: StdDuration = StdDuration::from_millis(5_000);
pub const AWS_MAX_ATTEMPTS: u32 = 3;
