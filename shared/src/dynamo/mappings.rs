//! The mappings table's rows ([`MappingStore`]): the create, the tombstone, the state write
//! and the INVALID page's claim on the row, assignments, and the customer index. Each
//! change is one conditional `UpdateItem` that returns the row it replaced or the row that
//! refused it; what that row means is [`crate::decide`]'s.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use const_format::formatcp;

use super::expr::{Conditional, Expr};
use super::schema::mappings::{
    BY_ORIGIN_INDEX, CATEGORY, CONNECT_TOKEN_SHA256, CREATED_AT, CREATED_EVENT_ID, INTEGRATION_ID,
    INVALID_EVENT_ID, INVALID_PAGE, ISSUE_SINCE_MS, LAST_EVENT_ID, ORIGIN_ID, QA_BEFORE, QA_STATUS,
    RECOVERED_EVENT_ID, SETUP_STATUS, STATE, STATE_BEFORE, STATE_EVENT_ID, STATE_UPDATED_AT_MS,
    STATUS, UNUSABLE_REASON, UPDATED_AT, USABLE, issue, issue_of,
};
use super::store::{DynamoStore, Item, Table, s, to_item};
use crate::decide::create::{self, Inserted};
use crate::decide::issues::{Episode, OnRow, RowIssue, RowSaw};
use crate::decide::routes::{Assigned, Tombstoned};
use crate::decide::row::{RowSeen, Unusable};
use crate::decide::state::{self, INVALID, NO_STATE, StateResult};
use crate::decide::{Mapping, StateUpdate, Status, Tombstone};
use crate::error::Error;
use crate::keys;
use crate::ports::{Assignment, MappingStore};

/// Fields a create always sets; the rest of the row (`created_at` and `created_event_id`
/// included) it only fills where absent, so it completes a row a state change recorded, or
/// the row a Connect completion stored, without overwriting what that row holds.
const CREATE_SETS: [&str; 3] = [STATUS, UPDATED_AT, LAST_EVENT_ID];

/// "May this state update be applied": the row is new, or not deleted and holds no
/// newer state. `<=`: the same update applies again (a retry after a failed alert).
const STATE_APPLIES: &str = formatcp!(
    "(attribute_not_exists(#{INTEGRATION_ID}) OR (#{STATUS} <> :deleted \
     AND (attribute_not_exists(#{STATE_UPDATED_AT_MS}) OR #{STATE_UPDATED_AT_MS} <= :ms)))"
);

/// The update that sets `row`'s `usable` and `unusable_reason` to what its fields say
/// ([`Mapping::usable_now`], [`Mapping::unusable_now`]; the reason removed where usable), after
/// the assignments `also` (each followed by `, `).
fn usable_set(row: &Mapping, also: &str) -> Expr {
    let expr = Expr::default().value(":usable", AttributeValue::Bool(row.usable_now()));
    match row.unusable_now() {
        None => expr.update(format!(
            "SET {also}{}",
            formatcp!("#{USABLE} = :usable REMOVE #{UNUSABLE_REASON}")
        )),
        Some(r) => expr
            .update(format!(
                "SET {also}{}",
                formatcp!("#{USABLE} = :usable, #{UNUSABLE_REASON} = :reason")
            ))
            .value(":reason", s(r.as_str())),
    }
}

/// `status` of a tombstone, as the conditions compare it.
fn deleted() -> AttributeValue {
    s(Status::Deleted.as_str())
}

/// `usable` and `unusable_reason` as a write sets them (`reason` `None`: usable, and no
/// reason written).
fn usability(item: &mut Item, reason: Option<Unusable>) {
    item.insert(USABLE.into(), AttributeValue::Bool(reason.is_none()));
    if let Some(r) = reason {
        item.insert(UNUSABLE_REASON.into(), s(r.as_str()));
    }
}

/// Splits `item` into what a write always sets (`always`) and what it only fills where
/// absent; the key is left out (an update names it as the key).
fn split(mut item: Item, always: &[&str]) -> (Item, Item) {
    item.remove(INTEGRATION_ID);
    let set = always
        .iter()
        .filter_map(|k| item.remove_entry(*k))
        .collect();
    (set, item)
}

/// The row a create's write leaves: what it always sets from `written`, everything else as
/// `old` held it where `old` had it (the write's `if_not_exists`).
fn after_create(mut written: Item, old: &Item) -> Option<Mapping> {
    for (k, v) in old {
        if !CREATE_SETS.contains(&k.as_str()) {
            written.insert(k.clone(), v.clone());
        }
    }
    serde_dynamo::from_item(written).ok()
}

