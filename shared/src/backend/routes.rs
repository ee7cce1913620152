//! The four backend routes that only read or change the mappings table (and Kombo): the
//! connection link, the customer's integrations, the delete, and the assignment.

use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{
    LineFacts, admit, body_json, finish, flag, one_of, origin_id_param, path_param,
};
use super::route::Route;
use crate::clock::{Clock, rfc3339};
use crate::config::Settings;
use crate::deadline::{Deadline, FUNCTION_TIMEOUT};
use crate::decide::{Status, Tombstone, routes};
use crate::effects::DDB;
use crate::error::Error;
use crate::event::api::CreateLink;
use crate::keys;
use crate::kombo::KomboApi;
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
                one_of("language", &body.language, &["en", "de", "fr", "it", "es"])?;
                one_of("link_type", &body.link_type, &["EMBEDDED", "MAGIC_LINK"])?;
                let link = self
                    .kombo()?
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
                Ok(json!({ "origin_id": origin_id, "link": link }))
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
                    .map(|mut m| {
                        // What the row's fields say, also on a row written before the
                        // attribute existed (the reconcile run sets it there).
                        m.usable = Some(m.usable_now());
                        m
                    })
                    .filter(|m| include_deleted || m.status == Status::Active)
                    .filter(|m| !only_usable || m.usable == Some(true))
                    .collect();
                Ok(json!({ "origin_id": origin_id, "integrations": rows }))
            }
            Route::DeleteIntegration => {
                let integration_id = path_param(req, route, "integration_id")?;
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
                let integration_id = path_param(req, route, "integration_id")?;
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
            Route::ConnectionCompletion => Err(Error::Config(
                "connection-completion is served by backend::Completer".into(),
            )),
        }
    }
}
