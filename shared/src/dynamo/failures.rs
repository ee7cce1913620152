//! Failure records: one item per customer and tool in the idempotency table (key
//! `failures#<customer>#<tool>`), next to the claims. A failure either opens a window
//! (and pages) or is folded into the open one; each is one conditional `UpdateItem`, so
//! concurrent failures never both page and none is counted twice. Which one is tried
//! first follows what this container last saw of the record (open first when it knows of
//! no open window: a page costs one write, a fold into a window it saw open one too). Folding marks the item
//! for the sweep (`sweep = "due"`, a sparse index keyed on it and the window's start), so
//! the sweep reads only the records that may owe a summary.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use super::{DynamoStore, Item, dependency, every_item, n, s, written};

/// Per container: when each failure record's window that this container last saw opened
/// (epoch ms), so a failure tries the write that most likely applies first. Only a guess:
/// the conditions decide, and a wrong guess costs one refused write.
#[derive(Debug, Default, Clone)]
pub(super) struct Windows(std::sync::Arc<std::sync::Mutex<HashMap<String, i64>>>);

impl Windows {
    /// Kept small: a container sees few customers' storms at once.
    const MAX: usize = 1024;

    fn open(&self, key: &str, expired_ms: i64) -> bool {
        let seen = self.0.lock().map(|w| w.get(key).copied()).unwrap_or(None);
        seen.is_some_and(|start| start >= expired_ms)
    }

    fn saw(&self, key: &str, window_start_ms: i64) {
        if let Ok(mut w) = self.0.lock() {
            if w.len() >= Self::MAX && !w.contains_key(key) {
                w.clear();
            }
            w.insert(key.to_owned(), window_start_ms);
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut w) = self.0.lock() {
            w.remove(key);
        }
    }
}
use crate::decide::{Failure, FailureRecord, epoch_ms, rfc3339};
use crate::error::Error;
use crate::ports::{Count, Counted, FailureStore, OnRecord, Resolving, Wrote};

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
pub(super) enum Conditional {
    Written(Item),
    Refused(Option<Item>),
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

fn has(item: &Item, set: &str, member: &str) -> bool {
    item.get(set)
        .and_then(|v| v.as_ss().ok())
        .is_some_and(|ids| ids.iter().any(|id| id == member))
}

impl DynamoStore {
    pub(super) fn update_record(&self, key: &str) -> Result<UpdateItemFluentBuilder, Error> {
        Ok(self
            .client
            .update_item()
            .table_name(self.idempotency_table()?)
            .key("event_id", s(key)))
    }

    async fn conditional(&self, write: UpdateItemFluentBuilder) -> Result<Conditional, Error> {
        self.conditional_returning(write, ReturnValue::AllNew).await
    }

    /// [`Self::conditional`] with `values` (`ALL_NEW`, `ALL_OLD`, ...) returned when written.
    pub(super) async fn conditional_returning(
        &self,
        write: UpdateItemFluentBuilder,
        values: ReturnValue,
    ) -> Result<Conditional, Error> {
        let result = write
            .return_values(values)
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
            (":expired".to_owned(), n(epoch_ms(now - self.fold_window))),
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
        values.insert(":now".into(), n(epoch_ms(now)));
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
    async fn count_failure(&self, f: &Failure, now: OffsetDateTime) -> Result<Count, Error> {
        let me = f.event_id.as_str();
        // Whether a refused write shows this failure's own earlier try.
        let own = |old: &Item| -> Option<Count> {
            let counted = if string(old, "window_opened_by").as_deref() == Some(me) {
                Counted::Page {
                    carried: count(old, "carried"),
                }
            } else if has(old, "folded_ids", me) {
                Counted::Folded
            } else {
                return None;
            };
            Some(Count {
                counted,
                wrote: None,
            })
        };
        let started = |item: &Item| number(item, "window_start_ms").unwrap_or_default();
        let mut open_first = !self.windows.open(&f.key, epoch_ms(now - self.fold_window));
        for _ in 0..TRIES {
            if open_first {
                match self.open(f, now).await? {
                    Conditional::Written(new) => {
                        self.windows.saw(&f.key, started(&new));
                        return Ok(Count {
                            counted: Counted::Page {
                                carried: count(&new, "carried"),
                            },
                            wrote: Some(Wrote::Opened {
                                window_start_ms: started(&new),
                            }),
                        });
                    }
                    // Open (by someone else: fold into it) or opened by this failure's own
                    // earlier try.
                    Conditional::Refused(old) => {
                        if let Some(old) = old {
                            if let Some(counted) = own(&old) {
                                return Ok(counted);
                            }
                            self.windows.saw(&f.key, started(&old));
                        }
                    }
                }
            }
            open_first = true;
            match self.fold(f, now).await? {
                Conditional::Written(new) => {
                    self.windows.saw(&f.key, started(&new));
                    return Ok(Count {
                        counted: Counted::Folded,
                        wrote: Some(Wrote::Folded {
                            window_start_ms: started(&new),
                        }),
                    });
                }
                Conditional::Refused(Some(old)) => {
                    if let Some(counted) = own(&old) {
                        return Ok(counted);
                    }
                }
                // No record, or its window closed meanwhile: open.
                Conditional::Refused(None) => {}
            }
        }
        Err(Error::Internal(format!(
            "failure record {} changed under {TRIES} tries; the retry counts it",
            f.key
        )))
    }

    async fn uncount(&self, f: &Failure, wrote: Wrote) -> Result<(), Error> {
        let write = match wrote {
            Wrote::Opened { window_start_ms } => self
                .update_record(&f.key)?
                .update_expression(
                    "SET window_start_ms = :zero, folded = folded + carried, \
                     #total = #total - :one REMOVE carried",
                )
                .condition_expression("window_opened_by = :me AND window_start_ms = :w")
                .expression_attribute_values(":w", n(window_start_ms)),
            Wrote::Folded { window_start_ms } => self
                .update_record(&f.key)?
                .update_expression(
                    "SET folded = folded - :one, #total = #total - :one DELETE folded_ids :me_set",
                )
                .condition_expression("contains(folded_ids, :me) AND window_start_ms = :w")
                .expression_attribute_values(":w", n(window_start_ms))
                .expression_attribute_values(
                    ":me_set",
                    AttributeValue::Ss(vec![f.event_id.clone()]),
                ),
        };
        let mut write = write
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":me", s(&f.event_id))
            .expression_attribute_values(":one", n(1));
        if matches!(wrote, Wrote::Opened { .. }) {
            write = write.expression_attribute_values(":zero", n(0));
        }
        self.windows.forget(&f.key);
        if !written(write.send().await)? {
            tracing::warn!(
                event_id = f.event_id,
                "a duplicate's count was not taken back: the record moved on since"
            );
        }
        Ok(())
    }

    async fn on_record(&self, key: &str) -> Result<OnRecord, Error> {
        let read = self
            .client
            .get_item()
            .table_name(self.idempotency_table()?)
            .key("event_id", s(key))
            .consistent_read(true)
            .projection_expression("#total, resolved_by")
            .expression_attribute_names("#total", "total")
            .send()
            .await
            .map_err(dependency)?;
        Ok(read.item().map_or_else(OnRecord::default, |item| OnRecord {
            total: count(item, "total"),
            resolved_by: string(item, "resolved_by"),
        }))
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
