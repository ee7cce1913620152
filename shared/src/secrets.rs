//! Where a function's secret comes from, and how a rotation reaches a warm container.
//!
//! Two modes, chosen by the template: the value in a plain environment variable
//! (`KOMBO_WEBHOOK_SECRET`, `KOMBO_API_KEY`), or, recommended, the ARN of an AWS Secrets
//! Manager secret (`KOMBO_WEBHOOK_SECRET_ARN`, `KOMBO_API_KEY_ARN`), so that no secret
//! value is in the function's configuration. A secret from Secrets Manager is read during
//! init within [`READ_TIMEOUT`] (missing or unreadable stops the function, naming the
//! ARN), cached, and read again:
//!
//! - when a webhook's signature matches none of the cached secrets, at most once per
//!   `SECRET_REFRESH_SECONDS` (default 60) — so `new,old` put into Secrets Manager is
//!   picked up by the next delivery signed with the new secret, with no deploy;
//! - when the cached value is older than its maximum age (`SECRET_MAX_AGE_SECONDS`, default
//!   [`MAX_AGE`]) and a request with a well-formed signature arrives — so a removed secret
//!   (`new,old` → `new`) stops being accepted, and a rotated Kombo API key is used, within
//!   that time.
//!
//! Every re-read, for either reason and whatever its outcome, waits for the one before it
//! by `SECRET_REFRESH_SECONDS`: a Secrets Manager outage, a throttled or deleted secret, or a
//! flood of forged requests costs at most one `GetSecretValue` a minute per container. A
//! re-read that fails keeps the cached value and is logged (never the value). A webhook
//! secret whose re-reads have failed for longer than [`STALE_FACTOR`] times its maximum age
//! is no longer served: the webhook answers 503 (Kombo retries) and says why once a minute
//! ([`Cached::current`]).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use std::time::Instant;

use crate::error::Error;

/// `KOMBO_WEBHOOK_SECRET_ARN`: the Secrets Manager secret holding the webhook secret(s).
pub const WEBHOOK_SECRET_ARN_ENV: &str = "KOMBO_WEBHOOK_SECRET_ARN";
/// `KOMBO_API_KEY_ARN`: the Secrets Manager secret holding the Kombo API key.
pub const API_KEY_ARN_ENV: &str = "KOMBO_API_KEY_ARN";
/// `SECRET_REFRESH_SECONDS`: the least time between two attempts to read a secret again,
/// whatever caused them and however they ended (default 60).
pub const REFRESH_ENV: &str = "SECRET_REFRESH_SECONDS";
/// `SECRET_MAX_AGE_SECONDS`: the oldest a cached secret may be before a request re-reads it
/// (default [`MAX_AGE`]).
pub const MAX_AGE_ENV: &str = "SECRET_MAX_AGE_SECONDS";
/// A webhook secret older than this many maximum ages (its re-reads all failed) is refused.
pub const STALE_FACTOR: u32 = 4;
/// How often a refused stale secret is said in the log.
const STALE_SAID_EVERY: Duration = Duration::from_secs(60);

/// The longest one read of a secret may take (init included).
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The oldest a cached secret may be when it is used (default of `SECRET_MAX_AGE_SECONDS`).
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);
const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// One secret in Secrets Manager.
#[derive(Clone, Debug)]
pub struct Source {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl Source {
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> Self {
        Source {
            client,
            arn: arn.into(),
        }
    }

    /// `env`'s ARN, if set (and not empty).
    pub fn from_env(env: &str, sdk: &aws_config::SdkConfig) -> Option<Self> {
        let arn = std::env::var(env).ok().filter(|v| !v.trim().is_empty())?;
        Some(Source::new(
            crate::clients::secretsmanager_client(sdk),
            arn.trim(),
        ))
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The secret's current value (`AWSCURRENT`), within [`READ_TIMEOUT`].
    pub async fn read(&self) -> Result<String, Error> {
        let call = self.client.get_secret_value().secret_id(&self.arn).send();
        let out = match tokio::time::timeout(READ_TIMEOUT, call).await {
            Err(_) => {
                return Err(Error::Config(format!(
                    "Secrets Manager did not answer within {} ms for {}",
                    READ_TIMEOUT.as_millis(),
                    self.arn
                )));
            }
            Ok(Err(e)) => {
                return Err(Error::Config(format!(
                    "cannot read {} from Secrets Manager: {}",
                    self.arn,
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                )));
            }
            Ok(Ok(out)) => out,
        };
        out.secret_string
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{} has no text value: put one with `aws secretsmanager put-secret-value --secret-id {} --secret-string ...`",
                    self.arn, self.arn
                ))
            })
    }
}

struct Held<T> {
    value: Arc<T>,
    read_at: Instant,
}

/// A secret as a function uses it: parsed once per read, shared, and re-read as the
/// module documentation says.
pub struct Cached<T> {
    held: RwLock<Held<T>>,
    source: Option<Source>,
    parse: fn(&str) -> Result<T, Error>,
    refresh_every: Duration,
    max_age: Duration,
    /// The last attempt to read the secret (init included), whatever its reason and outcome.
    attempted_at: Mutex<Instant>,
    /// When a refusal of a stale secret was last logged.
    stale_said_at: Mutex<Option<Instant>>,
    /// The clock the ages are read on (a function so a test can move time).
    now: fn() -> Instant,
}

impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(s) => write!(f, "Cached(from {}, redacted)", s.arn),
            None => f.write_str("Cached(fixed, redacted)"),
        }
    }
}

fn seconds_env(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(default, Duration::from_secs)
}

/// Why a cached secret is no longer served (the source of a 503).
#[derive(Debug, thiserror::Error)]
#[error(
    "the secret {arn} could not be read again for {age_s} s (limit {limit_s} s); refusing until a read succeeds"
)]
pub struct Stale {
    arn: String,
    age_s: u64,
    limit_s: u64,
}

impl<T> Cached<T> {
    fn with(
        value: T,
        source: Option<Source>,
        parse: fn(&str) -> Result<T, Error>,
        now: fn() -> Instant,
    ) -> Self {
        Cached {
            held: RwLock::new(Held {
                value: Arc::new(value),
                read_at: now(),
            }),
            // Only a secret from Secrets Manager is ever re-read: a fixed one reads nothing.
            refresh_every: if source.is_some() {
                seconds_env(REFRESH_ENV, DEFAULT_REFRESH)
            } else {
                DEFAULT_REFRESH
            },
            max_age: if source.is_some() {
                seconds_env(MAX_AGE_ENV, MAX_AGE)
            } else {
                MAX_AGE
            },
            source,
            parse,
            attempted_at: Mutex::new(now()),
            stale_said_at: Mutex::new(None),
            now,
        }
    }

    /// How long ago `at` was.
    fn since(&self, at: Instant) -> Duration {
        (self.now)().saturating_duration_since(at)
    }

    /// A value that never changes (the plain environment variable mode, tests).
    pub fn fixed(value: T) -> Self {
        Self::with(
            value,
            None,
            |_| unreachable!("a fixed secret is never re-read"),
            Instant::now,
        )
    }

    /// Reads `source` now (during init): an error names the ARN.
    pub async fn load(source: Source, parse: fn(&str) -> Result<T, Error>) -> Result<Self, Error> {
        Self::load_on(source, parse, Instant::now).await
    }

    /// [`Self::load`] with ages read on the clock `now` (a test's).
    pub async fn load_on(
        source: Source,
        parse: fn(&str) -> Result<T, Error>,
        now: fn() -> Instant,
    ) -> Result<Self, Error> {
        let text = source.read().await?;
        let value = parse(&text).map_err(|e| Error::Config(format!("{}: {e}", source.arn)))?;
        Ok(Self::with(value, Some(source), parse, now))
    }

    /// The cached value.
    pub fn get(&self) -> Arc<T> {
        self.held.read().expect("not poisoned").value.clone()
    }

    /// The cached value, unless its re-reads have failed for longer than [`STALE_FACTOR`]
    /// maximum ages: then a 503 (a dependency failure: the sender retries), said in the log
    /// at most once a minute.
    pub fn current(&self) -> Result<Arc<T>, Error> {
        let held = self.held.read().expect("not poisoned");
        let limit = self.max_age * STALE_FACTOR;
        let age = self.since(held.read_at);
        let (Some(source), true) = (&self.source, age > limit) else {
            return Ok(held.value.clone());
        };
        let stale = Stale {
            arn: source.arn.clone(),
            age_s: age.as_secs(),
            limit_s: limit.as_secs(),
        };
        let mut said = self.stale_said_at.lock().expect("not poisoned");
        if said.is_none_or(|at| self.since(at) >= STALE_SAID_EVERY) {
            *said = Some((self.now)());
            tracing::error!(
                secret = source.arn(),
                age_s = stale.age_s,
                limit_s = stale.limit_s,
                "secret refused: too old, and Secrets Manager could not be read again; every request answers 503 until a read succeeds"
            );
        }
        Err(Error::dependency("Secrets Manager", stale))
    }

    /// Takes the one attempt per `SECRET_REFRESH_SECONDS`, if it is free.
    fn take_attempt(&self) -> bool {
        let mut at = self.attempted_at.lock().expect("not poisoned");
        if self.since(*at) < self.refresh_every {
            return false;
        }
        *at = (self.now)();
        true
    }

    /// Re-reads the secret when the cached value is older than its maximum age (and the
    /// attempt is free). Called only for a request that is worth it (a well-formed
    /// signature, an API call).
    pub async fn refresh_if_old(&self) {
        let old = self.since(self.held.read().expect("not poisoned").read_at) >= self.max_age;
        if old && self.source.is_some() && self.take_attempt() {
            self.reread("older than its maximum age").await;
        }
    }

    /// After a value did not fit (a signature matched no cached secret): re-reads if the
    /// attempt is free. True when a new value was read.
    pub async fn refresh_on_miss(&self) -> bool {
        if self.source.is_none() || !self.take_attempt() {
            return false;
        }
        self.reread("a signature matched no cached secret").await
    }

    async fn reread(&self, why: &str) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        match source.read().await.and_then(|t| (self.parse)(&t)) {
            Ok(value) => {
                *self.held.write().expect("not poisoned") = Held {
                    value: Arc::new(value),
                    read_at: (self.now)(),
                };
                tracing::info!(secret = source.arn(), reason = why, "secret re-read");
                true
            }
            Err(e) => {
                tracing::error!(secret = source.arn(), reason = why, error = %e, "secret not re-read; the cached value stays (the next attempt in SECRET_REFRESH_SECONDS)");
                false
            }
        }
    }
}
