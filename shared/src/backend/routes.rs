//! The backend routes that read or change the mappings table and call Kombo, but send no
//! alert: the connection link, the customer's integrations, the delete, the assignment, and
//! the links that repair an integration (reconnection and setup).

use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{
    LineFacts, admit, body_json, finish, flag, integration_id_param, one_of, origin_id_param,
};
use super::route::Route;
use crate::clock::{Clock, rfc3339};
use crate::config::Settings;
use crate::deadline::{Deadline, FUNCTION_TIMEOUT};
use crate::decide::{Mapping, Status, Tombstone, routes};
use crate::effects::DDB;
use crate::error::Error;
use crate::event::api::{CreateLink, Relink, SetupLink};
use crate::keys;
use crate::kombo::{KomboApi, KomboError};
use crate::ports::{Assignment, MappingStore};

pub struct Backend<S, K> {
    pub store: S,
    /// `None` for the route that never calls Kombo.
    pub kombo: Option<K>,
    pub settings: Settings,
    pub clock: Clock,
}

/// The request body of `POST /customers/{origin_id}/connection-link`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkRequest {
    end_user_email: String,
    end_user_organization_name: String,
    #[serde(default)]
    integration_tool: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    link_type: Option<String>,
    #[serde(default)]
    remote_environment: Option<String>,
    #[serde(default)]
    scope_config_id: Option<String>,
    #[serde(default)]
    enable_filtering: Option<bool>,
    #[serde(default)]
    enable_field_mapping: Option<bool>,
    #[serde(default)]
    enable_static_ips: Option<bool>,
    /// Ours, not Kombo's: a link for an `integration_tool` the customer has a live
    /// integration of is refused (409 `already_connected`) unless this is `true`.
    #[serde(default)]
    allow_another: bool,
}

/// The request body of `PUT /integrations/{integration_id}/customer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignRequest {
    origin_id: String,
    #[serde(default)]
    force: bool,
}

impl<S: MappingStore, K: KomboApi> Backend<S, K> {
    /// The Lambda handler of `route`: always answers.
    pub async fn handle(
        &self,
        route: Route,
        event: LambdaEvent<ApiGatewayV2httpRequest>,
    ) -> Result<ApiGatewayV2httpResponse, lambda_http::Error> {
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        Ok(self.serve_until(route, &event.payload, deadline).await)
    }

    /// [`Self::serve_until`] with the template's function timeout from now.
    pub async fn serve(
        &self,
        route: Route,
        req: &ApiGatewayV2httpRequest,
    ) -> ApiGatewayV2httpResponse {
        self.serve_until(route, req, Deadline::after(FUNCTION_TIMEOUT))
            .await
    }

    /// Serves one request, every call inside `deadline`, and logs one line about it.
    pub async fn serve_until(
        &self,
        route: Route,
        req: &ApiGatewayV2httpRequest,
        deadline: Deadline,
    ) -> ApiGatewayV2httpResponse {
        let started = std::time::Instant::now();
        let result = self.process(route, req, deadline).await;
        finish(req, started, &LineFacts::default(), result)
    }

    /// Refuses (404, or 409 for its tombstone) an integration the table does not hold for
    /// this customer: one read.
    async fn owned(
        &self,
        origin_id: &str,
        integration_id: &str,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let row = deadline.run(DDB, self.store.row(integration_id)).await?;
        routes::owned(row.as_ref(), origin_id, integration_id)
    }

    fn kombo(&self) -> Result<&K, Error> {
        self.kombo
            .as_ref()
            .ok_or_else(|| Error::Config(format!("{} is not set", crate::kombo::API_KEY_ENV)))
    }