/// A row as the backend answers it: the mapping, with its open issues read from its
/// `issue#<id>` attributes.
fn mapping(mut item: Item) -> Result<Mapping, Error> {
    let issues: Vec<(String, AttributeValue)> = item
        .keys()
        .filter(|k| issue_of(k).is_some())
        .cloned()
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|k| item.remove_entry(&k))
        .collect();
    let mut m: Mapping = serde_dynamo::from_item(item)
        .map_err(|e| Error::Internal(format!("reading a mapping row: {e}")))?;
    for (name, value) in issues {
        let id = issue_of(&name).unwrap_or_default();
        if let Ok(entry) = serde_dynamo::from_attribute_value::<_, RowIssue>(value)
            && let Some(open) = entry.open(id)
        {
            m.open_issues.push(open);
        }
    }
    m.open_issues.sort_by(|a, b| a.since.cmp(&b.since));
    Ok(m)
}

/// What a write's returned item says of the row (`None`: no row, or none returned).
fn seen(item: Option<&Item>) -> Option<RowSeen> {
    let item = item.filter(|i| !i.is_empty())?;
    serde_dynamo::from_item(item.clone()).ok()
}

impl MappingStore for DynamoStore {
    async fn insert(&self, m: &Mapping) -> Result<Inserted, Error> {
        let mut item = to_item(m)?;
        usability(&mut item, m.unusable_now());
        let (always, if_absent) = split(item.clone(), &CREATE_SETS);
        let mut expr = Expr::default();
        let sets = expr.assignments(always, if_absent);
        // New, or a row a state change recorded before its create (no `created_at`); for a
        // webhook's create also the row a Connect completion stored first, once.
        let mut condition = String::from(formatcp!(
            "attribute_not_exists(#{INTEGRATION_ID}) OR \
             (attribute_not_exists(#{CREATED_AT}) AND #{STATUS} <> :deleted)"
        ));
        if create::fills_connect_row(m) {
            condition.push_str(formatcp!(
                " OR (begins_with(#{CREATED_EVENT_ID}, :connect) AND \
                 attribute_not_exists(#{CATEGORY}) AND #{STATUS} <> :deleted)"
            ));
            expr = expr.value(":connect", s(keys::CONNECT));
        }
        let expr = expr
            .update(format!("SET {sets}"))
            .condition(condition)
            .value(":deleted", deleted());
        let event_id = m.created_event_id.as_deref().unwrap_or(&m.last_event_id);
        match self
            .update(
                Table::Mappings,
                &m.integration_id,
                expr,
                ReturnValue::AllOld,
            )
            .await?
        {
            Conditional::Written(old_item) if old_item.is_empty() => Ok(Inserted::Stored),
            Conditional::Written(old_item) => {
                let old = seen(Some(&old_item)).unwrap_or_default();
                let mut row = after_create(item, &old_item).map(Box::new);
                // A row written before `usable` existed (a state change recorded by an
                // earlier version): the create's `usable = true` may not be what its state
                // says. Rare (an upgrade meeting a create that had not arrived): one more write.
                if let Some(r) = row
                    .as_mut()
                    .filter(|r| !old_item.contains_key(USABLE) && Some(r.usable_now()) != r.usable)
                    && self.settle_usable(r).await?
                {
                    r.usable = Some(r.usable_now());
                    r.unusable_reason = r.unusable_now();
                }
                if old_item.contains_key(CREATED_AT) {
                    // The Connect completion's row, now filled in.
                    return Ok(Inserted::Exists {
                        status: Status::Active,
                        own: old.created_by(event_id),
                        row,
                    });
                }
                Ok(Inserted::Completed { row })
            }
            Conditional::Refused(item) => {
                let old = seen(item.as_ref()).unwrap_or_default();
                let row = item
                    .and_then(|i| serde_dynamo::from_item::<_, Mapping>(i).ok())
                    .map(Box::new);
                Ok(Inserted::Exists {
                    status: if old.deleted() {
                        Status::Deleted
                    } else {
                        Status::Active
                    },
                    own: old.created_by(event_id),
                    row,
                })
            }
        }
    }

    async fn note_token(
        &self,
        integration_id: &str,
        origin_id: &str,
        token_sha256: &str,
    ) -> Result<bool, Error> {
        let expr = Expr::default()
            .update(formatcp!("SET #{CONNECT_TOKEN_SHA256} = :h"))
            .condition(formatcp!("#{ORIGIN_ID} = :o AND #{STATUS} <> :deleted"))
            .value(":h", s(token_sha256))
            .value(":o", s(origin_id))
            .value(":deleted", deleted());
        let write = self.update(Table::Mappings, integration_id, expr, ReturnValue::None);
        Ok(write.await?.written())
    }

