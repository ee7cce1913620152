//! DynamoDB adapters: the mappings table ([`MappingStore`]) and the idempotency table
//! ([`ClaimStore`]). Every write is one conditional request; items are (de)serialized
//! with `serde_dynamo`. The reconcile run's reads are in [`reconcile`].

mod failures;
mod fleet;
mod reconcile;

pub use failures::PENDING_SUMMARIES_INDEX;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::decide::{Mapping, StateUpdate, Status, Tombstone, epoch_ms};
use crate::error::Error;
use crate::ports::{
    Assigned, Assignment, Claim, ClaimStore, Inserted, MappingStore, PageClaim, StateApplied,
    StateResult, Tombstoned,
};

/// The customer index of the mappings table.
pub const BY_ORIGIN_INDEX: &str = "by-origin-id";

const SERVICE: &str = "DynamoDB";

type Item = HashMap<String, AttributeValue>;

/// Both tables, behind one client built once per container.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    idempotency_table: Option<String>,
    claim_expiry: Duration,
    retention: Duration,
    fold_window: Duration,
    windows: failures::Windows,
}

impl DynamoStore {
    pub fn new(client: Client, settings: &crate::config::Settings) -> Self {
        DynamoStore {
            client,
            table: settings.table_name.clone(),
            idempotency_table: settings.idempotency_table_name.clone(),
            claim_expiry: settings.claim_expiry,
            retention: settings.tombstone_retention,
            fold_window: settings.fold_window,
            windows: failures::Windows::default(),
        }
    }

    /// Opens the connection (DNS, TCP, TLS) during init, so the first webhook after a cold
    /// start does not pay for it: one `GetItem` of a key that never exists, on the table
    /// this function uses (the idempotency table where it has one).
    pub async fn warm_up(&self) -> Result<(), Error> {
        let (table, key) = match &self.idempotency_table {
            Some(t) => (t.as_str(), "event_id"),
            None => (self.table.as_str(), "integration_id"),
        };
        self.client
            .get_item()
            .table_name(table)
            .key(key, s("__warm-up__"))
            .send()
            .await
            .map_err(dependency)?;
        Ok(())
    }

    fn idempotency_table(&self) -> Result<&str, Error> {
        self.idempotency_table
            .as_deref()
            .ok_or_else(|| Error::Config("IDEMPOTENCY_TABLE_NAME is not set".into()))
    }
}

fn dependency<E, R>(e: SdkError<E, R>) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    Error::aws(SERVICE, e)
}

/// A conditional write's result: `Ok(true)` written, `Ok(false)` its condition did not
/// hold (someone else's write got there first), `Err` DynamoDB failed.
fn written<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<bool, Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(dependency(e)),
    }
}