    async fn process(
        &self,
        route: Route,
        req: &ApiGatewayV2httpRequest,
        deadline: Deadline,
    ) -> Result<Value, Error> {
        admit(req, route, &self.settings.allowed_backend_callers)?;
        match route {
            Route::ConnectionLink => {
                let origin_id = origin_id_param(req, route)?;
                let origin_id = origin_id.as_str();
                let body: LinkRequest = body_json(req)?;
                if body.end_user_email.trim().is_empty() || !body.end_user_email.contains('@') {
                    return Err(Error::BadRequest(
                        "body: end_user_email must be an e-mail address".into(),
                    ));
                }
                if body.end_user_organization_name.trim().is_empty() {
                    return Err(Error::BadRequest(
                        "body: end_user_organization_name must not be empty".into(),
                    ));
                }
                one_of("language", &body.language, &LANGUAGES)?;
                one_of("link_type", &body.link_type, &LINK_TYPES)?;
                let kombo = self.kombo()?;
                // A second integration of a tool the customer has: Kombo does not
                // de-duplicate, so it is refused unless asked for (one query, only then).
                if let Some(tool) = body
                    .integration_tool
                    .as_deref()
                    .filter(|_| !body.allow_another)
                {
                    let rows = deadline.run(DDB, self.store.by_origin(origin_id)).await?;
                    routes::not_connected(&rows, origin_id, tool)?;
                }
                let created = kombo
                    .create_link(
                        &CreateLink {
                            end_user_email: body.end_user_email,
                            end_user_organization_name: body.end_user_organization_name,
                            end_user_origin_id: origin_id.to_owned(),
                            integration_category: "LMS".into(),
                            integration_tool: body.integration_tool,
                            language: body.language,
                            link_type: body.link_type,
                            remote_environment: body.remote_environment,
                            scope_config_id: body.scope_config_id,
                            enable_filtering: body.enable_filtering,
                            enable_field_mapping: body.enable_field_mapping,
                            enable_static_ips: body.enable_static_ips,
                        },
                        deadline,
                    )
                    .await?;
                let mut answer = json!({ "origin_id": origin_id, "link": created.link });
                if let Some(ips) = created.static_ips {
                    answer["static_ips"] = json!(ips);
                }
                Ok(answer)
            }
            Route::CustomerIntegrations => {
                let origin_id = origin_id_param(req, route)?;
                let origin_id = origin_id.as_str();
                let include_deleted = flag(req, "include_deleted")?;
                let only_usable = flag(req, "usable")?;
                let rows: Vec<_> = deadline
                    .run(DDB, self.store.by_origin(origin_id))
                    .await?
                    .into_iter()
                    // What the row's fields say, also on a row written before the
                    // attributes existed (the reconcile run sets them there).
                    .map(Mapping::answered)
                    .filter(|m| include_deleted || m.status == Status::Active)
                    .filter(|m| !only_usable || m.usable == Some(true))
                    .collect();
                Ok(json!({ "origin_id": origin_id, "integrations": rows }))
            }
            Route::DeleteIntegration => {
                let integration_id = integration_id_param(req, route)?;
                let integration_id = integration_id.as_str();
                let kombo = match self
                    .kombo()?
                    .delete_integration(integration_id, deadline)
                    .await
                {
                    Ok(()) => "deleted",
                    Err(e) if e.is_not_found() => "not_found",
                    Err(e) => return Err(e.into()),
                };
                let request_id = req.request_context.request_id.clone().unwrap_or_default();
                let tombstone = Tombstone::deleted_by_api(
                    integration_id,
                    keys::api_delete(&request_id),
                    (self.clock)(),
                    self.settings.rules.tombstone_retention,
                );
                let outcome = deadline
                    .run(DDB, self.store.tombstone(&tombstone))
                    .await?
                    .outcome();
                Ok(json!({ "integration_id": integration_id, "outcome": outcome, "kombo": kombo }))
            }
            Route::AssignCustomer => {
                let integration_id = integration_id_param(req, route)?;
                let body: AssignRequest = body_json(req)?;
                let origin_id = body.origin_id.trim();
                if origin_id.is_empty() || origin_id.len() > crate::event::MAX_KEY_BYTES {
                    return Err(Error::BadRequest(format!(
                        "body: origin_id must be 1 to {} bytes",
                        crate::event::MAX_KEY_BYTES
                    )));
                }
                let request_id = req.request_context.request_id.clone().unwrap_or_default();
                let assignment = Assignment {
                    integration_id: integration_id.clone(),
                    origin_id: origin_id.to_owned(),
                    force: body.force,
                    create: None,
                    updated_at: rfc3339((self.clock)()),
                    cause: keys::api_assign(&request_id),
                };
                let assigned = deadline.run(DDB, self.store.assign(&assignment)).await?;
                let (outcome, previous) = routes::assigned(&integration_id, assigned)?;
                let mut answer = json!({ "integration_id": integration_id, "origin_id": origin_id, "outcome": outcome });
                if let Some(p) = previous {
                    answer["previous_origin_id"] = json!(p);
                }
                Ok(answer)
            }
            Route::ReconnectionLink => {
                let (origin_id, integration_id) = owner_params(req, route)?;
                let body: Relink = body_json(req)?;
                one_of("language", &body.language, &LANGUAGES)?;
                one_of("link_type", &body.link_type, &LINK_TYPES)?;
                let kombo = self.kombo()?;
                self.owned(&origin_id, &integration_id, deadline).await?;
                let link = kombo
                    .relink(&integration_id, &body, deadline)
                    .await
                    .map_err(|e| repair_error(e, &integration_id, None))?;
                let link_type = body.link_type.as_deref().unwrap_or(EMBEDDED);
                Ok(json!({
                    "origin_id": origin_id,
                    "integration_id": integration_id,
                    "link": link,
                    "link_type": link_type,
                }))
            }
            Route::SetupLink => {
                let (origin_id, integration_id) = owner_params(req, route)?;
                let body: SetupLink = body_json(req)?;
                one_of("language", &body.language, &LANGUAGES)?;
                one_of("link_type", &Some(body.link_type.clone()), &LINK_TYPES)?;
                let kombo = self.kombo()?;
                self.owned(&origin_id, &integration_id, deadline).await?;
                let link = kombo
                    .setup_link(&integration_id, &body, deadline)
                    .await
                    .map_err(|e| repair_error(e, &integration_id, Some("no_setup_step")))?;
                Ok(json!({
                    "origin_id": origin_id,
                    "integration_id": integration_id,
                    "link": link,
                    "link_type": body.link_type,
                }))
            }
            Route::ConnectionCompletion => Err(Error::Config(
                "connection-completion is served by backend::Completer".into(),
            )),
        }
    }
}

