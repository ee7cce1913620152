//! What every backend route reads off its request, and its one log line: the caller
//! (checked against `AllowedBackendCallers`), the method, path parameters, query flags and
//! the JSON body (unknown fields refused, each error naming the field).

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde::Deserialize;
use serde_json::Value;

use super::route::Route;
use crate::error::Error;

/// A path parameter: API Gateway's `pathParameters`, or else (a local run behind a
/// function URL, which has none) the segment of `rawPath` where the route's pattern,
/// aligned on the path's end, names it.
pub(super) fn path_param(
    req: &ApiGatewayV2httpRequest,
    route: Route,
    name: &str,
) -> Result<String, Error> {
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
pub(super) fn caller_arn(req: &ApiGatewayV2httpRequest) -> Option<&str> {
    req.request_context
        .authorizer
        .as_ref()?
        .iam
        .as_ref()?
        .user_arn
        .as_deref()
}

/// What every backend route checks first: the caller ([`check_caller`]), then the method.
pub(super) fn admit(
    req: &ApiGatewayV2httpRequest,
    route: Route,
    allowed: &[String],
) -> Result<(), Error> {
    check_caller(req, allowed)?;
    let method = &req.request_context.http.method;
    if *method != route.method() {
        return Err(Error::MethodNotAllowed(method.to_string()));
    }
    Ok(())
}

/// Refuses (403 `caller_not_allowed`) a caller not in `allowed` (`AllowedBackendCallers`).
/// Closed by default: an empty list admits nobody; `*` (the one way to say it) leaves it to
/// IAM (whoever may `execute-api:Invoke` the route).
pub fn check_caller(req: &ApiGatewayV2httpRequest, allowed: &[String]) -> Result<(), Error> {
    if allowed.iter().any(|a| a == ANY_CALLER) {
        return Ok(());
    }
    if allowed.is_empty() {
        return Err(Error::Forbidden {
            code: "caller_not_allowed",
            message: "AllowedBackendCallers is empty, so no caller may use the backend routes: \
                      set it to your backend role's ARN (or * for whoever IAM allows)"
                .into(),
        });
    }
    match caller_arn(req) {
        Some(caller) if allowed.iter().any(|a| caller_is(a, caller)) => Ok(()),
        _ => Err(Error::Forbidden {
            code: "caller_not_allowed",
            message: "this IAM principal is not one of the stack's AllowedBackendCallers".into(),
        }),
    }
}

/// The `AllowedBackendCallers` entry that admits whoever IAM lets invoke the API.
pub const ANY_CALLER: &str = "*";

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

/// The path parameter `name`, refused (400 naming it) where it could not be a key: over the
/// table's key limit is the caller's mistake, never a 500 from DynamoDB.
fn key_param(req: &ApiGatewayV2httpRequest, route: Route, name: &str) -> Result<String, Error> {
    let value = path_param(req, route, name)?;
    crate::event::fits_key(&value)
        .map_err(|m| Error::BadRequest(format!("path parameter {name} {m}")))?;
    Ok(value)
}

/// The `origin_id` path parameter ([`key_param`]).
pub(super) fn origin_id_param(
    req: &ApiGatewayV2httpRequest,
    route: Route,
) -> Result<String, Error> {
    key_param(req, route, "origin_id")
}

/// The `integration_id` path parameter ([`key_param`]).
pub(super) fn integration_id_param(
    req: &ApiGatewayV2httpRequest,
    route: Route,
) -> Result<String, Error> {
    key_param(req, route, "integration_id")
}

/// A boolean query parameter: `true`, `false` or absent (false); anything else is the
/// caller's mistake, named.
pub(super) fn flag(req: &ApiGatewayV2httpRequest, name: &str) -> Result<bool, Error> {
    match req.query_string_parameters.first(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::BadRequest(format!(
            "query parameter {name} must be true or false, not {other:?}"
        ))),
    }
}

pub(super) fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

pub(super) fn body_json<T: for<'de> Deserialize<'de>>(
    req: &ApiGatewayV2httpRequest,
) -> Result<T, Error> {
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

pub(super) fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), Error> {
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
    pub(super) integration_id: Option<String>,
    /// The customer an activation token named, where that was not the path's.
    pub(super) token_origin_id: Option<String>,
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
    crate::http::respond(result)
}

#[cfg(test)]
mod tests {
    use super::super::route::Route;
    use super::*;

    fn at(raw_path: &str) -> ApiGatewayV2httpRequest {
        let mut r = ApiGatewayV2httpRequest::default();
        r.raw_path = Some(raw_path.to_owned());
        r
    }

    #[test]
    fn the_backend_is_closed_unless_a_caller_is_named_or_star_is_said() {
        let by = |arn: &str| {
            serde_json::from_value::<ApiGatewayV2httpRequest>(serde_json::json!({
                "requestContext": {"authorizer": {"iam": {"userArn": arn}}, "http": {"method": "GET"}}
            }))
            .unwrap()
        };
        let admin = by("arn:aws:sts::123456789012:assumed-role/Admin/x");
        let backend = by("arn:aws:sts::123456789012:assumed-role/backend/x");
        let code = |r: Result<(), Error>| r.err().map(|e| e.code());
        assert_eq!(code(check_caller(&admin, &[])), Some("caller_not_allowed"));
        assert_eq!(
            code(check_caller(&backend, &[])),
            Some("caller_not_allowed")
        );
        let only = ["arn:aws:iam::123456789012:role/backend".to_owned()];
        assert_eq!(code(check_caller(&backend, &only)), None);
        assert_eq!(
            code(check_caller(&admin, &only)),
            Some("caller_not_allowed")
        );
        assert_eq!(code(check_caller(&admin, &["*".to_owned()])), None);
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
