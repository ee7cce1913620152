//! The reconcile run's reads: the mappings table page by page (`Scan`, which no other
//! function is granted), and its cursor, one item of the idempotency table.

use super::{DynamoStore, Item, dependency, s};
use crate::error::Error;
use crate::ports::{Page, ReconcileStore};

/// The idempotency table's key of the cursor item (no Kombo event id looks like it).
pub const CURSOR_KEY: &str = "reconcile#cursor";

impl ReconcileStore for DynamoStore {
    async fn scan_page(&self, after: Option<&str>, limit: i32) -> Result<Page, Error> {
        let start = after.map(|id| Item::from([("integration_id".to_owned(), s(id))]));
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dependency)?;
        let rows = serde_dynamo::from_items(out.items.unwrap_or_default())
            .map_err(|e| Error::Internal(format!("reading a mapping row: {e}")))?;
        let next = out
            .last_evaluated_key
            .and_then(|k| k.get("integration_id")?.as_s().ok().cloned());
        Ok(Page { rows, next })
    }

    async fn cursor(&self) -> Result<Option<String>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(self.idempotency_table()?)
            .key("event_id", s(CURSOR_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(dependency)?;
        Ok(out.item.and_then(|i| i.get("after")?.as_s().ok().cloned()))
    }

    async fn save_cursor(&self, after: Option<&str>) -> Result<(), Error> {
        let table = self.idempotency_table()?;
        match after {
            Some(id) => self
                .client
                .put_item()
                .table_name(table)
                .item("event_id", s(CURSOR_KEY))
                .item("after", s(id))
                .send()
                .await
                .map(drop)
                .map_err(dependency),
            None => self
                .client
                .delete_item()
                .table_name(table)
                .key("event_id", s(CURSOR_KEY))
                .send()
                .await
                .map(drop)
                .map_err(dependency),
        }
    }
}