    async fn fill_setup(&self, row: &Mapping) -> Result<bool, Error> {
        let Some(setup) = row.setup_status.as_deref() else {
            return Ok(false);
        };
        let expr = usable_set(row, formatcp!("#{SETUP_STATUS} = :setup, "))
            .condition(formatcp!(
                "attribute_not_exists(#{SETUP_STATUS}) AND #{STATUS} <> :deleted"
            ))
            .value(":setup", s(setup))
            .value(":deleted", deleted());
        let write = self.update(
            Table::Mappings,
            &row.integration_id,
            expr,
            ReturnValue::None,
        );
        Ok(write.await?.written())
    }

    async fn tombstone(&self, t: &Tombstone) -> Result<Tombstoned, Error> {
        let mut mark = to_item(&t.mark)?;
        usability(&mut mark, Some(Unusable::Deleted));
        let mut expr = Expr::default();
        let sets = expr.assignments(mark, to_item(&t.descriptive)?);
        let expr = expr
            .update(format!("SET {sets}"))
            .condition(formatcp!(
                "attribute_not_exists(#{STATUS}) OR #{STATUS} <> :deleted"
            ))
            .value(":deleted", deleted());
        let write = self.update(Table::Mappings, &t.integration_id, expr, ReturnValue::None);
        Ok(if write.await?.written() {
            Tombstoned::Marked
        } else {
            Tombstoned::AlreadyDeleted
        })
    }

    async fn update_state(
        &self,
        u: &StateUpdate,
        page_claim: Option<&str>,
    ) -> Result<StateResult, Error> {
        let page_claim = u.page_claim(page_claim);
        Ok(match self.state_write(u, page_claim).await? {
            Conditional::Written(old) => state::written(u, seen(Some(&old)).as_ref(), page_claim),
            Conditional::Refused(stood) => {
                state::refused(u, seen(stood.as_ref()).as_ref(), page_claim)
            }
        })
    }

