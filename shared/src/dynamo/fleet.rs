//! Fleet records of the records table ([`FleetStore`]): one item per tool and kind (key
//! `fleet#<kind>#<tool>`, next to the failure records). Each customer that failed is a
//! handful of top-level attributes named after it (`s#<customer>`: its last failure in
//! epoch ms, `q#`: that strike's place in the record's order (`seq`), `n#`: failures
//! counted, `l#`: the last event counted, `o#`: organization and log URL or integration
//! id, `r#`: recovered, `e#`: established, `f#`: its first failure), so one `UpdateItem` counts a strike whatever the
//! item holds, and a repeat of the customer's last event is refused. Once the record lists
//! `MEMBER_CAP` customers it is marked `full`: a new customer's strike is refused and only
//! counted (`overflow`), so the item stays bounded whatever the storm. An open incident is a few `incident_*`
//! attributes, set by one conditional write. The records sit in the sweep's sparse index
//! under `sweep = "fleet"`.

use aws_sdk_dynamodb::types::ReturnValue;
use const_format::formatcp;
use time::OffsetDateTime;

use super::expr::{Conditional, Expr};
use super::schema::records::{
    CATEGORY, EVENT_ID, EXPIRES_AT, FLEET_FULL, FLEET_KIND, FLEET_OVERFLOW, INCIDENT, INCIDENT_ID,
    INCIDENT_OPENED_BY, INCIDENT_OPENED_MS, INCIDENT_OPENED_SEQ, INCIDENT_REPORTED,
    INCIDENT_REPORTED_MS, INCIDENT_SINCE_MS, LAST_MS, MEMBER, MEMBER_DETAIL, MEMBER_ESTABLISHED,
    MEMBER_FAILURES, MEMBER_FIRST_MS, MEMBER_LAST_EVENT, MEMBER_LAST_MS, MEMBER_RECOVERED,
    MEMBER_SEQ, PENDING_SUMMARIES_INDEX, RECORD_TYPE, SEQ, SWEEP, SWEEP_FLEET, TOOL,
    WINDOW_START_MS, member, member_of,
};
use super::store::{DynamoStore, Item, Table, count, n, number, s, string};
use crate::clock::epoch_ms;
use crate::decide::fleet::{
    FleetKind, FleetRecord, Incident, MEMBER_CAP, Member, Opened, Strike, Struck, member_key,
};
use crate::error::Error;
use crate::ports::FleetStore;

/// Customers forgotten per write (six attributes each, well inside an expression's limits).
const CHUNK: usize = 20;

/// Separates the organization from the reference in `o#<customer>`.
const SEP: char = '\u{1f}';

/// `customer`'s attributes bound to their placeholders (`#s` for `s#<customer>`, ...).
fn members_of(expr: Expr, customer: &str, prefixes: &[&str]) -> Expr {
    prefixes.iter().fold(expr, |expr, prefix| {
        expr.name(format!("#{prefix}"), member(prefix, customer))
    })
}

impl DynamoStore {
    /// Removes `names` from the record `key` if its `last_ms` is still `last_ms` (when
    /// given) and `incident` is open (when given); `false`: it moved on.
    async fn forget(
        &self,
        key: &str,
        names: &[&str],
        last_ms: Option<i64>,
        incident: Option<&str>,
    ) -> Result<bool, Error> {
        let mut expr = Expr::default();
        let mut removed = Vec::new();
        for (i, name) in names.iter().enumerate() {
            removed.push(format!("#f{i}"));
            expr = expr.name(format!("#f{i}"), *name);
        }
        let mut condition = Vec::new();
        if let Some(last_ms) = last_ms {
            condition.push(formatcp!("#{LAST_MS} = :last"));
            expr = expr.value(":last", n(last_ms));
        }
        if let Some(id) = incident {
            condition.push(formatcp!("#{INCIDENT_ID} = :id"));
            expr = expr.value(":id", s(id));
        }
        let expr = expr
            .update(format!("REMOVE {}", removed.join(", ")))
            .condition(condition.join(" AND "));
        debug_assert!(last_ms.is_some() || incident.is_some(), "a condition");
        let write = self.update(Table::Records, key, expr, ReturnValue::None);
        Ok(write.await?.written())
    }

