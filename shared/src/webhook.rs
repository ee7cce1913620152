//! One request's way through the product:
//! verify ([`crate::request`]) → parse ([`crate::event`]) → decide ([`crate::decide`])
//! → write/publish (the [`crate::ports`]) → answer ([`respond`]).

use std::time::Instant;

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, LambdaEvent};
use time::OffsetDateTime;

use crate::config::Settings;
use crate::deadline::{Deadline, FUNCTION_TIMEOUT, UNDO_RESERVE};
use crate::decide::fleet::{self, Incident, Strike, Verdict};
use crate::decide::notices::{page_with_folded, resolved_notice};
use crate::decide::{
    Alert, Decide, Decision, Failure, Mapping, Resolution, StateUpdate, Status, epoch_ms,
};
use crate::error::Error;
use crate::event::{self, ParseError, WebhookEvent};
use crate::ports::{
    AlertPublisher, Claim, ClaimStore, Count, Counted, FailureStore, FleetStore, Inserted,
    MappingStore, Opened, PAGE_SENT, PageClaim, Resolving, StateApplied, Struck, Tombstoned,
};
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

/// What happened, on success (all answered 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new mapping was stored.
    Stored,
    /// A row recorded from a state change (the create came later) is now complete.
    Completed,
    /// A new mapping without customer was stored and the notice published.
    StoredUnassigned,
    /// The mapping exists already (a duplicate or repeated create): nothing changed.
    AlreadyStored,
    /// A create for an integration that is already deleted: nothing changed.
    IgnoredTombstoned,
    /// The integration is now marked deleted.
    Deleted,
    /// It was marked deleted already: nothing changed.
    AlreadyDeleted,
    /// The alert was published (a failure that opened a window: the page).
    Alerted,
    /// A failure counted into its customer's open window: no page.
    Folded,
    /// The mapping is stored (or was, by an earlier try) and the customer's failures on
    /// record are resolved: the "resolved" notice was published.
    Resolved,
    /// The alert for this event was published before: nothing sent.
    AlreadyAlerted,
    /// The integration's new state is recorded.
    StateRecorded,
    /// The new state is recorded and the INVALID alert published.
    StateRecordedAlerted,
    /// ACTIVE after INVALID is recorded and the "recovered" notice published.
    StateRecordedRecovered,
    /// A newer state is stored already: nothing changed.
    IgnoredStale,
    /// This failure (or INVALID) was the tool's customer that reached the threshold: the
    /// fleet incident opened and its page was published.
    IncidentOpened,
    /// Counted on the tool's open fleet incident: the customer's own page (or "recovered"
    /// notice) folded into it.
    InIncident,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Completed => "completed",
            Outcome::StoredUnassigned => "stored_unassigned",
            Outcome::AlreadyStored => "already_stored",
            Outcome::IgnoredTombstoned => "ignored_tombstoned",
            Outcome::Deleted => "deleted",
            Outcome::AlreadyDeleted => "already_deleted",
            Outcome::Alerted => "alerted",
            Outcome::Folded => "folded",
            Outcome::Resolved => "resolved",
            Outcome::AlreadyAlerted => "already_alerted",
            Outcome::StateRecorded => "state_recorded",
            Outcome::StateRecordedAlerted => "state_recorded_alerted",
            Outcome::StateRecordedRecovered => "state_recorded_recovered",
            Outcome::IgnoredStale => "ignored_stale",
            Outcome::IncidentOpened => "incident_opened",
            Outcome::InIncident => "folded_into_incident",
        }
    }
}

const DDB: &str = "DynamoDB";
const SNS: &str = "SNS";

/// The request's figures as CloudWatch metrics (Embedded Metric Format, namespace
/// `KomboWebhooks`), carried in its one log line: no call to CloudWatch.
struct Metrics {
    signature_failures: u8,
    signature_mismatches: u8,
    alerts_published: u8,
    alerts_folded: u8,
    alerts_resolved: u8,
    dependency_failures: u8,
    fleet_incidents_opened: u8,
}

