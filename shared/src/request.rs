//! The first steps of every request: method, size, body bytes (base64-decoded when API
//! Gateway says so), signature, content type. Nothing here parses the body: an unsigned
//! request never reaches a JSON parser.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::{Method, header::CONTENT_TYPE};

use crate::error::Error;
use crate::signature::{HEADER, Secrets};

/// The largest body accepted: Kombo's events are a few hundred bytes; 256 KiB leaves
/// room for any growth while bounding the work an unauthenticated sender can cause.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Returns the exact body bytes once the request is a POST of at most
/// [`MAX_BODY_BYTES`], signed by one of `secrets`, declared as JSON (or undeclared).
pub fn verified_body<'r>(
    req: &'r ApiGatewayV2httpRequest,
    secrets: &Secrets,
) -> Result<Cow<'r, [u8]>, Error> {
    let method = &req.request_context.http.method;
    if method != Method::POST {
        return Err(Error::MethodNotAllowed(method.to_string()));
    }

    let body = body_bytes(req)?;

    let mut signatures = req.headers.get_all(HEADER).iter();
    let signature = signatures.next().map(|v| v.as_bytes());
    if signatures.next().is_some() {
        return Err(Error::Unauthorized(
            "more than one X-Kombo-Signature header",
        ));
    }
    secrets.verify(signature, &body)?;

    if let Some(ct) = req.headers.get(CONTENT_TYPE)
        && !is_json(ct.as_bytes())
    {
        return Err(Error::UnsupportedMediaType(
            String::from_utf8_lossy(ct.as_bytes())
                .chars()
                .take(100)
                .collect(),
        ));
    }
    Ok(body)
}

/// Whether the request carries one `X-Kombo-Signature` that is a well-formed signature
/// (whatever it signs): only such a request may cause a secret to be read again.
pub fn has_well_formed_signature(req: &ApiGatewayV2httpRequest) -> bool {
    let mut signatures = req.headers.get_all(HEADER).iter();
    match (signatures.next(), signatures.next()) {
        (Some(one), None) => crate::signature::decode_signature(one.as_bytes()).is_some(),
        _ => false,
    }
}

/// The body as sent, size-checked before and after decoding (API Gateway base64-encodes
/// some bodies). Shared by the webhooks and the backend API.
pub(crate) fn body_bytes(req: &ApiGatewayV2httpRequest) -> Result<Cow<'_, [u8]>, Error> {
    let raw = req.body.as_deref().unwrap_or_default();
    let too_large = |actual| Error::PayloadTooLarge {
        actual,
        limit: MAX_BODY_BYTES,
    };
    if !req.is_base64_encoded {
        return match raw.len() {
            n if n > MAX_BODY_BYTES => Err(too_large(n)),
            _ => Ok(Cow::Borrowed(raw.as_bytes())),
        };
    }
    // Refuse to decode what cannot fit: base64 is 4 characters for 3 bytes.
    if raw.len() / 4 * 3 > MAX_BODY_BYTES + 3 {
        return Err(too_large(raw.len() / 4 * 3));
    }
    let decoded = STANDARD.decode(raw).map_err(|_| {
        Error::BadRequest("isBase64Encoded is true but the body is not valid base64".into())
    })?;
    match decoded.len() {
        n if n > MAX_BODY_BYTES => Err(too_large(n)),
        _ => Ok(Cow::Owned(decoded)),
    }
}

/// `application/json` or `application/<x>+json`, with any parameters, any case.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii()
        .to_ascii_lowercase();
    essence == b"application/json"
        || (essence.starts_with(b"application/") && essence.ends_with(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json",
        ] {
            assert!(is_json(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonp",
            "",
            "json",
        ] {
            assert!(!is_json(bad.as_bytes()), "{bad}");
        }
    }
}