/// Every item a query finds, all its pages read.
async fn every_item(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>, Error> {
    query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(dependency)
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

/// The part of an existing row (or claim) a conditional write needs to explain itself.
#[derive(Deserialize, Default)]
struct Existing {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    last_event_id: Option<String>,
    #[serde(default)]
    created_event_id: Option<String>,
    #[serde(default)]
    origin_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    invalid_event_id: Option<String>,
    #[serde(default)]
    recovered_event_id: Option<String>,
    #[serde(default)]
    state_event_id: Option<String>,
    #[serde(default)]
    state_before: Option<String>,
    #[serde(default)]
    invalid_page: Option<String>,
    /// Claims only: the token of the invocation that holds it.
    #[serde(default)]
    token: Option<String>,
}

const INVALID: &str = "INVALID";
const ACTIVE: &str = "ACTIVE";
/// `state_before` of a row that had no state.
const NO_STATE: &str = "NONE";

impl Existing {
    fn deleted(&self) -> bool {
        self.status.as_deref() == Some("DELETED")
    }

    /// Whether the state update `u` by `me`, written over this row, is the transition its
    /// alert is about: it made the integration INVALID (or this row's INVALID period is
    /// `me`'s own, from a try before an upgrade), or it took it from INVALID to ACTIVE (or
    /// `me` did so before an upgrade).
    fn announces(&self, u: &StateUpdate, me: &str) -> bool {
        let was_invalid = self.state.as_deref() == Some(INVALID);
        if u.invalid {
            !was_invalid || self.written_by(&self.invalid_event_id, me)
        } else if u.recovers {
            was_invalid
                || (self.state.as_deref() == Some(ACTIVE)
                    && self.state_event_id.is_none()
                    && self.recovered_event_id.as_deref() == Some(me))
        } else {
            false
        }
    }

    /// Whether `event_id` wrote this row's defining fact: `field` (the create's or the
    /// INVALID's event id) or, on a row written before that field existed (an upgrade
    /// from a version without it), `last_event_id`.
    fn written_by(&self, field: &Option<String>, event_id: &str) -> bool {
        match field {
            Some(id) => id == event_id,
            None => self.last_event_id.as_deref() == Some(event_id),
        }
    }
}

/// Fields a create always sets; the rest of the row (`created_at` and `created_event_id`
/// included) it only fills where absent, so it completes a row a state change recorded, or
/// the row a Connect completion stored, without overwriting what that row holds.
const CREATE_SETS: [&str; 3] = ["status", "updated_at", "last_event_id"];

/// Splits `item` into what a write always sets (`always`) and what it only fills where
/// absent; the key is left out (an update names it as the key).
fn split(mut item: Item, always: &[&str]) -> (Item, Item) {
    item.remove("integration_id");
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

/// "May this state update be applied": the row is new, or not deleted and holds no
/// newer state. `<=`: the same update applies again (a retry after a failed alert).
const STATE_APPLIES: &str = "(attribute_not_exists(integration_id) OR (#cond_status <> :cond_deleted \
     AND (attribute_not_exists(state_updated_at_ms) OR state_updated_at_ms <= :cond_ms)))";

fn read_existing(item: Option<&Item>) -> Option<Existing> {
    let item = item.filter(|i| !i.is_empty())?;
    serde_dynamo::from_item(item.clone()).ok()
}

/// `SET #a0 = :a0, ..., #b0 = if_not_exists(#b0, :b0), ...` from two serialized structs.
struct Update {
    expression: String,
    names: HashMap<String, String>,
    values: Item,
}

impl Update {
    fn new(always: Item, if_absent: Item) -> Self {
        let mut parts = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sorted = |item: Item, prefix: &str, keep: bool| {
            let mut fields: Vec<_> = item.into_iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            for (i, (field, value)) in fields.into_iter().enumerate() {
                let (name, placeholder) = (format!("#{prefix}{i}"), format!(":{prefix}{i}"));
                parts.push(if keep {
                    format!("{name} = if_not_exists({name}, {placeholder})")
                } else {
                    format!("{name} = {placeholder}")
                });
                names.insert(name, field);
                values.insert(placeholder, value);
            }
        };
        sorted(always, "a", false);
        sorted(if_absent, "b", true);
        Update {
            expression: format!("SET {}", parts.join(", ")),
            names,
            values,
        }
    }
}

impl MappingStore for DynamoStore {
    async fn insert(&self, m: &Mapping) -> Result<Inserted, Error> {
        let mut item = to_item(m)?;
        item.insert("usable".into(), AttributeValue::Bool(m.usable_now()));
        let (always, if_absent) = split(item.clone(), &CREATE_SETS);
        // New, or a row a state change recorded before its create (no `created_at`); for a
        // webhook's create also the row a Connect completion stored first, once (it fills
        // the category and creator e-mail the activation token does not tell).
        let mut condition = String::from(
            "attribute_not_exists(integration_id) OR \
             (attribute_not_exists(created_at) AND #cond_status <> :cond_deleted)",
        );
        let by_connect = m
            .created_event_id
            .as_deref()
            .is_some_and(|id| id.starts_with(crate::decide::CONNECT_PREFIX));
        let mut write = self.update_row(&m.integration_id, Update::new(always, if_absent));
        if !by_connect {
            condition.push_str(
                " OR (begins_with(#cond_created, :cond_connect) AND \
                 attribute_not_exists(#cond_category) AND #cond_status <> :cond_deleted)",
            );
            write = write
                .expression_attribute_names("#cond_created", "created_event_id")
                .expression_attribute_names("#cond_category", "category")
                .expression_attribute_values(":cond_connect", s(crate::decide::CONNECT_PREFIX));
        }
        let result = write
            .condition_expression(condition)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let event_id = m.created_event_id.as_deref().unwrap_or(&m.last_event_id);
        let err = match result {
            Ok(out) => {
                let Some(old_item) = out.attributes().filter(|a| !a.is_empty()) else {
                    return Ok(Inserted::Stored);
                };
                let old = read_existing(Some(old_item)).unwrap_or_default();
                let mut row = after_create(item, old_item).map(Box::new);
                // A row written before `usable` existed (a state change recorded by an
                // earlier version): the create's `usable = true` may not be what its state
                // says. Rare (an upgrade meeting a create that had not arrived): one more write.
                if let Some(r) = row.as_mut().filter(|r| {
                    !old_item.contains_key("usable") && Some(r.usable_now()) != r.usable
                }) && self.settle_usable(r).await?
                {
                    r.usable = Some(r.usable_now());
                }
                if old_item.contains_key("created_at") {
                    // The Connect completion's row, now filled in.
                    return Ok(Inserted::Exists {
                        status: Status::Active,
                        own: old.written_by(&old.created_event_id, event_id),
                        row,
                    });
                }
                return Ok(Inserted::Completed { row });
            }
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(dependency(err));
        };
        // DynamoDB (and DynamoDB Local, and moto) return the row that failed the condition.
        let old = read_existing(failed.item()).unwrap_or_default();
        let row = failed
            .item()
            .and_then(|i| serde_dynamo::from_item::<_, Mapping>(i.clone()).ok())
            .map(Box::new);
        Ok(Inserted::Exists {
            status: if old.deleted() {
                Status::Deleted
            } else {
                Status::Active
            },
            own: old.written_by(&old.created_event_id, event_id),
            row,
        })
    }

    async fn note_token(
        &self,
        integration_id: &str,
        origin_id: &str,
        token_sha256: &str,
    ) -> Result<bool, Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("integration_id", s(integration_id))
            .update_expression("SET connect_token_sha256 = :h")
            .condition_expression("origin_id = :o AND #cond_status <> :cond_deleted")
            .expression_attribute_names("#cond_status", "status")
            .expression_attribute_values(":h", s(token_sha256))
            .expression_attribute_values(":o", s(origin_id))
            .expression_attribute_values(":cond_deleted", s("DELETED"))
            .send()
            .await;
        written(result)
    }

    async fn tombstone(&self, t: &Tombstone) -> Result<Tombstoned, Error> {
        let mut mark = to_item(&t.mark)?;
        mark.insert("usable".into(), AttributeValue::Bool(false));
        let update = Update::new(mark, to_item(&t.descriptive)?);
        let result = self
            .update_row(&t.integration_id, update)
            .condition_expression(
                "attribute_not_exists(#cond_status) OR #cond_status <> :cond_deleted",
            )
            .send()
            .await;
        Ok(if written(result)? {
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
        let me = u.fields.last_event_id.as_str();
        let page_claim = page_claim.filter(|_| u.invalid);
        // The claim the row holds after the write: the one that stood (the write keeps it),
        // else this write's.
        let mine = page_claim.unwrap_or_default();
        let claim_on = |old: Option<&Existing>| match old.and_then(|o| o.invalid_page.as_deref()) {
            None if page_claim.is_some() => PageClaim::Ours,
            stood => PageClaim::read(stood, mine),
        };
        Ok(match self.state_write(u, page_claim).await? {
            Ok(old) => {
                let announce = match &old {
                    // No row yet: an INVALID pages (the integration came from before the
                    // stack, or its create has not arrived).
                    None => u.invalid,
                    Some(o) => o.announces(u, me),
                };
                StateResult {
                    applied: StateApplied::Applied,
                    announce,
                    page: claim_on(old.as_ref()),
                }
            }
            Err(None) => StateResult {
                applied: StateApplied::Stale,
                announce: false,
                page: PageClaim::None,
            },
            Err(Some(o)) if o.deleted() => StateResult {
                applied: StateApplied::Deleted,
                announce: false,
                page: PageClaim::None,
            },
            Err(Some(o)) => {
                // Refused: this event's own earlier try wrote the state that stands (a
                // retry after a failed alert, or the SDK's retry of an applied write), or a
                // newer state stands.
                let own = o.state_event_id.as_deref() == Some(me);
                let announce = if u.invalid {
                    // The INVALID period this event opened still stands (even under a newer
                    // INVALID detail).
                    o.state.as_deref() == Some(INVALID)
                        && (o.written_by(&o.invalid_event_id, me)
                            || (own && o.state_before.as_deref() != Some(INVALID)))
                } else if u.recovers {
                    o.state.as_deref() == Some(ACTIVE)
                        && ((own && o.state_before.as_deref() == Some(INVALID))
                            || o.recovered_event_id.as_deref() == Some(me))
                } else {
                    false
                };
                // Refused: nothing was written; the claim is what stands.
                let page = PageClaim::read(o.invalid_page.as_deref(), mine);
                StateResult {
                    applied: if own {
                        StateApplied::Applied
                    } else {
                        StateApplied::Stale
                    },
                    announce,
                    page,
                }
            }
        })
    }

    async fn swap_page_claim(
        &self,
        integration_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<bool, Error> {
        let write = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("integration_id", s(integration_id));
        let write = match from {
            Some(from) => write
                .condition_expression("invalid_page = :from")
                .expression_attribute_values(":from", s(from)),
            None => write
                .condition_expression("attribute_not_exists(invalid_page) AND #st = :invalid")
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":invalid", s(INVALID)),
        };
        let write = match to {
            Some(to) => write
                .update_expression("SET invalid_page = :to")
                .expression_attribute_values(":to", s(to)),
            None => write.update_expression("REMOVE invalid_page"),
        };
        written(write.send().await)
    }

    async fn note_recovery(&self, integration_id: &str, event_id: &str) -> Result<(), Error> {
        let write = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("integration_id", s(integration_id))
            .update_expression("SET recovered_event_id = :me")
            .condition_expression("state_event_id = :me")
            .expression_attribute_values(":me", s(event_id))
            .send()
            .await;
        // Refused: a newer state stands already; its writer decided for itself.
        written(write)?;
        Ok(())
    }

    async fn assign(&self, a: &Assignment) -> Result<Assigned, Error> {
        let always = HashMap::from([
            ("origin_id".to_owned(), s(&a.origin_id)),
            ("updated_at".to_owned(), s(&a.updated_at)),
            ("last_event_id".to_owned(), s(&a.cause)),
        ]);
        let mut if_absent = Item::new();
        if let Some(d) = &a.create {
            if_absent = to_item(d)?;
            if_absent.remove("origin_id");
            if_absent.insert("status".into(), s("ACTIVE"));
            if_absent.insert("usable".into(), AttributeValue::Bool(true));
        }
        // Never on a tombstone; never a no-op write; another customer's only with force.
        let mut condition = String::from(
            "attribute_exists(integration_id) AND #cond_status <> :cond_deleted AND \
             (attribute_not_exists(#cond_origin) OR #cond_origin <> :cond_origin)",
        );
        if !a.force {
            condition.push_str(" AND attribute_not_exists(#cond_origin)");
        }
        if a.create.is_some() {
            condition = format!("attribute_not_exists(integration_id) OR ({condition})");
        }
        let result = self
            .update_row(&a.integration_id, Update::new(always, if_absent))
            .condition_expression(condition)
            .expression_attribute_names("#cond_origin", "origin_id")
            .expression_attribute_values(":cond_origin", s(&a.origin_id))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                let old = read_existing(out.attributes());
                return Ok(match old {
                    None => Assigned::Created,
                    Some(old) => Assigned::Assigned {
                        previous: old.origin_id,
                    },
                });
            }
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(dependency(err));
        };
        Ok(match read_existing(failed.item()) {
            None => Assigned::NotFound,
            Some(old) if old.deleted() => Assigned::Deleted,
            Some(Existing {
                origin_id: Some(current),
                ..
            }) if current == a.origin_id => Assigned::Unchanged,
            Some(Existing {
                origin_id: Some(current),
                ..
            }) => Assigned::Conflict { current },
            // Cannot fail otherwise; treat as a lost race and let the caller retry.
            Some(_) => {
                return Err(Error::Internal(
                    "assignment condition failed on an unassigned row".into(),
                ));
            }
        })
    }

    async fn settle_usable(&self, row: &Mapping) -> Result<bool, Error> {
        let mut condition = String::from("#st = :st");
        let mut write = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("integration_id", s(&row.integration_id))
            .update_expression("SET #usable = :usable")
            .expression_attribute_names("#usable", "usable")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":usable", AttributeValue::Bool(row.usable_now()))
            .expression_attribute_values(
                ":st",
                s(match row.status {
                    Status::Active => "ACTIVE",
                    Status::Deleted => "DELETED",
                }),
            );
        // Only while the fields it follows from are still what `row` read.
        for (name, attribute, value) in [
            ("#state", "state", &row.state),
            ("#setup", "setup_status", &row.setup_status),
        ] {
            write = write.expression_attribute_names(name, attribute);
            match value {
                Some(v) => {
                    let placeholder = name.replace('#', ":");
                    condition.push_str(&format!(" AND {name} = {placeholder}"));
                    write = write.expression_attribute_values(placeholder, s(v));
                }
                None => condition.push_str(&format!(" AND attribute_not_exists({name})")),
            }
        }
        written(write.condition_expression(condition).send().await)
    }

    async fn by_origin(&self, origin_id: &str) -> Result<Vec<Mapping>, Error> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_ORIGIN_INDEX)
            .key_condition_expression("origin_id = :o")
            .expression_attribute_values(":o", s(origin_id));
        serde_dynamo::from_items(every_item(query).await?)
            .map_err(|e| Error::Internal(format!("reading a mapping row: {e}")))
    }
}

