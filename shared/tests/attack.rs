//! Under attack, faults and load, on moto: a corpus of hostile and broken requests through
//! every function (each a documented 4xx, nothing written or published), a property that
//! no byte string panics the pipeline, a dependency that never answers, and 200+
//! concurrent deliveries converging on the model.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::AwsApp;
use shared::signature::Secrets;
use support::*;

async fn serve(app: &AwsApp, route: &str, req: &ApiGatewayV2httpRequest) -> (i64, Value) {
    let resp = serve_route(app, route, req).await;
    (status(&resp), body_json(&resp))
}

fn valid(route: &str) -> Value {
    let body = match route {
        CREATED => created_body("ev-attack", "workday:attack", Some("42")),
        DELETED => deleted_body("ev-attack", "workday:attack", Some("42")),
        STATE_CHANGED => state_changed_body(
            "ev-attack",
            "workday:attack",
            Some("42"),
            "INVALID",
            "FAILED",
            "2026-11-20T10:00:00Z",
        ),
        _ => flow_failed_body("ev-attack", Some("42")),
    };
    serde_json::from_str(&body).unwrap()
}

/// The four webhook routes, each served by its own function.
const WEBHOOKS: [&str; 4] = [CREATED, DELETED, FLOW_FAILED, STATE_CHANGED];

fn sign(body: &[u8]) -> String {
    Secrets::parse(SECRET).unwrap().sign(body)
}

fn with_headers(route: &str, body: &str, headers: Value) -> ApiGatewayV2httpRequest {
    api_event(route, body, headers)
}

/// Removes a dotted path (`data.end_user.origin_id`) from a JSON value.
fn without(mut v: Value, path: &str) -> Value {
    let (parent, last) = path.rsplit_once('.').map_or(("", path), |(p, l)| (p, l));
    let mut cur = &mut v;
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        cur = &mut cur[part];
    }
    cur.as_object_mut().unwrap().remove(last);
    v
}

fn set(mut v: Value, path: &str, value: Value) -> Value {
    let mut cur = &mut v;
    for part in path.split('.') {
        cur = &mut cur[part];
    }
    *cur = value;
    v
}

