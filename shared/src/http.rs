//! The one place a front door's result becomes an HTTP answer, for webhooks and backend
//! routes alike: 200 with the JSON body, or the error's status, code and message
//! ([`Error::status`], [`Error::body`]) with `Retry-After` where the caller should retry.

use lambda_http::Body;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::http::{HeaderValue, header};
use serde_json::Value;

use crate::error::Error;

/// The answer to a request's result.
pub fn respond(result: Result<Value, Error>) -> ApiGatewayV2httpResponse {
    match result {
        Ok(body) => answer(200, body.to_string(), false),
        Err(e) => answer(e.status().as_u16(), e.body(), e.is_retryable()),
    }
}

/// A JSON answer; `retry` adds `Retry-After` (the sender should deliver again later).
fn answer(status: u16, body: String, retry: bool) -> ApiGatewayV2httpResponse {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_answered_with_its_status_and_a_retry_only_where_it_helps() {
        let ok = respond(Ok(serde_json::json!({"status": "ok"})));
        assert_eq!(ok.status_code, 200);
        assert!(ok.headers.get(header::RETRY_AFTER).is_none());
        let busy = respond(Err(Error::InProgress("ev1".into())));
        assert_eq!(busy.status_code, 429);
        assert_eq!(busy.headers[header::RETRY_AFTER], "30");
        let bad = respond(Err(Error::BadRequest("data.id: missing field".into())));
        assert_eq!(bad.status_code, 400);
        assert!(bad.headers.get(header::RETRY_AFTER).is_none());
        assert_eq!(bad.headers[header::CONTENT_TYPE], "application/json");
    }
}
