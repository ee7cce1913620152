//! The webhook front door: one signed request's way in and out. Its secrets (fixed, or
//! from Secrets Manager with rotation pickup), the signature and size checks
//! ([`crate::request`]), the typed payload ([`crate::event`]), the decision
//! ([`crate::decide`]) carried out by the effects ([`crate::effects`]), and one log line
//! with the request's metrics; the answer is [`crate::http`]'s.

use std::time::Instant;

use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use time::OffsetDateTime;

use crate::deadline::{Deadline, FUNCTION_TIMEOUT};
use crate::decide::Decide;
use crate::effects::{Effects, Outcome};
use crate::error::Error;
use crate::event::{self, ParseError, WebhookEvent};
use crate::http;
use crate::ports::{AlertPublisher, Store};
use crate::signature::Secrets;

/// A payload type one function serves.
pub trait Webhook: WebhookEvent + Decide + Send {
    /// Whether its decisions may publish alerts (then it needs a topic and claims).
    const PUBLISHES: bool;
}

impl Webhook for event::IntegrationCreated {
    const PUBLISHES: bool = true;
}
impl Webhook for event::IntegrationDeleted {
    const PUBLISHES: bool = false;
}
impl Webhook for event::ConnectionFlowFailed {
    const PUBLISHES: bool = true;
}
impl Webhook for event::IntegrationStateChanged {
    const PUBLISHES: bool = true;
}
impl Webhook for event::IssueStatusChanged {
    const PUBLISHES: bool = true;
}

/// The request's figures as CloudWatch metrics (Embedded Metric Format, namespace
/// `KomboWebhooks`), carried in its one log line: no call to CloudWatch.
struct Metrics {
    signatures_verified: u8,
    signature_failures: u8,
    signature_mismatches: u8,
    alerts_published: u8,
    alerts_folded: u8,
    alerts_resolved: u8,
    dependency_failures: u8,
    fleet_incidents_opened: u8,
}

impl Metrics {
    fn of(result: &Result<Outcome, Error>, verified: bool) -> Self {
        let published = matches!(
            result,
            Ok(Outcome::Alerted
                | Outcome::StoredUnassigned
                | Outcome::StateRecordedAlerted
                | Outcome::IncidentOpened
                | Outcome::IssueNoticed)
        );
        Metrics {
            signatures_verified: u8::from(verified),
            signature_failures: u8::from(matches!(result, Err(Error::Unauthorized(_)))),
            signature_mismatches: u8::from(matches!(
                result,
                Err(Error::Unauthorized(crate::signature::MISMATCH))
            )),
            alerts_published: u8::from(published),
            alerts_folded: u8::from(matches!(result, Ok(Outcome::Folded | Outcome::InIncident))),
            alerts_resolved: u8::from(matches!(
                result,
                Ok(Outcome::Resolved
                    | Outcome::StateRecordedRecovered
                    | Outcome::IssueResolvedNotified)
            )),
            dependency_failures: u8::from(matches!(result, Err(e) if e.status().is_server_error())),
            fleet_incidents_opened: u8::from(matches!(result, Ok(Outcome::IncidentOpened))),
        }
    }

    /// The `_aws` block: the metrics are the line's own fields `webhooks`, `latency_ms`,
    /// `signatures_verified` (a body whose signature verified: Kombo's own deliveries),
    /// `signature_failures` (every 401), `signature_mismatches` (a well-formed signature that
    /// matches no secret: what a one-sided rotation looks like), `alerts_published` (pages
    /// and notices that need someone), `alerts_folded` (failures counted instead of paged,
    /// on the customer's window or a fleet incident), `alerts_resolved` ("resolved" and
    /// "recovered" notices), `dependency_failures`, `FleetIncidentsOpened`, by `event_type` and
    /// `outcome`, by `event_type`, and in all. Only the timestamp changes per request.
    fn emf(&self, now: OffsetDateTime) -> String {
        const DIRECTIVE: &str = r#""CloudWatchMetrics":[{"Namespace":"KomboWebhooks","Dimensions":[["event_type","outcome"],["event_type"],[]],"Metrics":[{"Name":"webhooks","Unit":"Count"},{"Name":"latency_ms","Unit":"Milliseconds"},{"Name":"signatures_verified","Unit":"Count"},{"Name":"signature_failures","Unit":"Count"},{"Name":"signature_mismatches","Unit":"Count"},{"Name":"alerts_published","Unit":"Count"},{"Name":"alerts_folded","Unit":"Count"},{"Name":"alerts_resolved","Unit":"Count"},{"Name":"dependency_failures","Unit":"Count"},{"Name":"FleetIncidentsOpened","Unit":"Count"}]}]"#;
        let ms = now.unix_timestamp_nanos() / 1_000_000;
        format!(r#"{{"Timestamp":{ms},{DIRECTIVE}}}"#)
    }
}

/// A webhook function: its secrets and the effects, built once per container.
pub struct App<S, P> {
    /// The webhook secret(s): fixed, or from Secrets Manager with rotation pickup.
    pub secrets: crate::secrets::Cached<Secrets>,
    pub effects: Effects<S, P>,
}

/// What the log line of a request says (never the body, the email or the secret).
#[derive(Default)]
struct Facts {
    /// The body's signature verified.
    verified: bool,
    event_id: Option<String>,
    integration_id: Option<String>,
}

impl<S: Store, P: AlertPublisher> App<S, P> {
    /// The Lambda handler: always answers (errors become their HTTP status).
    pub async fn handle<E: Webhook>(
        &self,
        event: LambdaEvent<ApiGatewayV2httpRequest>,
    ) -> Result<ApiGatewayV2httpResponse, lambda_http::Error> {
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        Ok(self.serve_until::<E>(&event.payload, deadline).await)
    }

