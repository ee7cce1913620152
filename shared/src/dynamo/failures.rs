//! Failure records of the records table ([`FailureStore`]): one item per customer and tool
//! (key `failures#<customer>#<tool>`), next to the claims. A failure either opens a window
//! (and pages) or is folded into the open one; each is one conditional `UpdateItem`, so
//! concurrent failures never both page and none is counted twice. Which one is tried
//! first follows what this container last saw of the record (open first when it knows of
//! no open window: a page costs one write, a fold into a window it saw open one too).
//! Folding marks the item for the sweep (`sweep = "due"`, a sparse index keyed on it and
//! the window's start), so the sweep reads only the records that may owe a summary.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use const_format::formatcp;
use time::OffsetDateTime;

use super::expr::{Conditional, Expr};
use super::schema::records::{
    CARRIED, CATEGORY, EVENT_ID, EXPIRES_AT, FIRST_FAILURE_AT, FOLDED, FOLDED_IDS, LAST_EVENT_ID,
    LAST_FAILURE_AT, LAST_LOG_URL, ORGANIZATION_NAME, ORIGIN_ID, PENDING_SUMMARIES_INDEX,
    RECORD_TYPE, RESOLVED_AT, RESOLVED_BY, RESOLVED_TOTAL, SUMMARY_ID, SUMMARY_PENDING, SWEEP,
    SWEEP_DUE, TOOL, TOTAL, WINDOW_OPENED_BY, WINDOW_START_MS,
};
use super::store::{DynamoStore, Item, Table, count, n, number, s, string};
use crate::clock::{epoch_ms, rfc3339};
use crate::decide::failures::{
    Count, Counted, FailureKind, OnRecord, Resolving, WindowSeen, Wrote,
};
use crate::decide::{Failure, FailureRecord};
use crate::error::Error;
use crate::ports::FailureStore;

/// Tries of fold-then-open before giving up: each failed try means another failure
/// changed the window in between, so this is only reached under a storm of concurrent
/// failures for one customer (then Kombo retries).
const TRIES: usize = 4;

/// A string set of one member.
fn one_of(member: &str) -> AttributeValue {
    AttributeValue::Ss(vec![member.to_owned()])
}

/// What a refused count's item says of the window.
fn window_seen(item: &Item) -> WindowSeen {
    WindowSeen {
        opened_by: string(item, WINDOW_OPENED_BY),
        carried: count(item, CARRIED),
        folded_ids: item
            .get(FOLDED_IDS)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default(),
    }
}

fn started(item: &Item) -> i64 {
    number(item, WINDOW_START_MS).unwrap_or_default()
}

impl DynamoStore {
    /// The values every failure's write binds (and the TTL).
    fn failure_expr(&self, f: &Failure, now: OffsetDateTime) -> Expr {
        Expr::default()
            .value(":me", s(&f.event_id))
            .value(":at", s(&f.at))
            .value(":url", s(&f.log_url))
            .value(":one", n(1))
            .value(":ttl", n((now + self.retention).unix_timestamp()))
            .value(":expired", n(epoch_ms(now - self.fold_window)))
    }

    /// Folds `f` into the open window: it is open, not opened by `f` itself, and `f` is
    /// not counted in it yet.
    async fn fold(&self, f: &Failure, now: OffsetDateTime) -> Result<Conditional, Error> {
        let expr = self
            .failure_expr(f, now)
            .update(formatcp!(
                "SET #{LAST_FAILURE_AT} = :at, #{LAST_LOG_URL} = :url, #{LAST_EVENT_ID} = :me, \
                 #{EXPIRES_AT} = :ttl, #{SWEEP} = :due, #{TOTAL} = #{TOTAL} + :one \
                 ADD #{FOLDED} :one, #{FOLDED_IDS} :me_set"
            ))
            .condition(formatcp!(
                "#{WINDOW_START_MS} >= :expired AND #{WINDOW_OPENED_BY} <> :me \
                 AND NOT contains(#{FOLDED_IDS}, :me)"
            ))
            .value(":due", s(SWEEP_DUE))
            .value(":me_set", one_of(&f.event_id));
        self.update(Table::Records, &f.key, expr, ReturnValue::AllNew)
            .await
    }