    /// Sets what incident `id` of the record `key` last reported, (customers, when), if the
    /// last report is still the one of `from_ms`: `false`, another's came first.
    async fn set_reported(
        &self,
        key: &str,
        id: &str,
        from_ms: i64,
        (customers, at_ms): (u32, i64),
    ) -> Result<bool, Error> {
        let expr = Expr::default()
            .update(formatcp!(
                "SET #{INCIDENT_REPORTED} = :n, #{INCIDENT_REPORTED_MS} = :to"
            ))
            .condition(formatcp!(
                "#{INCIDENT_ID} = :id AND #{INCIDENT_REPORTED_MS} = :from"
            ))
            .value(":n", n(i64::from(customers)))
            .value(":to", n(at_ms))
            .value(":id", s(id))
            .value(":from", n(from_ms));
        let write = self.update(Table::Records, key, expr, ReturnValue::None);
        Ok(write.await?.written())
    }
}

impl FleetStore for DynamoStore {
    async fn strike(&self, strike: &Strike, now: OffsetDateTime) -> Result<Struck, Error> {
        let established = if strike.established {
            formatcp!(", #{MEMBER_ESTABLISHED} = :one")
        } else {
            ""
        };
        let expr = Expr::default()
            // Failing again: not recovered (connected) any more.
            .update(format!(
                "{}{established} {}",
                formatcp!(
                    "SET #{MEMBER_LAST_MS} = :now, #{MEMBER_LAST_EVENT} = :me, \
                     #{MEMBER_FIRST_MS} = if_not_exists(#{MEMBER_FIRST_MS}, :now), \
                     #{MEMBER_DETAIL} = :detail, #{LAST_MS} = :now, #{TOOL} = :tool, \
                     #{MEMBER_SEQ} = if_not_exists(#{SEQ}, :zero) + :one, \
                     #{SEQ} = if_not_exists(#{SEQ}, :zero) + :one, \
                     #{FLEET_KIND} = :kind, #{CATEGORY} = if_not_exists(#{CATEGORY}, :category), \
                     #{RECORD_TYPE} = :fleet, #{SWEEP} = :fleet, #{WINDOW_START_MS} = :now, \
                     #{EXPIRES_AT} = :ttl"
                ),
                formatcp!("ADD #{MEMBER_FAILURES} :one REMOVE #{MEMBER_RECOVERED}")
            ))
            // Not the customer's last counted event (a repeat), and a customer listed
            // already or room for one.
            .condition(formatcp!(
                "(attribute_not_exists(#{MEMBER_LAST_EVENT}) OR #{MEMBER_LAST_EVENT} <> :me) \
                 AND (attribute_exists(#{MEMBER_LAST_MS}) OR attribute_not_exists(#{FLEET_FULL}))"
            ))
            .value(":zero", n(0))
            .value(":now", n(epoch_ms(now)))
            .value(":me", s(&strike.event_id))
            .value(
                ":detail",
                s(format!("{}{SEP}{}", strike.organization, strike.reference)),
            )
            .value(":tool", s(&strike.tool))
            .value(":kind", s(strike.kind.as_str()))
            .value(":category", s(&strike.category))
            .value(":fleet", s(SWEEP_FLEET))
            .value(":ttl", n((now + self.retention).unix_timestamp()))
            .value(":one", n(1));
        // Every member attribute the expression names (`e#` only where it sets it).
        let named: Vec<&str> = MEMBER
            .into_iter()
            .filter(|p| strike.established || *p != MEMBER_ESTABLISHED)
            .collect();
        let expr = members_of(expr, &strike.customer, &named);
        let empty = || FleetRecord::empty(strike.kind, &strike.tool);
        let key = strike.key();
        match self
            .update(Table::Records, &key, expr, ReturnValue::AllOld)
            .await?
        {
            Conditional::Written(old) => {
                let before = fleet_record(&old).unwrap_or_else(empty);
                let new = !before.members.iter().any(|m| m.customer == strike.customer);
                if new && before.members.len() + 1 >= MEMBER_CAP {
                    // The cap reached: later customers are only counted.
                    let full = Expr::default()
                        .update(formatcp!("SET #{FLEET_FULL} = :one"))
                        .value(":one", n(1));
                    self.update(Table::Records, &key, full, ReturnValue::None)
                        .await?;
                }
                Ok(Struck {
                    before,
                    repeat: false,
                })
            }
            Conditional::Refused(stands) => {
                let before = stands.as_ref().and_then(fleet_record).unwrap_or_else(empty);
                let listed = before.members.iter().any(|m| m.customer == strike.customer);
                if listed {
                    // Its last counted event is this one: a repeat.
                    return Ok(Struck {
                        before,
                        repeat: true,
                    });
                }
                // The record is full: counted, not listed.
                let count = Expr::default()
                    .update(formatcp!(
                        "SET #{LAST_MS} = :now ADD #{FLEET_OVERFLOW} :one, #{SEQ} :one"
                    ))
                    .value(":now", n(epoch_ms(now)))
                    .value(":one", n(1));
                self.update(Table::Records, &key, count, ReturnValue::None)
                    .await?;
                Ok(Struck {
                    before,
                    repeat: false,
                })
            }
        }
    }