impl DynamoStore {
    /// A state update: one `UpdateItem`, applied unless the row is a tombstone, holds a
    /// newer state, or holds this event's own state already (a retry: nothing to write, the
    /// row tells what its first try did). It sets the state, `usable`, the event that wrote
    /// it (`state_event_id`) and the state it replaced (`state_before`); fills the
    /// descriptive fields where absent (a row is made for an integration not seen yet); keeps
    /// `invalid_event_id` naming the event that opened the current INVALID period (set where
    /// absent by an INVALID, removed by any other state). `Ok(old)`: written, with the row
    /// before it (None: there was none); `Err(old)`: refused, with the row that stands.
    async fn state_write(
        &self,
        u: &StateUpdate,
        page_claim: Option<&str>,
    ) -> Result<Result<Option<Existing>, Option<Existing>>, Error> {
        let me = u.fields.last_event_id.as_str();
        let mut always = to_item(&u.fields)?;
        always.insert("state_event_id".into(), s(me));
        // The row is not a tombstone (the condition): usable follows from this state.
        always.insert(
            "usable".into(),
            AttributeValue::Bool(crate::decide::usable(
                Status::Active,
                Some(&u.fields.state),
                Some(&u.fields.setup_status),
            )),
        );
        let mut if_absent = to_item(&u.descriptive)?;
        if_absent.insert("status".into(), s("ACTIVE"));
        let mut update = Update::new(always, if_absent);
        // First in the expression: the state as it was (DynamoDB reads every operand from
        // the item before the update; emulators that apply actions in order agree then).
        update.expression = update.expression.replacen(
            "SET ",
            "SET #cond_before = if_not_exists(#cond_state, :cond_none), ",
            1,
        );
        if u.invalid {
            update
                .expression
                .push_str(", #cond_invalid_id = if_not_exists(#cond_invalid_id, :cond_me)");
            // The period's page claim: this write's where none stands (so the write is the
            // claim; the period's first INVALID is the one that pages).
            if let Some(claim) = page_claim {
                update
                    .expression
                    .push_str(", #cond_page = if_not_exists(#cond_page, :cond_claim)");
                update
                    .names
                    .insert("#cond_page".into(), "invalid_page".into());
                update.values.insert(":cond_claim".into(), s(claim));
            }
        } else {
            update
                .expression
                .push_str(" REMOVE #cond_invalid_id, #cond_page");
            update
                .names
                .insert("#cond_page".into(), "invalid_page".into());
        }
        let write = self
            .update_row(&u.integration_id, update)
            .expression_attribute_names("#cond_before", "state_before")
            .expression_attribute_names("#cond_state", "state")
            .expression_attribute_names("#cond_invalid_id", "invalid_event_id")
            .expression_attribute_names("#cond_state_event", "state_event_id")
            .expression_attribute_values(":cond_none", s(NO_STATE))
            .expression_attribute_values(":cond_me", s(me))
            .expression_attribute_values(":cond_ms", n(u.fields.state_updated_at_ms))
            .condition_expression(format!(
                "{STATE_APPLIES} AND (attribute_not_exists(#cond_state_event) OR #cond_state_event <> :cond_me)"
            ))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match write.send().await {
            Ok(out) => Ok(Ok(read_existing(out.attributes()))),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(read_existing(failed.item())))
                }
                _ => Err(dependency(err)),
            },
        }
    }

    /// An `UpdateItem` of one mapping row applying `update`, with `#cond_status` and
    /// `:cond_deleted` bound for the caller's condition (tombstones are never changed).
    fn update_row(
        &self,
        integration_id: &str,
        update: Update,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("integration_id", s(integration_id))
            .update_expression(update.expression)
            .set_expression_attribute_names(Some(update.names))
            .expression_attribute_names("#cond_status", "status")
            .set_expression_attribute_values(Some(update.values))
            .expression_attribute_values(":cond_deleted", s("DELETED"))
    }
}

