//! The whole request path up to the decision, for every webhook type:
//! size -> verify -> parse -> type -> decide. No network: the decision is the output.
//!
//! Input layout: byte 0 picks the event type and the transport variations (signed or not,
//! base64 or not, content type); the rest is the body. Half the inputs are signed with the
//! secret, so the parser and the decisions are reached, not only the signature check.
#![no_main]

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::{HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use shared::decide::Rules;
use shared::decide::Decide;
use shared::event::{self, ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted, IntegrationStateChanged, WebhookEvent};
use shared::signature::Secrets;

fn decide<E: WebhookEvent + Decide>(body: &[u8], settings: &Rules) {
    if let Ok(envelope) = event::parse::<E>(body) {
        let _ = E::decide(envelope, time::OffsetDateTime::UNIX_EPOCH, settings);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else { return };
    let secrets = Secrets::parse("fuzz-fake-secret").unwrap();
    let settings = Rules::default();

    let mut req = ApiGatewayV2httpRequest::default();
    req.request_context.http.method = if flags & 0x40 == 0 { Method::POST } else { Method::GET };
    req.is_base64_encoded = flags & 0x08 != 0;
    req.body = Some(if req.is_base64_encoded {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8_lossy(body).into_owned()
    });
    let signed_over = if req.is_base64_encoded { body.to_vec() } else { req.body.clone().unwrap().into_bytes() };
    if flags & 0x10 == 0 {
        let sig = secrets.sign(&signed_over);
        req.headers.insert("x-kombo-signature", HeaderValue::from_str(&sig).unwrap());
    }
    if flags & 0x20 != 0 {
        req.headers.insert("content-type", HeaderValue::from_static("text/plain"));
    }

    let Ok(verified) = shared::request::verified_body(&req, &secrets) else { return };
    match flags & 0x03 {
        0 => decide::<IntegrationCreated>(&verified, &settings),
        1 => decide::<IntegrationDeleted>(&verified, &settings),
        2 => decide::<ConnectionFlowFailed>(&verified, &settings),
        _ => decide::<IntegrationStateChanged>(&verified, &settings),
    }
});