impl Metrics {
    fn of(result: &Result<Outcome, Error>) -> Self {
        let published = matches!(
            result,
            Ok(Outcome::Alerted
                | Outcome::StoredUnassigned
                | Outcome::StateRecordedAlerted
                | Outcome::IncidentOpened)
        );
        Metrics {
            signature_failures: u8::from(matches!(result, Err(Error::Unauthorized(_)))),
            signature_mismatches: u8::from(matches!(
                result,
                Err(Error::Unauthorized(crate::signature::MISMATCH))
            )),
            alerts_published: u8::from(published),
            alerts_folded: u8::from(matches!(result, Ok(Outcome::Folded | Outcome::InIncident))),
            alerts_resolved: u8::from(matches!(
                result,
                Ok(Outcome::Resolved | Outcome::StateRecordedRecovered)
            )),
            dependency_failures: u8::from(matches!(result, Err(e) if e.status().is_server_error())),
            fleet_incidents_opened: u8::from(matches!(result, Ok(Outcome::IncidentOpened))),
        }
    }

    /// The `_aws` block: the metrics are the line's own fields `webhooks`, `latency_ms`,
    /// `signature_failures` (every 401), `signature_mismatches` (a well-formed signature that
    /// matches no secret: what a one-sided rotation looks like), `alerts_published` (pages
    /// and notices that need someone), `alerts_folded` (failures counted instead of paged,
    /// on the customer's window or a fleet incident), `alerts_resolved` ("resolved" and
    /// "recovered" notices), `dependency_failures`, `FleetIncidentsOpened`, by `event_type` and
    /// `outcome`, by `event_type`, and in all. Only the timestamp changes per request.
    fn emf(&self, now: OffsetDateTime) -> String {
        const DIRECTIVE: &str = r#""CloudWatchMetrics":[{"Namespace":"KomboWebhooks","Dimensions":[["event_type","outcome"],["event_type"],[]],"Metrics":[{"Name":"webhooks","Unit":"Count"},{"Name":"latency_ms","Unit":"Milliseconds"},{"Name":"signature_failures","Unit":"Count"},{"Name":"signature_mismatches","Unit":"Count"},{"Name":"alerts_published","Unit":"Count"},{"Name":"alerts_folded","Unit":"Count"},{"Name":"alerts_resolved","Unit":"Count"},{"Name":"dependency_failures","Unit":"Count"},{"Name":"FleetIncidentsOpened","Unit":"Count"}]}]"#;
        let ms = now.unix_timestamp_nanos() / 1_000_000;
        format!(r#"{{"Timestamp":{ms},{DIRECTIVE}}}"#)
    }
}

/// Everything a function needs, built once per container.
pub struct App<S, P> {
    /// The webhook secret(s): fixed, or from Secrets Manager with rotation pickup.
    pub secrets: crate::secrets::Cached<Secrets>,
    pub settings: Settings,
    pub store: S,
    pub alerts: P,
    /// The clock (a function so tests can move time).
    pub clock: fn() -> OffsetDateTime,
}

/// What the log line of a request says (never the body, the email or the secret).
#[derive(Default)]
struct Facts {
    event_id: Option<String>,
    integration_id: Option<String>,
}

impl<S: MappingStore + ClaimStore + FailureStore + FleetStore, P: AlertPublisher> App<S, P> {
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
        let m = Metrics::of(&result);
        let emf = m.emf((self.clock)());
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
        respond(facts.event_id.as_deref(), &result)
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
        let envelope = event::parse::<E>(&body).map_err(|e| match e {
            ParseError::Invalid(m) => Error::BadRequest(m),
            ParseError::WrongType { expected, got } => Error::WrongEventType { expected, got },
        })?;
        facts.event_id = Some(envelope.id.clone());
        facts.integration_id = envelope.data.integration_id().map(str::to_owned);
        let now = (self.clock)();
        let event_id = envelope.id.clone();
        let decision = E::decide(envelope, now, &self.settings);
        self.apply(&event_id, decision, now, deadline).await
    }