    async fn unstrike(&self, strike: &Strike) -> Result<(), Error> {
        let expr = Expr::default()
            .update(formatcp!("ADD #{MEMBER_FAILURES} :minus"))
            .condition(formatcp!(
                "#{MEMBER_LAST_EVENT} = :me AND #{MEMBER_FAILURES} > :one"
            ))
            .value(":me", s(&strike.event_id))
            .value(":minus", n(-1))
            .value(":one", n(1));
        let expr = members_of(
            expr,
            &strike.customer,
            &[MEMBER_FAILURES, MEMBER_LAST_EVENT],
        );
        self.update(Table::Records, &strike.key(), expr, ReturnValue::None)
            .await?;
        Ok(())
    }

    async fn open_incident(&self, key: &str, incident: &Incident) -> Result<Opened, Error> {
        let expr = Expr::default()
            .update(formatcp!(
                "SET #{INCIDENT_ID} = :id, #{INCIDENT_OPENED_BY} = :me, \
                 #{INCIDENT_OPENED_SEQ} = :seq, #{INCIDENT_OPENED_MS} = :at, \
                 #{INCIDENT_SINCE_MS} = :since, #{INCIDENT_REPORTED} = :reported, \
                 #{INCIDENT_REPORTED_MS} = :at"
            ))
            .condition(formatcp!(
                "attribute_exists(#{LAST_MS}) AND attribute_not_exists(#{INCIDENT_ID})"
            ))
            .value(":id", s(&incident.id))
            .value(":me", s(&incident.opened_by))
            .value(
                ":seq",
                n(i64::try_from(incident.opened_seq).unwrap_or(i64::MAX)),
            )
            .value(":at", n(incident.opened_ms))
            .value(":since", n(incident.since_ms))
            .value(":reported", n(i64::from(incident.reported)));
        Ok(
            match self
                .update(Table::Records, key, expr, ReturnValue::None)
                .await?
            {
                Conditional::Written(_) => Opened::Ours,
                Conditional::Refused(now) => Opened::refused(
                    now.as_ref()
                        .and_then(|i| string(i, INCIDENT_OPENED_BY))
                        .as_deref(),
                    &incident.opened_by,
                ),
            },
        )
    }

    async fn recover(&self, key: &str, customer: &str) -> Result<Option<FleetRecord>, Error> {
        let customer = &member_key(customer);
        let expr = Expr::default()
            .update(formatcp!("SET #{MEMBER_RECOVERED} = :one"))
            .condition(formatcp!("attribute_exists(#{MEMBER_LAST_MS})"))
            .value(":one", n(1));
        let expr = members_of(expr, customer, &[MEMBER_RECOVERED, MEMBER_LAST_MS]);
        Ok(
            match self
                .update(Table::Records, key, expr, ReturnValue::AllNew)
                .await?
            {
                Conditional::Written(new) => fleet_record(&new),
                Conditional::Refused(_) => None,
            },
        )
    }

