//! The AWS SDK clients of a function: one SDK configuration with deliberate timeouts,
//! retries and trust roots, and each service's client with the endpoint a local run names.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;

use crate::error::Error;
use crate::{config, tls};

/// The AWS SDK configuration of a function, every client built from it: the region and
/// credentials Lambda puts in the environment, `AWS_ENDPOINT_URL*` for local servers
/// (per client, below), deliberate timeouts and retries, so a stuck dependency becomes a
/// 503 well inside the function's own timeout, and an HTTP client that trusts only the
/// roots AWS endpoints chain to ([`tls`]).
///
/// Built directly, not through `aws_config`'s loader: the loader links the whole default
/// chain whether or not it runs (web identity and its STS client, profile files, IMDS;
/// about a tenth of each function's code), and none of it can apply on Lambda, which
/// always hands a function `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`. Without them (a run outside Lambda, `sam local` and `make dev`
/// set them) the function fails at init and says which is missing. The two switches a
/// deployment may set in the environment are kept: `AWS_USE_FIPS_ENDPOINT` and
/// `AWS_USE_DUALSTACK_ENDPOINT`. An `EXTRA_CA_PEM_FILE` that cannot be honoured stops it
/// too ([`tls::check_extra_roots`]).
pub fn function_sdk_config() -> Result<SdkConfig, Error> {
    tls::check_extra_roots()?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .ok_or_else(|| Error::Config("AWS_REGION is not set (Lambda sets it)".into()))?;
    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if env(key).is_none() {
            return Err(Error::Config(format!(
                "{key} is not set: AWS credentials come from the environment, as Lambda sets them from the execution role"
            )));
        }
    }
    let switch = |k: &str| env(k).map(|v| v.eq_ignore_ascii_case("true"));
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .identity_cache(IdentityCache::lazy().build())
        .http_client(tls::aws_http_client()?)
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .timeout_config(timeouts())
        .retry_config(retries());
    builder.set_use_fips(switch("AWS_USE_FIPS_ENDPOINT"));
    builder.set_use_dual_stack(switch("AWS_USE_DUALSTACK_ENDPOINT"));
    Ok(builder.build())
}

/// The standard `aws_config` loader with the functions' timeouts, retries and trust
/// roots, for a command run from a laptop (`import-mappings`), where the default chain's
/// profiles and SSO apply. The functions use [`function_sdk_config`].
pub fn aws_config_loader() -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    match tls::aws_http_client() {
        Ok(client) => loader = loader.http_client(client),
        // Only an unreadable EXTRA_CA_PEM_FILE gets here: say so, and keep the default.
        Err(e) => tracing::error!(error = %e, "extra trust roots not loaded"),
    }
    loader.timeout_config(timeouts()).retry_config(retries())
}

/// A stuck dependency becomes an error well inside the function's own timeout.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(config::AWS_CONNECT_TIMEOUT)
        .operation_attempt_timeout(config::AWS_ATTEMPT_TIMEOUT)
        .operation_timeout(config::AWS_OPERATION_TIMEOUT)
        .build()
}

/// The SDK's standard retries, a deliberate number of attempts.
fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(config::AWS_MAX_ATTEMPTS)
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