/// A row of the idempotency table.
#[derive(Serialize)]
struct ClaimRecord<'a> {
    event_id: &'a str,
    status: &'static str,
    token: &'a str,
    /// Epoch milliseconds after which another invocation may take the claim over.
    in_progress_until: i64,
    /// TTL (epoch seconds).
    expires_at: i64,
}

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

impl ClaimStore for DynamoStore {
    async fn claim(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, Error> {
        let table = self.idempotency_table()?;
        let record = ClaimRecord {
            event_id,
            status: IN_PROGRESS,
            token,
            in_progress_until: epoch_ms(now + self.claim_expiry),
            expires_at: (now + self.retention).unix_timestamp(),
        };
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(to_item(&record)?))
            .condition_expression(
                "attribute_not_exists(event_id) OR (#st = :in_progress AND in_progress_until < :now)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":now", n(epoch_ms(now)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Claim::Acquired),
            Err(e) => e,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(dependency(err));
        };
        // DynamoDB returns the claim that failed the condition (as for the mapping rows).
        let old = read_existing(failed.item()).unwrap_or_default();
        Ok(match old.status.as_deref() {
            // Our own claim: the SDK retried a put that DynamoDB had applied.
            Some(IN_PROGRESS) if old.token.as_deref() == Some(token) => Claim::Acquired,
            Some(COMPLETED) => Claim::Completed,
            _ => Claim::InProgress,
        })
    }

