//! A small client for the Kombo API calls around the integration lifecycle:
//! `POST /connect/create-link`, `GET /connect/integration-by-token/{token}`,
//! `DELETE /integrations/{id}`, `GET /integrations/{id}`, and the links that repair one:
//! `POST /integrations/{id}/relink` and `POST /integrations/{id}/setup-link`.
//!
//! hyper with rustls (the same hyper, rustls and crypto provider as the AWS SDK), a base URL
//! (EU `https://api.kombo.dev/v1` by default, US `https://api.us.kombo.dev/v1`, CA
//! `https://api.ca.kombo.dev/v1`), the API key as a bearer token, and every attempt inside
//! the invocation's [`Deadline`]. Retries with exponential backoff, only where repeating
//! the request cannot do the work twice: a `GET` or `DELETE` on 429, 5xx and transport errors
//! (the Connect completion's token lookup not on 429: its caller comes back instead); the
//! non-idempotent `POST /connect/create-link` only when the request never reached Kombo
//! (a connect error) or Kombo refused it unprocessed (429). Kombo's error shape is parsed
//! into [`KomboError::Api`].

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use lambda_http::http::{Method, Request};
use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::Error;
use crate::event::Sensitive;
use crate::event::api::{
    CreateLink, CreatedLink, Integration, Relink, SetupLink, TokenIntegration,
};

pub const EU_BASE_URL: &str = "https://api.kombo.dev/v1";
pub const US_BASE_URL: &str = "https://api.us.kombo.dev/v1";
pub const CA_BASE_URL: &str = "https://api.ca.kombo.dev/v1";
/// The longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest one attempt may take (the invocation's deadline may cut it shorter).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// `KOMBO_API_KEY`: the Kombo API key.
pub const API_KEY_ENV: &str = "KOMBO_API_KEY";
/// `KOMBO_API_BASE_URL`: defaults to [`EU_BASE_URL`].
pub const BASE_URL_ENV: &str = "KOMBO_API_BASE_URL";

/// Why a Kombo call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KomboError {
    /// Kombo answered with its error shape.
    #[error("Kombo answered {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        log_url: Option<String>,
    },
    /// No usable answer (connection, timeout, an unexpected body) after the retries.
    #[error("Kombo could not be reached: {0}")]
    Transport(String),
    /// The request was sent and no answer came (a timeout, a dropped connection): Kombo
    /// may or may not have done it.
    #[error("Kombo did not answer in time: {0}")]
    Unknown(String),
}

impl KomboError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, KomboError::Api { code, .. } if code == "PLATFORM.INTEGRATION_NOT_FOUND")
    }
}

impl From<KomboError> for Error {
    fn from(e: KomboError) -> Self {
        match e {
            // The caller's own mistake (an unknown `integration_tool`, say): theirs to fix.
            KomboError::Api {
                code,
                message,
                log_url,
                ..
            } if code == "PLATFORM.INPUT_INVALID" => Error::UpstreamRejected {
                code,
                message,
                log_url,
            },
            KomboError::Api {
                code,
                message,
                log_url,
                ..
            } => Error::Upstream {
                code,
                message,
                log_url,
            },
            KomboError::Unknown(m) => Error::UpstreamUnknown(m),
            KomboError::Transport(m) => Error::Upstream {
                code: "KOMBO_UNREACHABLE".into(),
                message: m,
                log_url: None,
            },
        }
    }
}

/// The answer to a refused `GET /connect/integration-by-token/{token}`: Kombo's refusal
/// of the token itself (4xx but 401/403/429) is the caller's (400 `invalid_token`); our
/// API key refused is 502; a rate limit 503 with `Retry-After`; no answer 504.
pub fn token_error(e: KomboError) -> Error {
    match e {
        KomboError::Api {
            status: 429,
            code,
            message,
            log_url,
        } => Error::UpstreamBusy {
            code,
            message,
            log_url,
        },
        KomboError::Api {
            status,
            code,
            message,
            log_url,
        } if (400..500).contains(&status) && status != 401 && status != 403 => {
            Error::InvalidToken {
                kombo_code: code,
                message,
                log_url,
            }
        }
        KomboError::Transport(m) | KomboError::Unknown(m) => Error::UpstreamUnreachable(m),
        other => other.into(),
    }
}