    /// Carries a decision out, every call inside `deadline`. Effects that must undo
    /// themselves on failure (release a claim) run inside a deadline that leaves time
    /// for the undo.
    pub async fn apply(
        &self,
        event_id: &str,
        decision: Decision,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        match decision {
            Decision::Store(m, resolution) => {
                let created = self.create(&m, &resolution, now, deadline).await?;
                match created.notice {
                    Notice::Sent => return Ok(Outcome::Resolved),
                    // The other way in (or a duplicate) is sending it right now: Kombo
                    // retries this delivery, which then finds it sent (or sends it).
                    Notice::InFlight(id) => return Err(Error::InProgress(id)),
                    Notice::None => {}
                }
                Ok(match created.inserted {
                    Inserted::Stored => Outcome::Stored,
                    Inserted::Completed { .. } => Outcome::Completed,
                    Inserted::Exists { status, .. } => existing(status),
                })
            }
            Decision::Tombstone(t) => {
                Ok(match deadline.run(DDB, self.store.tombstone(&t)).await? {
                    Tombstoned::Marked => Outcome::Deleted,
                    Tombstoned::AlreadyDeleted => Outcome::AlreadyDeleted,
                })
            }
            Decision::Failure(failure) => {
                self.count_failure(event_id, &failure, now, deadline).await
            }
            Decision::State(update, None) => Ok(recorded(
                deadline
                    .run(DDB, self.store.update_state(&update, None))
                    .await?
                    .applied,
            )),
            Decision::State(update, Some(notice)) if update.recovers => {
                self.record_recovery(event_id, &update, &notice, now, deadline)
                    .await
            }
            Decision::State(update, Some(alert)) => {
                self.record_invalid(event_id, &update, &alert, now, deadline)
                    .await
            }
            Decision::StoreUnassigned(m, alert) => {
                self.store_and_notify(event_id, &m, &alert, now, deadline)
                    .await
            }
        }
    }

