//! The AWS SDK clients of a function: one SDK configuration with deliberate timeouts,
//! retries and trust roots, and each service's client with the endpoint a local run names.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};

use crate::{config, tls};

/// The AWS SDK configuration every client is built from: the standard environment
/// (region, credentials, `AWS_ENDPOINT_URL*` for local servers) plus deliberate
/// timeouts and retries, so a stuck dependency becomes a 503 well inside the
/// function's own timeout, and an HTTP client that trusts only the roots AWS endpoints
/// chain to ([`tls`]).
///
/// Lambda hands a function its region and credentials in environment variables; where
/// they are there, they are used directly, so none of the default chain's providers
/// that cannot apply on Lambda (web identity and its STS client, SSO, IMDS, profile
/// files) is built during init. Without them (a laptop, a test) the standard chain
/// stays in charge.
pub fn aws_config_loader() -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    match tls::aws_http_client() {
        Ok(client) => loader = loader.http_client(client),
        // Only an unreadable EXTRA_CA_PEM_FILE gets here: say so, and keep the default.
        Err(e) => tracing::error!(error = %e, "extra trust roots not loaded"),
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config::AWS_CONNECT_TIMEOUT)
                .operation_attempt_timeout(config::AWS_ATTEMPT_TIMEOUT)
                .operation_timeout(config::AWS_OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(config::AWS_MAX_ATTEMPTS))
}

/// An endpoint variable as a local run means it: `sam local` gives every variable the
/// template declares a value, the empty string where the template's condition leaves it
/// out, and the SDK takes an empty `AWS_ENDPOINT_URL_*` as the endpoint (and panics).
/// `Some(None)`: the variable is there but empty, so no endpoint is configured.
fn endpoint_var(name: &str) -> Option<Option<String>> {
    std::env::var(name)
        .ok()
        .map(|v| Some(v).filter(|v| !v.is_empty()))
}

/// The endpoint for one service from `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`,
/// an empty value counting as unset; `None` leaves the SDK's own resolution alone.
fn endpoint_override(service_var: &str) -> Option<Option<String>> {
    match endpoint_var(service_var) {
        Some(Some(url)) => Some(Some(url)),
        service => endpoint_var("AWS_ENDPOINT_URL").or(service),
    }
}

/// A service client of a function, from its SDK configuration and environment: the SDK's
/// own endpoint resolution unless [`endpoint_override`] names one.
macro_rules! client_with_local_endpoint {
    ($(#[$doc:meta])* $name:ident, $sdk:ident, $var:literal) => {
        $(#[$doc])*
        pub fn $name(sdk: &aws_config::SdkConfig) -> $sdk::Client {
            let mut conf = $sdk::config::Builder::from(sdk);
            if let Some(url) = endpoint_override($var) {
                conf.set_endpoint_url(url);
            }
            $sdk::Client::from_conf(conf.build())
        }
    };
}

client_with_local_endpoint!(
    /// The DynamoDB client of a function, from its SDK configuration and environment.
    dynamodb_client,
    aws_sdk_dynamodb,
    "AWS_ENDPOINT_URL_DYNAMODB"
);
client_with_local_endpoint!(
    /// The SNS client of a function, from its SDK configuration and environment.
    sns_client,
    aws_sdk_sns,
    "AWS_ENDPOINT_URL_SNS"
);
client_with_local_endpoint!(
    /// The Secrets Manager client of a function (the secrets mode of the template).
    secretsmanager_client,
    aws_sdk_secretsmanager,
    "AWS_ENDPOINT_URL_SECRETS_MANAGER"
);
