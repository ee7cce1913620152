//! The whole integration lifecycle: the Kombo API client against a local Kombo that
//! checks the exact requests, the backend routes (link, lookup, delete) and the
//! integration-state-changed webhook, on moto.

mod support;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{Value, json};
use shared::backend::{Backend, Route};
use shared::deadline::Deadline;
use shared::event::api::CreateLink;
use shared::event::{IntegrationCreated, IntegrationStateChanged};
use shared::kombo::{KomboApi, KomboClient, KomboError};
use shared::{AwsBackend, dynamo::DynamoStore};
use support::*;

fn backend_event(
    method: &str,
    path: &str,
    params: Value,
    query: &str,
    body: Option<Value>,
) -> ApiGatewayV2httpRequest {
    let route_key = match method {
        "POST" => "POST /customers/{origin_id}/connection-link",
        "GET" => "GET /customers/{origin_id}/integrations",
        _ => "DELETE /integrations/{integration_id}",
    };
    let query_map: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    serde_json::from_value(json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": query_map,
        "pathParameters": params,
        "headers": { "content-type": "application/json" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key, "stage": "$default", "timeEpoch": 0,
            "authentication": null,
            "authorizer": { "iam": { "accessKey": "AKIAFAKE", "accountId": "123456789012", "callerId": "AIDAFAKE", "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/backend", "userId": "AIDAFAKE" } },
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "backend" }
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    }))
    .unwrap()
}

/// `POST /customers/42/connection-link` with `body`.
fn link_event(body: Value) -> ApiGatewayV2httpRequest {
    backend_event(
        "POST",
        "/customers/42/connection-link",
        json!({"origin_id": "42"}),
        "",
        Some(body),
    )
}

async fn backend(stack: &Stack, kombo: &FakeKombo) -> AwsBackend {
    Backend {
        store: DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&stack.ddb_sdk().await),
            &stack.settings(),
        ),
        kombo: Some(kombo.client()),
        settings: stack.settings(),
        clock: time::OffsetDateTime::now_utc,
    }
}

fn link_request(origin: &str) -> CreateLink {
    CreateLink {
        end_user_email: "it@acme.example".into(),
        end_user_organization_name: "Acme, Inc.".into(),
        end_user_origin_id: origin.into(),
        integration_category: "LMS".into(),
        integration_tool: Some("workday".into()),
        language: Some("de".into()),
        link_type: Some("EMBEDDED".into()),
        remote_environment: None,
        scope_config_id: None,
        enable_filtering: None,
        enable_field_mapping: None,
        enable_static_ips: None,
    }
}

fn ten_seconds() -> Deadline {
    Deadline::after(std::time::Duration::from_secs(10))
}

#[tokio::test]
async fn the_client_sends_exactly_the_documented_requests() {
    let kombo = FakeKombo::start();
    let client = kombo.client();
    let link = client
        .create_link(&link_request("42"), ten_seconds())
        .await
        .unwrap()
        .link;
    assert!(
        link.starts_with(&format!("{}/connect?token=link-42-", kombo.root)),
        "{link}"
    );
    client
        .delete_integration("workday:8d1hpPsbjxUkoCoa1veLZGe5", ten_seconds())
        .await
        .unwrap();

    let reqs = kombo.requests().await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["path"], "/v1/connect/create-link");
    assert_eq!(
        reqs[0]["headers"]["authorization"],
        format!("Bearer {KOMBO_KEY}")
    );
    assert_eq!(reqs[0]["headers"]["content-type"], "application/json");
    assert_eq!(
        reqs[0]["body"],
        json!({
            "end_user_email": "it@acme.example", "end_user_organization_name": "Acme, Inc.",
            "end_user_origin_id": "42", "integration_category": "LMS", "integration_tool": "workday",
            "language": "de", "link_type": "EMBEDDED"
        })
    );
    assert_eq!(reqs[1]["method"], "DELETE");
    assert_eq!(
        reqs[1]["path"],
        "/v1/integrations/workday:8d1hpPsbjxUkoCoa1veLZGe5"
    );
    assert_eq!(
        reqs[1]["headers"]["x-integration-id"],
        "workday:8d1hpPsbjxUkoCoa1veLZGe5"
    );
    assert_eq!(
        reqs[1]["headers"]["authorization"],
        format!("Bearer {KOMBO_KEY}")
    );
    assert_eq!(reqs[1]["body"], json!({}));
}