/// `/integrations/{id}`, the id percent-encoded as one path segment (`workday:abc` stays
/// as it is, `/` does not).
fn integration_path(integration_id: &str) -> String {
    segment_path(&["integrations"], integration_id)
}

/// What stays as it is in a path segment: RFC 3986's unreserved characters and `:` (Kombo's
/// ids are `tool:id`); everything else is percent-encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// `/<prefix...>/<last>`, `last` percent-encoded as one path segment: never a separator,
/// a query, or a `.`/`..` that a URL parser would resolve to another route.
fn segment_path(prefix: &[&str], last: &str) -> String {
    let last = match last {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        other => percent_encoding::utf8_percent_encode(other, SEGMENT).to_string(),
    };
    format!("/{}/{last}", prefix.join("/"))
}

/// The Kombo calls the product makes: one implementation, [`KomboClient`]; a trait so the
/// callers name what they need of Kombo, not how it is reached.
pub trait KomboApi: Send + Sync {
    fn create_link(
        &self,
        body: &CreateLink,
        deadline: Deadline,
    ) -> impl Future<Output = Result<CreatedLink, KomboError>> + Send;
    fn delete_integration(
        &self,
        integration_id: &str,
        deadline: Deadline,
    ) -> impl Future<Output = Result<(), KomboError>> + Send;
    fn get_integration(
        &self,
        integration_id: &str,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Integration, KomboError>> + Send;
    /// The integration an activation token (what `showKomboConnect` resolves with) names.
    fn integration_by_token(
        &self,
        token: &str,
        deadline: Deadline,
    ) -> impl Future<Output = Result<TokenIntegration, KomboError>> + Send;
    /// A link that reconnects the integration (the same id comes back).
    fn relink(
        &self,
        integration_id: &str,
        body: &Relink,
        deadline: Deadline,
    ) -> impl Future<Output = Result<String, KomboError>> + Send;
    /// A link back into the integration's setup steps.
    fn setup_link(
        &self,
        integration_id: &str,
        body: &SetupLink,
        deadline: Deadline,
    ) -> impl Future<Output = Result<String, KomboError>> + Send;
}

/// Which failures a call may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Idempotent: 429, 5xx, transport errors.
    Idempotent,
    /// Idempotent, but a rate limit is answered at once (the caller comes back after
    /// `Retry-After`): a lookup anyone with the route can ask for must not spend the shared
    /// key's rate limit on retries inside the request. 5xx, transport errors.
    NotWhenLimited,
    /// Not idempotent: only what Kombo cannot have acted on (connect errors, 429).
    Unsent,
}

impl Retry {
    /// Whether an answer of `status` may be tried again.
    fn on_status(self, status: u16) -> bool {
        match self {
            Retry::Idempotent => status == 429 || (500..600).contains(&status),
            Retry::NotWhenLimited => (500..600).contains(&status),
            Retry::Unsent => status == 429,
        }
    }

    /// Whether a request sent and not (wholly) answered may be sent again.
    fn after_sending(self) -> bool {
        self != Retry::Unsent
    }
}

#[derive(Clone, Debug)]
pub struct KomboClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base_url: String,
    api_key: std::sync::Arc<crate::secrets::Cached<Sensitive>>,
    max_attempts: u32,
    backoff: Duration,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    log_url: Option<String>,
}

#[derive(Deserialize)]
struct Link {
    link: String,
}

