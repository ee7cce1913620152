//! Requests per event, counted on the wire (an SDK interceptor sees every HTTP attempt),
//! and the sequential round trips they make: the longest chain of requests each sent after
//! the one before it was answered (a request's depth is one more than the deepest answered
//! when it left: requests sent together share a depth whatever order their answers come
//! in, so the figure is the same on a fast or a loaded machine).
//! A deleted webhook, a create and a state change that pages nobody cost one round trip
//! and one write (a create's read of the failure record rides along); a connection-failure
//! page four (the claim with the counts and the customer's rows, the fleet strike that says
//! whether the customer is established, the publish, the completion); an INVALID page four
//! (the write, then the fleet strike of only the INVALID that pages); a duplicate one or two.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::ConfigBag;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use shared::backend::Route;
use shared::event::{
    ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted, IntegrationStateChanged,
    IssueStatusChanged,
};
use shared::signature::Secrets;
use shared::{App, AwsApp};
use support::*;

/// What both clients sent: requests per service, and round trips (the deepest request: one
/// deeper than the deepest answered when it left).
#[derive(Debug, Default)]
struct Wire {
    in_flight: AtomicUsize,
    answered_depth: AtomicUsize,
}

/// A request's depth, kept in its own config bag from its leaving to its answer.
#[derive(Debug, Clone, Copy)]
struct Depth(usize);

impl aws_smithy_types::config_bag::Storable for Depth {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct Count {
    requests: Arc<AtomicUsize>,
    wire: Arc<Wire>,
}

impl Count {
    fn on(wire: &Arc<Wire>) -> Self {
        Count {
            requests: Arc::default(),
            wire: wire.clone(),
        }
    }
    fn take(&self) -> usize {
        self.requests.swap(0, Ordering::SeqCst)
    }
}

impl Wire {
    fn take(&self) -> usize {
        assert_eq!(
            self.in_flight.load(Ordering::SeqCst),
            0,
            "a request still in flight"
        );
        self.answered_depth.swap(0, Ordering::SeqCst)
    }
}

impl Intercept for Count {
    fn name(&self) -> &'static str {
        "Count"
    }
    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.wire.in_flight.fetch_add(1, Ordering::SeqCst);
        let depth = self.wire.answered_depth.load(Ordering::SeqCst) + 1;
        cfg.interceptor_state().store_put(Depth(depth));
        Ok(())
    }
    fn read_before_deserialization(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Depth(depth) = *cfg.load::<Depth>().expect("stored when it left");
        self.wire.answered_depth.fetch_max(depth, Ordering::SeqCst);
        self.wire.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn counted(stack: &Stack) -> (AwsApp, Count, Count, Arc<Wire>) {
    let (sdk, ddb_sdk) = (stack.sdk().await, stack.ddb_sdk().await);
    let wire = Arc::new(Wire::default());
    let (ddb, sns) = (Count::on(&wire), Count::on(&wire));
    let ddb_client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&ddb_sdk)
            .interceptor(ddb.clone())
            .build(),
    );
    let sns_client = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk)
            .interceptor(sns.clone())
            .build(),
    );
    let app = App {
        secrets: shared::secrets::Cached::fixed(Secrets::parse(SECRET).unwrap()),
        effects: shared::AwsEffects::with_clients(&stack.settings(), ddb_client, sns_client),
    };
    (app, ddb, sns, wire)
}

fn state_body(event_id: &str, state: &str, qa: &str, at: &str) -> String {
    state_changed_body(event_id, "workday:req", Some("42"), state, qa, at)
}

fn backend_request(
    method: &str,
    route_key: &str,
    path: &str,
    params: serde_json::Value,
    body: Option<serde_json::Value>,
) -> ApiGatewayV2httpRequest {
    serde_json::from_value(backend_event(method, route_key, path, params, body)).unwrap()
}