#[tokio::test]
async fn the_client_retries_429_and_5xx_and_types_kombo_errors() {
    let kombo = FakeKombo::start();
    let client = kombo.client();
    client
        .delete_integration("workday:flaky", ten_seconds())
        .await
        .unwrap();
    assert_eq!(kombo.requests().await.len(), 2, "one 503, then success");

    let err = client
        .create_link(&link_request("cust:rate-limited"), ten_seconds())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KomboError::Api { status: 429, code, .. } if code == "PLATFORM.RATE_LIMIT_EXCEEDED"),
        "{err:?}"
    );
    assert_eq!(kombo.requests().await.len(), 2 + 3, "three attempts");

    let err = client
        .delete_integration("workday:missing", ten_seconds())
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(kombo.requests().await.len(), 6, "a 404 is not retried");

    let wrong_key = KomboClient::new(&kombo.base_url, "another-fake-key").unwrap();
    let err = wrong_key
        .delete_integration("workday:x", ten_seconds())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KomboError::Api { status: 401, code, .. } if code == "PLATFORM.AUTHENTICATION_INVALID")
    );

    let nowhere = KomboClient::new("http://127.0.0.1:9/v1", KOMBO_KEY)
        .unwrap()
        .with_backoff(std::time::Duration::from_millis(1));
    assert!(matches!(
        nowhere.delete_integration("workday:x", ten_seconds()).await,
        Err(KomboError::Transport(_))
    ));
}

#[tokio::test]
async fn connection_link_route_answers_the_link_for_the_customer() {
    let (stack, kombo) = (Stack::new("link"), FakeKombo::start());
    let app = backend(&stack, &kombo).await;
    let body = json!({ "end_user_email": "it@acme.example", "end_user_organization_name": "Acme, Inc.", "language": "fr" });
    let resp = app.serve(Route::ConnectionLink, &link_event(body)).await;
    assert_eq!(status(&resp), 200);
    let answer = body_json(&resp);
    assert_eq!(answer["origin_id"], "42");
    assert!(
        answer["link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/connect?token=link-42-", kombo.root)),
        "{answer}"
    );
    let sent = &kombo.requests().await[0]["body"];
    assert_eq!(sent["end_user_origin_id"], "42");
    assert_eq!(sent["integration_category"], "LMS");
    assert!(
        sent.get("link_type").is_none(),
        "optional fields left out when not given"
    );

    for (bad, says) in [
        (
            json!({ "end_user_organization_name": "A" }),
            "missing field `end_user_email`",
        ),
        (
            json!({ "end_user_email": "x@y", "end_user_organization_name": "A", "language": "pt" }),
            "language must be one of",
        ),
        (
            json!({ "end_user_email": "x@y", "end_user_organization_name": "A", "link_type": "FOREVER" }),
            "link_type must be one of",
        ),
        (
            json!({ "end_user_email": "nope", "end_user_organization_name": "A" }),
            "e-mail",
        ),
        (
            json!({ "end_user_email": "x@y", "end_user_organization_name": "A", "extra": 1 }),
            "unknown field `extra`",
        ),
    ] {
        let resp = app.serve(Route::ConnectionLink, &link_event(bad)).await;
        assert_eq!(status(&resp), 400);
        assert!(
            body_json(&resp)["error"]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{}",
            body_json(&resp)
        );
    }
    let limited = json!({ "end_user_email": "x@y", "end_user_organization_name": "A" });
    let resp = app
        .serve(
            Route::ConnectionLink,
            &backend_event(
                "POST",
                "/customers/c:rate-limited/connection-link",
                json!({"origin_id": "c:rate-limited"}),
                "",
                Some(limited),
            ),
        )
        .await;
    assert_eq!(status(&resp), 502);
    assert_eq!(
        body_json(&resp)["error"]["kombo_code"],
        "PLATFORM.RATE_LIMIT_EXCEEDED"
    );
    assert_eq!(
        kombo.requests().await.len(),
        1 + 3,
        "invalid requests never reach Kombo"
    );
}

#[tokio::test]
async fn customer_integrations_lists_active_mappings_and_tombstones_on_request() {
    let (stack, kombo) = (Stack::new("lookup"), FakeKombo::start());
    let hooks = stack.app().await;
    for (ev, id, origin) in [
        ("e1", "workday:a", "42"),
        ("e2", "moodle:b", "42"),
        ("e3", "udemy:c", "43"),
    ] {
        hooks
            .serve::<IntegrationCreated>(&signed(CREATED, &created_body(ev, id, Some(origin))))
            .await;
    }
    let app = backend(&stack, &kombo).await;
    let resp = app
        .serve(
            Route::DeleteIntegration,
            &backend_event(
                "DELETE",
                "/integrations/moodle:b",
                json!({"integration_id": "moodle:b"}),
                "",
                None,
            ),
        )
        .await;
    assert_eq!(
        body_json(&resp),
        json!({ "integration_id": "moodle:b", "outcome": "deleted", "kombo": "deleted" })
    );

    let list = |query: &'static str| {
        backend_event(
            "GET",
            "/customers/42/integrations",
            json!({"origin_id": "42"}),
            query,
            None,
        )
    };
    let active = body_json(&app.serve(Route::CustomerIntegrations, &list("")).await);
    let ids: Vec<&str> = active["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["integration_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["workday:a"]);
    let all = body_json(
        &app.serve(Route::CustomerIntegrations, &list("include_deleted=true"))
            .await,
    );
    let all: Vec<(&str, &str)> = all["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["integration_id"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(all, [("moodle:b", "DELETED"), ("workday:a", "ACTIVE")]);
    let nobody = backend_event(
        "GET",
        "/customers/99/integrations",
        json!({"origin_id": "99"}),
        "",
        None,
    );
    assert_eq!(
        body_json(&app.serve(Route::CustomerIntegrations, &nobody).await)["integrations"],
        json!([])
    );
    let wrong_method = backend_event(
        "POST",
        "/customers/42/integrations",
        json!({"origin_id": "42"}),
        "",
        None,
    );
    assert_eq!(
        status(&app.serve(Route::CustomerIntegrations, &wrong_method).await),
        405
    );
}

