//! One way to write a DynamoDB request's expressions, and the one entry per operation that
//! sends them. An expression's text names attributes by placeholder only: `#name` stands
//! for the schema's attribute `name` (written `#{NAME}` with the [`super::schema`]
//! constant), bound here; a name known only at run time (a fleet record's customer, a
//! serialized row's field) is bound with [`Expr::name`]. A placeholder the schema does not
//! declare is refused before anything is sent (in a test build: the release build does
//! without the check and the schema's lists). Values are bound with [`Expr::value`].

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::schema;
use super::store::{DynamoStore, Item, Table, dependency};
use crate::error::Error;

/// A request's expressions and what they bind.
#[derive(Debug, Default)]
pub(super) struct Expr {
    update: Option<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Expr {
    /// The update expression (`SET ...`, `REMOVE ...`, `ADD ...`).
    pub fn update(mut self, text: impl Into<String>) -> Self {
        self.update = Some(text.into());
        self
    }

    /// The write's condition (a query's key condition, a read's projection).
    pub fn condition(mut self, text: impl Into<String>) -> Self {
        self.condition = Some(text.into());
        self
    }

    pub fn value(mut self, placeholder: &str, v: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), v);
        self
    }

    /// A name known only at run time, bound to `placeholder`.
    pub fn name(mut self, placeholder: impl Into<String>, name: impl Into<String>) -> Self {
        self.names.insert(placeholder.into(), name.into());
        self
    }

    /// `#p0 = :p0, ...` for the fields of `always` and `#q0 = if_not_exists(#q0, :q0), ...`
    /// for those of `if_absent` (a serialized row's fields: names known at run time), in
    /// the order of their names, bound here; `p` and `q` are the placeholders' prefixes.
    pub fn assignments(&mut self, always: Item, if_absent: Item) -> String {
        let mut parts = Vec::new();
        for (item, prefix, keep) in [(always, "p", false), (if_absent, "q", true)] {
            let mut fields: Vec<_> = item.into_iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            for (i, (field, value)) in fields.into_iter().enumerate() {
                let (name, placeholder) = (format!("#{prefix}{i}"), format!(":{prefix}{i}"));
                parts.push(if keep {
                    format!("{name} = if_not_exists({name}, {placeholder})")
                } else {
                    format!("{name} = {placeholder}")
                });
                self.names.insert(name, field);
                self.values.insert(placeholder, value);
            }
        }
        parts.join(", ")
    }

    /// Every placeholder of the texts bound: those given, and each other `#name` to the
    /// schema's attribute `name`.
    fn bound_names(&self) -> Result<Option<HashMap<String, String>>, Error> {
        let mut names = self.names.clone();
        for text in [&self.update, &self.condition].into_iter().flatten() {
            for placeholder in placeholders(text) {
                if names.contains_key(placeholder) {
                    continue;
                }
                let name = &placeholder[1..];
                // Every `#name` comes from a schema constant (`#{NAME}`); a test build
                // refuses one that does not, before anything is sent.
                if cfg!(debug_assertions) && !schema::declares(name) {
                    return Err(Error::Internal(format!(
                        "expression names {placeholder}, which the schema does not declare"
                    )));
                }
                names.insert(placeholder.to_owned(), name.to_owned());
            }
        }
        Ok(Some(names).filter(|n| !n.is_empty()))
    }

    /// What a refused write returns: the item that stands (only a conditional write can be
    /// refused).
    fn on_refusal(&self) -> Option<ReturnValuesOnConditionCheckFailure> {
        self.condition
            .as_ref()
            .map(|_| ReturnValuesOnConditionCheckFailure::AllOld)
    }

    fn bound_values(&self) -> Option<Item> {
        Some(self.values.clone()).filter(|v| !v.is_empty())
    }
}

/// The `#word` placeholders of an expression's text.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices('#').filter_map(move |(at, _)| {
        let len = text[at + 1..]
            .find(|c: char| !word(c))
            .unwrap_or(text.len() - at - 1);
        (len > 0).then(|| &text[at..=at + len])
    })
}

/// What a conditional write did: `Written` with the attributes it returned (as asked, or
/// none), or `Refused` (its condition did not hold) with the item that stands, if any.
#[derive(Debug)]
pub(super) enum Conditional {
    Written(Item),
    Refused(Option<Item>),
}

impl Conditional {
    pub fn written(&self) -> bool {
        matches!(self, Conditional::Written(_))
    }
}