    /// The create of a mapping with its customer, whichever way it came in (the
    /// `integration-created` webhook, or a Connect completion's activation token): one
    /// conditional write, and at the same time a read of the customer's failure record for
    /// the tool (one round trip for both). Only where that record holds failures to resolve,
    /// and the row is this customer's and this create's (or the other way in's), are they
    /// resolved with one "resolved" notice, claimed under the id of the create that stored
    /// the row, so the two ways in and their retries send it once. A failure that lands
    /// between the read and the write is left for the next create, as one that lands just
    /// after it would be.
    pub async fn create(
        &self,
        m: &Mapping,
        resolution: &Resolution,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Created, Error> {
        let (inserted, on_record) = tokio::try_join!(
            Box::pin(deadline.run(DDB, self.store.insert(m))),
            Box::pin(deadline.run(DDB, self.store.on_record(&resolution.key))),
        )?;
        let owed = resolution_id(&inserted, m).filter(|id| on_record.to_resolve(id));
        let notice = match owed {
            Some(event_id) => {
                let r = Resolution {
                    event_id,
                    ..resolution.clone()
                };
                match self.resolve(&r, now, deadline).await {
                    Ok(true) => Notice::Sent,
                    Ok(false) => Notice::None,
                    Err(Error::InProgress(id)) => Notice::InFlight(id),
                    Err(e) => return Err(e),
                }
            }
            None => Notice::None,
        };
        Ok(Created { inserted, notice })
    }

    /// Stores a mapping without customer and publishes the notice once, unless the
    /// integration was deleted meanwhile. The write (safe to repeat: a row stands after it)
    /// goes out with the notice's claim. A retry after a failed publish finds the row its own
    /// create stored (`created_event_id`, which no other event writes) and publishes then,
    /// whatever state changes arrived in between.
    async fn store_and_notify(
        &self,
        event_id: &str,
        m: &Mapping,
        alert: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let write = Box::pin(soft.run(DDB, self.store.insert(m)));
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: Outcome::AlreadyStored,
                undo: nothing,
            },
            write,
            |inserted| async move {
                match inserted {
                    Inserted::Exists {
                        status: Status::Deleted,
                        ..
                    } => return Ok(Outcome::IgnoredTombstoned),
                    Inserted::Exists { own: false, .. } => return Ok(Outcome::AlreadyStored),
                    Inserted::Stored
                    | Inserted::Completed { .. }
                    | Inserted::Exists { own: true, .. } => {}
                }
                soft.run(SNS, self.alerts.publish(alert)).await?;
                Ok(Outcome::StoredUnassigned)
            },
        )
        .await
    }

    /// Counts a failure on its customer's record and on its tool's fleet record, once per
    /// event: the one that opens a window pages (reporting what the previous window
    /// folded), unless the tool's fleet incident takes it (it is open: counted on it; this
    /// failure reached the threshold: the incident's page instead); the rest of the window
    /// is counted. Both counts go out with the claim (one round trip: a page costs three
    /// with the publish and the completion, an incident's page four with its opening); a
    /// retry of the failure that paged pages again (its page failed); a duplicate of a
    /// failure handled before takes back the counts it made again.
    async fn count_failure(
        &self,
        event_id: &str,
        failure: &Failure,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let strike = Strike::of_failure(failure);
        let strike = &strike;
        let counts = Box::pin(async move {
            tokio::try_join!(
                Box::pin(soft.run(DDB, self.store.count_failure(failure, now))),
                Box::pin(soft.run(DDB, self.store.strike(strike, now))),
            )
        });
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: Outcome::AlreadyAlerted,
                // What the counts beside the claim changed, taken back.
                undo: |(count, struck): (Count, Struck)| async move {
                    let uncount = async {
                        match count.wrote {
                            Some(wrote) => {
                                deadline.run(DDB, self.store.uncount(failure, wrote)).await
                            }
                            None => Ok(()),
                        }
                    };
                    let unstrike = async {
                        if struck.repeat {
                            Ok(())
                        } else {
                            deadline.run(DDB, self.store.unstrike(strike)).await
                        }
                    };
                    let (a, b) = tokio::join!(Box::pin(uncount), Box::pin(unstrike));
                    if let Err(e) = a.and(b) {
                        tracing::error!(event_id, error = %e, "a duplicate's count was not taken back");
                    }
                },
            },
            counts,
            |(count, struck)| async move {
                match self.judge(strike, &struck, now) {
                    Verdict::InIncident { .. } => Ok(Outcome::InIncident),
                    Verdict::Open {
                        incident_id,
                        since_ms,
                    } => {
                        self.open_incident(strike, &struck, incident_id, since_ms, now, soft)
                            .await
                    }
                    Verdict::Alone => match count.counted {
                        Counted::Folded => Ok(Outcome::Folded),
                        Counted::Page { carried } => {
                            let page = page_with_folded(&failure.page, carried);
                            soft.run(SNS, self.alerts.publish(&page)).await?;
                            Ok(Outcome::Alerted)
                        }
                    },
                }
            },
        )
        .await
    }

    /// What a strike means, from its fleet record as it stood.
    fn judge(&self, strike: &Strike, struck: &Struck, now: OffsetDateTime) -> Verdict {
        fleet::judge(
            &struck.before,
            strike,
            struck.repeat,
            &self.settings.fleet,
            epoch_ms(now),
        )
    }

    /// Opens the fleet incident `id` for `strike` and pages it, unless another strike
    /// opened one first (then this one is counted on it). A retry of the strike that opened
    /// it pages again.
    async fn open_incident(
        &self,
        strike: &Strike,
        struck: &Struck,
        id: String,
        since_ms: i64,
        now: OffsetDateTime,
        soft: Deadline,
    ) -> Result<Outcome, Error> {
        let now_ms = epoch_ms(now);
        let after = struck.before.with_strike(strike, struck.repeat, now_ms);
        let page = fleet::incident_page(&after, &id, since_ms, &self.settings.fleet);
        let incident = Incident::opening(&after, strike, id, since_ms, now_ms);
        match soft
            .run(DDB, self.store.open_incident(&strike.key(), &incident))
            .await?
        {
            Opened::Other => Ok(Outcome::InIncident),
            Opened::Ours => {
                soft.run(SNS, self.alerts.publish(&page)).await?;
                Ok(Outcome::IncidentOpened)
            }
        }
    }

    /// Resolves the customer's failures on record for this create's tool; if there were
    /// any, publishes one "resolved" notice (a claim on [`Resolution::notice_id`] makes it
    /// exactly-once across retries and concurrent duplicates). `true`: this call sent it.
    async fn resolve(
        &self,
        r: &Resolution,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<bool, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        // The resolving write is safe to repeat (a retry of this create finds its own name
        // on the record): it goes out with the notice's claim, and so does marking the
        // customer connected on its tool's fleet record (if it is on it: a customer of an
        // incident has its notice folded into the incident's end).
        let (key, customer) = Strike::connected(r);
        let (key, customer) = (key.as_str(), customer.as_str());
        let resolving = Box::pin(async move {
            tokio::try_join!(
                Box::pin(soft.run(DDB, self.store.resolve(&r.key, &r.event_id, now))),
                Box::pin(soft.run(DDB, self.store.recover(key, customer))),
            )
        });
        let outcome = self
            .once_alongside(
                &r.notice_id(),
                now,
                deadline,
                Duplicate {
                    answer: Outcome::Stored,
                    undo: nothing,
                },
                resolving,
                |(resolving, fleet)| async move {
                    let (failed, category) = match resolving {
                        Resolving::Nothing => return Ok(Outcome::Stored),
                        Resolving::Notify { failed, category } => (failed, category),
                    };
                    if fleet.is_some_and(|f| f.in_incident(customer, &self.settings.fleet)) {
                        return Ok(Outcome::InIncident);
                    }
                    let notice = if r.category.is_empty() {
                        // A Connect completion: the category is the failures'.
                        resolved_notice(
                            &Resolution {
                                category,
                                ..r.clone()
                            },
                            failed,
                        )
                    } else {
                        resolved_notice(r, failed)
                    };
                    soft.run(SNS, self.alerts.publish(&notice))
                        .await
                        .map(|()| Outcome::Resolved)
                },
            )
            .await?;
        Ok(outcome == Outcome::Resolved)
    }

    /// Records an ACTIVE state (one write) and, if this event took the integration out of
    /// INVALID (now, or on an earlier try of it), publishes the "recovered" notice once (a
    /// claim on the event id, taken only then: an ordinary ACTIVE costs no claim), naming
    /// the event on the row at the same time. Beside the claim it marks the integration
    /// recovered on its tool's fleet record; one of an incident's has its notice folded into
    /// the incident's end.
    async fn record_recovery(
        &self,
        event_id: &str,
        update: &StateUpdate,
        notice: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let result = soft.run(DDB, self.store.update_state(update, None)).await?;
        if !result.announce {
            return Ok(recorded(result.applied));
        }
        // Counted on the tool's INVALID incident, if the integration is one of its
        // customers: the notice is folded into the incident's end.
        let key = Strike::recovery_key(update);
        let id = update.integration_id.as_str();
        let recovering = Box::pin(async move {
            match &key {
                Some(key) => soft.run(DDB, self.store.recover(key, id)).await,
                None => Ok(None),
            }
        });
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: Outcome::AlreadyAlerted,
                undo: nothing,
            },
            recovering,
            |record| async move {
                let folded = record.is_some_and(|r| r.in_incident(id, &self.settings.fleet));
                // Both awaited, whatever the other does: the row keeps the name even when
                // the notice fails (its retry, perhaps after a newer state, finds it there).
                let publish = async {
                    if folded {
                        Ok(())
                    } else {
                        soft.run(SNS, self.alerts.publish(notice)).await
                    }
                };
                let (noted, published) = tokio::join!(
                    Box::pin(soft.run(DDB, self.store.note_recovery(id, event_id))),
                    Box::pin(publish),
                );
                noted.and(published).map(|()| {
                    if folded {
                        Outcome::InIncident
                    } else {
                        Outcome::StateRecordedRecovered
                    }
                })
            },
        )
        .await
    }

    /// Records an INVALID state and publishes `alert` only if this event is the one that
    /// made the integration INVALID and that INVALID period still stands (a second INVALID,
    /// an older one arriving late, or one already superseded pages nobody). The page's claim
    /// lives on the row and is set by the state write itself where none stands: an INVALID
    /// that pages nobody, or a duplicate, costs that one write; a page three round trips
    /// (the write, the publish, marking the claim sent). Beside the write the INVALID is
    /// counted on its tool's fleet record: inside an incident its page is folded into it
    /// (the claim marked sent all the same), and the INVALID that reaches the threshold
    /// opens the incident and pages it instead.
    async fn record_invalid(
        &self,
        event_id: &str,
        update: &StateUpdate,
        alert: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let until = now + self.settings.claim_expiry;
        let mine = PageClaim::value(event_id, &uuid::Uuid::new_v4().to_string(), epoch_ms(until));
        let id = update.integration_id.as_str();
        // Counted on the tool's fleet record at the same time (one round trip for both).
        let strike = Strike::of_invalid(update, event_id);
        let striking = async {
            match &strike {
                Some(strike) => soft
                    .run(DDB, self.store.strike(strike, now))
                    .await
                    .map(|struck| Some((strike, struck))),
                None => Ok(None),
            }
        };
        let (result, fleet) = tokio::try_join!(
            Box::pin(soft.run(DDB, self.store.update_state(update, Some(&mine)))),
            Box::pin(striking),
        )?;
        if !result.announce {
            return Ok(recorded(result.applied));
        }
        let verdict = fleet.as_ref().map_or(Verdict::Alone, |(strike, struck)| {
            self.judge(strike, struck, now)
        });
        match result.page {
            PageClaim::Ours => {}
            PageClaim::Sent => return Ok(Outcome::AlreadyAlerted),
            // Another delivery of this event holds it and has not expired: it pages, or
            // releases the claim for Kombo's retry.
            PageClaim::Held {
                event_id: holder,
                until_ms,
                ..
            } if holder == event_id && until_ms >= epoch_ms(now) => {
                return Err(Error::InProgress(event_id.to_owned()));
            }
            // Expired, or set by an INVALID that pages nobody (only the period's first
            // pages), or released after a failed page: take it.
            PageClaim::Held { value, .. } => {
                self.take_page_claim(event_id, id, Some(&value), &mine, soft)
                    .await?
            }
            PageClaim::None => {
                self.take_page_claim(event_id, id, None, &mine, soft)
                    .await?
            }
        }
        let paged = match (verdict, &fleet) {
            (Verdict::InIncident { .. }, _) => Ok(Outcome::InIncident),
            (
                Verdict::Open {
                    incident_id,
                    since_ms,
                },
                Some((strike, struck)),
            ) => {
                self.open_incident(strike, struck, incident_id, since_ms, now, soft)
                    .await
            }
            _ => soft
                .run(SNS, self.alerts.publish(alert))
                .await
                .map(|()| Outcome::StateRecordedAlerted),
        };
        settle(
            event_id,
            paged,
            deadline,
            async {
                let sent = self.store.swap_page_claim(id, Some(&mine), Some(PAGE_SENT));
                sent.await.map(drop)
            },
            async {
                let release = self.store.swap_page_claim(id, Some(&mine), None);
                release.await.map(drop)
            },
        )
        .await
    }

    /// Takes the row's INVALID page claim over from `from` for `event_id`; someone else
    /// took it first: in progress there.
    async fn take_page_claim(
        &self,
        event_id: &str,
        integration_id: &str,
        from: Option<&str>,
        mine: &str,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let taken = deadline
            .run(
                DDB,
                self.store.swap_page_claim(integration_id, from, Some(mine)),
            )
            .await?;
        if taken {
            Ok(())
        } else {
            Err(Error::InProgress(event_id.to_owned()))
        }
    }

    /// Runs `effect` at most once to completion per event id (claim → effect →
    /// complete; release on failure so a retry can do it). The claim and the effect run
    /// inside `deadline` less [`UNDO_RESERVE`]; completing or releasing inside `deadline`.
    pub(crate) async fn once(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        deadline: Deadline,
        duplicate: Outcome,
        effect: impl Future<Output = Result<Outcome, Error>>,
    ) -> Result<Outcome, Error> {
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: duplicate,
                undo: nothing,
            },
            std::future::ready(Ok(())),
            |()| Box::pin(effect),
        )
        .await
    }

    /// [`Self::once`] with `first`, a step a duplicate may run again, sent at the same time
    /// as the claim: one round trip for both. `effect` gets its result and runs only under
    /// the claim; `duplicate.undo` gets it when the claim shows the event completed before
    /// (what a repeated `first` changed is taken back there, if anything). Both are awaited whatever
    /// either does, so a claim taken while `first` failed is released.
    pub(crate) async fn once_alongside<T, F, U>(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        deadline: Deadline,
        duplicate: Duplicate<impl FnOnce(T) -> U>,
        first: impl Future<Output = Result<T, Error>>,
        effect: impl FnOnce(T) -> F,
    ) -> Result<Outcome, Error>
    where
        F: Future<Output = Result<Outcome, Error>>,
        U: Future<Output = ()>,
    {
        let token = uuid::Uuid::new_v4().to_string();
        let soft = deadline.earlier(UNDO_RESERVE);
        // Boxed, as in `Deadline::run`: SDK futures side by side would outgrow a debug
        // build's stack.
        let (claim, first) = tokio::join!(
            Box::pin(soft.run(DDB, self.store.claim(event_id, &token, now))),
            Box::pin(first)
        );
        let result = match claim? {
            // A duplicate of an event handled before: what `first` changed (if anything) is
            // taken back.
            Claim::Completed => {
                if let Ok(t) = first {
                    Box::pin((duplicate.undo)(t)).await;
                }
                return Ok(duplicate.answer);
            }
            Claim::InProgress => return Err(Error::InProgress(event_id.to_owned())),
            Claim::Acquired => match first {
                Ok(t) => Box::pin(effect(t)).await,
                Err(e) => Err(e),
            },
        };
        settle(
            event_id,
            result,
            deadline,
            self.store.complete(event_id, &token, (self.clock)()),
            self.store.release(event_id, &token),
        )
        .await
    }
}