    /// Opens a window with `f`: there is none, or it closed. The folded count of the
    /// window it closes is carried into this page.
    async fn open(&self, f: &Failure, now: OffsetDateTime) -> Result<Conditional, Error> {
        let mut set = String::from(formatcp!(
            "SET #{WINDOW_START_MS} = :now, #{WINDOW_OPENED_BY} = :me, \
             #{CARRIED} = if_not_exists(#{FOLDED}, :zero), #{FOLDED} = :zero, \
             #{TOTAL} = if_not_exists(#{TOTAL}, :zero) + :one, \
             #{FIRST_FAILURE_AT} = if_not_exists(#{FIRST_FAILURE_AT}, :at), \
             #{LAST_FAILURE_AT} = :at, #{LAST_LOG_URL} = :url, #{LAST_EVENT_ID} = :me, \
             #{EXPIRES_AT} = :ttl, #{ORGANIZATION_NAME} = :org, #{TOOL} = :tool, \
             #{CATEGORY} = :category, #{RECORD_TYPE} = :record"
        ));
        let mut expr = self
            .failure_expr(f, now)
            .value(":zero", n(0))
            .value(":now", n(epoch_ms(now)))
            .value(":org", s(&f.organization_name))
            .value(":tool", s(&f.tool))
            .value(":category", s(&f.category))
            .value(":record", s(f.kind.as_str()));
        if let Some(origin) = &f.origin_id {
            set.push_str(formatcp!(", #{ORIGIN_ID} = :origin"));
            expr = expr.value(":origin", s(origin));
        }
        let expr = expr
            .update(format!("{set}{}", formatcp!(" REMOVE #{FOLDED_IDS}")))
            .condition(formatcp!(
                "attribute_not_exists(#{WINDOW_START_MS}) OR #{WINDOW_START_MS} < :expired"
            ));
        self.update(Table::Records, &f.key, expr, ReturnValue::AllNew)
            .await
    }
}

