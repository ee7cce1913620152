//! The backend API, for the user's own backend (IAM-authorized routes on the same HTTP
//! API; API Gateway checks the SigV4 signature before a function runs):
//!
//! - `POST /customers/{origin_id}/connection-link` → Kombo `POST /connect/create-link`;
//! - `GET /customers/{origin_id}/integrations[?include_deleted=true][&usable=true]` → the
//!   customer's rows (`usable=true`: only those a backend can use now);
//! - `DELETE /integrations/{integration_id}` → Kombo `DELETE /integrations/{id}`, then
//!   the tombstone (Kombo's `PLATFORM.INTEGRATION_NOT_FOUND` still tombstones; any other
//!   Kombo failure leaves the row untouched and answers 502 with Kombo's code and log URL);
//! - `PUT /integrations/{integration_id}/customer` `{"origin_id": "42"[, "force": true]}` →
//!   links an existing integration to a customer (an unassigned one, typically);
//! - `POST /customers/{origin_id}/connection-completion` `{"token": "..."}` → Kombo
//!   `GET /connect/integration-by-token/{token}`, then the webhook's own create
//!   ([`completion`]).

mod completion;

pub use completion::Completer;

use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::Settings;
use crate::deadline::{Deadline, FUNCTION_TIMEOUT};
use crate::decide::{Status, Tombstone};
use crate::error::Error;
use crate::kombo::{CreateLink, KomboApi};
use crate::ports::{Assigned, Assignment, MappingStore, Tombstoned};

/// The backend routes, one per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ConnectionLink,
    CustomerIntegrations,
    DeleteIntegration,
    AssignCustomer,
    ConnectionCompletion,
}

impl Route {
    fn method(self) -> Method {
        match self {
            Route::ConnectionLink | Route::ConnectionCompletion => Method::POST,
            Route::CustomerIntegrations => Method::GET,
            Route::DeleteIntegration => Method::DELETE,
            Route::AssignCustomer => Method::PUT,
        }
    }

    /// The route's path, as declared in `template.yaml`.
    pub fn pattern(self) -> &'static str {
        match self {
            Route::ConnectionLink => "/customers/{origin_id}/connection-link",
            Route::CustomerIntegrations => "/customers/{origin_id}/integrations",
            Route::DeleteIntegration => "/integrations/{integration_id}",
            Route::AssignCustomer => "/integrations/{integration_id}/customer",
            Route::ConnectionCompletion => "/customers/{origin_id}/connection-completion",
        }
    }

    /// Whether the route calls Kombo (and so needs the API key).
    pub fn calls_kombo(self) -> bool {
        matches!(
            self,
            Route::ConnectionLink | Route::DeleteIntegration | Route::ConnectionCompletion
        )
    }
}

pub struct Backend<S, K> {
    pub store: S,
    /// `None` for the route that never calls Kombo.
    pub kombo: Option<K>,
    pub settings: Settings,
    pub clock: fn() -> OffsetDateTime,
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

/// A path parameter: API Gateway's `pathParameters`, or else (a local run behind a
/// function URL, which has none) the segment of `rawPath` where the route's pattern,
/// aligned on the path's end, names it.
fn path_param(req: &ApiGatewayV2httpRequest, route: Route, name: &str) -> Result<String, Error> {
    if let Some(v) = req.path_parameters.get(name).filter(|v| !v.is_empty()) {
        return Ok(v.clone());
    }
    let raw = req.raw_path.as_deref().unwrap_or_default();
    let path: Vec<&str> = raw.trim_end_matches('/').split('/').collect();
    let pattern: Vec<&str> = route.pattern().trim_start_matches('/').split('/').collect();
    let offset = path.len().checked_sub(pattern.len());
    let placeholder = format!("{{{name}}}");
    offset
        .and_then(|offset| {
            let tail = &path[offset..];
            let fits = pattern
                .iter()
                .zip(tail)
                .all(|(p, s)| p.starts_with('{') || p == s);
            let i = pattern.iter().position(|p| *p == placeholder)?;
            fits.then(|| percent_decode(tail[i]))
        })
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::BadRequest(format!("path parameter {name} is missing")))
}

/// The caller API Gateway's IAM authorizer verified (`requestContext.authorizer.iam.userArn`).
fn caller_arn(req: &ApiGatewayV2httpRequest) -> Option<&str> {
    req.request_context
        .authorizer
        .as_ref()?
        .iam
        .as_ref()?
        .user_arn
        .as_deref()
}

