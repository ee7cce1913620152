//! The DynamoDB client behind both tables, what each table is (its name and key), and the
//! small conversions every adapter shares.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use time::Duration;

use super::schema::{mappings, records};
use crate::config::Settings;
use crate::error::Error;
use crate::keys;

const SERVICE: &str = "DynamoDB";

pub(super) type Item = HashMap<String, AttributeValue>;

/// Both tables, behind one client built once per container.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) mappings: String,
    pub(super) records: Option<String>,
    pub(super) claim_expiry: Duration,
    pub(super) retention: Duration,
    pub(super) fold_window: Duration,
    pub(super) windows: Windows,
}

/// Per container: when each failure record's window that this container last saw opened
/// (epoch ms), so a failure tries the write that most likely applies first. Only a guess:
/// the conditions decide, and a wrong guess costs one refused write.
#[derive(Debug, Default, Clone)]
pub(super) struct Windows(std::sync::Arc<std::sync::Mutex<HashMap<String, i64>>>);

impl Windows {
    /// Kept small: a container sees few customers' storms at once.
    const MAX: usize = 1024;

    pub(super) fn open(&self, key: &str, expired_ms: i64) -> bool {
        let seen = self.0.lock().map(|w| w.get(key).copied()).unwrap_or(None);
        seen.is_some_and(|start| start >= expired_ms)
    }

    pub(super) fn saw(&self, key: &str, window_start_ms: i64) {
        if let Ok(mut w) = self.0.lock() {
            if w.len() >= Self::MAX && !w.contains_key(key) {
                w.clear();
            }
            w.insert(key.to_owned(), window_start_ms);
        }
    }

    pub(super) fn forget(&self, key: &str) {
        if let Ok(mut w) = self.0.lock() {
            w.remove(key);
        }
    }
}

/// A table and its key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Mappings,
    Records,
}

impl Table {
    fn key(self) -> &'static str {
        match self {
            Table::Mappings => mappings::INTEGRATION_ID,
            Table::Records => records::EVENT_ID,
        }
    }
}

impl DynamoStore {
    /// The name of `table` (the records table is only configured where a function uses it).
    pub(super) fn table(&self, table: Table) -> Result<&str, Error> {
        match table {
            Table::Mappings => Ok(&self.mappings),
            Table::Records => self
                .records
                .as_deref()
                .ok_or_else(|| Error::Config("IDEMPOTENCY_TABLE_NAME is not set".into())),
        }
    }

    /// The key of `table`'s item `key`.
    pub(super) fn key(table: Table, key: &str) -> Item {
        Item::from([(table.key().to_owned(), AttributeValue::S(key.to_owned()))])
    }

    pub fn new(client: Client, settings: &Settings) -> Self {
        DynamoStore {
            client,
            mappings: settings.mappings_table.clone(),
            records: settings.records_table.clone(),
            claim_expiry: settings.rules.claim_expiry,
            retention: settings.rules.tombstone_retention,
            fold_window: settings.rules.fold_window,
            windows: Windows::default(),
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

pub(super) fn dependency<E, R>(e: SdkError<E, R>) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    Error::aws(SERVICE, e)
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, Error> {
    serde_dynamo::to_item(value).map_err(|e| Error::Internal(format!("serializing an item: {e}")))
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn number(item: &Item, field: &str) -> Option<i64> {
    item.get(field)?.as_n().ok()?.parse().ok()
}

pub(super) fn string(item: &Item, field: &str) -> Option<String> {
    item.get(field)?.as_s().ok().cloned()
}

pub(super) fn count(item: &Item, field: &str) -> u32 {
    number(item, field).map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX))
}