impl KomboClient {
    /// A client with at most 10 s per attempt (less if the deadline is nearer), 3
    /// attempts, backoff from 200 ms.
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, Error> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::kombo_tls_config()?)
            // https for Kombo; http only for a local stand-in (make dev, tests).
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(KomboClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: std::sync::Arc::new(crate::secrets::Cached::fixed(Sensitive::new(api_key))),
            max_attempts: 3,
            backoff: Duration::from_millis(200),
        })
    }

    /// Reads [`API_KEY_ENV`] (required) and [`BASE_URL_ENV`] (default EU).
    pub fn from_env() -> Result<Self, Error> {
        let key = std::env::var(API_KEY_ENV)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| Error::Config(format!("{API_KEY_ENV} is not set")))?;
        let base = std::env::var(BASE_URL_ENV).unwrap_or_else(|_| EU_BASE_URL.into());
        Self::new(&base, key.trim())
    }

    /// Shorter backoff, for tests against a local server.
    /// From the environment, the key from Secrets Manager when [`crate::secrets::API_KEY_ARN_ENV`]
    /// names a secret (read now; re-read when older than [`crate::secrets::MAX_AGE`]), else
    /// from [`API_KEY_ENV`].
    pub async fn from_env_with(sdk: &aws_config::SdkConfig) -> Result<Self, Error> {
        let Some(source) = crate::secrets::Source::from_env(crate::secrets::API_KEY_ARN_ENV, sdk)
        else {
            return Self::from_env();
        };
        let base = std::env::var(BASE_URL_ENV).unwrap_or_else(|_| EU_BASE_URL.into());
        let mut client = Self::new(&base, "unused")?;
        client.api_key = std::sync::Arc::new(
            crate::secrets::Cached::load(source, |s| Ok(Sensitive::new(s.trim()))).await?,
        );
        Ok(client)
    }

    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        path: &str,
        integration_id: Option<&str>,
        body: Option<&impl Serialize>,
        retry: Retry,
        deadline: Deadline,
    ) -> Result<T, KomboError> {
        let url = format!("{}{path}", self.base_url);
        self.api_key.refresh_if_old().await;
        let api_key = self.api_key.get();
        let body = match body {
            Some(body) => Some(Bytes::from(serde_json::to_vec(body).map_err(|e| {
                KomboError::Transport(format!("encoding the request: {e}"))
            })?)),
            None => None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.remaining();
            if left.is_zero() {
                return Err(KomboError::Transport(
                    "no time left before the invocation's deadline".into(),
                ));
            }
            let mut req = Request::builder()
                .method(method.clone())
                .uri(&url)
                .header(AUTHORIZATION, format!("Bearer {}", api_key.expose()))
                .header(
                    USER_AGENT,
                    concat!("kombo-lms-webhooks/", env!("CARGO_PKG_VERSION")),
                );
            if body.is_some() {
                req = req.header(CONTENT_TYPE, "application/json");
            }
            if let Some(id) = integration_id {
                req = req.header("X-Integration-Id", id);
            }
            let req = req
                .body(Full::new(body.clone().unwrap_or_default()))
                .map_err(|e| KomboError::Transport(format!("building the request: {e}")))?;
            let budget = left.min(ATTEMPT_TIMEOUT);
            let exchange = async {
                let resp = self.http.request(req).await.map_err(Sent::Request)?;
                let status = resp.status();
                let bytes = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| Sent::Body(e.into()))?;
                Ok::<_, Sent>((status, bytes.to_bytes()))
            };
            let outcome = match tokio::time::timeout(budget, exchange).await {
                // Never sent: safe to send again.
                Ok(Err(Sent::Request(e))) if e.is_connect() => {
                    Err((true, KomboError::Transport(chain(&e))))
                }
                // Sent, no (whole) answer: Kombo may have acted.
                Ok(Err(Sent::Request(e))) => {
                    Err((retry.after_sending(), KomboError::Unknown(chain(&e))))
                }
                Ok(Err(Sent::Body(e))) => {
                    Err((retry.after_sending(), KomboError::Unknown(chain(&*e))))
                }
                Err(_) => Err((
                    retry.after_sending(),
                    KomboError::Unknown(format!("no answer within {} ms", budget.as_millis())),
                )),
                Ok(Ok((status, bytes))) => {
                    let parsed: Option<Envelope<T>> = serde_json::from_slice(&bytes).ok();
                    match parsed {
                        Some(Envelope {
                            data: Some(data), ..
                        }) if status.is_success() => Ok(data),
                        Some(Envelope { error: Some(e), .. }) if !status.is_success() => Err((
                            retry.on_status(status.as_u16()),
                            KomboError::Api {
                                status: status.as_u16(),
                                code: e
                                    .code
                                    .unwrap_or_else(|| format!("HTTP_{}", status.as_u16())),
                                message: e.message.or(e.title).unwrap_or_default(),
                                log_url: e.log_url,
                            },
                        )),
                        _ => Err((
                            retry.on_status(status.as_u16()),
                            KomboError::Transport(format!("unexpected answer {status} from Kombo")),
                        )),
                    }
                }
            };
            let pause = self.backoff * 2u32.pow(attempt - 1);
            match outcome {
                Ok(data) => return Ok(data),
                Err((retryable, e))
                    if !retryable
                        || attempt >= self.max_attempts
                        || deadline.remaining() <= pause =>
                {
                    return Err(e);
                }
                Err(_) => tokio::time::sleep(pause).await,
            }
        }
    }
}

