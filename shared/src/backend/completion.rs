//! `POST /customers/{origin_id}/connection-completion` `{"token": "<activation token>"}`: the
//! second of the two backend endpoints Kombo's embedded flow names. The browser's
//! `showKomboConnect(link)` resolves with a short-lived activation token, never an
//! integration id; this route asks Kombo which integration the token names
//! (`GET /connect/integration-by-token/{token}`), refuses it unless it is this customer's,
//! and stores it through the `integration-created` webhook's own create
//! ([`Effects::create`]), so the two ways in meet in one row and one "resolved" notice.
//!
//! Answers: 200 `{"origin_id", "outcome": "stored" | "already_stored", "integration": <the
//! row as GET /customers/{origin_id}/integrations shows it>}`; 403
//! `integration_of_another_customer`; 409 `integration_deleted` or
//! `assigned_to_another_customer`; 400 `invalid_token` (Kombo refused it) or `bad_request`
//! (naming the field; Kombo not called); 502 (Kombo refused our API key), 503 with
//! `Retry-After` (Kombo's rate limit, or DynamoDB/SNS failing: a retry converges), 504
//! (Kombo unreachable within the deadline).

use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{LineFacts, admit, body_json, finish, origin_id_param};
use super::route::Route;
use crate::deadline::{Deadline, FUNCTION_TIMEOUT};
use crate::decide::routes::{self, Completed};
use crate::decide::{Completion, Status, connect};
use crate::effects::{DDB, Effects};
use crate::error::Error;
use crate::event::api::TokenIntegration;
use crate::kombo::{KomboApi, token_error};
use crate::ports::{AlertPublisher, Store};

/// The completion route: the effects (the create, the claims, the notice), Kombo, and the
/// callers allowed.
pub struct Completer<S, P, K> {
    pub effects: Effects<S, P>,
    pub kombo: K,
    /// `AllowedBackendCallers` ([`super::check_caller`]).
    pub allowed_callers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionRequest {
    token: String,
}

impl<S, P, K> Completer<S, P, K>
where
    S: Store,
    P: AlertPublisher,
    K: KomboApi,
{
    /// The Lambda handler: always answers.
    pub async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayV2httpRequest>,
    ) -> Result<ApiGatewayV2httpResponse, lambda_http::Error> {
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        Ok(self.serve_until(&event.payload, deadline).await)
    }

    /// [`Self::serve_until`] with the template's function timeout from now.
    pub async fn serve(&self, req: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        self.serve_until(req, Deadline::after(FUNCTION_TIMEOUT))
            .await
    }

    /// Serves one request, every call inside `deadline`, and logs one line about it (never
    /// the token).
    pub async fn serve_until(
        &self,
        req: &ApiGatewayV2httpRequest,
        deadline: Deadline,
    ) -> ApiGatewayV2httpResponse {
        let started = std::time::Instant::now();
        let mut facts = LineFacts::default();
        let result = self.process(req, &mut facts, deadline).await;
        finish(req, started, &facts, result)
    }

    async fn process(
        &self,
        req: &ApiGatewayV2httpRequest,
        facts: &mut LineFacts,
        deadline: Deadline,
    ) -> Result<Value, Error> {
        let route = Route::ConnectionCompletion;
        admit(req, route, &self.allowed_callers)?;
        let origin_id = origin_id_param(req, route)?;
        let body: CompletionRequest = body_json(req)?;
        let token = body.token.trim();
        if !connect::token_shaped(token) {
            return Err(Error::BadRequest(format!(
                "body: token must be the activation token showKomboConnect resolved with (1 to {} URL-safe characters)",
                connect::MAX_TOKEN_BYTES
            )));
        }
        let digest = token_sha256(token);
        let named = match self.kombo.integration_by_token(token, deadline).await {
            Ok(named) => named,
            Err(e) => {
                let refused = token_error(e);
                if !matches!(refused, Error::InvalidToken { .. }) {
                    return Err(refused);
                }
                // Used up by an earlier try of this completion that stored its row (and
                // whose answer was lost, or whose notice failed): that row answers.
                let rows = deadline
                    .run(DDB, self.effects.store.by_origin(&origin_id))
                    .await?;
                let Some(row) = rows
                    .into_iter()
                    .find(|r| r.connect_token_sha256.as_deref() == Some(digest.as_str()))
                else {
                    return Err(refused);
                };
                if row.status == Status::Deleted {
                    return Err(routes::deleted(&row.integration_id));
                }
                // The same create again (a notice whose publish failed goes out now).
                TokenIntegration {
                    id: row.integration_id,
                    tool: row.tool,
                    end_user_origin_id: row.origin_id,
                    end_user_organization_name: row.organization_name,
                    setup_status: row.setup_status,
                }
            }
        };
        facts.integration_id = Some(named.id.clone());
        let now = (self.effects.clock)();
        let (m, resolution) = match connect::complete(&named, &origin_id, &digest, now) {
            Completion::Store(m, resolution) => (*m, *resolution),
            Completion::AnotherCustomer { token_origin_id } => {
                facts.token_origin_id =
                    Some(token_origin_id.unwrap_or_else(|| "(none)".to_owned()));
                return Err(Error::Forbidden {
                    code: "integration_of_another_customer",
                    message: format!(
                        "the activation token names an integration that was not connected for customer {origin_id}; nothing was stored"
                    ),
                });
            }
        };
        // A notice in flight is the other way in's to send (the webhook, which Kombo retries
        // if it fails): the row is stored, so the customer hears "connected" now.
        let token_setup = named.setup_status.clone();
        let created = self.effects.create(&m, &resolution, now, deadline).await?;
        let completed = routes::completed(created.inserted, m, &origin_id, &digest)?;
        let outcome = completed.outcome();
        let row = match completed {
            Completed::Stored(row) => row,
            // The webhook's row (or an earlier completion's): a retry of this completion
            // with the token used up must find it too.
            Completed::AlreadyStored {
                row: Some(mut row),
                note_token: true,
            } => {
                let noted = self
                    .effects
                    .store
                    .note_token(&row.integration_id, &origin_id, &digest);
                if deadline.run(DDB, noted).await? {
                    row.connect_token_sha256 = Some(digest);
                }
                Some(row)
            }
            Completed::AlreadyStored { row, .. } => row,
        };
        // The webhook's row knows no setup status; the token does: an unfinished setup is
        // not usable, whichever way in came first.
        let row = match row
            .as_ref()
            .and_then(|r| connect::with_token_setup(r, token_setup.as_deref()))
        {
            Some(filled) => {
                let fill = self.effects.store.fill_setup(&filled);
                if deadline.run(DDB, fill).await? {
                    Some(Box::new(filled))
                } else {
                    row
                }
            }
            None => row,
        };
        let row = row.map(|r| r.answered());
        Ok(json!({ "origin_id": origin_id, "outcome": outcome, "integration": row }))
    }
}

/// The token's SHA-256, base64url: what the row keeps of it (never the token).
fn token_sha256(token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token))
}
