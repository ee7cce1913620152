//! The one error model. Every way a request can fail is a variant of [`Error`]; the
//! HTTP answer for it is decided here and nowhere else ([`Error::status`] and
//! [`crate::webhook::respond`]).

use lambda_http::http::StatusCode;
use serde::Serialize;

/// Why a request was not (fully) handled.
///
/// The client-facing message never contains the webhook secret, the signature that
/// was sent, or personal data from the body: it says what is wrong, not what was sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Only `POST` delivers a webhook.
    #[error("method {0} is not allowed: webhooks are delivered with POST")]
    MethodNotAllowed(String),

    /// The body is larger than [`crate::request::MAX_BODY_BYTES`].
    #[error("body of {actual} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge { actual: usize, limit: usize },

    /// No `X-Kombo-Signature`, or one that does not verify with any configured secret.
    #[error("{0}")]
    Unauthorized(&'static str),

    /// The body is signed but not declared as JSON.
    #[error("content type {0:?} is not supported: send application/json")]
    UnsupportedMediaType(String),

    /// Malformed JSON, a missing or mistyped field; the message names the field.
    #[error("{0}")]
    BadRequest(String),

    /// A valid webhook of another type than this endpoint serves.
    #[error("this endpoint accepts {expected} events, got {got}")]
    WrongEventType { expected: &'static str, got: String },

    /// The same event is being handled by another invocation right now; try later.
    #[error("event {0} is being processed by another delivery; retry later")]
    InProgress(String),

    /// DynamoDB or SNS failed (unreachable, throttled, 5xx, timeout). Retrying converges.
    #[error("{service} is unavailable; the event was not (fully) processed, retry later")]
    Dependency {
        service: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// DynamoDB or SNS refused the request itself (invalid, not found, not allowed): not an
    /// outage, so retrying the same request changes nothing until someone fixes the cause.
    #[error(
        "{service} refused the request (not an outage; a retry will not help until the cause is fixed)"
    )]
    Rejected {
        service: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Kombo's API refused or failed a call the backend made (its code and log URL kept).
    #[error("Kombo API error {code}: {message}")]
    Upstream {
        code: String,
        message: String,
        log_url: Option<String>,
    },

    /// Kombo refused the caller's input (`PLATFORM.INPUT_INVALID`): the caller's to fix.
    #[error("Kombo refused the request: {message}")]
    UpstreamRejected {
        code: String,
        message: String,
        log_url: Option<String>,
    },

    /// A Kombo call was sent and no answer came in time: it may or may not have happened.
    /// Retrying is safe (a repeated delete is answered not-found, which still tombstones).
    #[error("Kombo did not answer in time, so whether it acted is unknown; retrying is safe ({0})")]
    UpstreamUnknown(String),

    /// Kombo refused an activation token (expired, used, unknown, malformed): the caller's
    /// to fix (start the Connect flow again), never a page.
    #[error("Kombo refused the activation token: {message}")]
    InvalidToken {
        kombo_code: String,
        message: String,
        log_url: Option<String>,
    },

    /// Kombo is rate-limiting our API key: retry later (`Retry-After`).
    #[error("Kombo is rate-limiting this API key ({code}); retry later")]
    UpstreamBusy {
        code: String,
        message: String,
        log_url: Option<String>,
    },

    /// Kombo could not be reached before the invocation's deadline.
    #[error("Kombo could not be reached in time: {0}")]
    UpstreamUnreachable(String),

    /// The caller may not do this to this resource (`code` says why); nothing was changed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },

    /// The route names something that does not exist, or not for this caller (`code` says
    /// what; the message reveals nothing more).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },

    /// The request conflicts with what is stored (`code` says how); nothing was changed.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },

    /// Start-up configuration is missing or wrong (never produced while serving).
    #[error("configuration error: {0}")]
    Config(String),

    /// A bug: something that cannot happen did. Answered 500 (the sender retries).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn dependency(
        service: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Dependency {
            service,
            source: source.into(),
        }
    }

    /// An AWS SDK failure: [`Error::Rejected`] when the service refused the request as
    /// such (its error `code` says so), [`Error::Dependency`] otherwise.
    pub fn aws<E, R>(service: &'static str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
        aws_sdk_dynamodb::error::SdkError<E, R>: std::error::Error + Send + Sync + 'static,
    {
        const REFUSALS: [&str; 10] = [
            "ValidationException",
            "SerializationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidParameter",
            "InvalidParameterValue",
            "NotFound",
            "AuthorizationError",
            "KMSAccessDenied",
        ];
        let refused = e
            .as_service_error()
            .and_then(|s| s.code())
            .is_some_and(|c| REFUSALS.contains(&c));
        if refused {
            Error::Rejected {
                service,
                source: e.into(),
            }
        } else {
            Error::dependency(service, e)
        }
    }

    /// The HTTP status for this error: the one place where that is decided.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::WrongEventType { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            // 429, not 409: our own normal condition, and senders that treat every other
            // 4xx as final still come back.
            Error::InProgress(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::InvalidToken { .. } => StatusCode::BAD_REQUEST,
            Error::UpstreamBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::UpstreamUnreachable(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::Dependency { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Error::UpstreamRejected { .. } => StatusCode::BAD_REQUEST,
            Error::UpstreamUnknown(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::Config(_) | Error::Internal(_) | Error::Rejected { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// A stable, machine-readable code for the JSON body and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::Unauthorized(_) => "unauthorized",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::BadRequest(_) => "bad_request",
            Error::WrongEventType { .. } => "wrong_event_type",
            Error::InProgress(_) => "in_progress",
            Error::NotFound { code, .. }
            | Error::Conflict { code, .. }
            | Error::Forbidden { code, .. } => code,
            Error::InvalidToken { .. } => "invalid_token",
            Error::UpstreamBusy { .. } => "kombo_rate_limited",
            Error::UpstreamUnreachable(_) => "kombo_unreachable",
            Error::Dependency { .. } => "dependency_unavailable",
            Error::Upstream { .. } => "kombo_error",
            Error::UpstreamRejected { .. } => "kombo_input_invalid",
            Error::UpstreamUnknown(_) => "kombo_outcome_unknown",
            Error::Config(_) => "misconfigured",
            Error::Rejected { .. } => "dependency_rejected",
            Error::Internal(_) => "internal",
        }
    }

    /// Whether the sender should deliver the same event again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::InProgress(_)
                | Error::Dependency { .. }
                | Error::UpstreamBusy { .. }
                | Error::Config(_)
                | Error::Internal(_)
        )
    }

    /// `{"error":{"code":"...","message":"..."}}`
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            kombo_code: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            kombo_log_url: Option<&'a str>,
        }
        let (kombo_code, kombo_log_url) = match self {
            Error::Upstream { code, log_url, .. }
            | Error::UpstreamRejected { code, log_url, .. }
            | Error::UpstreamBusy { code, log_url, .. }
            | Error::InvalidToken {
                kombo_code: code,
                log_url,
                ..
            } => (Some(code.as_str()), log_url.as_deref()),
            _ => (None, None),
        };
        serde_json::to_string(&Body {
            error: Inner {
                code: self.code(),
                message: self.to_string(),
                kombo_code,
                kombo_log_url,
            },
        })
        .expect("a struct of strings serializes")
    }
}
