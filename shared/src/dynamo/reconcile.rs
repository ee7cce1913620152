//! The reconcile run's reads ([`ReconcileStore`]): the mappings table page by page (`Scan`,
//! which no other function is granted), and its cursor, one item of the records table.

use super::expr::Expr;
use super::schema::mappings::INTEGRATION_ID;
use super::schema::records::AFTER;
use super::store::{DynamoStore, Item, Table, dependency, s, string};
use crate::error::Error;
use crate::keys::RECONCILE_CURSOR;
use crate::ports::{Page, ReconcileStore};

impl ReconcileStore for DynamoStore {
    async fn scan_page(&self, after: Option<&str>, limit: i32) -> Result<Page, Error> {
        let start = after.map(|id| Self::key(Table::Mappings, id));
        let out = self
            .client
            .scan()
            .table_name(self.table(Table::Mappings)?)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dependency)?;
        let rows = serde_dynamo::from_items(out.items.unwrap_or_default())
            .map_err(|e| Error::Internal(format!("reading a mapping row: {e}")))?;
        let next = out
            .last_evaluated_key
            .and_then(|k| string(&k, INTEGRATION_ID));
        Ok(Page { rows, next })
    }

    async fn cursor(&self) -> Result<Option<String>, Error> {
        let item = self.get(Table::Records, RECONCILE_CURSOR, None).await?;
        Ok(item.and_then(|i| string(&i, AFTER)))
    }

    async fn save_cursor(&self, after: Option<&str>) -> Result<(), Error> {
        match after {
            Some(id) => {
                let mut item: Item = Self::key(Table::Records, RECONCILE_CURSOR);
                item.insert(AFTER.into(), s(id));
                self.put(Table::Records, item, Expr::default()).await?;
            }
            None => {
                self.delete(Table::Records, RECONCILE_CURSOR, Expr::default())
                    .await?;
            }
        }
        Ok(())
    }
}
