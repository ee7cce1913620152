//! The per-event CPU path of each function, without the network: size check, signature
//! verification, parse, decision, and serializing the DynamoDB item (or forming the SNS
//! alert). Inputs are the sample events in `events/`. Run: `make bench`.

use std::collections::HashMap;
use std::hint::black_box;

use aws_sdk_dynamodb::types::AttributeValue;
use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use shared::decide::Rules;
use shared::decide::{Decide, Decision};
use shared::event::{
    self, ConnectionFlowFailed, IntegrationCreated, IntegrationDeleted, WebhookEvent,
};
use shared::signature::Secrets;
use time::OffsetDateTime;

fn sample(name: &str) -> ApiGatewayV2httpRequest {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Everything a function does for one event before it touches the network.
fn cpu_path<E: WebhookEvent + Decide>(
    req: &ApiGatewayV2httpRequest,
    secrets: &Secrets,
    settings: &Rules,
) -> usize {
    let body = shared::request::verified_body(req, secrets).unwrap();
    let envelope = event::parse::<E>(&body).unwrap();
    match E::decide(envelope, OffsetDateTime::UNIX_EPOCH, settings) {
        Decision::Store(m, _) | Decision::StoreUnassigned(m, _) => {
            let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&m).unwrap();
            item.len()
        }
        Decision::Tombstone(t) => {
            let a: HashMap<String, AttributeValue> = serde_dynamo::to_item(&t.mark).unwrap();
            let b: HashMap<String, AttributeValue> = serde_dynamo::to_item(&t.descriptive).unwrap();
            a.len() + b.len()
        }
        Decision::Failure(f) => f.page.message.len() + f.page.attributes.len(),
        Decision::State(u, _, _) => {
            let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&u.fields).unwrap();
            item.len()
        }
        Decision::Issue(d) => d.episode().claim().len(),
    }
}

fn bench(c: &mut Criterion) {
    let secrets = Secrets::parse("local-fake-kombo-secret-not-real").unwrap();
    let settings = Rules::default();
    let created = sample("integration-created.json");
    let deleted = sample("integration-deleted.json");
    let flow = sample("connection-flow-failed.json");
    c.bench_function("integration-created: verify+parse+decide+item", |b| {
        b.iter(|| cpu_path::<IntegrationCreated>(black_box(&created), &secrets, &settings))
    });
    c.bench_function("integration-deleted: verify+parse+decide+item", |b| {
        b.iter(|| cpu_path::<IntegrationDeleted>(black_box(&deleted), &secrets, &settings))
    });
    c.bench_function("connection-flow-failed: verify+parse+decide+alert", |b| {
        b.iter(|| cpu_path::<ConnectionFlowFailed>(black_box(&flow), &secrets, &settings))
    });
    let forged = sample("connection-flow-failed-forged.json");
    c.bench_function("forged request: rejected at the signature", |b| {
        b.iter(|| shared::request::verified_body(black_box(&forged), &secrets).is_err())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