impl DynamoStore {
    /// One `UpdateItem` of `table`'s item `key`: `returns` the item's attributes as asked
    /// when written, the item that stands when refused.
    pub(super) async fn update(
        &self,
        table: Table,
        key: &str,
        expr: Expr,
        returns: ReturnValue,
    ) -> Result<Conditional, Error> {
        let result = self
            .client
            .update_item()
            .table_name(self.table(table)?)
            .set_key(Some(Self::key(table, key)))
            .set_update_expression(expr.update.clone())
            .set_condition_expression(expr.condition.clone())
            .set_expression_attribute_names(expr.bound_names()?)
            .set_expression_attribute_values(expr.bound_values())
            .return_values(returns)
            .set_return_values_on_condition_check_failure(expr.on_refusal())
            .send();
        // Boxed: the SDK's future stays off the stack of every caller that holds this one.
        let result = Box::pin(result).await;
        match result {
            Ok(out) => Ok(Conditional::Written(out.attributes.unwrap_or_default())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Conditional::Refused(stands(failed.item())))
                }
                _ => Err(dependency(e)),
            },
        }
    }

    /// One `PutItem` of `item` into `table`, if `expr`'s condition holds.
    pub(super) async fn put(
        &self,
        table: Table,
        item: Item,
        expr: Expr,
    ) -> Result<Conditional, Error> {
        let result = self
            .client
            .put_item()
            .table_name(self.table(table)?)
            .set_item(Some(item))
            .set_condition_expression(expr.condition.clone())
            .set_expression_attribute_names(expr.bound_names()?)
            .set_expression_attribute_values(expr.bound_values())
            .set_return_values_on_condition_check_failure(expr.on_refusal())
            .send();
        // Boxed: the SDK's future stays off the stack of every caller that holds this one.
        let result = Box::pin(result).await;
        match result {
            Ok(_) => Ok(Conditional::Written(Item::new())),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Conditional::Refused(stands(failed.item())))
                }
                _ => Err(dependency(e)),
            },
        }
    }

    /// One `DeleteItem` of `table`'s item `key`, if `expr`'s condition (if any) holds.
    pub(super) async fn delete(
        &self,
        table: Table,
        key: &str,
        expr: Expr,
    ) -> Result<Conditional, Error> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table(table)?)
            .set_key(Some(Self::key(table, key)))
            .set_condition_expression(expr.condition.clone())
            .set_expression_attribute_names(expr.bound_names()?)
            .set_expression_attribute_values(expr.bound_values())
            .set_return_values_on_condition_check_failure(expr.on_refusal())
            .send();
        // Boxed: the SDK's future stays off the stack of every caller that holds this one.
        let result = Box::pin(result).await;
        match result {
            Ok(_) => Ok(Conditional::Written(Item::new())),
            Err(e) => match e.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Conditional::Refused(stands(failed.item())))
                }
                _ => Err(dependency(e)),
            },
        }
    }

    /// One strongly consistent `GetItem` of `table`'s item `key` (`projection`: only those
    /// attributes).
    pub(super) async fn get(
        &self,
        table: Table,
        key: &str,
        projection: Option<Expr>,
    ) -> Result<Option<Item>, Error> {
        let (projection, names) = match projection {
            Some(p) => (p.condition.clone(), p.bound_names()?),
            None => (None, None),
        };
        let out = self
            .client
            .get_item()
            .table_name(self.table(table)?)
            .set_key(Some(Self::key(table, key)))
            .consistent_read(true)
            .set_projection_expression(projection)
            .set_expression_attribute_names(names)
            .send();
        let out = Box::pin(out).await.map_err(dependency)?;
        Ok(out.item)
    }

    /// Every item of `table`'s `index` that `expr`'s key condition finds, all its pages read.
    pub(super) async fn query(
        &self,
        table: Table,
        index: &str,
        expr: Expr,
    ) -> Result<Vec<Item>, Error> {
        let items = self
            .client
            .query()
            .table_name(self.table(table)?)
            .index_name(index)
            .set_key_condition_expression(expr.condition.clone())
            .set_expression_attribute_names(expr.bound_names()?)
            .set_expression_attribute_values(expr.bound_values())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>();
        Box::pin(items).await.map_err(dependency)
    }
}

/// The item a refused write returned (DynamoDB, DynamoDB Local and moto return it).
fn stands(item: Option<&Item>) -> Option<Item> {
    item.filter(|i| !i.is_empty()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::schema::records::{TOTAL, WINDOW_START_MS};
    use const_format::formatcp;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn placeholders_are_bound_to_the_schemas_attributes_and_run_time_names_as_given() {
        let e = Expr::default()
            .update(formatcp!("SET #{TOTAL} = #{TOTAL} + :one, #m = :now"))
            .condition(formatcp!("attribute_not_exists(#{WINDOW_START_MS})"))
            .name("#m", "s#42");
        let names = e.bound_names().unwrap().unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(names["#total"], "total");
        assert_eq!(names["#window_start_ms"], "window_start_ms");
        assert_eq!(names["#m"], "s#42");
        assert_eq!(e.bound_values(), None, "no values: none sent");
    }

    #[test]
    fn a_placeholder_the_schema_does_not_declare_is_refused() {
        let e = Expr::default().update("SET #totl = :one");
        assert!(matches!(e.bound_names(), Err(Error::Internal(m)) if m.contains("#totl")));
    }

    #[test]
    fn a_rows_fields_are_set_or_kept_in_the_order_of_their_names() {
        let mut e = Expr::default();
        let always = Item::from([
            ("status".into(), s("DELETED")),
            ("deleted_at".into(), s("t")),
        ]);
        let keep = Item::from([("tool".into(), s("workday"))]);
        assert_eq!(
            e.assignments(always, keep),
            "#p0 = :p0, #p1 = :p1, #q0 = if_not_exists(#q0, :q0)"
        );
        assert_eq!(e.names["#p0"], "deleted_at");
        assert_eq!(e.names["#p1"], "status");
        assert_eq!(e.names["#q0"], "tool");
        assert_eq!(e.values[":q0"], s("workday"));
    }

    #[test]
    fn placeholders_are_read_whole_and_a_lone_hash_is_none() {
        let found: Vec<_> =
            placeholders("SET #a = :x, #b_1 = if_not_exists(#b_1, :y) # ").collect();
        assert_eq!(found, ["#a", "#b_1", "#b_1"]);
    }
}