#[tokio::test]
async fn delete_route_is_idempotent_and_a_kombo_failure_leaves_the_mapping() {
    let (stack, kombo) = (Stack::new("delete"), FakeKombo::start());
    let hooks = stack.app().await;
    for (ev, id) in [("e1", "workday:gone"), ("e2", "workday:broken")] {
        hooks
            .serve::<IntegrationCreated>(&signed(CREATED, &created_body(ev, id, Some("42"))))
            .await;
    }
    let app = backend(&stack, &kombo).await;
    let delete = |id: &str| {
        backend_event(
            "DELETE",
            &format!("/integrations/{id}"),
            json!({"integration_id": id}),
            "",
            None,
        )
    };

    let first = app
        .serve(Route::DeleteIntegration, &delete("workday:gone"))
        .await;
    assert_eq!(
        body_json(&first),
        json!({ "integration_id": "workday:gone", "outcome": "deleted", "kombo": "deleted" })
    );
    let again = app
        .serve(Route::DeleteIntegration, &delete("workday:gone"))
        .await;
    assert_eq!(
        status(&again),
        200,
        "Kombo's INTEGRATION_NOT_FOUND still tombstones"
    );
    assert_eq!(
        body_json(&again),
        json!({ "integration_id": "workday:gone", "outcome": "already_deleted", "kombo": "not_found" })
    );

    let before = stack.rows().await;
    let broken = app
        .serve(Route::DeleteIntegration, &delete("workday:broken"))
        .await;
    assert_eq!(status(&broken), 502);
    let err = &body_json(&broken)["error"];
    assert_eq!(err["code"], "kombo_error");
    assert_eq!(err["kombo_code"], "PLATFORM.UNKNOWN_ERROR");
    assert_eq!(
        err["kombo_log_url"],
        "https://app.kombo.dev/env/test/logs/platform.unknown_error"
    );
    assert_eq!(
        stack.rows().await,
        before,
        "a Kombo failure leaves the mapping untouched"
    );
    let row = before
        .iter()
        .find(|r| r["integration_id"] == "workday:gone")
        .unwrap();
    assert_eq!(row["status"], "DELETED");
    assert!(
        row["last_event_id"]
            .as_str()
            .unwrap()
            .starts_with("api-delete:")
    );
    assert!(row["expires_at"].is_i64());
}

fn state_body(event_id: &str, integration_id: &str, state: &str, updated_at: &str) -> String {
    state_changed_body(
        event_id,
        integration_id,
        Some("42"),
        state,
        "PASSED",
        updated_at,
    )
}