    async fn complete(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let result = self
            .client
            .update_item()
            .table_name(self.idempotency_table()?)
            .key("event_id", s(event_id))
            .update_expression(
                "SET #st = :completed, expires_at = :expires REMOVE in_progress_until",
            )
            .condition_expression("#tok = :token")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#tok", "token")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":expires", n((now + self.retention).unix_timestamp()))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        if !written(result)? {
            tracing::warn!(
                event_id,
                "claim was taken over before completion (expired in progress)"
            );
        }
        Ok(())
    }

    async fn release(&self, event_id: &str, token: &str) -> Result<(), Error> {
        let result = self
            .client
            .delete_item()
            .table_name(self.idempotency_table()?)
            .key("event_id", s(event_id))
            .condition_expression("#tok = :token AND #st = :in_progress")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#tok", "token")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        // Not written: not ours any more (someone took the expired claim over). Leave it.
        written(result)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_expression_sets_and_keeps() {
        let always: Item = HashMap::from([
            ("status".into(), s("DELETED")),
            ("deleted_at".into(), s("t")),
        ]);
        let keep: Item = HashMap::from([("tool".into(), s("workday"))]);
        let u = Update::new(always, keep);
        assert_eq!(
            u.expression,
            "SET #a0 = :a0, #a1 = :a1, #b0 = if_not_exists(#b0, :b0)"
        );
        assert_eq!(u.names["#a0"], "deleted_at");
        assert_eq!(u.names["#a1"], "status");
        assert_eq!(u.names["#b0"], "tool");
        assert_eq!(u.values[":b0"], s("workday"));
    }
}