/// Ends a claimed effect inside `deadline`: on success the claim is marked done
/// (`complete`), on failure given back for a retry (`release`); only the one needed runs.
/// The effect happened when it succeeded: the answer is 200 even if marking fails (the
/// claim then expires and a later duplicate could repeat the effect, which is better than
/// making Kombo retry now and repeat it for sure).
async fn settle(
    event_id: &str,
    result: Result<Outcome, Error>,
    deadline: Deadline,
    complete: impl Future<Output = Result<(), Error>>,
    release: impl Future<Output = Result<(), Error>>,
) -> Result<Outcome, Error> {
    match result {
        Ok(outcome) => {
            if let Err(e) = deadline.run(DDB, complete).await {
                tracing::error!(event_id, error = %e, "effect done but claim not marked completed");
            }
            Ok(outcome)
        }
        Err(e) => {
            if let Err(release) = deadline.run(DDB, release).await {
                tracing::error!(event_id, error = %release, "claim not released; a retry can take it over once it expires");
            }
            Err(e)
        }
    }
}

/// What a duplicate of an event completed before gets: its `answer`, once `undo` took back
/// what the step sent beside the claim changed (if anything).
pub(crate) struct Duplicate<U> {
    pub answer: Outcome,
    pub undo: U,
}

/// The `undo` of an effect whose first step changes nothing a duplicate must take back.
async fn nothing<T>(_: T) {}

