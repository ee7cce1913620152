//! Failure records: one item per customer and tool in the idempotency table (key
//! `failures#<customer>#<tool>`), next to the claims. A failure either opens a window
//! (and pages) or is folded into the open one; each is one conditional `UpdateItem`, so
//! concurrent failures never both page and none is counted twice. Folding marks the item
//! for the sweep (`sweep = "due"`, a sparse index keyed on it and the window's start), so
//! the sweep reads only the records that may owe a summary.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use super::{DynamoStore, Item, dependency, every_item, millis, n, s, written};
use crate::decide::{Failure, FailureRecord, rfc3339};
use crate::error::Error;
use crate::ports::{Counted, FailureStore, Resolving};

/// The sparse index of the records the sweep may have to report on (template.yaml).
pub const PENDING_SUMMARIES_INDEX: &str = "pending-summaries";

/// The value of `sweep` on a record with folded failures.
const DUE: &str = "due";

/// Tries of fold-then-open before giving up: each failed try means another failure
/// changed the window in between, so this is only reached under a storm of concurrent
/// failures for one customer (then Kombo retries).
const TRIES: usize = 4;

/// What a conditional write did: `Written` with the item after it, or `Refused` (its
/// condition did not hold) with the item that stands, if any.
enum Conditional {
    Written(Item),
    Refused(Option<Item>),
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

fn has(item: &Item, set: &str, member: &str) -> bool {
    item.get(set)
        .and_then(|v| v.as_ss().ok())
        .is_some_and(|ids| ids.iter().any(|id| id == member))
}

impl DynamoStore {
    fn update_record(&self, key: &str) -> Result<UpdateItemFluentBuilder, Error> {
        Ok(self
            .client
            .update_item()
            .table_name(self.idempotency_table()?)
            .key("event_id", s(key)))
    }

    async fn conditional(&self, write: UpdateItemFluentBuilder) -> Result<Conditional, Error> {
        let result = write
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Conditional::Written(out.attributes.unwrap_or_default())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => Ok(
                    Conditional::Refused(failed.item().filter(|i| !i.is_empty()).cloned()),
                ),
                _ => Err(dependency(e)),
            },
        }
    }

    /// The fields every failure sets (and the TTL), for both writes.
    fn failure_values(&self, f: &Failure, now: OffsetDateTime) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (":me".to_owned(), s(&f.event_id)),
            (":at".to_owned(), s(&f.at)),
            (":url".to_owned(), s(&f.log_url)),
            (":one".to_owned(), n(1)),
            (
                ":ttl".to_owned(),
                n((now + self.retention).unix_timestamp()),
            ),
            (":expired".to_owned(), n(millis(now - self.fold_window))),
        ])
    }

    /// Folds `f` into the open window: it is open, not opened by `f` itself, and `f` is
    /// not counted in it yet.
    async fn fold(&self, f: &Failure, now: OffsetDateTime) -> Result<Conditional, Error> {
        let write = self
            .update_record(&f.key)?
            .update_expression(
                "SET last_failure_at = :at, last_log_url = :url, last_event_id = :me, \
                 expires_at = :ttl, sweep = :due, #total = #total + :one \
                 ADD folded :one, folded_ids :me_set",
            )
            .condition_expression(
                "window_start_ms >= :expired AND window_opened_by <> :me \
                 AND NOT contains(folded_ids, :me)",
            )
            .expression_attribute_names("#total", "total")
            .set_expression_attribute_values(Some(self.failure_values(f, now)))
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":me_set", AttributeValue::Ss(vec![f.event_id.clone()]));
        self.conditional(write).await
    }

    /// Opens a window with `f`: there is none, or it closed. The folded count of the
    /// window it closes is carried into this page.
    async fn open(&self, f: &Failure, now: OffsetDateTime) -> Result<Conditional, Error> {
        let mut values = self.failure_values(f, now);
        values.insert(":zero".into(), n(0));
        values.insert(":now".into(), n(millis(now)));
        values.insert(":org".into(), s(&f.organization_name));
        values.insert(":tool".into(), s(&f.tool));
        values.insert(":category".into(), s(&f.category));
        values.insert(":record".into(), s("connection-failures"));
        let mut set = String::from(
            "SET window_start_ms = :now, window_opened_by = :me, \
             carried = if_not_exists(folded, :zero), folded = :zero, \
             #total = if_not_exists(#total, :zero) + :one, \
             first_failure_at = if_not_exists(first_failure_at, :at), \
             last_failure_at = :at, last_log_url = :url, last_event_id = :me, \
             expires_at = :ttl, organization_name = :org, tool = :tool, \
             category = :category, record_type = :record",
        );
        if let Some(origin) = &f.origin_id {
            set.push_str(", origin_id = :origin");
            values.insert(":origin".into(), s(origin));
        }
        let write = self
            .update_record(&f.key)?
            .update_expression(format!("{set} REMOVE folded_ids"))
            .condition_expression(
                "attribute_not_exists(window_start_ms) OR window_start_ms < :expired",
            )
            .expression_attribute_names("#total", "total")
            .set_expression_attribute_values(Some(values));
        self.conditional(write).await
    }
}