    async fn fleet_records(&self) -> Result<Vec<FleetRecord>, Error> {
        let expr = Expr::default()
            .condition(formatcp!("#{SWEEP} = :fleet"))
            .value(":fleet", s(SWEEP_FLEET));
        let keys: Vec<String> = self
            .query(Table::Records, PENDING_SUMMARIES_INDEX, expr)
            .await?
            .iter()
            .filter_map(|i| string(i, EVENT_ID))
            .collect();
        // The index is eventually consistent: each record is read as it stands.
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            let item = self.get(Table::Records, &key, None).await?;
            if let Some(r) = item.as_ref().and_then(fleet_record) {
                records.push(r);
            }
        }
        Ok(records)
    }

    async fn take_update(
        &self,
        r: &FleetRecord,
        customers: usize,
        now_ms: i64,
    ) -> Result<bool, Error> {
        let Some(incident) = &r.incident else {
            return Ok(false);
        };
        let customers = u32::try_from(customers).unwrap_or(u32::MAX);
        self.set_reported(
            &r.key,
            &incident.id,
            incident.reported_ms,
            (customers, now_ms),
        )
        .await
    }

    async fn give_back_update(&self, r: &FleetRecord, now_ms: i64) -> Result<(), Error> {
        let Some(incident) = &r.incident else {
            return Ok(());
        };
        let was = (incident.reported, incident.reported_ms);
        self.set_reported(&r.key, &incident.id, now_ms, was).await?;
        Ok(())
    }

    async fn end_incident(&self, r: &FleetRecord, stale_before_ms: i64) -> Result<(), Error> {
        let Some(incident) = &r.incident else {
            return Ok(());
        };
        // Ended here (not by another sweep first): the stale customers go with it, unless
        // something was counted since the read (prune's own condition).
        if self
            .forget(&r.key, &INCIDENT, None, Some(&incident.id))
            .await?
        {
            return self.prune(r, stale_before_ms).await;
        }
        Ok(())
    }

    async fn prune(&self, r: &FleetRecord, before_ms: i64) -> Result<(), Error> {
        let stale: Vec<&Member> = r.members.iter().filter(|m| m.last_ms < before_ms).collect();
        if stale.len() == r.members.len() {
            // Nobody left: the record goes (unless something was counted since).
            let expr = Expr::default()
                .condition(formatcp!(
                    "#{LAST_MS} = :last AND attribute_not_exists(#{INCIDENT_ID})"
                ))
                .value(":last", n(r.last_ms));
            self.delete(Table::Records, &r.key, expr).await?;
            return Ok(());
        }
        for (i, chunk) in stale.chunks(CHUNK).enumerate() {
            let mut names: Vec<String> = chunk
                .iter()
                .flat_map(|m| MEMBER.map(|p| member(p, &m.customer)))
                .collect();
            if i == 0 {
                // Room again for new customers.
                names.push(FLEET_FULL.to_owned());
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            if !self.forget(&r.key, &names, Some(r.last_ms), None).await? {
                break;
            }
        }
        Ok(())
    }
}

/// A fleet record as stored (items that do not parse are not fleet records).
fn fleet_record(item: &Item) -> Option<FleetRecord> {
    let kind = FleetKind::parse(&string(item, FLEET_KIND)?)?;
    let n = |name: &str| number(item, name).unwrap_or(0);
    let seq = |name: &str| u64::try_from(n(name)).unwrap_or(0);
    // One customer per `s#` attribute (a customer whose strike is half forgotten is none).
    let mut members: Vec<Member> = item
        .keys()
        .filter_map(|name| member_of(name, MEMBER_LAST_MS))
        .map(|customer| {
            let detail = string(item, &member(MEMBER_DETAIL, customer)).unwrap_or_default();
            let (organization, reference) = detail.split_once(SEP).unwrap_or((&detail, ""));
            Member {
                customer: customer.to_owned(),
                organization: organization.to_owned(),
                reference: reference.to_owned(),
                last_ms: n(&member(MEMBER_LAST_MS, customer)),
                // A customer counted before `f#` was kept: joined at its last failure.
                first_ms: number(item, &member(MEMBER_FIRST_MS, customer))
                    .unwrap_or_else(|| n(&member(MEMBER_LAST_MS, customer))),
                failures: count(item, &member(MEMBER_FAILURES, customer)),
                seq: seq(&member(MEMBER_SEQ, customer)),
                recovered: item.contains_key(&member(MEMBER_RECOVERED, customer)),
                established: item.contains_key(&member(MEMBER_ESTABLISHED, customer)),
            }
        })
        .filter(|m| m.last_ms > 0)
        .collect();
    // In the order of their last failures, as `FleetRecord::members` keeps them.
    members.sort_unstable_by_key(|m| (m.last_ms, m.seq));
    let incident = string(item, INCIDENT_ID).map(|id| Incident {
        id,
        opened_by: string(item, INCIDENT_OPENED_BY).unwrap_or_default(),
        opened_seq: seq(INCIDENT_OPENED_SEQ),
        opened_ms: n(INCIDENT_OPENED_MS),
        since_ms: n(INCIDENT_SINCE_MS),
        reported: count(item, INCIDENT_REPORTED),
        reported_ms: n(INCIDENT_REPORTED_MS),
    });
    Some(FleetRecord {
        key: string(item, EVENT_ID)?,
        kind,
        tool: string(item, TOOL).unwrap_or_default(),
        category: string(item, CATEGORY).unwrap_or_default(),
        members,
        incident,
        last_ms: n(LAST_MS),
        seq: seq(SEQ),
        overflow: count(item, FLEET_OVERFLOW),
    })
}