/// What a create did: the write's result, and what became of the "resolved" notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub inserted: Inserted,
    pub notice: Notice,
}

/// The "resolved" notice of a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// This create sent it.
    Sent,
    /// None is owed, or it was sent before.
    None,
    /// Another invocation holds its claim (the other way in, or a concurrent duplicate):
    /// it sends it, or releases the claim for a retry to.
    InFlight(String),
}

/// The id under which a create resolves its customer's failures, if it does: its own when
/// it stored the row (now, or on an earlier try of it); the row's creator's when the row is
/// this customer's and the two ways in met on it (a webhook meeting a Connect completion's
/// row, or the other way round), so whichever comes second repeats, never doubles, the
/// first one's notice. `None` for a tombstone, another customer's row, or another create's
/// row of the same way in.
fn resolution_id(inserted: &Inserted, m: &Mapping) -> Option<String> {
    let connect = |id: &Option<String>| {
        id.as_deref()
            .is_some_and(|id| id.starts_with(crate::decide::CONNECT_PREFIX))
    };
    match inserted {
        Inserted::Stored | Inserted::Completed { .. } => m.created_event_id.clone(),
        Inserted::Exists {
            status: Status::Active,
            own: true,
            ..
        } => m.created_event_id.clone(),
        Inserted::Exists {
            status: Status::Active,
            own: false,
            row: Some(row),
        } if row.origin_id == m.origin_id
            && (connect(&row.created_event_id) != connect(&m.created_event_id)) =>
        {
            row.created_event_id.clone()
        }
        _ => None,
    }
}