impl FailureStore for DynamoStore {
    async fn count_failure(&self, f: &Failure, now: OffsetDateTime) -> Result<Count, Error> {
        let me = f.event_id.as_str();
        let mut open_first = !self.windows.open(&f.key, epoch_ms(now - self.fold_window));
        for _ in 0..TRIES {
            if open_first {
                match self.open(f, now).await? {
                    Conditional::Written(new) => {
                        self.windows.saw(&f.key, started(&new));
                        return Ok(Count {
                            counted: Counted::Page {
                                carried: count(&new, CARRIED),
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
                            if let Some(counted) = window_seen(&old).own_count(me) {
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
                    if let Some(counted) = window_seen(&old).own_count(me) {
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
        let expr = match wrote {
            Wrote::Opened { window_start_ms } => Expr::default()
                .update(formatcp!(
                    "SET #{WINDOW_START_MS} = :zero, #{FOLDED} = #{FOLDED} + #{CARRIED}, \
                     #{TOTAL} = #{TOTAL} - :one REMOVE #{CARRIED}"
                ))
                .condition(formatcp!(
                    "#{WINDOW_OPENED_BY} = :me AND #{WINDOW_START_MS} = :w"
                ))
                .value(":w", n(window_start_ms))
                .value(":zero", n(0)),
            Wrote::Folded { window_start_ms } => Expr::default()
                .update(formatcp!(
                    "SET #{FOLDED} = #{FOLDED} - :one, #{TOTAL} = #{TOTAL} - :one \
                     DELETE #{FOLDED_IDS} :me_set"
                ))
                .condition(formatcp!(
                    "contains(#{FOLDED_IDS}, :me) AND #{WINDOW_START_MS} = :w"
                ))
                .value(":w", n(window_start_ms))
                .value(":me_set", one_of(&f.event_id)),
        };
        let expr = expr.value(":me", s(&f.event_id)).value(":one", n(1));
        self.windows.forget(&f.key);
        let write = self.update(Table::Records, &f.key, expr, ReturnValue::None);
        if !write.await?.written() {
            tracing::warn!(
                event_id = f.event_id,
                "a duplicate's count was not taken back: the record moved on since"
            );
        }
        Ok(())
    }

    async fn on_record(&self, key: &str) -> Result<OnRecord, Error> {
        let projection = Expr::default().condition(formatcp!("#{TOTAL}, #{RESOLVED_BY}"));
        let item = self.get(Table::Records, key, Some(projection)).await?;
        Ok(item.map_or_else(OnRecord::default, |item| OnRecord {
            total: count(&item, TOTAL),
            resolved_by: string(&item, RESOLVED_BY),
        }))
    }

    async fn resolve(
        &self,
        key: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<Resolving, Error> {
        let expr = Expr::default()
            .update(formatcp!(
                "SET #{RESOLVED_BY} = :me, #{RESOLVED_AT} = :at, #{RESOLVED_TOTAL} = #{TOTAL}, \
                 #{TOTAL} = :zero, #{FOLDED} = :zero, #{WINDOW_START_MS} = :zero, \
                 #{EXPIRES_AT} = :ttl \
                 REMOVE #{FOLDED_IDS}, #{WINDOW_OPENED_BY}, #{FIRST_FAILURE_AT}, #{CARRIED}"
            ))
            .condition(formatcp!("#{TOTAL} > :zero"))
            .value(":me", s(event_id))
            .value(":at", s(rfc3339(now)))
            .value(":zero", n(0))
            .value(":ttl", n((now + self.retention).unix_timestamp()));
        Ok(
            match self
                .update(Table::Records, key, expr, ReturnValue::AllNew)
                .await?
            {
                Conditional::Written(new) => Resolving::Notify {
                    failed: count(&new, RESOLVED_TOTAL),
                    category: string(&new, CATEGORY).unwrap_or_default(),
                },
                Conditional::Refused(Some(old)) => Resolving::refused(
                    string(&old, RESOLVED_BY).as_deref(),
                    event_id,
                    count(&old, RESOLVED_TOTAL),
                    string(&old, CATEGORY).unwrap_or_default(),
                ),
                Conditional::Refused(None) => Resolving::Nothing,
            },
        )
    }

    async fn closed_windows(&self, closed_before_ms: i64) -> Result<Vec<FailureRecord>, Error> {
        let expr = Expr::default()
            .condition(formatcp!(
                "#{SWEEP} = :due AND #{WINDOW_START_MS} < :closed"
            ))
            .value(":due", s(SWEEP_DUE))
            .value(":closed", n(closed_before_ms));
        let items = self
            .query(Table::Records, PENDING_SUMMARIES_INDEX, expr)
            .await?;
        Ok(items.iter().filter_map(record).collect())
    }

    async fn take_summary(&self, r: &FailureRecord) -> Result<bool, Error> {
        let expr = Expr::default()
            .update(formatcp!(
                "SET #{SUMMARY_PENDING} = :n, #{SUMMARY_ID} = :sid, #{FOLDED} = :zero \
                 REMOVE #{FOLDED_IDS}"
            ))
            .condition(formatcp!(
                "#{WINDOW_START_MS} = :w AND #{FOLDED} = :n AND attribute_not_exists(#{SUMMARY_ID})"
            ))
            .value(":n", n(i64::from(r.folded)))
            .value(":sid", s(r.summary_id()))
            .value(":zero", n(0))
            .value(":w", n(r.window_start_ms));
        let write = self.update(Table::Records, &r.key, expr, ReturnValue::AllNew);
        Ok(write.await?.written())
    }

    async fn summary_sent(&self, key: &str, summary_id: &str) -> Result<(), Error> {
        // Nothing folded since: the record leaves the index too.
        let all = Expr::default()
            .update(formatcp!(
                "REMOVE #{SUMMARY_PENDING}, #{SUMMARY_ID}, #{SWEEP}"
            ))
            .condition(formatcp!(
                "#{SUMMARY_ID} = :sid AND (attribute_not_exists(#{FOLDED}) OR #{FOLDED} = :zero)"
            ))
            .value(":sid", s(summary_id))
            .value(":zero", n(0));
        let write = self.update(Table::Records, key, all, ReturnValue::None);
        if write.await?.written() {
            return Ok(());
        }
        let summary = Expr::default()
            .update(formatcp!("REMOVE #{SUMMARY_PENDING}, #{SUMMARY_ID}"))
            .condition(formatcp!("#{SUMMARY_ID} = :sid"))
            .value(":sid", s(summary_id));
        self.update(Table::Records, key, summary, ReturnValue::None)
            .await?;
        Ok(())
    }

    async fn tidy(&self, key: &str) -> Result<(), Error> {
        let expr = Expr::default()
            .update(formatcp!("REMOVE #{SWEEP}"))
            .condition(formatcp!(
                "(attribute_not_exists(#{FOLDED}) OR #{FOLDED} = :zero) \
                 AND attribute_not_exists(#{SUMMARY_ID})"
            ))
            .value(":zero", n(0));
        self.update(Table::Records, key, expr, ReturnValue::None)
            .await?;
        Ok(())
    }
}

/// A record from the index (items that do not parse are not failure records: skipped).
fn record(item: &Item) -> Option<FailureRecord> {
    let key = string(item, EVENT_ID)?;
    let summary = string(item, SUMMARY_ID).map(|id| (id, count(item, SUMMARY_PENDING)));
    Some(FailureRecord {
        kind: FailureKind::parse(&string(item, RECORD_TYPE).unwrap_or_default()),
        origin_id: string(item, ORIGIN_ID),
        organization_name: string(item, ORGANIZATION_NAME).unwrap_or_default(),
        tool: string(item, TOOL).unwrap_or_default(),
        category: string(item, CATEGORY).unwrap_or_default(),
        total: count(item, TOTAL),
        folded: count(item, FOLDED),
        window_start_ms: number(item, WINDOW_START_MS)?,
        last_log_url: string(item, LAST_LOG_URL),
        last_event_id: string(item, LAST_EVENT_ID),
        summary,
        key,
    })
}