/// One row of the table: what was sent, the outcome (or error code) it got, the DynamoDB
/// and SNS requests it cost on the wire, and the sequential round trips they took.
type Row = (&'static str, String, usize, usize, usize);

fn outcome(r: &ApiGatewayV2httpResponse) -> String {
    let b = body_json(r);
    b["outcome"]
        .as_str()
        .or(b["error"]["code"].as_str())
        .or(b["integrations"].as_array().map(|_| "listed"))
        .or(b["link"].as_str().map(|_| "link"))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn requests_per_event_on_the_wire() {
    let stack = Stack::new("requests");
    // The fleet's customers below have live integrations (imported before): established.
    stack.establish(&["42", "43", "44", "45"]).await;
    let (app, ddb, sns, wire) = counted(&stack).await;
    let mut table: Vec<Row> = Vec::new();
    macro_rules! send {
        ($what:expr, $e:ty, $route:expr, $body:expr) => {{
            let r = Box::pin(app.serve::<$e>(&signed($route, &$body))).await;
            table.push(($what, outcome(&r), ddb.take(), sns.take(), wire.take()));
        }};
    }
    // Customer 41's: the create after 42's failures below is 42's first workday integration.
    let created = created_body("ev-1", "workday:req", Some("41"));
    send!(
        "integration-created (new)",
        IntegrationCreated,
        CREATED,
        created
    );
    send!(
        "integration-created (duplicate)",
        IntegrationCreated,
        CREATED,
        created
    );
    let flow = flow_failed_body("ev-3", Some("42"));
    send!(
        "connection-flow-failed (new)",
        ConnectionFlowFailed,
        FLOW_FAILED,
        flow
    );
    send!(
        "connection-flow-failed (duplicate)",
        ConnectionFlowFailed,
        FLOW_FAILED,
        flow
    );
    send!(
        "connection-flow-failed (folded)",
        ConnectionFlowFailed,
        FLOW_FAILED,
        flow_failed_body("ev-5", Some("42"))
    );
    send!(
        "integration-created (after failures)",
        IntegrationCreated,
        CREATED,
        created_body("ev-6", "workday:req2", Some("42"))
    );
    send!(
        "integration-created (a second of the tool)",
        IntegrationCreated,
        CREATED,
        created_body("ev-6b", "workday:req3", Some("42"))
    );
    send!(
        "integration-created (no origin_id)",
        IntegrationCreated,
        CREATED,
        created_body("ev-4", "workday:req-un", None)
    );
    send!(
        "state-changed ACTIVE",
        IntegrationStateChanged,
        STATE_CHANGED,
        state_body("s1", "ACTIVE", "PASSED", "2026-11-20T10:00:00Z")
    );
    let invalid = state_body("s2", "INVALID", "PASSED", "2026-11-20T11:00:00Z");
    send!(
        "state-changed becomes INVALID",
        IntegrationStateChanged,
        STATE_CHANGED,
        invalid
    );
    send!(
        "state-changed INVALID (duplicate)",
        IntegrationStateChanged,
        STATE_CHANGED,
        invalid
    );
    send!(
        "state-changed INVALID again",
        IntegrationStateChanged,
        STATE_CHANGED,
        state_body("s3", "INVALID", "PENDING", "2026-11-20T12:00:00Z")
    );
    send!(
        "state-changed ACTIVE after INVALID",
        IntegrationStateChanged,
        STATE_CHANGED,
        state_body("s4", "ACTIVE", "PASSED", "2026-11-20T13:00:00Z")
    );
    send!(
        "state-changed QA turns FAILED",
        IntegrationStateChanged,
        STATE_CHANGED,
        state_body("s4q", "ACTIVE", "FAILED", "2026-11-20T13:30:00Z")
    );
    // The fleet: two more customers of workday make three (42 failed above): the third
    // opens the tool's incident, a fourth is counted on it.
    for (what, id, customer) in [
        ("connection-flow-failed (2nd customer)", "ev-7", "43"),
        ("connection-flow-failed (opens incident)", "ev-8", "44"),
        ("connection-flow-failed (in incident)", "ev-9", "45"),
    ] {
        send!(
            what,
            ConnectionFlowFailed,
            FLOW_FAILED,
            flow_failed_body(id, Some(customer))
        );
    }
    // The same for INVALID (workday:req, customer 42's, turned INVALID above), each of
    // another customer, and a recovery in it.
    for (what, id, integration, state) in [
        (
            "state-changed INVALID (2nd)",
            "s5",
            "workday:inv-b",
            "INVALID",
        ),
        (
            "state-changed INVALID (opens incident)",
            "s6",
            "workday:inv-c",
            "INVALID",
        ),
        (
            "state-changed INVALID (in incident)",
            "s7",
            "workday:inv-d",
            "INVALID",
        ),
        (
            "state-changed ACTIVE (in incident)",
            "s8",
            "workday:inv-d",
            "ACTIVE",
        ),
    ] {
        let at = if state == "ACTIVE" {
            "2026-11-20T15:00:00Z"
        } else {
            "2026-11-20T14:00:00Z"
        };
        send!(
            what,
            IntegrationStateChanged,
            STATE_CHANGED,
            state_changed_body(
                id,
                integration,
                Some(match integration {
                    "workday:inv-b" => "47",
                    "workday:inv-c" => "48",
                    _ => "49",
                }),
                state,
                "PASSED",
                at,
            )
        );
    }
    // Kombo's issues: a login failing on 42's workday (a page), its repeat, its resolution;
    // and the resolution of an episode that never paged.
    let issue = |event: &str, change: &str, issue: &str| {
        issue_body(
            event,
            change,
            issue,
            "integration.authentication_failed",
            "2026-11-20T15:00:00Z",
            Some(("workday:req2", "42")),
        )
    };
    let raised = issue("iss-ev-1", "raised", "iss_1");
    send!("issue raised (a page)", IssueStatusChanged, ISSUE, raised);
    send!(
        "issue raised (duplicate)",
        IssueStatusChanged,
        ISSUE,
        raised
    );
    send!(
        "issue resolved (the notice)",
        IssueStatusChanged,
        ISSUE,
        issue("iss-ev-2", "resolved", "iss_1")
    );
    send!(
        "issue resolved (it never paged)",
        IssueStatusChanged,
        ISSUE,
        issue("iss-ev-3", "resolved", "iss_2")
    );
    let deleted = deleted_body("ev-2", "workday:req", Some("42"));
    send!(
        "integration-deleted (new)",
        IntegrationDeleted,
        DELETED,
        deleted
    );
    send!(
        "integration-deleted (duplicate)",
        IntegrationDeleted,
        DELETED,
        deleted
    );
    let forged = api_event(
        CREATED,
        "{}",
        serde_json::json!({"x-kombo-signature": "A".repeat(43)}),
    );
    let r = app.serve::<IntegrationCreated>(&forged).await;
    table.push((
        "any forged request",
        outcome(&r),
        ddb.take(),
        sns.take(),
        wire.take(),
    ));

    // The backend routes, on the same counted DynamoDB client.
    let kombo = FakeKombo::start();
    let backend = shared::backend::Backend {
        store: app.effects.store.clone(),
        kombo: Some(kombo.client()),
        settings: stack.settings(),
        clock: time::OffsetDateTime::now_utc,
    };
    for (what, route, req) in [
        (
            "GET customer integrations",
            Route::CustomerIntegrations,
            backend_request(
                "GET",
                "GET /customers/{origin_id}/integrations",
                "/customers/42/integrations",
                serde_json::json!({"origin_id": "42"}),
                None,
            ),
        ),
        (
            "PUT integration customer",
            Route::AssignCustomer,
            backend_request(
                "PUT",
                "PUT /integrations/{integration_id}/customer",
                "/integrations/workday:req-un/customer",
                serde_json::json!({"integration_id": "workday:req-un"}),
                Some(serde_json::json!({"origin_id": "43"})),
            ),
        ),
        (
            "DELETE integration",
            Route::DeleteIntegration,
            backend_request(
                "DELETE",
                "DELETE /integrations/{integration_id}",
                "/integrations/workday:req-un",
                serde_json::json!({"integration_id": "workday:req-un"}),
                None,
            ),
        ),
        (
            "POST connection link",
            Route::ConnectionLink,
            backend_request(
                "POST",
                "POST /customers/{origin_id}/connection-link",
                "/customers/42/connection-link",
                serde_json::json!({"origin_id": "42"}),
                Some(
                    serde_json::json!({"end_user_email": "a@b.example", "end_user_organization_name": "Acme"}),
                ),
            ),
        ),
        (
            "POST reconnection link",
            Route::ReconnectionLink,
            backend_request(
                "POST",
                "POST /customers/{origin_id}/integrations/{integration_id}/reconnection-link",
                "/customers/42/integrations/workday:req2/reconnection-link",
                serde_json::json!({"origin_id": "42", "integration_id": "workday:req2"}),
                Some(serde_json::json!({})),
            ),
        ),
        (
            "POST setup link",
            Route::SetupLink,
            backend_request(
                "POST",
                "POST /customers/{origin_id}/integrations/{integration_id}/setup-link",
                "/customers/42/integrations/workday:req2/setup-link",
                serde_json::json!({"origin_id": "42", "integration_id": "workday:req2"}),
                Some(serde_json::json!({"link_type": "EMBEDDED"})),
            ),
        ),
    ] {
        let r = backend.serve(route, &req).await;
        table.push((what, outcome(&r), ddb.take(), sns.take(), wire.take()));
    }
    for (what, outcome, d, s, rt) in &table {
        println!("{what:<40} {outcome:<24} DynamoDB {d}  SNS {s}  round trips {rt}");
    }
    let o = |s: &str| s.to_owned();
    // (what, outcome, DynamoDB requests, SNS requests, sequential round trips)
    assert_eq!(
        table,
        [
            // the conditional write, with the failure record's read and the customer's rows
            // (a duplicate integration?) alongside
            ("integration-created (new)", o("stored"), 3, 0, 1),
            // the refused write returns the row; the reads alongside
            (
                "integration-created (duplicate)",
                o("already_stored"),
                3,
                0,
                1
            ),
            // claim with the open and the customer's rows, then the fleet strike (which says
            // whether the customer is established), page, complete
            ("connection-flow-failed (new)", o("alerted"), 5, 1, 4),
            // the claim finds COMPLETED; the fold and the strike (after the rows) are refused (this
            // event opened the window, and is the customer's last strike)
            (
                "connection-flow-failed (duplicate)",
                o("already_alerted"),
                4,
                0,
                2
            ),
            // claim with the fold (this container saw the window open) and the strike, complete
            // (the strike after the customer's rows), complete
            ("connection-flow-failed (folded)", o("folded"), 5, 0, 3),
            // write with the reads alongside, claim with the resolving write and the fleet's
            // "connected" mark, notice, complete
            (
                "integration-created (after failures)",
                o("resolved"),
                7,
                1,
                4
            ),
            // write with the reads alongside (the customer has workday:req2): the
            // "duplicate integration" notice's claim, publish, complete
            (
                "integration-created (a second of the tool)",
                o("stored"),
                5,
                1,
                4
            ),
            // claim with the write, publish, complete
            (
                "integration-created (no origin_id)",
                o("stored_unassigned"),
                3,
                1,
                3
            ),
            // the write (its old row says it was not INVALID)
            ("state-changed ACTIVE", o("state_recorded"), 1, 0, 1),
            // the write (it sets the page's claim on the row), then the fleet strike (only
            // the INVALID that pages strikes), page, the claim marked sent
            (
                "state-changed becomes INVALID",
                o("state_recorded_alerted"),
                3,
                1,
                4
            ),
            // the write, refused (this event's own): the row says the page was sent; no strike
            (
                "state-changed INVALID (duplicate)",
                o("already_alerted"),
                1,
                0,
                1
            ),
            // the write (the period's claim stands: it pages nobody); no strike
            ("state-changed INVALID again", o("state_recorded"), 1, 0, 1),
            // the write (it was INVALID), claim with the fleet's recovery mark, the row's
            // recovered_event_id with the notice, complete
            (
                "state-changed ACTIVE after INVALID",
                o("state_recorded_recovered"),
                5,
                1,
                4
            ),
            // the write (its old row's QA was not FAILED), then the notice once: claim,
            // publish, complete (rare: once per integration)
            (
                "state-changed QA turns FAILED",
                o("state_recorded"),
                3,
                1,
                4
            ),
            // the fleet, outside and inside an incident: as a page and a fold
            (
                "connection-flow-failed (2nd customer)",
                o("alerted"),
                5,
                1,
                4
            ),
            // claim with the open and the rows, the strike, the incident's opening, its page,
            // complete
            (
                "connection-flow-failed (opens incident)",
                o("incident_opened"),
                6,
                1,
                5
            ),
            // claim with the open and the rows, the strike, the customer's one low-urgency
            // notice (its first in the incident), complete
            (
                "connection-flow-failed (in incident)",
                o("folded_into_incident"),
                5,
                1,
                4
            ),
            (
                "state-changed INVALID (2nd)",
                o("state_recorded_alerted"),
                3,
                1,
                4
            ),
            // the write, the strike, the incident's opening, its page, the row's claim marked
            // sent
            (
                "state-changed INVALID (opens incident)",
                o("incident_opened"),
                4,
                1,
                5
            ),
            // the write, the strike, the customer's notice (its first in the incident), the
            // row's claim marked sent
            (
                "state-changed INVALID (in incident)",
                o("folded_into_incident"),
                3,
                1,
                4
            ),
            // the write, claim with the recovery mark, recovered_event_id, complete: no notice
            (
                "state-changed ACTIVE (in incident)",
                o("folded_into_incident"),
                5,
                0,
                4
            ),
            // claim with the row's open issue, the count and the fleet strike; page; complete
            ("issue raised (a page)", o("alerted"), 5, 1, 3),
            // the claim finds COMPLETED; the row, count and strike beside it change nothing
            ("issue raised (duplicate)", o("already_alerted"), 4, 0, 1),
            // the row's resolution with the raise's outcome read and the fleet's mark; the
            // notice's claim, publish, complete
            (
                "issue resolved (the notice)",
                o("issue_resolved_notified"),
                5,
                1,
                4
            ),
            // the same three at once, nothing owed
            (
                "issue resolved (it never paged)",
                o("issue_resolved"),
                3,
                0,
                1
            ),
            ("integration-deleted (new)", o("deleted"), 1, 0, 1),
            (
                "integration-deleted (duplicate)",
                o("already_deleted"),
                1,
                0,
                1
            ),
            ("any forged request", o("unauthorized"), 0, 0, 0), // refused before any I/O
            ("GET customer integrations", o("listed"), 1, 0, 1), // one Query page
            ("PUT integration customer", o("assigned"), 1, 0, 1),
            ("DELETE integration", o("deleted"), 1, 0, 1), // after Kombo's DELETE
            ("POST connection link", o("link"), 0, 0, 0),  // Kombo only
            // the row's read (is it this customer's, and live), then Kombo's relink
            ("POST reconnection link", o("link"), 1, 0, 1),
            ("POST setup link", o("link"), 1, 0, 1),
        ]
    );
}