    /// [`Self::serve_until`] with the template's function timeout from now.
    pub async fn serve<E: Webhook>(
        &self,
        req: &ApiGatewayV2httpRequest,
    ) -> ApiGatewayV2httpResponse {
        self.serve_until::<E>(req, Deadline::after(FUNCTION_TIMEOUT))
            .await
    }

    /// Runs the pipeline for one request, every call inside `deadline`, and logs one
    /// line about it.
    pub async fn serve_until<E: Webhook>(
        &self,
        req: &ApiGatewayV2httpRequest,
        deadline: Deadline,
    ) -> ApiGatewayV2httpResponse {
        let started = Instant::now();
        let mut facts = Facts::default();
        let result = self.process::<E>(req, &mut facts, deadline).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let (event_id, integration_id) =
            (facts.event_id.as_deref(), facts.integration_id.as_deref());
        let m = Metrics::of(&result, facts.verified);
        let emf = m.emf((self.effects.clock)());
        // The one line: the same fields (and metrics) whatever happened; the level, the
        // message and, on an error, its text and cause by outcome.
        macro_rules! line {
            ($level:expr, $outcome:expr, $status:expr, $($rest:tt)+) => {
                tracing::event!(
                    $level,
                    event_type = E::TYPE,
                    event_id,
                    integration_id,
                    outcome = $outcome,
                    status = $status,
                    latency_ms,
                    webhooks = 1,
                    signatures_verified = m.signatures_verified,
                    signature_failures = m.signature_failures,
                    signature_mismatches = m.signature_mismatches,
                    alerts_published = m.alerts_published,
                    alerts_folded = m.alerts_folded,
                    alerts_resolved = m.alerts_resolved,
                    dependency_failures = m.dependency_failures,
                    FleetIncidentsOpened = m.fleet_incidents_opened,
                    _aws = %emf,
                    $($rest)+
                )
            };
        }
        use tracing::Level;
        match &result {
            Ok(Outcome::IgnoredTombstoned) => line!(
                Level::WARN,
                Outcome::IgnoredTombstoned.as_str(),
                200,
                "create for a deleted integration ignored"
            ),
            Ok(outcome) => line!(Level::INFO, outcome.as_str(), 200, "webhook handled"),
            Err(e) => {
                let (status, outcome) = (e.status().as_u16(), e.code());
                // The error chain's messages, not the raw AWS response that `Debug` would include.
                let cause = std::error::Error::source(e)
                    .map(|s| aws_smithy_types::error::display::DisplayErrorContext(s).to_string());
                if matches!(e, Error::Rejected { .. }) {
                    line!(Level::ERROR, outcome, status, error = %e, cause, "webhook not processed: a dependency refused the request (not an outage)");
                } else if e.is_retryable() {
                    line!(Level::ERROR, outcome, status, error = %e, cause, "webhook not processed, sender should retry");
                } else {
                    line!(Level::WARN, outcome, status, error = %e, "webhook rejected");
                }
            }
        }
        http::respond(result.map(|outcome| {
            serde_json::json!({ "status": "ok", "outcome": outcome.as_str(), "event_id": facts.event_id })
        }))
    }

    async fn process<E: Webhook>(
        &self,
        req: &ApiGatewayV2httpRequest,
        facts: &mut Facts,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        // Only a request with a well-formed signature may cost a Secrets Manager read (at
        // most one a minute, whatever the outcome); the rest are refused from the cache.
        let secrets = if crate::request::has_well_formed_signature(req) {
            self.secrets.refresh_if_old().await;
            self.secrets.current()?
        } else {
            self.secrets.get()
        };
        let body = match crate::request::verified_body(req, &secrets) {
            // Perhaps rotated in Secrets Manager since the last read: read it again (at
            // most once a minute) before refusing.
            Err(Error::Unauthorized(crate::signature::MISMATCH))
                if self.secrets.refresh_on_miss().await =>
            {
                crate::request::verified_body(req, &*self.secrets.current()?)?
            }
            other => other?,
        };
        facts.verified = true;
        let envelope = event::parse::<E>(&body).map_err(|e| match e {
            ParseError::Invalid(m) => Error::BadRequest(m),
            ParseError::WrongType { expected, got } => Error::WrongEventType { expected, got },
        })?;
        facts.event_id = Some(envelope.id.clone());
        facts.integration_id = envelope.data.integration_id().map(str::to_owned);
        let now = (self.effects.clock)();
        let event_id = envelope.id.clone();
        let decision = E::decide(envelope, now, &self.effects.rules);
        self.effects.apply(&event_id, decision, now, deadline).await
    }
}
