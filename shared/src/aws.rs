//! The production wiring: each function's parts built once per container from its
//! environment (settings, secrets, AWS clients, the Kombo client), with the connections
//! warmed up while the secret is read, so a cold start costs one round trip before the
//! first request, not two.

use crate::backend::{Backend, Completer, Route};
use crate::clients::{dynamodb_client, sns_client};
use crate::config::Settings;
use crate::dynamo::DynamoStore;
use crate::effects::Effects;
use crate::error::Error;
use crate::kombo::KomboClient;
use crate::reconcile::Reconciler;
use crate::sns::SnsPublisher;
use crate::sweep::Sweeper;
use crate::webhook::{App, Webhook};
use crate::{clock, secrets, signature};

/// The effects on DynamoDB and SNS.
pub type AwsEffects = Effects<DynamoStore, SnsPublisher>;

/// A webhook function: DynamoDB and SNS.
pub type AwsApp = App<DynamoStore, SnsPublisher>;

/// The reconcile run: DynamoDB, SNS and the Kombo API.
pub type AwsReconciler = Reconciler<DynamoStore, SnsPublisher, KomboClient>;

/// The failure sweep: DynamoDB and SNS.
pub type AwsSweeper = Sweeper<DynamoStore, SnsPublisher>;

/// A backend route: DynamoDB and the Kombo API.
pub type AwsBackend = Backend<DynamoStore, KomboClient>;

/// The Connect completion route: the effects on DynamoDB and SNS, and the Kombo API.
pub type AwsCompleter = Completer<DynamoStore, SnsPublisher, KomboClient>;

/// Runs a warm-up during init, for at most a second; a failure is only logged (the first
/// request then opens the connection itself, as it would without a warm-up).
async fn warm_up(f: impl std::future::Future<Output = Result<(), Error>>) {
    match tokio::time::timeout(std::time::Duration::from_secs(1), f).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "connection warm-up failed"),
        Err(_) => tracing::warn!("connection warm-up took over 1 s; going on"),
    }
}

impl AwsEffects {
    /// The effects on the tables and topic `settings` name, through `sdk`'s clients.
    pub fn with_sdk_config(settings: &Settings, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clients(
            settings,
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
        )
    }

    /// The effects on the tables and topic `settings` name, through these clients.
    pub fn with_clients(
        settings: &Settings,
        ddb: aws_sdk_dynamodb::Client,
        sns: aws_sdk_sns::Client,
    ) -> Self {
        Effects {
            store: DynamoStore::new(ddb, settings),
            alerts: SnsPublisher::new(sns, settings),
            rules: settings.rules.clone(),
            clock: clock::system,
        }
    }

    /// The effects of a function that publishes, from its environment, and the SDK
    /// configuration its other clients are built from.
    async fn from_env() -> Result<(Self, Settings, aws_config::SdkConfig), Error> {
        let settings = Settings::from_env(true)?;
        let sdk = crate::clients::function_sdk_config()?;
        let effects = Self::with_clients(&settings, dynamodb_client(&sdk), sns_client(&sdk));
        Ok((effects, settings, sdk))
    }

    /// Opens both connections.
    async fn warm_up(&self) -> Result<(), Error> {
        let (ddb, sns) = tokio::join!(self.store.warm_up(), self.alerts.warm_up());
        ddb.and(sns)
    }
}

impl AwsApp {
    /// The function serving `E`, from its environment: the secret, the settings, and the
    /// AWS clients (once per container).
    pub async fn from_env<E: Webhook>() -> Result<Self, Error> {
        let settings = Settings::from_env(E::PUBLISHES)?;
        let sdk = crate::clients::function_sdk_config()?;
        let effects = AwsEffects::with_clients(&settings, dynamodb_client(&sdk), sns_client(&sdk));
        // The secret's read and the connections' warm-up at once.
        let load = async {
            match secrets::Source::from_env(secrets::WEBHOOK_SECRET_ARN_ENV, &sdk) {
                Some(source) => secrets::Cached::load(source, signature::Secrets::parse).await,
                None => Ok(secrets::Cached::fixed(signature::Secrets::from_env()?)),
            }
        };
        let (secrets, ()) = tokio::join!(load, warm_up(effects.warm_up()));
        Ok(App {
            secrets: secrets?,
            effects,
        })
    }

    /// The function with a fixed secret, through `sdk`'s clients (tests, local servers).
    pub fn with_sdk_config(
        secrets: signature::Secrets,
        settings: Settings,
        sdk: &aws_config::SdkConfig,
    ) -> Self {
        App {
            secrets: secrets::Cached::fixed(secrets),
            effects: AwsEffects::with_sdk_config(&settings, sdk),
        }
    }
}

impl AwsBackend {
    /// The backend function serving `route`, from its environment.
    pub async fn from_env(route: Route) -> Result<Self, Error> {
        let settings = Settings::from_env(false)?;
        let sdk = crate::clients::function_sdk_config()?;
        let store = DynamoStore::new(dynamodb_client(&sdk), &settings);
        // The Kombo key's read and the table's warm-up at once: one round trip in init.
        let kombo = async {
            if route.calls_kombo() {
                KomboClient::from_env_with(&sdk).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let warm = async {
            if route != Route::ConnectionLink {
                warm_up(store.warm_up()).await;
            }
        };
        let (kombo, ()) = tokio::join!(kombo, warm);
        Ok(Backend {
            store,
            kombo: kombo?,
            settings,
            clock: clock::system,
        })
    }
}

impl AwsCompleter {
    /// The completion function, from its environment: the table, claims and topic (as the
    /// `integration-created` function has them) and the Kombo API key.
    pub async fn from_env() -> Result<Self, Error> {
        let (effects, settings, sdk) = AwsEffects::from_env().await?;
        // The Kombo key's read and the connections' warm-up at once.
        let (kombo, ()) =
            tokio::join!(KomboClient::from_env_with(&sdk), warm_up(effects.warm_up()));
        Ok(Completer {
            effects,
            kombo: kombo?,
            allowed_callers: settings.allowed_backend_callers,
        })
    }
}

impl AwsReconciler {
    /// The reconcile run, from its environment: the table, claims and topic (as a
    /// publishing webhook function has them) and the Kombo API key.
    pub async fn from_env() -> Result<Self, Error> {
        let (effects, _, sdk) = AwsEffects::from_env().await?;
        let kombo = KomboClient::from_env_with(&sdk).await?;
        Ok(Reconciler { effects, kombo })
    }
}

impl AwsSweeper {
    /// The sweep, from its environment: the failure and fleet records (the records table),
    /// the claims, the topic and the fold window.
    pub async fn from_env() -> Result<Self, Error> {
        let (effects, _, _) = AwsEffects::from_env().await?;
        Ok(Sweeper { effects })
    }
}