#[tokio::test]
async fn state_changes_are_kept_newest_first_and_invalid_alerts_once() {
    let stack = Stack::new("state");
    let app = stack.app().await;
    // A state-changed delivery for workday:st: (event id, state, Kombo's updated_at).
    let state = |event_id: &'static str, state: &'static str, at: &'static str| {
        let app = &app;
        async move {
            let body = state_body(event_id, "workday:st", state, at);
            let resp = app
                .serve::<IntegrationStateChanged>(&signed(STATE_CHANGED, &body))
                .await;
            (status(&resp), body_json(&resp))
        }
    };

    // Before its create (an integration that existed before the stack): the row is
    // recorded from the state change, and the create completes it later.
    let (code, body) = state("s0", "ACTIVE", "2026-11-01T09:00:00Z").await;
    assert_eq!(
        (code, body["outcome"].as_str()),
        (200, Some("state_recorded"))
    );
    let row = &stack.rows().await[0];
    assert_eq!(
        (&row["origin_id"], &row["status"], &row["state"]),
        (&json!("42"), &json!("ACTIVE"), &json!("ACTIVE"))
    );
    assert_eq!(row.get("created_at"), None, "no create seen yet");

    let resp = app
        .serve::<IntegrationCreated>(&signed(
            CREATED,
            &created_body("c1", "workday:st", Some("42")),
        ))
        .await;
    assert_eq!(body_json(&resp)["outcome"], "completed");
    let row = &stack.rows().await[0];
    assert_eq!(row["created_event_id"], "c1");
    assert!(row["created_at"].is_string());
    assert_eq!(
        row["state"], "ACTIVE",
        "the create keeps the recorded state"
    );
    let (code, body) = state("s1", "ACTIVE", "2026-11-01T10:00:00Z").await;
    assert_eq!(
        (code, body["outcome"].as_str()),
        (200, Some("state_recorded"))
    );

    let (_, body) = state("s2", "INVALID", "2026-11-02T10:00:00Z").await;
    assert_eq!(body["outcome"], "state_recorded_alerted");
    let (_, body) = state("s2", "INVALID", "2026-11-02T10:00:00Z").await;
    assert_eq!(body["outcome"], "already_alerted");
    // An older update arriving late changes nothing and pages nobody.
    let (_, body) = state("s-old", "INVALID", "2026-10-01T10:00:00Z").await;
    assert_eq!(body["outcome"], "ignored_stale");

    let row = &stack.rows().await[0];
    assert_eq!(row["state"], "INVALID");
    assert_eq!(row["setup_status"], "COMPLETED");
    assert_eq!(row["qa_status"], "PASSED");
    assert_eq!(row["state_updated_at"], "2026-11-02T10:00:00Z");
    assert_eq!(row["last_event_id"], "s2");
    assert_eq!(row["origin_id"], "42", "the mapping itself is untouched");
    let alerts = stack.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("Kombo integration invalid")
    );
    assert_eq!(
        alerts[0]["MessageAttributes"]["alert_kind"]["Value"],
        "integration-invalid"
    );

    // A deleted integration keeps its tombstone.
    app.serve::<shared::event::IntegrationDeleted>(&signed(
        DELETED,
        &deleted_body("d1", "workday:st", Some("42")),
    ))
    .await;
    let (_, body) = state("s3", "ACTIVE", "2026-11-03T10:00:00Z").await;
    assert_eq!(body["outcome"], "ignored_tombstoned");
    assert_eq!(stack.rows().await[0]["status"], "DELETED");
}

#[tokio::test]
async fn the_callers_mistake_is_a_400_and_a_link_is_never_minted_twice() {
    let (stack, kombo) = (Stack::new("link-errors"), FakeKombo::start());
    let app = backend(&stack, &kombo).await;
    // Kombo's answer is the authority on tools: an unknown one is the caller's 400 with
    // Kombo's message and log URL, not a 502 that pages on-call.
    let body = json!({ "end_user_email": "it@acme.example", "end_user_organization_name": "Acme, Inc.", "integration_tool": "no-such-tool" });
    let resp = app.serve(Route::ConnectionLink, &link_event(body)).await;
    assert_eq!(status(&resp), 400);
    let err = &body_json(&resp)["error"];
    assert_eq!(err["code"], "kombo_input_invalid");
    assert_eq!(err["kombo_code"], "PLATFORM.INPUT_INVALID");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("integration_tool")
    );
    assert!(
        err["kombo_log_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    // Every create-link field Kombo's API takes is accepted and forwarded.
    let body = json!({ "end_user_email": "it@acme.example", "end_user_organization_name": "Acme, Inc.",
        "integration_tool": "a-tool-kombo-added-yesterday", "remote_environment": "sandbox", "scope_config_id": "sc1",
        "enable_filtering": true, "enable_field_mapping": false, "enable_static_ips": true });
    let resp = app.serve(Route::ConnectionLink, &link_event(body)).await;
    assert_eq!(status(&resp), 200, "{:?}", body_json(&resp));
    let sent = kombo.requests().await.last().unwrap()["body"].clone();
    for (k, v) in [
        ("remote_environment", json!("sandbox")),
        ("scope_config_id", json!("sc1")),
        ("enable_filtering", json!(true)),
        ("enable_field_mapping", json!(false)),
        ("enable_static_ips", json!(true)),
        ("integration_tool", json!("a-tool-kombo-added-yesterday")),
    ] {
        assert_eq!(sent[k], v, "{k} forwarded");
    }

    // A 5xx after the request was sent may have minted a link: not retried (502), while a
    // DELETE (idempotent) is retried through the same 503.
    let before = kombo.requests().await.len();
    let flaky =
        json!({ "end_user_email": "it@acme.example", "end_user_organization_name": "Acme, Inc." });
    let mut req = link_event(flaky);
    req.path_parameters
        .insert("origin_id".into(), "cust:flaky".into());
    let resp = app.serve(Route::ConnectionLink, &req).await;
    assert_eq!(status(&resp), 502);
    assert_eq!(
        kombo.requests().await.len(),
        before + 1,
        "one POST, not retried"
    );
}
