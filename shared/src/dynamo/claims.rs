//! Claim records of the records table ([`ClaimStore`]): a conditional put in progress with
//! an expiry, marked completed after the effect, released after a failure. How a refused
//! claim reads is [`crate::decide::claims`]'s.

use aws_sdk_dynamodb::types::ReturnValue;
use const_format::formatcp;
use serde::Serialize;
use time::OffsetDateTime;

use super::expr::{Conditional, Expr};
use super::schema::records::{EVENT_ID, EXPIRES_AT, IN_PROGRESS_UNTIL, OUTCOME, STATUS, TOKEN};
use super::store::{DynamoStore, Table, n, s, string, to_item};
use crate::clock::epoch_ms;
use crate::decide::claims::{COMPLETED, Claim, IN_PROGRESS};
use crate::error::Error;
use crate::ports::ClaimStore;

/// A claim record as written.
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

impl ClaimStore for DynamoStore {
    async fn claim(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, Error> {
        let record = ClaimRecord {
            event_id,
            status: IN_PROGRESS,
            token,
            in_progress_until: epoch_ms(now + self.claim_expiry),
            expires_at: (now + self.retention).unix_timestamp(),
        };
        let expr = Expr::default()
            .condition(formatcp!(
                "attribute_not_exists(#{EVENT_ID}) OR \
                 (#{STATUS} = :in_progress AND #{IN_PROGRESS_UNTIL} < :now)"
            ))
            .value(":in_progress", s(IN_PROGRESS))
            .value(":now", n(epoch_ms(now)));
        Ok(
            match self.put(Table::Records, to_item(&record)?, expr).await? {
                Conditional::Written(_) => Claim::Acquired,
                Conditional::Refused(stood) => {
                    let field = |name| stood.as_ref().and_then(|i| string(i, name));
                    Claim::refused(field(STATUS).as_deref(), field(TOKEN).as_deref(), token)
                }
            },
        )
    }

    async fn complete(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
        outcome: &str,
    ) -> Result<(), Error> {
        let expr = Expr::default()
            .update(formatcp!(
                "SET #{STATUS} = :completed, #{EXPIRES_AT} = :expires, #{OUTCOME} = :outcome \
                 REMOVE #{IN_PROGRESS_UNTIL}"
            ))
            .condition(formatcp!("#{TOKEN} = :tok"))
            .value(":completed", s(COMPLETED))
            .value(":outcome", s(outcome))
            .value(":expires", n((now + self.retention).unix_timestamp()))
            .value(":tok", s(token));
        let write = self.update(Table::Records, event_id, expr, ReturnValue::None);
        if !write.await?.written() {
            tracing::warn!(
                event_id,
                "claim was taken over before completion (expired in progress)"
            );
        }
        Ok(())
    }

    async fn outcome(&self, event_id: &str) -> Result<Option<String>, Error> {
        let item = self.get(Table::Records, event_id, None).await?;
        Ok(item
            .filter(|i| string(i, STATUS).as_deref() == Some(COMPLETED))
            .map(|i| string(&i, OUTCOME).unwrap_or_default()))
    }

    async fn release(&self, event_id: &str, token: &str) -> Result<(), Error> {
        let expr = Expr::default()
            .condition(formatcp!("#{TOKEN} = :tok AND #{STATUS} = :in_progress"))
            .value(":in_progress", s(IN_PROGRESS))
            .value(":tok", s(token));
        // Refused: not ours any more (someone took the expired claim over). Leave it.
        self.delete(Table::Records, event_id, expr).await?;
        Ok(())
    }
}