/// What a state write that announced nothing did.
fn recorded(applied: StateApplied) -> Outcome {
    match applied {
        StateApplied::Deleted => Outcome::IgnoredTombstoned,
        StateApplied::Stale => Outcome::IgnoredStale,
        StateApplied::Applied => Outcome::StateRecorded,
    }
}

fn existing(status: Status) -> Outcome {
    match status {
        Status::Active => Outcome::AlreadyStored,
        Status::Deleted => Outcome::IgnoredTombstoned,
    }
}

/// The one function from a webhook's result to the HTTP answer.
pub fn respond(
    event_id: Option<&str>,
    result: &Result<Outcome, Error>,
) -> ApiGatewayV2httpResponse {
    match result {
        Ok(outcome) => answer(
            200,
            serde_json::json!({ "status": "ok", "outcome": outcome.as_str(), "event_id": event_id })
                .to_string(),
            false,
        ),
        Err(e) => answer(e.status().as_u16(), e.body(), e.is_retryable()),
    }
}

/// A JSON answer; `retry` adds `Retry-After` (the sender should deliver again later).
pub fn answer(status: u16, body: String, retry: bool) -> ApiGatewayV2httpResponse {
    let mut resp = ApiGatewayV2httpResponse::default();
    resp.status_code = i64::from(status);
    resp.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if retry {
        resp.headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    resp.body = Some(Body::Text(body));
    resp
}