/// Kombo's link languages and types (`POST /connect/create-link`, `/relink`, `/setup-link`).
const LANGUAGES: [&str; 5] = ["en", "de", "fr", "it", "es"];
const LINK_TYPES: [&str; 2] = [EMBEDDED, "MAGIC_LINK"];
/// Kombo's default link type (valid 1 hour, for `showKomboConnect`).
const EMBEDDED: &str = "EMBEDDED";

/// The customer and integration a repair route's path names, each refused (400 naming it)
/// where it could not be a key.
fn owner_params(req: &ApiGatewayV2httpRequest, route: Route) -> Result<(String, String), Error> {
    let origin_id = origin_id_param(req, route)?;
    let integration_id = integration_id_param(req, route)?;
    crate::event::fits_key(&integration_id)
        .map_err(|m| Error::BadRequest(format!("path parameter integration_id {m}")))?;
    Ok((origin_id, integration_id))
}

/// Kombo's refusal of a repair link, as the caller's answer: an integration Kombo no longer
/// has is deleted (409; the reconcile run marks it so); `PLATFORM.INPUT_INVALID` is the
/// caller's `input_invalid` code where the route names one (a setup link for an integration
/// without setup steps: `no_setup_step`), else as every Kombo-calling route maps it.
fn repair_error(e: KomboError, integration_id: &str, input_invalid: Option<&'static str>) -> Error {
    match (&e, input_invalid) {
        _ if e.is_not_found() => Error::Conflict {
            code: "integration_deleted",
            message: format!("Kombo no longer has integration {integration_id}"),
        },
        (KomboError::Api { code, message, .. }, Some(conflict))
            if code == "PLATFORM.INPUT_INVALID" =>
        {
            Error::Conflict {
                code: conflict,
                message: format!("Kombo refused: {message}"),
            }
        }
        _ => e.into(),
    }
}
