//! A small client for the Kombo API calls around the integration lifecycle:
//! `POST /connect/create-link` and `DELETE /integrations/{id}`.
//!
//! reqwest with rustls (the same rustls and crypto provider as the AWS SDK), a base URL
//! (EU `https://api.kombo.dev/v1` by default, US `https://api.us.kombo.dev/v1`), the API
//! key as a bearer token, timeouts, and retries with exponential backoff on 429, 5xx and
//! transport errors. Kombo's error shape is parsed into [`KomboError::Api`].

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::Sensitive;

pub const EU_BASE_URL: &str = "https://api.kombo.dev/v1";
pub const US_BASE_URL: &str = "https://api.us.kombo.dev/v1";
/// `KOMBO_API_KEY`: the Kombo API key.
pub const API_KEY_ENV: &str = "KOMBO_API_KEY";
/// `KOMBO_API_BASE_URL`: defaults to [`EU_BASE_URL`].
pub const BASE_URL_ENV: &str = "KOMBO_API_BASE_URL";

/// The body of `POST /connect/create-link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLink {
    pub end_user_email: String,
    pub end_user_organization_name: String,
    pub end_user_origin_id: String,
    pub integration_category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
}

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
}

impl KomboError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, KomboError::Api { code, .. } if code == "PLATFORM.INTEGRATION_NOT_FOUND")
    }
}

impl From<KomboError> for Error {
    fn from(e: KomboError) -> Self {
        match e {
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
            KomboError::Transport(m) => Error::Upstream {
                code: "KOMBO_UNREACHABLE".into(),
                message: m,
                log_url: None,
            },
        }
    }
}

/// The Kombo calls the backend functions make (a port: tests may put a fake behind it).
pub trait KomboApi: Send + Sync {
    fn create_link(
        &self,
        body: &CreateLink,
    ) -> impl Future<Output = Result<String, KomboError>> + Send;
    fn delete_integration(
        &self,
        integration_id: &str,
    ) -> impl Future<Output = Result<(), KomboError>> + Send;
}

#[derive(Clone, Debug)]
pub struct KomboClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Sensitive,
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
    /// A client with 10 s per attempt, 3 attempts, backoff from 200 ms.
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("kombo-lms-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("building the Kombo HTTP client: {e}")))?;
        Ok(KomboClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: Sensitive::new(api_key),
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
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        path: &str,
        integration_id: Option<&str>,
        body: &impl Serialize,
    ) -> Result<T, KomboError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.api_key.expose())
                .json(body);
            if let Some(id) = integration_id {
                req = req.header("X-Integration-Id", id);
            }
            let outcome = match req.send().await {
                Err(e) => Err((true, KomboError::Transport(e.without_url().to_string()))),
                Ok(resp) => {
                    let status = resp.status();
                    let bytes = resp.bytes().await.unwrap_or_default();
                    let parsed: Option<Envelope<T>> = serde_json::from_slice(&bytes).ok();
                    match parsed {
                        Some(Envelope {
                            data: Some(data), ..
                        }) if status.is_success() => Ok(data),
                        Some(Envelope { error: Some(e), .. }) if !status.is_success() => Err((
                            status.as_u16() == 429 || status.is_server_error(),
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
                            status.as_u16() == 429 || status.is_server_error(),
                            KomboError::Transport(format!("unexpected answer {status} from Kombo")),
                        )),
                    }
                }
            };
            match outcome {
                Ok(data) => return Ok(data),
                Err((retryable, e)) if !retryable || attempt >= self.max_attempts => return Err(e),
                Err(_) => tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await,
            }
        }
    }
}

impl KomboApi for KomboClient {
    async fn create_link(&self, body: &CreateLink) -> Result<String, KomboError> {
        let link: Link = self
            .call(reqwest::Method::POST, "/connect/create-link", None, body)
            .await?;
        Ok(link.link)
    }

    async fn delete_integration(&self, integration_id: &str) -> Result<(), KomboError> {
        // Percent-encoded as one path segment (`workday:abc` stays as it is, `/` does not).
        let mut url = url::Url::parse("http://x/integrations").expect("a valid URL");
        url.path_segments_mut()
            .expect("a base URL")
            .push(integration_id);
        let path = url.path().to_owned();
        let _: serde_json::Value = self
            .call(
                reqwest::Method::DELETE,
                &path,
                Some(integration_id),
                &serde_json::json!({}),
            )
            .await?;
        Ok(())
    }
}