/// Where an exchange failed: before a status arrived, or while reading the body.
enum Sent {
    Request(hyper_util::client::legacy::Error),
    Body(Box<dyn std::error::Error + Send + Sync>),
}

/// A transport error with its causes ("client error (Connect): ...: invalid peer
/// certificate: UnknownIssuer").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl KomboApi for KomboClient {
    async fn create_link(
        &self,
        body: &CreateLink,
        deadline: Deadline,
    ) -> Result<CreatedLink, KomboError> {
        self.call(
            Method::POST,
            "/connect/create-link",
            None,
            Some(body),
            Retry::Unsent,
            deadline,
        )
        .await
    }

    async fn delete_integration(
        &self,
        integration_id: &str,
        deadline: Deadline,
    ) -> Result<(), KomboError> {
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &integration_path(integration_id),
                Some(integration_id),
                Some(&serde_json::json!({})),
                Retry::Idempotent,
                deadline,
            )
            .await?;
        Ok(())
    }

    async fn get_integration(
        &self,
        integration_id: &str,
        deadline: Deadline,
    ) -> Result<Integration, KomboError> {
        self.call::<Integration>(
            Method::GET,
            &integration_path(integration_id),
            Some(integration_id),
            None::<&()>,
            Retry::Idempotent,
            deadline,
        )
        .await
    }

    async fn integration_by_token(
        &self,
        token: &str,
        deadline: Deadline,
    ) -> Result<TokenIntegration, KomboError> {
        self.call::<TokenIntegration>(
            Method::GET,
            &segment_path(&["connect", "integration-by-token"], token),
            None,
            None::<&()>,
            Retry::NotWhenLimited,
            deadline,
        )
        .await
    }

    async fn relink(
        &self,
        integration_id: &str,
        body: &Relink,
        deadline: Deadline,
    ) -> Result<String, KomboError> {
        let path = format!("{}/relink", integration_path(integration_id));
        let link: Link = self
            .call(
                Method::POST,
                &path,
                Some(integration_id),
                Some(body),
                Retry::Unsent,
                deadline,
            )
            .await?;
        Ok(link.link)
    }

    async fn setup_link(
        &self,
        integration_id: &str,
        body: &SetupLink,
        deadline: Deadline,
    ) -> Result<String, KomboError> {
        let path = format!("{}/setup-link", integration_path(integration_id));
        let link: Link = self
            .call(
                Method::POST,
                &path,
                Some(integration_id),
                Some(body),
                Retry::Unsent,
                deadline,
            )
            .await?;
        Ok(link.link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_are_one_path_segment_each() {
        assert_eq!(integration_path("workday:abc"), "/integrations/workday:abc");
        assert_eq!(integration_path("a/b?c#d"), "/integrations/a%2Fb%3Fc%23d");
        assert_eq!(
            segment_path(&["connect", "integration-by-token"], "eyJ.a/b+c= d"),
            "/connect/integration-by-token/eyJ.a%2Fb%2Bc%3D%20d"
        );
        assert_eq!(
            segment_path(&["connect", "integration-by-token"], ".."),
            "/connect/integration-by-token/%2E%2E"
        );
        assert_eq!(integration_path("."), "/integrations/%2E");
    }
}