    async fn swap_page_claim(
        &self,
        integration_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<bool, Error> {
        let expr = match from {
            Some(from) => Expr::default()
                .condition(formatcp!("#{INVALID_PAGE} = :from"))
                .value(":from", s(from)),
            None => Expr::default()
                .condition(formatcp!(
                    "attribute_not_exists(#{INVALID_PAGE}) AND #{STATE} = :invalid"
                ))
                .value(":invalid", s(INVALID)),
        };
        let expr = match to {
            Some(to) => expr
                .update(formatcp!("SET #{INVALID_PAGE} = :to"))
                .value(":to", s(to)),
            None => expr.update(formatcp!("REMOVE #{INVALID_PAGE}")),
        };
        let write = self.update(Table::Mappings, integration_id, expr, ReturnValue::None);
        Ok(write.await?.written())
    }

    async fn note_recovery(&self, integration_id: &str, event_id: &str) -> Result<(), Error> {
        let expr = Expr::default()
            .update(formatcp!("SET #{RECOVERED_EVENT_ID} = :me"))
            .condition(formatcp!("#{STATE_EVENT_ID} = :me"))
            .value(":me", s(event_id));
        // Refused: a newer state stands already; its writer decided for itself.
        self.update(Table::Mappings, integration_id, expr, ReturnValue::None)
            .await?;
        Ok(())
    }

    async fn assign(&self, a: &Assignment) -> Result<Assigned, Error> {
        let always = Item::from([
            (ORIGIN_ID.to_owned(), s(&a.origin_id)),
            (UPDATED_AT.to_owned(), s(&a.updated_at)),
            (LAST_EVENT_ID.to_owned(), s(&a.cause)),
        ]);
        let mut if_absent = Item::new();
        if let Some(d) = &a.create {
            if_absent = to_item(d)?;
            if_absent.remove(ORIGIN_ID);
            if_absent.insert(STATUS.into(), s(Status::Active.as_str()));
            if_absent.insert(USABLE.into(), AttributeValue::Bool(true));
        }
        // Never on a tombstone; never a no-op write; another customer's only with force.
        let mut condition = String::from(formatcp!(
            "attribute_exists(#{INTEGRATION_ID}) AND #{STATUS} <> :deleted AND \
             (attribute_not_exists(#{ORIGIN_ID}) OR #{ORIGIN_ID} <> :origin)"
        ));
        if !a.force {
            condition.push_str(formatcp!(" AND attribute_not_exists(#{ORIGIN_ID})"));
        }
        if a.create.is_some() {
            condition = format!(
                "{} OR ({condition})",
                formatcp!("attribute_not_exists(#{INTEGRATION_ID})")
            );
        }
        let mut expr = Expr::default();
        let sets = expr.assignments(always, if_absent);
        let expr = expr
            .update(format!("SET {sets}"))
            .condition(condition)
            .value(":origin", s(&a.origin_id))
            .value(":deleted", deleted());
        let write = self.update(
            Table::Mappings,
            &a.integration_id,
            expr,
            ReturnValue::AllOld,
        );
        Ok(match write.await? {
            Conditional::Written(old) => match seen(Some(&old)) {
                None => Assigned::Created,
                Some(old) => Assigned::Assigned {
                    previous: old.origin_id,
                },
            },
            Conditional::Refused(stood) => match seen(stood.as_ref()) {
                None => Assigned::NotFound,
                Some(old) if old.deleted() => Assigned::Deleted,
                Some(RowSeen {
                    origin_id: Some(current),
                    ..
                }) if current == a.origin_id => Assigned::Unchanged,
                Some(RowSeen {
                    origin_id: Some(current),
                    ..
                }) => Assigned::Conflict { current },
                // Cannot fail otherwise; treat as a lost race and let the caller retry.
                Some(_) => {
                    return Err(Error::Internal(
                        "assignment condition failed on an unassigned row".into(),
                    ));
                }
            },
        })
    }

    async fn settle_usable(&self, row: &Mapping) -> Result<bool, Error> {
        let mut condition = String::from(formatcp!("#{STATUS} = :status"));
        let mut expr = usable_set(row, "").value(":status", s(row.status.as_str()));
        // Only while the fields it follows from are still what `row` read.
        for (name, placeholder, value) in [
            (formatcp!("#{STATE}"), ":state", &row.state),
            (formatcp!("#{SETUP_STATUS}"), ":setup", &row.setup_status),
            (formatcp!("#{QA_STATUS}"), ":qa", &row.qa_status),
        ] {
            match value {
                Some(v) => {
                    condition.push_str(&format!(" AND {name} = {placeholder}"));
                    expr = expr.value(placeholder, s(v));
                }
                None => condition.push_str(&format!(" AND attribute_not_exists({name})")),
            }
        }
        let write = self.update(
            Table::Mappings,
            &row.integration_id,
            expr.condition(condition),
            ReturnValue::None,
        );
        Ok(write.await?.written())
    }

    async fn row(&self, integration_id: &str) -> Result<Option<Mapping>, Error> {
        let item = self.get(Table::Mappings, integration_id, None).await?;
        item.map(mapping).transpose()
    }

    async fn note_issue(&self, row: &OnRow) -> Result<RowSaw, Error> {
        let entry = serde_dynamo::to_attribute_value(&row.issue)
            .map_err(|e| Error::Internal(format!("serializing a row's entry: {e}")))?;
        let mut if_absent = to_item(&row.descriptive)?;
        if_absent.insert(STATUS.into(), s(Status::Active.as_str()));
        if_absent.insert(LAST_EVENT_ID.into(), s(&row.event_id));
        usability(&mut if_absent, None);
        let always = Item::from([(UPDATED_AT.to_owned(), s(&row.updated_at))]);
        let mut expr = Expr::default();
        let sets = expr.assignments(always, if_absent);
        // A raise opens its episode over no entry or an older one; a resolution marks its
        // episode (or an older one still open) resolved, or is kept for a raise that comes
        // after it.
        let newer = if row.issue.resolved_ms.is_some() {
            "<="
        } else {
            "<"
        };
        let expr = expr
            .update(format!("SET #issue = :entry, {sets}"))
            .condition(format!(
                "{} AND (attribute_not_exists(#issue) OR #issue.{} {newer} :since)",
                formatcp!("(attribute_not_exists(#{STATUS}) OR #{STATUS} <> :deleted)"),
                formatcp!("#{ISSUE_SINCE_MS}"),
            ))
            .name("#issue", issue(&row.issue_id))
            .value(":entry", entry)
            .value(":since", super::store::n(row.issue.since_ms))
            .value(":deleted", deleted());
        let write = self.update(
            Table::Mappings,
            &row.integration_id,
            expr,
            ReturnValue::None,
        );
        Ok(match write.await? {
            Conditional::Written(_) => RowSaw::Written,
            Conditional::Refused(stood) => {
                let stands = stood
                    .as_ref()
                    .and_then(|item| item.get(&issue(&row.issue_id)).cloned())
                    .and_then(|v| serde_dynamo::from_attribute_value::<_, RowIssue>(v).ok());
                let deleted = stood
                    .as_ref()
                    .and_then(|i| seen(Some(i)))
                    .is_some_and(|r| r.deleted());
                if deleted {
                    RowSaw::Deleted
                } else if row.issue.resolved_ms.is_some() {
                    RowSaw::Already
                } else {
                    let episode = Episode {
                        issue_id: row.issue_id.clone(),
                        first_observed_ms: row.issue.since_ms,
                    };
                    RowSaw::refused_raise(stands.as_ref(), &episode)
                }
            }
        })
    }

    async fn by_origin(&self, origin_id: &str) -> Result<Vec<Mapping>, Error> {
        let expr = Expr::default()
            .condition(formatcp!("#{ORIGIN_ID} = :o"))
            .value(":o", s(origin_id));
        let items = self.query(Table::Mappings, BY_ORIGIN_INDEX, expr).await?;
        items.into_iter().map(mapping).collect()
    }
}

impl DynamoStore {
    /// A state update: one `UpdateItem`, applied unless the row is a tombstone, holds a
    /// newer state, or holds this event's own state already (a retry: nothing to write, the
    /// row tells what its first try did). It sets the state, `usable`, the event that wrote
    /// it (`state_event_id`) and the state and QA status it replaced (`state_before`,
    /// `qa_before`); fills the
    /// descriptive fields where absent (a row is made for an integration not seen yet); keeps
    /// `invalid_event_id` naming the event that opened the current INVALID period (set where
    /// absent by an INVALID, removed by any other state), and the period's page claim
    /// (`page_claim` set where none stands). Written: with the row before it (empty: there
    /// was none); refused: with the row that stands.
    async fn state_write(
        &self,
        u: &StateUpdate,
        page_claim: Option<&str>,
    ) -> Result<Conditional, Error> {
        let me = u.fields.last_event_id.as_str();
        let mut always = to_item(&u.fields)?;
        always.insert(STATE_EVENT_ID.into(), s(me));
        // The row is not a tombstone (the condition): usable follows from this state.
        let reason = u.unusable();
        usability(&mut always, reason);
        let mut if_absent = to_item(&u.descriptive)?;
        if_absent.insert(STATUS.into(), s(Status::Active.as_str()));
        let mut expr = Expr::default();
        let sets = expr.assignments(always, if_absent);
        // First in the expression: the state as it was (DynamoDB reads every operand from
        // the item before the update; emulators that apply actions in order agree then).
        let mut update = format!(
            "{} {sets}",
            formatcp!(
                "SET #{STATE_BEFORE} = if_not_exists(#{STATE}, :none), #{QA_BEFORE} = if_not_exists(#{QA_STATUS}, :none),"
            )
        );
        let mut removed = Vec::new();
        if u.invalid {
            update.push_str(formatcp!(
                ", #{INVALID_EVENT_ID} = if_not_exists(#{INVALID_EVENT_ID}, :me)"
            ));
            // The period's page claim: this write's where none stands (so the write is the
            // claim; the period's first INVALID is the one that pages).
            if let Some(claim) = page_claim {
                update.push_str(formatcp!(
                    ", #{INVALID_PAGE} = if_not_exists(#{INVALID_PAGE}, :claim)"
                ));
                expr = expr.value(":claim", s(claim));
            }
        } else {
            removed.push(formatcp!("#{INVALID_EVENT_ID}, #{INVALID_PAGE}"));
        }
        if reason.is_none() {
            removed.push(formatcp!("#{UNUSABLE_REASON}"));
        }
        if !removed.is_empty() {
            update.push_str(&format!(" REMOVE {}", removed.join(", ")));
        }
        let expr = expr
            .update(update)
            .condition(formatcp!(
                "{STATE_APPLIES} AND (attribute_not_exists(#{STATE_EVENT_ID}) OR #{STATE_EVENT_ID} <> :me)"
            ))
            .value(":none", s(NO_STATE))
            .value(":me", s(me))
            .value(":ms", super::store::n(u.fields.state_updated_at_ms))
            .value(":deleted", deleted());
        self.update(
            Table::Mappings,
            &u.integration_id,
            expr,
            ReturnValue::AllOld,
        )
        .await
    }
}
