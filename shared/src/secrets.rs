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
//! - when the cached value is older than [`MAX_AGE`] — so a removed secret (`new,old` →
//!   `new`) stops being accepted, and a rotated Kombo API key is used, within that time.
//!
//! A re-read that fails keeps the cached value and is logged (never the value).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// `KOMBO_WEBHOOK_SECRET_ARN`: the Secrets Manager secret holding the webhook secret(s).
pub const WEBHOOK_SECRET_ARN_ENV: &str = "KOMBO_WEBHOOK_SECRET_ARN";
/// `KOMBO_API_KEY_ARN`: the Secrets Manager secret holding the Kombo API key.
pub const API_KEY_ARN_ENV: &str = "KOMBO_API_KEY_ARN";
/// `SECRET_REFRESH_SECONDS`: the least time between two re-reads caused by a signature
/// that matched nothing (default 60).
pub const REFRESH_ENV: &str = "SECRET_REFRESH_SECONDS";

/// The longest one read of a secret may take (init included).
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The oldest a cached secret may be when it is used.
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
        Some(Source::new(crate::secretsmanager_client(sdk), arn.trim()))
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
    last_miss_read: Mutex<Option<Instant>>,
}

impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(s) => write!(f, "Cached(from {}, redacted)", s.arn),
            None => f.write_str("Cached(fixed, redacted)"),
        }
    }
}

impl<T> Cached<T> {
    /// A value that never changes (the plain environment variable mode, tests).
    pub fn fixed(value: T) -> Self {
        Cached {
            held: RwLock::new(Held {
                value: Arc::new(value),
                read_at: Instant::now(),
            }),
            source: None,
            parse: |_| unreachable!("a fixed secret is never re-read"),
            refresh_every: DEFAULT_REFRESH,
            last_miss_read: Mutex::new(None),
        }
    }

    /// Reads `source` now (during init): an error names the ARN.
    pub async fn load(source: Source, parse: fn(&str) -> Result<T, Error>) -> Result<Self, Error> {
        let text = source.read().await?;
        let value = parse(&text).map_err(|e| Error::Config(format!("{}: {e}", source.arn)))?;
        let refresh_every = std::env::var(REFRESH_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_REFRESH, Duration::from_secs);
        Ok(Cached {
            held: RwLock::new(Held {
                value: Arc::new(value),
                read_at: Instant::now(),
            }),
            source: Some(source),
            parse,
            refresh_every,
            last_miss_read: Mutex::new(None),
        })
    }

    /// The cached value.
    pub fn get(&self) -> Arc<T> {
        self.held.read().expect("not poisoned").value.clone()
    }

    /// Re-reads the secret when the cached value is older than [`MAX_AGE`].
    pub async fn refresh_if_old(&self) {
        let old = self.held.read().expect("not poisoned").read_at.elapsed() >= MAX_AGE;
        if old && self.source.is_some() {
            self.reread("older than its maximum age").await;
        }
    }

    /// After a value did not fit (a signature matched no cached secret): re-reads, at most
    /// once per `SECRET_REFRESH_SECONDS`. True when a new value was read.
    pub async fn refresh_on_miss(&self) -> bool {
        if self.source.is_none() {
            return false;
        }
        {
            let mut last = self.last_miss_read.lock().expect("not poisoned");
            let read_at = self.held.read().expect("not poisoned").read_at;
            let since = last.map_or(read_at, |l| l.max(read_at));
            if since.elapsed() < self.refresh_every {
                return false;
            }
            *last = Some(Instant::now());
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
                    read_at: Instant::now(),
                };
                tracing::info!(secret = source.arn(), reason = why, "secret re-read");
                true
            }
            Err(e) => {
                tracing::error!(secret = source.arn(), reason = why, error = %e, "secret not re-read; the cached value stays");
                false
            }
        }
    }
}