/// What every backend route checks first: the caller ([`check_caller`]), then the method.
fn admit(req: &ApiGatewayV2httpRequest, route: Route, allowed: &[String]) -> Result<(), Error> {
    check_caller(req, allowed)?;
    let method = &req.request_context.http.method;
    if *method != route.method() {
        return Err(Error::MethodNotAllowed(method.to_string()));
    }
    Ok(())
}

/// Refuses (403 `caller_not_allowed`) a caller not in `allowed` (`AllowedBackendCallers`);
/// an empty list leaves it to IAM (whoever may `execute-api:Invoke` the route).
pub fn check_caller(req: &ApiGatewayV2httpRequest, allowed: &[String]) -> Result<(), Error> {
    if allowed.is_empty() {
        return Ok(());
    }
    match caller_arn(req) {
        Some(caller) if allowed.iter().any(|a| caller_is(a, caller)) => Ok(()),
        _ => Err(Error::Forbidden {
            code: "caller_not_allowed",
            message: "this IAM principal is not one of the stack's AllowedBackendCallers".into(),
        }),
    }
}

/// Whether `caller` (a verified `userArn`) is the principal `allowed` names: the same ARN, or
/// a session of the role it names (`arn:aws:sts::123456789012:assumed-role/Name/session` is
/// `arn:aws:iam::123456789012:role/[path/]Name`, same partition and account).
fn caller_is(allowed: &str, caller: &str) -> bool {
    if allowed == caller {
        return true;
    }
    // (partition, service, account, resource) of an ARN.
    let parts = |arn| {
        let mut it = str::splitn(arn, 6, ':');
        let _arn = it.next()?;
        let (partition, service, _region) = (it.next()?, it.next()?, it.next()?);
        Some((partition, service, it.next()?, it.next()?))
    };
    let (
        Some((a_partition, "iam", a_account, a_resource)),
        Some((c_partition, "sts", c_account, c_resource)),
    ) = (parts(allowed), parts(caller))
    else {
        return false;
    };
    let role = a_resource
        .strip_prefix("role/")
        .and_then(|path| path.rsplit('/').next());
    let session_of = c_resource
        .strip_prefix("assumed-role/")
        .and_then(|rest| rest.split('/').next());
    (a_partition, a_account) == (c_partition, c_account) && role.is_some() && role == session_of
}

/// The `origin_id` path parameter, refused (400 naming it) where it could not be a key.
fn origin_id_param(req: &ApiGatewayV2httpRequest, route: Route) -> Result<String, Error> {
    let origin_id = path_param(req, route, "origin_id")?;
    crate::event::fits_key(&origin_id)
        .map_err(|m| Error::BadRequest(format!("path parameter origin_id {m}")))?;
    Ok(origin_id)
}

/// A boolean query parameter: `true`, `false` or absent (false); anything else is the
/// caller's mistake, named.
fn flag(req: &ApiGatewayV2httpRequest, name: &str) -> Result<bool, Error> {
    match req.query_string_parameters.first(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::BadRequest(format!(
            "query parameter {name} must be true or false, not {other:?}"
        ))),
    }
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn body_json<T: for<'de> Deserialize<'de>>(req: &ApiGatewayV2httpRequest) -> Result<T, Error> {
    let bytes = crate::request::body_bytes(req)?;
    // serde would read a JSON array as a struct (fields by position): objects only.
    crate::event::expect_object("body", &bytes).map_err(|e| match e {
        crate::event::ParseError::Invalid(m) => Error::BadRequest(m),
        other => Error::Internal(format!("{other:?}")),
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let inner = e.inner();
        Error::BadRequest(if inner.is_syntax() || inner.is_eof() {
            format!("body is not valid JSON: {inner}")
        } else if e.path().to_string() == "." {
            format!("body: {inner}")
        } else {
            format!("body: {}: {inner}", e.path())
        })
    })?;
    de.end()
        .map_err(|e| Error::BadRequest(format!("body is not valid JSON: {e}")))?;
    Ok(value)
}

fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), Error> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(Error::BadRequest(format!(
            "body: {field} must be one of {}, got {v:?}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// What a backend request's one log line names beyond its route, status and latency.
#[derive(Default)]
pub(crate) struct LineFacts {
    integration_id: Option<String>,
    /// The customer an activation token named, where that was not the path's.
    token_origin_id: Option<String>,
}

/// Logs the one line of a backend request and makes its answer.
pub(crate) fn finish(
    req: &ApiGatewayV2httpRequest,
    started: std::time::Instant,
    facts: &LineFacts,
    result: Result<Value, Error>,
) -> ApiGatewayV2httpResponse {
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let route = req.route_key.as_deref().unwrap_or("?");
    let (integration_id, token_origin_id) = (
        facts.integration_id.as_deref(),
        facts.token_origin_id.as_deref(),
    );
    match &result {
        Ok(_) => tracing::info!(
            route,
            status = 200,
            integration_id,
            latency_ms,
            "backend request handled"
        ),
        Err(e) => {
            tracing::warn!(route, status = e.status().as_u16(), outcome = e.code(), integration_id, token_origin_id, latency_ms, error = %e, "backend request failed")
        }
    }
    match result {
        Ok(body) => crate::webhook::answer(200, body.to_string(), false),
        Err(e) => crate::webhook::answer(e.status().as_u16(), e.body(), e.is_retryable()),
    }
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
                    .run("DynamoDB", self.store.by_origin(origin_id))
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
                    format!("api-delete:{request_id}"),
                    (self.clock)(),
                    &self.settings,
                );
                let outcome = match deadline
                    .run("DynamoDB", self.store.tombstone(&tombstone))
                    .await?
                {
                    Tombstoned::Marked => "deleted",
                    Tombstoned::AlreadyDeleted => "already_deleted",
                };
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
                    updated_at: crate::decide::rfc3339((self.clock)()),
                    cause: format!("api-assign:{request_id}"),
                };
                let (outcome, previous) = match deadline
                    .run("DynamoDB", self.store.assign(&assignment))
                    .await?
                {
                    Assigned::Assigned { previous } => ("assigned", previous),
                    Assigned::Created => ("assigned", None),
                    Assigned::Unchanged => ("unchanged", None),
                    Assigned::NotFound => {
                        return Err(Error::NotFound(format!("integration {integration_id}")));
                    }
                    Assigned::Deleted => {
                        return Err(Error::Conflict {
                            code: "integration_deleted",
                            message: format!("integration {integration_id} is deleted"),
                        });
                    }
                    Assigned::Conflict { current } => {
                        return Err(Error::Conflict {
                            code: "assigned_to_another_customer",
                            message: format!(
                                "integration {integration_id} belongs to customer {current}; send \"force\": true to move it"
                            ),
                        });
                    }
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw_path: &str) -> ApiGatewayV2httpRequest {
        let mut r = ApiGatewayV2httpRequest::default();
        r.raw_path = Some(raw_path.to_owned());
        r
    }

    #[test]
    fn a_caller_is_the_allowed_arn_or_a_session_of_the_allowed_role() {
        let role = "arn:aws:iam::123456789012:role/team/backend";
        assert!(caller_is(
            role,
            "arn:aws:sts::123456789012:assumed-role/backend/i-0abc"
        ));
        assert!(caller_is(
            "arn:aws:iam::123456789012:user/ci",
            "arn:aws:iam::123456789012:user/ci"
        ));
        for other in [
            "arn:aws:sts::123456789012:assumed-role/backend-admin/x",
            "arn:aws:sts::999999999999:assumed-role/backend/x",
            "arn:aws-cn:sts::123456789012:assumed-role/backend/x",
            "arn:aws:iam::123456789012:user/backend",
            "arn:aws:iam::123456789012:role/team/backend/extra",
            "",
            "not an arn",
        ] {
            assert!(!caller_is(role, other), "{other}");
        }
        assert!(!caller_is(
            "arn:aws:iam::123456789012:user/ci",
            "arn:aws:iam::123456789012:user/ci2"
        ));
    }

    #[test]
    fn path_parameters_come_from_api_gateway_or_the_raw_path() {
        let mut r = at("/ignored");
        r.path_parameters.insert("origin_id".into(), "42".into());
        assert_eq!(
            path_param(&r, Route::ConnectionLink, "origin_id").unwrap(),
            "42"
        );
        let local = at("/lambda-url/connection-link/customers/4%202/connection-link");
        assert_eq!(
            path_param(&local, Route::ConnectionLink, "origin_id").unwrap(),
            "4 2"
        );
        let id = at("/integrations/workday:abc");
        assert_eq!(
            path_param(&id, Route::DeleteIntegration, "integration_id").unwrap(),
            "workday:abc"
        );
        assert!(
            path_param(
                &at("/customers/42/other"),
                Route::ConnectionLink,
                "origin_id"
            )
            .is_err()
        );
        assert!(path_param(&at("/"), Route::DeleteIntegration, "integration_id").is_err());
    }
}
