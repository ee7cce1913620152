//! The DynamoDB adapters, one per port: the mappings table's rows ([`mappings`]), and the
//! records table's claim records ([`claims`]), failure records ([`failures`]), fleet records
//! ([`fleet`]) and the reconcile run's reads ([`reconcile`]). Every write is one
//! conditional request built one way ([`expr`]) from one schema ([`schema`]); what a refused
//! write's item means is decided in [`crate::decide`].

mod claims;
mod expr;
mod failures;
mod fleet;
mod mappings;
mod reconcile;
pub mod schema;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use time::Duration;

use crate::config::Settings;
use crate::error::Error;
use crate::keys;
use expr::Table;

const SERVICE: &str = "DynamoDB";

type Item = HashMap<String, AttributeValue>;

/// Both tables, behind one client built once per container.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    mappings: String,
    records: Option<String>,
    claim_expiry: Duration,
    retention: Duration,
    fold_window: Duration,
    windows: failures::Windows,
}

impl DynamoStore {
    pub fn new(client: Client, settings: &Settings) -> Self {
        DynamoStore {
            client,
            mappings: settings.mappings_table.clone(),
            records: settings.records_table.clone(),
            claim_expiry: settings.rules.claim_expiry,
            retention: settings.rules.tombstone_retention,
            fold_window: settings.rules.fold_window,
            windows: failures::Windows::default(),
        }
    }

    /// Opens the connection (DNS, TCP, TLS) during init, so the first webhook after a cold
    /// start does not pay for it: one `GetItem` of a key that never exists, on the table
    /// this function uses (the records table where it has one).
    pub async fn warm_up(&self) -> Result<(), Error> {
        let table = match &self.records {
            Some(_) => Table::Records,
            None => Table::Mappings,
        };
        self.client
            .get_item()
            .table_name(self.table(table)?)
            .set_key(Some(Self::key(table, keys::WARM_UP)))
            .send()
            .await
            .map_err(dependency)?;
        Ok(())
    }
}

fn dependency<E, R>(e: SdkError<E, R>) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    Error::aws(SERVICE, e)
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, Error> {
    serde_dynamo::to_item(value).map_err(|e| Error::Internal(format!("serializing an item: {e}")))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &Item, field: &str) -> Option<i64> {
    item.get(field)?.as_n().ok()?.parse().ok()
}

fn string(item: &Item, field: &str) -> Option<String> {
    item.get(field)?.as_s().ok().cloned()
}

fn count(item: &Item, field: &str) -> u32 {
    number(item, field).map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX))
}
