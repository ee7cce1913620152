//! The models crate of the Kombo webhook functions: everything that decides lives
//! here; each function's `main.rs` only wires it up.
//!
//! One request: [`request`] (method, size, body, signature) → [`event`] (typed payload)
//! → [`decide`] (what must happen, as data) → [`ports`] ([`dynamo`], [`sns`]) →
//! [`webhook::respond`] (the HTTP answer, from [`error::Error`] on failure).

#![forbid(unsafe_code)]

pub mod backend;
pub mod config;
pub mod deadline;
pub mod decide;
pub mod dynamo;
pub mod error;
pub mod event;
pub mod import;
pub mod kombo;
pub mod ports;
pub mod reconcile;
pub mod render;
pub mod request;
pub mod secrets;
pub mod signature;
pub mod sns;
pub mod sweep;
pub mod telemetry;
pub mod tls;
pub mod webhook;

pub use error::Error;
pub use webhook::{App, Webhook};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};

/// The production wiring: DynamoDB and SNS adapters.
pub type AwsApp = App<dynamo::DynamoStore, sns::SnsPublisher>;

/// The production wiring of the reconcile run: DynamoDB, SNS and the Kombo API.
pub type AwsReconciler =
    reconcile::Reconciler<dynamo::DynamoStore, sns::SnsPublisher, kombo::KomboClient>;

/// The production wiring of the failure sweep: DynamoDB and SNS.
pub type AwsSweeper = sweep::Sweeper<dynamo::DynamoStore, sns::SnsPublisher>;

/// The production wiring of the backend API: DynamoDB and the Kombo API.
pub type AwsBackend = backend::Backend<dynamo::DynamoStore, kombo::KomboClient>;

impl AwsBackend {
    /// Builds the backend function serving `route` from its environment.
    pub async fn from_env(route: backend::Route) -> Result<Self, Error> {
        let settings = config::Settings::from_env(false)?;
        tls::check_extra_roots()?;
        let sdk = aws_config_loader().load().await;
        let store = dynamo::DynamoStore::new(dynamodb_client(&sdk), &settings);
        // The Kombo key's read and the table's warm-up at once: one round trip in init.
        let kombo = async {
            if route.calls_kombo() {
                kombo::KomboClient::from_env_with(&sdk).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let warm = async {
            if route != backend::Route::ConnectionLink {
                warm_up(store.warm_up()).await;
            }
        };
        let (kombo, ()) = tokio::join!(kombo, warm);
        Ok(backend::Backend {
            store,
            kombo: kombo?,
            settings,
            clock: time::OffsetDateTime::now_utc,
        })
    }
}

/// The production wiring of the Connect completion route: the webhook's DynamoDB and SNS
/// adapters (its create, claims and notice) and the Kombo API.
pub type AwsCompleter =
    backend::Completer<dynamo::DynamoStore, sns::SnsPublisher, kombo::KomboClient>;

impl AwsCompleter {
    /// Builds the completion function from its environment: the table, claims and topic
    /// (as the `integration-created` function has them) and the Kombo API key.
    pub async fn from_env() -> Result<Self, Error> {
        let (app, sdk) = AwsApp::scheduled_from_env().await?;
        // The Kombo key's read and the connections' warm-up at once: one round trip in init.
        let (kombo, ()) = tokio::join!(
            kombo::KomboClient::from_env_with(&sdk),
            warm_up(async {
                let (ddb, sns) = tokio::join!(app.store.warm_up(), app.alerts.warm_up());
                ddb.and(sns)
            })
        );
        Ok(backend::Completer { app, kombo: kombo? })
    }
}

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

impl AwsReconciler {
    /// Builds the reconcile run from its environment: the table, claims and topic (as a
    /// publishing webhook function has them) and the Kombo API key.
    pub async fn from_env() -> Result<Self, Error> {
        let (app, sdk) = AwsApp::scheduled_from_env().await?;
        let kombo = kombo::KomboClient::from_env_with(&sdk).await?;
        Ok(reconcile::Reconciler { app, kombo })
    }
}

impl AwsSweeper {
    /// Builds the sweep from its environment: the claims and failure records (the
    /// idempotency table), the topic and the fold window.
    pub async fn from_env() -> Result<Self, Error> {
        let (app, _) = AwsApp::scheduled_from_env().await?;
        Ok(sweep::Sweeper { app })
    }
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

/// Runs a warm-up during init, for at most a second; a failure is only logged (the first
/// request then opens the connection itself, as it would without a warm-up).
async fn warm_up(f: impl std::future::Future<Output = Result<(), Error>>) {
    match tokio::time::timeout(std::time::Duration::from_secs(1), f).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "connection warm-up failed"),
        Err(_) => tracing::warn!("connection warm-up took over 1 s; going on"),
    }
}

impl AwsApp {
    /// Builds the app for the function serving `E` from its environment: the secret,
    /// the settings, and the AWS clients (once per container).
    pub async fn from_env<E: Webhook>() -> Result<Self, Error> {
        let settings = config::Settings::from_env(E::PUBLISHES)?;
        tls::check_extra_roots()?;
        let sdk = aws_config_loader().load().await;
        let store = dynamo::DynamoStore::new(dynamodb_client(&sdk), &settings);
        let alerts = sns::SnsPublisher::new(sns_client(&sdk), &settings);
        // The secret's read and the connections' warm-up at once: a cold start costs one
        // round trip before the first request, not two.
        let load = async {
            match secrets::Source::from_env(secrets::WEBHOOK_SECRET_ARN_ENV, &sdk) {
                Some(source) => secrets::Cached::load(source, signature::Secrets::parse).await,
                None => Ok(secrets::Cached::fixed(signature::Secrets::from_env()?)),
            }
        };
        let (secrets, ()) = tokio::join!(
            load,
            warm_up(async {
                let (ddb, sns) = tokio::join!(store.warm_up(), alerts.warm_up());
                ddb.and(sns)
            })
        );
        Ok(App {
            store,
            alerts,
            secrets: secrets?,
            settings,
            clock: time::OffsetDateTime::now_utc,
        })
    }

    /// The app of a scheduled function or the Connect completion (no webhook, so no
    /// webhook secret), with the settings of a publishing function, and the SDK
    /// configuration its other clients are built from.
    async fn scheduled_from_env() -> Result<(Self, aws_config::SdkConfig), Error> {
        let settings = config::Settings::from_env(true)?;
        tls::check_extra_roots()?;
        let sdk = aws_config_loader().load().await;
        let app = Self::with_clients(
            secrets::Cached::fixed(signature::Secrets::none()),
            settings,
            dynamodb_client(&sdk),
            sns_client(&sdk),
        );
        Ok((app, sdk))
    }

    /// Builds the app from an explicit SDK configuration (tests, local servers).
    pub fn with_sdk_config(
        secrets: signature::Secrets,
        settings: config::Settings,
        sdk: &aws_config::SdkConfig,
    ) -> Self {
        let (ddb, sns) = (
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
        );
        Self::with_clients(secrets::Cached::fixed(secrets), settings, ddb, sns)
    }

    pub(crate) fn with_clients(
        secrets: secrets::Cached<signature::Secrets>,
        settings: config::Settings,
        ddb: aws_sdk_dynamodb::Client,
        sns: aws_sdk_sns::Client,
    ) -> Self {
        App {
            store: dynamo::DynamoStore::new(ddb, &settings),
            alerts: sns::SnsPublisher::new(sns, &settings),
            secrets,
            settings,
            clock: time::OffsetDateTime::now_utc,
        }
    }
}
