//! Requests per event, counted on the wire (an SDK interceptor sees every HTTP attempt)
//! against moto: a created or deleted webhook costs exactly one DynamoDB request; an
//! alert costs the minimum the exactly-once design allows (claim, publish, complete).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::ConfigBag;
use shared::event::{ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted};
use shared::signature::Secrets;
use shared::{App, AwsApp};
use support::*;

#[derive(Debug, Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl Count {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
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
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn counted(stack: &Stack) -> (AwsApp, Count, Count) {
    let sdk = stack.sdk().await;
    let (ddb, sns) = (Count::default(), Count::default());
    let ddb_client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(ddb.clone())
            .build(),
    );
    let sns_client = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk)
            .interceptor(sns.clone())
            .build(),
    );
    let app = App {
        store: shared::dynamo::DynamoStore::new(ddb_client, &stack.settings()),
        alerts: shared::sns::SnsPublisher::new(sns_client, &stack.settings()),
        secrets: Secrets::parse(SECRET).unwrap(),
        settings: stack.settings(),
        clock: time::OffsetDateTime::now_utc,
    };
    (app, ddb, sns)
}

#[tokio::test]
async fn requests_per_event_on_the_wire() {
    let stack = Stack::new("requests");
    let (app, ddb, sns) = counted(&stack).await;
    let mut table = Vec::new();
    let mut row = |what: &str, outcome: serde_json::Value, ddb: usize, sns: usize| {
        println!("{what:<40} {outcome:<22} DynamoDB {ddb}  SNS {sns}");
        table.push((what.to_owned(), ddb, sns));
    };

    let created = signed(CREATED, &created_body("ev-1", "workday:req", Some("42")));
    let r = app.serve::<IntegrationCreated>(&created).await;
    row(
        "integration-created (new)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let r = app.serve::<IntegrationCreated>(&created).await;
    row(
        "integration-created (duplicate)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let deleted = signed(DELETED, &deleted_body("ev-2", "workday:req", Some("42")));
    let r = app.serve::<IntegrationDeleted>(&deleted).await;
    row(
        "integration-deleted (new)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let r = app.serve::<IntegrationDeleted>(&deleted).await;
    row(
        "integration-deleted (duplicate)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let flow = signed(FLOW_FAILED, &flow_failed_body("ev-3", Some("42")));
    let r = app.serve::<ConnectionFlowFailed>(&flow).await;
    row(
        "connection-flow-failed (new)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let r = app.serve::<ConnectionFlowFailed>(&flow).await;
    row(
        "connection-flow-failed (duplicate)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let unassigned = signed(CREATED, &created_body("ev-4", "workday:req-un", None));
    let r = app.serve::<IntegrationCreated>(&unassigned).await;
    row(
        "integration-created (no origin_id)",
        body_json(&r)["outcome"].clone(),
        ddb.take(),
        sns.take(),
    );
    let forged = api_event(
        CREATED,
        "{}",
        serde_json::json!({"x-kombo-signature": "A".repeat(43)}),
    );
    let r = app.serve::<IntegrationCreated>(&forged).await;
    row(
        "any forged request",
        body_json(&r)["error"]["code"].clone(),
        ddb.take(),
        sns.take(),
    );

    let counts: Vec<(usize, usize)> = table.iter().map(|(_, d, s)| (*d, *s)).collect();
    assert_eq!(
        counts,
        [
            (1, 0), // conditional put
            (1, 0), // the failed condition returns the old item: no extra read
            (1, 0), // conditional update
            (1, 0),
            (2, 1), // claim, publish, complete
            (1, 0), // the claim finds COMPLETED
            (3, 1), // claim, put, publish, complete
            (0, 0), // refused before any I/O
        ]
    );
}