/// (name, request, expected status, expected error code, text the message must hold)
type Case = (String, ApiGatewayV2httpRequest, i64, &'static str, String);

fn corpus(route: &'static str) -> Vec<Case> {
    let good = valid(route);
    let body = good.to_string();
    let sig = sign(body.as_bytes());
    let ct = "application/json";
    let mut cases: Vec<Case> = Vec::new();
    let mut add =
        |name: &str, req: ApiGatewayV2httpRequest, status: i64, code: &'static str, says: &str| {
            cases.push((name.to_owned(), req, status, code, says.to_owned()))
        };
    let hdr = |sig: &str| json!({ "content-type": ct, "x-kombo-signature": sig });

    // The signature.
    add(
        "no signature",
        with_headers(route, &body, json!({ "content-type": ct })),
        401,
        "unauthorized",
        "missing",
    );
    add(
        "empty signature",
        with_headers(route, &body, hdr("")),
        401,
        "unauthorized",
        "base64url",
    );
    add(
        "garbage signature",
        with_headers(route, &body, hdr("not-a-signature")),
        401,
        "unauthorized",
        "base64url",
    );
    add(
        "truncated signature",
        with_headers(route, &body, hdr(&sig[..40])),
        401,
        "unauthorized",
        "base64url",
    );
    add(
        "padded signature",
        with_headers(route, &body, hdr(&format!("{sig}="))),
        401,
        "unauthorized",
        "base64url",
    );
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&sig)
        .unwrap();
    let standard = base64::engine::general_purpose::STANDARD.encode(&raw);
    add(
        "standard base64 signature",
        with_headers(route, &body, hdr(&standard)),
        401,
        "unauthorized",
        "base64url",
    );
    add(
        "hex signature",
        with_headers(
            route,
            &body,
            hdr(&raw.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        ),
        401,
        "unauthorized",
        "base64url",
    );
    add(
        "signature of another body",
        with_headers(route, &body, hdr(&sign(b"{}"))),
        401,
        "unauthorized",
        "does not match",
    );
    let pretty = serde_json::to_string_pretty(&good).unwrap();
    add(
        "signature over re-serialised JSON",
        with_headers(route, &pretty, hdr(&sig)),
        401,
        "unauthorized",
        "does not match",
    );
    add(
        "duplicated signature header (joined by API Gateway)",
        with_headers(route, &body, hdr(&format!("{sig},{sig}"))),
        401,
        "unauthorized",
        "base64url",
    );
    let other = Secrets::parse("wrong-fake-secret")
        .unwrap()
        .sign(body.as_bytes());
    add(
        "wrong secret",
        with_headers(route, &body, hdr(&other)),
        401,
        "unauthorized",
        "does not match",
    );
    add(
        "signature in another header",
        with_headers(
            route,
            &body,
            json!({ "content-type": ct, "x-signature": sig }),
        ),
        401,
        "unauthorized",
        "missing",
    );
    let mut b64_unannounced = signed(route, &body);
    b64_unannounced.body = Some(base64::engine::general_purpose::STANDARD.encode(&body));
    add(
        "base64 body not announced (isBase64Encoded false)",
        b64_unannounced,
        401,
        "unauthorized",
        "does not match",
    );

    // The body, signed (so it reaches the parser).
    for (name, text, says) in [
        ("empty body", "".to_owned(), "not valid JSON"),
        ("not JSON", "hello".to_owned(), "not valid JSON"),
        (
            "truncated JSON",
            body[..body.len() / 2].to_owned(),
            "not valid JSON",
        ),
        (
            "JSON array",
            "[]".to_owned(),
            "expected a JSON object, got an array",
        ),
        ("JSON number", "42".to_owned(), "got a number"),
        ("JSON null", "null".to_owned(), "got null"),
        ("JSON string", "\"x\"".to_owned(), "got a string"),
        (
            "deeply nested JSON",
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
            "recursion limit",
        ),
        (
            "duplicate keys",
            body.replacen('{', "{\"id\":\"other\",", 1),
            "duplicate field `id`",
        ),
        ("trailing garbage", format!("{body} x"), "not valid JSON"),
        (
            "missing id",
            without(good.clone(), "id").to_string(),
            "missing field `id`",
        ),
        (
            "missing type",
            without(good.clone(), "type").to_string(),
            "missing field `type`",
        ),
        (
            "missing data",
            without(good.clone(), "data").to_string(),
            "missing field `data`",
        ),
        (
            "empty id",
            set(good.clone(), "id", json!("")).to_string(),
            "id: must not be empty",
        ),
        (
            "numeric id",
            set(good.clone(), "id", json!(7)).to_string(),
            "id: invalid type",
        ),
        (
            "numeric type",
            set(good.clone(), "type", json!(7)).to_string(),
            "type: invalid type",
        ),
        (
            "null data",
            set(good.clone(), "data", Value::Null).to_string(),
            "data: invalid type",
        ),
        (
            "array data",
            set(good.clone(), "data", json!([1])).to_string(),
            "data: invalid type",
        ),
        (
            "end_user not an object",
            set(good.clone(), "data.end_user", json!("x")).to_string(),
            "data.end_user: invalid type",
        ),
        (
            "organization_name null",
            set(good.clone(), "data.end_user.organization_name", Value::Null).to_string(),
            "data.end_user.organization_name: invalid type",
        ),
        (
            "creator_email a number",
            set(good.clone(), "data.end_user.creator_email", json!(1)).to_string(),
            "data.end_user.creator_email: invalid type",
        ),
    ] {
        add(name, signed(route, &text), 400, "bad_request", says);
    }
    let mut invalid_utf8 = api_event(
        route,
        &base64::engine::general_purpose::STANDARD.encode(b"{\"id\":\"\xff\xfe\"}"),
        hdr(&sign(b"{\"id\":\"\xff\xfe\"}")),
    );
    invalid_utf8.is_base64_encoded = true;
    add(
        "invalid UTF-8",
        invalid_utf8,
        400,
        "bad_request",
        "not valid JSON",
    );

    // Every required field of this type missing in turn, and mistyped ones.
    let required: &[&str] = match route {
        CREATED => &["data.id", "data.tool", "data.category", "data.end_user"],
        DELETED => &[
            "data.id",
            "data.tool",
            "data.category",
            "data.end_user",
            "data.deleted_at",
        ],
        STATE_CHANGED => &[
            "data.integration_id",
            "data.integration_tool",
            "data.integration_category",
            "data.end_user",
            "data.qa_status",
            "data.setup_status",
            "data.state",
            "data.updated_at",
        ],
        _ => &[
            "data.integration_tool",
            "data.integration_category",
            "data.end_user",
            "data.log_url",
        ],
    };
    for field in required {
        let (parent, leaf) = field.rsplit_once('.').unwrap();
        add(
            &format!("missing {field}"),
            signed(route, &without(good.clone(), field).to_string()),
            400,
            "bad_request",
            &format!("{parent}: missing field `{leaf}`"),
        );
    }
    let mistyped: &[(&str, Value)] = match route {
        CREATED => &[("data.category", json!(5)), ("data.tool", json!(""))],
        DELETED => &[
            ("data.deleted_at", json!("yesterday")),
            ("data.category", json!(["LMS"])),
        ],
        STATE_CHANGED => &[
            ("data.updated_at", json!("soon")),
            ("data.state", json!(3)),
            ("data.integration_id", json!("")),
        ],
        _ => &[
            ("data.log_url", json!("not a url")),
            ("data.integration_category", json!(false)),
        ],
    };
    for (field, value) in mistyped {
        add(
            &format!("mistyped {field}"),
            signed(route, &set(good.clone(), field, value.clone()).to_string()),
            400,
            "bad_request",
            &format!("{field}:"),
        );
    }

    // Type, size, content type, transport.
    let other_type = if route == CREATED {
        "integration-deleted"
    } else {
        "integration-created"
    };
    add(
        "another event type",
        signed(
            route,
            &set(good.clone(), "type", json!(other_type)).to_string(),
        ),
        422,
        "wrong_event_type",
        &format!("got {other_type}"),
    );
    add(
        "unknown event type",
        signed(
            route,
            &set(good.clone(), "type", json!("sync-finished")).to_string(),
        ),
        422,
        "wrong_event_type",
        "got sync-finished",
    );
    let huge = set(good.clone(), "pad", json!("x".repeat(300_000))).to_string();
    add(
        "huge body",
        signed(route, &huge),
        413,
        "payload_too_large",
        "262144",
    );
    let mut huge_b64 = signed(route, &huge);
    huge_b64.body = Some(base64::engine::general_purpose::STANDARD.encode(&huge));
    huge_b64.is_base64_encoded = true;
    add(
        "huge base64 body",
        huge_b64,
        413,
        "payload_too_large",
        "262144",
    );
    add(
        "text/plain",
        with_headers(
            route,
            &body,
            json!({ "content-type": "text/plain", "x-kombo-signature": sig }),
        ),
        415,
        "unsupported_media_type",
        "text/plain",
    );
    add(
        "form content type",
        with_headers(
            route,
            &body,
            json!({ "content-type": "application/x-www-form-urlencoded", "x-kombo-signature": sig }),
        ),
        415,
        "unsupported_media_type",
        "form",
    );
    let mut lie = signed(route, &body);
    lie.is_base64_encoded = true;
    add(
        "isBase64Encoded lies",
        lie,
        400,
        "bad_request",
        "isBase64Encoded",
    );
    for method in [
        Method::GET,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ] {
        let mut req = signed(route, &body);
        req.request_context.http.method = method.clone();
        add(
            &format!("method {method}"),
            req,
            405,
            "method_not_allowed",
            method.as_str(),
        );
    }
    cases
}