impl FailureStore for DynamoStore {
    async fn count_failure(&self, f: &Failure, now: OffsetDateTime) -> Result<Counted, Error> {
        let me = f.event_id.as_str();
        // Whether a refused write shows this failure's own earlier try.
        let own = |old: &Item| -> Option<Counted> {
            if string(old, "window_opened_by").as_deref() == Some(me) {
                return Some(Counted::Page {
                    carried: count(old, "carried"),
                });
            }
            has(old, "folded_ids", me).then_some(Counted::Folded)
        };
        for _ in 0..TRIES {
            match self.fold(f, now).await? {
                Conditional::Written(_) => return Ok(Counted::Folded),
                Conditional::Refused(Some(old)) => {
                    if let Some(counted) = own(&old) {
                        return Ok(counted);
                    }
                }
                Conditional::Refused(None) => {}
            }
            match self.open(f, now).await? {
                Conditional::Written(new) => {
                    return Ok(Counted::Page {
                        carried: count(&new, "carried"),
                    });
                }
                // Opened meanwhile by someone else (then fold again) or by this failure's
                // own earlier try.
                Conditional::Refused(old) => {
                    if let Some(counted) = old.as_ref().and_then(own) {
                        return Ok(counted);
                    }
                }
            }
        }
        Err(Error::Internal(format!(
            "failure record {} changed under {TRIES} tries; the retry counts it",
            f.key
        )))
    }

    async fn resolve(
        &self,
        key: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<Resolving, Error> {
        let write = self
            .update_record(key)?
            .update_expression(
                "SET resolved_by = :me, resolved_at = :at, resolved_total = #total, \
                 #total = :zero, folded = :zero, window_start_ms = :zero, expires_at = :ttl \
                 REMOVE folded_ids, window_opened_by, first_failure_at, carried",
            )
            .condition_expression("#total > :zero")
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":me", s(event_id))
            .expression_attribute_values(":at", s(rfc3339(now)))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":ttl", n((now + self.retention).unix_timestamp()));
        Ok(match self.conditional(write).await? {
            Conditional::Written(new) => Resolving::Notify {
                failed: count(&new, "resolved_total"),
                category: string(&new, "category").unwrap_or_default(),
            },
            // This create resolved it before (a retry whose notice may not have gone out;
            // the notice's claim decides).
            Conditional::Refused(Some(old))
                if string(&old, "resolved_by").as_deref() == Some(event_id) =>
            {
                Resolving::Notify {
                    failed: count(&old, "resolved_total"),
                    category: string(&old, "category").unwrap_or_default(),
                }
            }
            Conditional::Refused(_) => Resolving::Nothing,
        })
    }

    async fn closed_windows(&self, closed_before_ms: i64) -> Result<Vec<FailureRecord>, Error> {
        let query = self
            .client
            .query()
            .table_name(self.idempotency_table()?)
            .index_name(PENDING_SUMMARIES_INDEX)
            .key_condition_expression("sweep = :due AND window_start_ms < :closed")
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":closed", n(closed_before_ms));
        Ok(every_item(query).await?.iter().filter_map(record).collect())
    }

    async fn take_summary(&self, r: &FailureRecord) -> Result<bool, Error> {
        let write = self
            .update_record(&r.key)?
            .update_expression(
                "SET summary_pending = :n, summary_id = :sid, folded = :zero REMOVE folded_ids",
            )
            .condition_expression(
                "window_start_ms = :w AND folded = :n AND attribute_not_exists(summary_id)",
            )
            .expression_attribute_values(":n", n(i64::from(r.folded)))
            .expression_attribute_values(":sid", s(r.summary_id()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":w", n(r.window_start_ms));
        Ok(matches!(
            self.conditional(write).await?,
            Conditional::Written(_)
        ))
    }

    async fn summary_sent(&self, key: &str, summary_id: &str) -> Result<(), Error> {
        // Nothing folded since: the record leaves the index too.
        let all = self
            .update_record(key)?
            .update_expression("REMOVE summary_pending, summary_id, sweep")
            .condition_expression(
                "summary_id = :sid AND (attribute_not_exists(folded) OR folded = :zero)",
            )
            .expression_attribute_values(":sid", s(summary_id))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        if written(all)? {
            return Ok(());
        }
        let summary = self
            .update_record(key)?
            .update_expression("REMOVE summary_pending, summary_id")
            .condition_expression("summary_id = :sid")
            .expression_attribute_values(":sid", s(summary_id))
            .send()
            .await;
        written(summary)?;
        Ok(())
    }

    async fn tidy(&self, key: &str) -> Result<(), Error> {
        let write = self
            .update_record(key)?
            .update_expression("REMOVE sweep")
            .condition_expression(
                "(attribute_not_exists(folded) OR folded = :zero) AND attribute_not_exists(summary_id)",
            )
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        written(write)?;
        Ok(())
    }
}

/// A record from the index (items that do not parse are not failure records: skipped).
fn record(item: &Item) -> Option<FailureRecord> {
    let key = string(item, "event_id")?;
    let summary = string(item, "summary_id").map(|id| (id, count(item, "summary_pending")));
    Some(FailureRecord {
        origin_id: string(item, "origin_id"),
        organization_name: string(item, "organization_name").unwrap_or_default(),
        tool: string(item, "tool").unwrap_or_default(),
        category: string(item, "category").unwrap_or_default(),
        total: count(item, "total"),
        folded: count(item, "folded"),
        window_start_ms: number(item, "window_start_ms")?,
        last_log_url: string(item, "last_log_url"),
        last_event_id: string(item, "last_event_id"),
        summary,
        key,
    })
}
