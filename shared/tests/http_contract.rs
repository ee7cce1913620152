//! The HTTP contract of every function: each error row answers its status with a JSON
//! body naming the problem, and nothing is written or published (checked on moto).
//! Also: base64 bodies, header case and secret rotation.

mod support;

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::json;
use shared::event::IntegrationCreated;
use shared::signature::Secrets;
use shared::{App, AwsApp};
use support::*;

const ROUTES: [&str; 3] = [CREATED, DELETED, FLOW_FAILED];

fn valid_body(route: &str) -> String {
    match route {
        CREATED => created_body("ev-ok", "workday:contract", Some("42")),
        DELETED => deleted_body("ev-ok", "workday:contract", Some("42")),
        _ => flow_failed_body("ev-ok", Some("42")),
    }
}

fn sign(body: &[u8]) -> String {
    Secrets::parse(SECRET).unwrap().sign(body)
}

/// Asserts the answer and that the stack is untouched.
async fn rejected(
    stack: &Stack,
    app: &AwsApp,
    route: &str,
    req: ApiGatewayV2httpRequest,
    code: i64,
    error: &str,
    says: &str,
) {
    let resp = serve_route(app, route, &req).await;
    let body = body_json(&resp);
    assert_eq!(status(&resp), code, "{route}: {body}");
    assert_eq!(body["error"]["code"], error, "{route}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(says),
        "{route}: message {message:?} should mention {says:?}"
    );
    assert_eq!(resp.headers["content-type"], "application/json");
    assert!(
        stack.rows().await.is_empty(),
        "{route}: a rejected request wrote a row"
    );
    assert!(
        stack.idempotency_items().await.is_empty(),
        "{route}: a rejected request claimed an event or counted a failure"
    );
    assert!(
        stack.alerts().await.is_empty(),
        "{route}: a rejected request published"
    );
}

#[tokio::test]
async fn every_error_row_answers_its_status_and_changes_nothing() {
    let stack = Stack::new("contract");
    let app = stack.app().await;
    for route in ROUTES {
        let body = valid_body(route);
        let sig = sign(body.as_bytes());

        let unsigned = api_event(route, &body, json!({ "content-type": "application/json" }));
        rejected(
            &stack,
            &app,
            route,
            unsigned,
            401,
            "unauthorized",
            "missing X-Kombo-Signature",
        )
        .await;

        let forged_sig = Secrets::parse("some-other-fake-secret")
            .unwrap()
            .sign(body.as_bytes());
        let forged = api_event(
            route,
            &body,
            json!({ "content-type": "application/json", "x-kombo-signature": forged_sig }),
        );
        rejected(
            &stack,
            &app,
            route,
            forged,
            401,
            "unauthorized",
            "does not match",
        )
        .await;

        let tampered = body.replace("Acme", "Evil");
        let tampered = api_event(
            route,
            &tampered,
            json!({ "content-type": "application/json", "x-kombo-signature": sig }),
        );
        rejected(
            &stack,
            &app,
            route,
            tampered,
            401,
            "unauthorized",
            "does not match",
        )
        .await;

        for (bad, says) in [
            ("{\"id\":", "not valid JSON"),
            ("[1,2]", "expected a JSON object"),
            (r#"{"id":"e","type":"x"}"#, "missing field `data`"),
        ] {
            let req = signed(route, bad);
            rejected(&stack, &app, route, req, 400, "bad_request", says).await;
        }

        let missing = body.replace(r#""organization_name":"Acme, Inc.""#, r#""other":1"#);
        rejected(
            &stack,
            &app,
            route,
            signed(route, &missing),
            400,
            "bad_request",
            "data.end_user: missing field `organization_name`",
        )
        .await;

        let mistyped = body.replace(r#""origin_id":"42""#, r#""origin_id":42"#);
        rejected(
            &stack,
            &app,
            route,
            signed(route, &mistyped),
            400,
            "bad_request",
            "data.end_user.origin_id: invalid type",
        )
        .await;

        let other = if route == CREATED {
            valid_body(DELETED)
        } else {
            valid_body(CREATED)
        };
        let other_type = if route == CREATED {
            "integration-deleted"
        } else {
            "integration-created"
        };
        let expected_type = route.rsplit('/').next().unwrap();
        let wrong = signed(route, &other);
        rejected(
            &stack,
            &app,
            route,
            wrong,
            422,
            "wrong_event_type",
            &format!("accepts {expected_type} events, got {other_type}"),
        )
        .await;

        let text = api_event(
            route,
            &body,
            json!({ "content-type": "text/plain", "x-kombo-signature": sig }),
        );
        rejected(
            &stack,
            &app,
            route,
            text,
            415,
            "unsupported_media_type",
            "text/plain",
        )
        .await;

        let huge = format!(
            "{{\"pad\":\"{}\"}}",
            // docs/architecture.md: "body ≤ 256 KiB".
            "x".repeat(256 * 1024)
        );
        rejected(
            &stack,
            &app,
            route,
            signed(route, &huge),
            413,
            "payload_too_large",
            "262144",
        )
        .await;

        let mut get = signed(route, &body);
        get.request_context.http.method = lambda_http::http::Method::GET;
        rejected(&stack, &app, route, get, 405, "method_not_allowed", "GET").await;

        let mut lie = signed(route, &body);
        lie.is_base64_encoded = true;
        rejected(
            &stack,
            &app,
            route,
            lie,
            400,
            "bad_request",
            "isBase64Encoded",
        )
        .await;
    }
}

#[tokio::test]
async fn base64_bodies_and_rotated_secrets_are_accepted() {
    let stack = Stack::new("accepted");
    let app = stack.app().await;

    // API Gateway hands some bodies over base64-encoded: the signature is over the bytes.
    let body = created_body("ev-b64", "workday:b64", Some("1"));
    let mut req = api_event(
        CREATED,
        &base64::engine::general_purpose::STANDARD.encode(&body),
        json!({ "content-type": "application/json; charset=utf-8", "x-kombo-signature": sign(body.as_bytes()) }),
    );
    req.is_base64_encoded = true;
    let resp = app.serve::<IntegrationCreated>(&req).await;
    assert_eq!(
        (status(&resp), body_json(&resp)["outcome"].clone()),
        (200, "stored".into())
    );

    // During a rotation both secrets verify.
    let rotated = App {
        secrets: shared::secrets::Cached::fixed(
            Secrets::parse(&format!("brand-new-fake-secret,{SECRET}")).unwrap(),
        ),
        ..stack.app().await
    };
    let body = created_body("ev-rot", "workday:rot", Some("2"));
    let resp = rotated
        .serve::<IntegrationCreated>(&signed(CREATED, &body))
        .await;
    assert_eq!(status(&resp), 200);
    let new_sig = Secrets::parse("brand-new-fake-secret")
        .unwrap()
        .sign(body.as_bytes());
    let req = api_event(CREATED, &body, json!({ "x-kombo-signature": new_sig }));
    assert_eq!(
        status(&rotated.serve::<IntegrationCreated>(&req).await),
        200,
        "no content type is accepted"
    );
    assert_eq!(stack.rows().await.len(), 2);
}