#[tokio::test]
async fn the_bad_input_corpus_is_refused_by_every_function_and_changes_nothing() {
    let stack = Stack::new("corpus");
    let app = stack.app().await;
    let mut total = 0;
    for route in WEBHOOKS {
        let cases = corpus(route);
        assert!(cases.len() >= 40, "{route}: only {} cases", cases.len());
        for (name, req, want_status, want_code, says) in cases {
            let (status, body) = serve(&app, route, &req).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (want_status, Some(want_code)),
                "{route} / {name}: {body}"
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&says),
                "{route} / {name}: {message:?} lacks {says:?}"
            );
            total += 1;
        }
        assert!(
            stack.rows().await.is_empty(),
            "{route}: the corpus wrote a row"
        );
        assert!(
            stack.claims().await.is_empty(),
            "{route}: the corpus claimed an event"
        );
        assert!(
            stack.alerts().await.is_empty(),
            "{route}: the corpus published"
        );
    }
    let backend = backend_corpus(&stack).await;
    println!(
        "corpus: {total} webhook + {backend} backend requests refused, nothing written or published"
    );
    // What docs/reliability.md's table claims is what ran.
    let readme = std::fs::read_to_string(repo_root().join("docs/reliability.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.contains("--test attack the_bad_input_corpus"))
        .expect("docs/reliability.md lists the corpus");
    let claim = format!(
        "{} requests ({total} to the 4 webhook functions, {backend} to the 4 backend routes",
        total + backend
    );
    assert!(
        row.contains(&claim),
        "docs/reliability.md says {row:?}, the corpus ran {claim:?}"
    );
}

/// Bad requests to the IAM-authorized backend routes: each its documented 4xx naming the
/// problem, nothing written, nothing sent to Kombo. Returns how many were sent.
async fn backend_corpus(stack: &Stack) -> usize {
    use shared::backend::{Backend, Route};
    let kombo = FakeKombo::start();
    let app = Backend {
        store: shared::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&stack.ddb_sdk().await),
            &stack.settings(),
        ),
        kombo: Some(kombo.client()),
        settings: stack.settings(),
        clock: time::OffsetDateTime::now_utc,
    };
    let link = |body: &str| {
        let mut v = backend_event(
            "POST",
            "POST /customers/{origin_id}/connection-link",
            "/customers/42/connection-link",
            json!({"origin_id": "42"}),
            None,
        );
        v["body"] = json!(body);
        v
    };
    let assign = |body: &str| {
        let mut v = backend_event(
            "PUT",
            "PUT /integrations/{integration_id}/customer",
            "/integrations/workday:a/customer",
            json!({"integration_id": "workday:a"}),
            None,
        );
        v["body"] = json!(body);
        v
    };
    let ok_link = r#"{"end_user_email":"it@acme.example","end_user_organization_name":"Acme"}"#;
    let long_origin = format!(r#"{{"origin_id":"{}"}}"#, "x".repeat(2049));
    let no_params =
        |method: &str, key: &str, path: &str| backend_event(method, key, path, json!({}), None);
    let cases: Vec<(Route, Value, i64, &str, &str)> = vec![
        (
            Route::ConnectionLink,
            link("not json"),
            400,
            "bad_request",
            "not valid JSON",
        ),
        (
            Route::ConnectionLink,
            link("[]"),
            400,
            "bad_request",
            "invalid type",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_organization_name":"A"}"#),
            400,
            "bad_request",
            "missing field `end_user_email`",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_email":"it@acme.example"}"#),
            400,
            "bad_request",
            "missing field `end_user_organization_name`",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_email":"nobody","end_user_organization_name":"A"}"#),
            400,
            "bad_request",
            "e-mail address",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_email":"a@b.c","end_user_organization_name":" "}"#),
            400,
            "bad_request",
            "must not be empty",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_email":"a@b.c","end_user_organization_name":"A","language":"pt"}"#),
            400,
            "bad_request",
            "language must be one of",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_email":"a@b.c","end_user_organization_name":"A","link_type":"QR"}"#),
            400,
            "bad_request",
            "link_type must be one of",
        ),
        (
            Route::ConnectionLink,
            link(
                r#"{"end_user_email":"a@b.c","end_user_organization_name":"A","enable_filtering":"yes"}"#,
            ),
            400,
            "bad_request",
            "enable_filtering",
        ),
        (
            Route::ConnectionLink,
            link(r#"{"end_user_email":"a@b.c","end_user_organization_name":"A","admin":true}"#),
            400,
            "bad_request",
            "unknown field `admin`",
        ),
        (
            Route::ConnectionLink,
            link(&format!("{ok_link} trailing")),
            400,
            "bad_request",
            "not valid JSON",
        ),
        (
            Route::ConnectionLink,
            no_params("POST", "POST /customers/{origin_id}/connection-link", "/"),
            400,
            "bad_request",
            "origin_id is missing",
        ),
        (
            Route::ConnectionLink,
            {
                let mut v = link(ok_link);
                v["requestContext"]["http"]["method"] = json!("GET");
                v
            },
            405,
            "method_not_allowed",
            "GET",
        ),
        (
            Route::ConnectionLink,
            {
                let mut v = link(ok_link);
                v["isBase64Encoded"] = json!(true);
                v["body"] = json!("%%%");
                v
            },
            400,
            "bad_request",
            "isBase64Encoded",
        ),
        (
            Route::AssignCustomer,
            assign("{}"),
            400,
            "bad_request",
            "missing field `origin_id`",
        ),
        (
            Route::AssignCustomer,
            assign(r#"{"origin_id":""}"#),
            400,
            "bad_request",
            "origin_id must be 1 to 2048 bytes",
        ),
        (
            Route::AssignCustomer,
            assign(&long_origin),
            400,
            "bad_request",
            "origin_id must be 1 to 2048 bytes",
        ),
        (
            Route::AssignCustomer,
            assign(r#"{"origin_id":"42","force":"yes"}"#),
            400,
            "bad_request",
            "force",
        ),
        (
            Route::AssignCustomer,
            assign(r#"{"origin_id":42}"#),
            400,
            "bad_request",
            "origin_id",
        ),
        (
            Route::AssignCustomer,
            assign(r#"{"origin_id":"42","tool":"x"}"#),
            400,
            "bad_request",
            "unknown field `tool`",
        ),
        (
            Route::AssignCustomer,
            no_params("PUT", "PUT /integrations/{integration_id}/customer", "/"),
            400,
            "bad_request",
            "integration_id is missing",
        ),
        (
            Route::AssignCustomer,
            {
                let mut v = assign(r#"{"origin_id":"42"}"#);
                v["requestContext"]["http"]["method"] = json!("POST");
                v
            },
            405,
            "method_not_allowed",
            "POST",
        ),
        (
            Route::CustomerIntegrations,
            no_params("GET", "GET /customers/{origin_id}/integrations", "/"),
            400,
            "bad_request",
            "origin_id is missing",
        ),
        (
            Route::CustomerIntegrations,
            {
                let mut v = no_params(
                    "DELETE",
                    "GET /customers/{origin_id}/integrations",
                    "/customers/42/integrations",
                );
                v["pathParameters"] = json!({"origin_id": "42"});
                v
            },
            405,
            "method_not_allowed",
            "DELETE",
        ),
        (
            Route::DeleteIntegration,
            no_params("DELETE", "DELETE /integrations/{integration_id}", "/"),
            400,
            "bad_request",
            "integration_id is missing",
        ),
        (
            Route::DeleteIntegration,
            {
                let mut v = no_params(
                    "GET",
                    "DELETE /integrations/{integration_id}",
                    "/integrations/workday:a",
                );
                v["pathParameters"] = json!({"integration_id": "workday:a"});
                v
            },
            405,
            "method_not_allowed",
            "GET",
        ),
    ];
    let n = cases.len();
    for (route, event, want_status, want_code, says) in cases {
        let req: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
        let resp = app.serve(route, &req).await;
        let body = body_json(&resp);
        assert_eq!(
            (status(&resp), body["error"]["code"].as_str()),
            (want_status, Some(want_code)),
            "{route:?}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(says),
            "{route:?}: {message:?} lacks {says:?}"
        );
    }
    assert!(
        stack.rows().await.is_empty(),
        "the backend corpus wrote a row"
    );
    assert!(
        kombo.requests().await.is_empty(),
        "the backend corpus reached Kombo"
    );
    n
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use shared::event::{
        ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted, IntegrationStateChanged,
        ParseError, parse,
    };

    /// The route's event type's parser on `body`: Ok(()) for a valid event of that type.
    fn parse_as(route: &str, body: &[u8]) -> Result<(), ParseError> {
        match route {
            CREATED => parse::<IntegrationCreated>(body).map(drop),
            DELETED => parse::<IntegrationDeleted>(body).map(drop),
            FLOW_FAILED => parse::<ConnectionFlowFailed>(body).map(drop),
            STATE_CHANGED => parse::<IntegrationStateChanged>(body).map(drop),
            other => panic!("no webhook route {other}"),
        }
    }

    /// The stores point at a closed port: anything that got as far as an effect would
    /// answer 503, which the property forbids for inputs that are not valid events.
    fn offline_app(rt: &tokio::runtime::Runtime) -> AwsApp {
        rt.block_on(async {
            // No retries: a refused connection answers at once (the property is about
            // panics, not the SDK's backoff).
            let sdk = shared::aws_config_loader()
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .endpoint_url("http://127.0.0.1:9")
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "t", "t", None, None, "t",
                ))
                .load()
                .await;
            AwsApp::with_sdk_config(
                Secrets::parse(SECRET).unwrap(),
                shared::config::Settings::for_tests("t", "i", "arn:aws:sns:us-east-1:1:t"),
                &sdk,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_signed_or_not_never_panic_and_get_a_4xx(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            sign_it in any::<bool>(),
            base64_it in any::<bool>(),
            route in prop_oneof![Just(CREATED), Just(DELETED), Just(FLOW_FAILED), Just(STATE_CHANGED)],
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let app = offline_app(&rt);
            let sig = if sign_it { sign(&bytes) } else { "A".repeat(43) };
            let text = if base64_it { base64::engine::general_purpose::STANDARD.encode(&bytes) } else { String::from_utf8_lossy(&bytes).into_owned() };
            let signed_bytes_differ = !base64_it && text.as_bytes() != bytes.as_slice();
            let mut req = api_event(route, &text, json!({ "content-type": "application/json", "x-kombo-signature": sig }));
            req.is_base64_encoded = base64_it;
            let (status, body) = rt.block_on(serve(&app, route, &req));
            prop_assert!([400, 401, 413, 422].contains(&status), "{} {}", status, body);
            if !sign_it || signed_bytes_differ {
                prop_assert_eq!(status, 401);
            }
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn mutated_signed_valid_events_never_panic_the_pipeline(
            pos in 0usize..400, byte in any::<u8>(), cut in any::<bool>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let app = offline_app(&rt);
            for route in WEBHOOKS {
                let mut body = valid(route).to_string().into_bytes();
                let i = pos % body.len();
                if cut { body.truncate(i) } else { body[i] = byte }
                // Signed, so it passes the signature and goes as far as it can.
                let text = base64::engine::general_purpose::STANDARD.encode(&body);
                let mut req = api_event(route, &text, json!({ "content-type": "application/json", "x-kombo-signature": sign(&body) }));
                req.is_base64_encoded = true;
                let (status, reply) = rt.block_on(serve(&app, route, &req));
                prop_assert!([400, 422, 503].contains(&status), "{} {} {}", route, status, reply);
                // A 503 means it reached the (closed) stores: only an event the route's own
                // parser still reads as valid may; a 422 is a valid event of another type.
                let parsed = parse_as(route, &body);
                match status {
                    503 => prop_assert!(parsed.is_ok(), "503 for an invalid event: {:?} {:?}", parsed, String::from_utf8_lossy(&body)),
                    422 => prop_assert!(matches!(parsed, Err(ParseError::WrongType { .. })), "{:?}", parsed),
                    _ => {}
                }
            }
        }
    }
}

#[tokio::test]
async fn a_dependency_that_never_answers_is_a_503_inside_the_lambda_timeout() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let stack = Stack::new("hang");
    let sdk = Stack::sdk_at(&format!("http://127.0.0.1:{port}")).await;
    let app = AwsApp::with_sdk_config(Secrets::parse(SECRET).unwrap(), stack.settings(), &sdk);
    let started = Instant::now();
    // An outer limit, so a removed budget fails here instead of hanging the suite.
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(15),
        serve(
            &app,
            CREATED,
            &signed(CREATED, &created_body("ev-hang", "workday:hang", Some("1"))),
        ),
    )
    .await
    .expect("no answer within 15 s: no budget fired");
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    // The SDK's operation budget (5 s) fired: not at once (a refused connection), and
    // before the invocation's deadline (9.5 s) would have.
    // docs/reliability.md: "AWS SDK calls keep their own budgets (... operation 5 s ...)".
    let budget = Duration::from_secs(5);
    assert!(
        took >= budget - Duration::from_millis(200) && took < budget + Duration::from_millis(1_500),
        "answered after {took:?}, not at the {budget:?} budget"
    );
    println!("hanging dependency answered 503 after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_of_mixed_concurrent_deliveries_converges_on_the_model() {
    let stack = Stack::new("load");
    // All 206 deliveries are in flight at once (see app_for_concurrency for the budget;
    // LOAD_SDK_BUDGET=production runs it on the production budget instead, to measure).
    let production = std::env::var("LOAD_SDK_BUDGET").as_deref() == Ok("production");
    let app = Arc::new(if production {
        stack.app().await
    } else {
        stack.app_for_concurrency().await
    });
    // 70 integrations: each gets a create and a redelivery of it; every third a delete
    // (sent in the same burst, so often before its create); every fifth a failed-flow
    // alert delivered three times.
    let mut requests: Vec<(&'static str, String)> = Vec::new();
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    let mut alerts = 0;
    for i in 0..70 {
        // Ten tools over seven customers: no customer gets two of one tool (a duplicate's
        // notice depends on the order: issues.rs tells that story).
        let integration = format!("tool{}:load{i:03}", i % 10);
        let created = created_body(
            &format!("c{i}"),
            &integration,
            Some(&format!("cust{}", i % 7)),
        );
        requests.push((CREATED, created.clone()));
        requests.push((CREATED, created));
        expected.insert(integration.clone(), "ACTIVE");
        if i % 3 == 0 {
            requests.push((
                DELETED,
                deleted_body(&format!("d{i}"), &integration, Some("x")),
            ));
            expected.insert(integration, "DELETED");
        }
        if i % 5 == 0 {
            for _ in 0..3 {
                // One customer each: failures of one customer fold into one page
                // (oncall.rs); here each customer is one of the tool's fleet (fleet.rs).
                let body = flow_failed_body(&format!("f{i}"), Some(&format!("x{i}")));
                requests.push((FLOW_FAILED, body));
            }
            alerts += 1;
        }
    }
    // A fixed shuffle, so the order is mixed but the run repeatable.
    let n = requests.len();
    for i in 0..n {
        requests.swap(i, (i * 7919 + 13) % n);
    }
    assert!(n >= 200);

    let started = Instant::now();
    let tasks: Vec<_> = requests
        .iter()
        .cloned()
        .map(|(route, body)| {
            let app = app.clone();
            tokio::spawn(async move {
                let req = signed(route, &body);
                let t = Instant::now();
                let (mut status, _) = serve(&app, route, &req).await;
                let first = status;
                // What Kombo does with a 429 (in progress) or a 503: deliver again later.
                let mut retries = 0;
                while (status == 429 || status == 503) && retries < 400 {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    status = serve(&app, route, &req).await.0;
                }
                (status, first, retries, t.elapsed())
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut first_answers: BTreeMap<i64, usize> = BTreeMap::new();
    let mut retries = 0;
    for t in tasks {
        let (status, first, r, took) = t.await.unwrap();
        assert_eq!(status, 200, "a delivery did not converge after {r} retries");
        *first_answers.entry(first).or_default() += 1;
        retries += r;
        latencies.push(took);
    }
    let wall = started.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "load: {n} concurrent deliveries in {wall:?} = {:.0}/s; p50 {:?}, p99 {:?} (until 200, retries included); first answers {first_answers:?}, {retries} retries (debug build, {} for DynamoDB, {} SDK budget)",
        n as f64 / wall.as_secs_f64(),
        p(0.5),
        p(0.99),
        dynamodb().name,
        if production { "production" } else { "patient" }
    );

    let actual: BTreeMap<String, String> = stack
        .rows()
        .await
        .iter()
        .map(|r| {
            (
                r["integration_id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = expected
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    assert_eq!(actual, expected, "table differs from the model");
    // One tool's customers failing together, none with a live integration (sign-ups):
    // no fleet incident opens (only established customers open one,
    // docs/on-call.md#fleet-incidents-one-tool-failing-for-everyone): each is paged once.
    assert_eq!(
        stack.alerts().await.len(),
        alerts,
        "alerts: 0 lost, 0 doubled"
    );
}

mod faults {
    use super::*;

    #[tokio::test]
    async fn dynamodb_throttling_is_retried_then_a_503_and_kombos_retry_converges() {
        let stack = Stack::new("throttled");
        let fault = FaultServer::start("dynamodb-throttled");
        let (good, throttled) = (stack.sdk().await, Stack::sdk_at(&fault.endpoint).await);
        let app = stack.app_with(&throttled, &good);
        // A delete: one request, so the count is the SDK's attempts at it.
        let body = deleted_body("ev-thr", "workday:throttled", Some("42"));
        let (status, reply) = serve(&app, DELETED, &signed(DELETED, &body)).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (503, Some("dependency_unavailable"))
        );
        assert_eq!(
            fault.count().await,
            3,
            "the SDK retried the throttled write 3 times in all"
        );

        let healthy = stack.app().await;
        let (status, reply) = serve(&healthy, DELETED, &signed(DELETED, &body)).await;
        assert_eq!((status, reply["outcome"].as_str()), (200, Some("deleted")));
        assert_eq!(stack.rows().await.len(), 1);
    }

    #[tokio::test]
    async fn sns_5xx_after_the_claim_releases_it_and_the_retry_publishes_once() {
        let stack = Stack::new("sns500");
        let fault = FaultServer::start("sns-500");
        let (good, failing) = (stack.ddb_sdk().await, Stack::sdk_at(&fault.endpoint).await);
        let app = stack.app_with(&good, &failing);
        let body = flow_failed_body("ev-500", Some("42"));
        let (status, _) = serve(&app, FLOW_FAILED, &signed(FLOW_FAILED, &body)).await;
        assert_eq!(status, 503);
        assert_eq!(
            fault.count().await,
            3,
            "the SDK tried the publish 3 times in all"
        );
        assert!(stack.claims().await.is_empty(), "claim released");

        let healthy = stack.app().await;
        assert_eq!(
            serve(&healthy, FLOW_FAILED, &signed(FLOW_FAILED, &body))
                .await
                .1["outcome"],
            "alerted"
        );
        assert_eq!(
            serve(&healthy, FLOW_FAILED, &signed(FLOW_FAILED, &body))
                .await
                .1["outcome"],
            "already_alerted"
        );
        assert_eq!(stack.alerts().await.len(), 1, "0 lost, 0 doubled");
    }
}
