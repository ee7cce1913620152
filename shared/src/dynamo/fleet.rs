//! Fleet records: one item per tool and kind in the idempotency table (key
//! `fleet#<kind>#<tool>`, next to the failure records). Each customer that failed is a
//! handful of top-level attributes named after it (`s#<customer>`: its last failure in
//! epoch ms, `q#`: that strike's place in the record's order (`seq`), `n#`: failures
//! counted, `l#`: the last event counted, `o#`: organization and log URL or integration
//! id, `r#`: recovered), so one `UpdateItem` counts a strike
//! whatever the item holds, and a repeat of the customer's last event is refused. An open
//! incident is a few `incident_*` attributes, set by one conditional write. The records sit
//! in the sweep's sparse index under `sweep = "fleet"`.

use aws_sdk_dynamodb::types::ReturnValue;
use time::OffsetDateTime;

use super::failures::{Conditional, count, number, string};
use super::{DynamoStore, Item, dependency, every_item, n, s, written};
use crate::decide::epoch_ms;
use crate::decide::fleet::{FleetKind, FleetRecord, Incident, Member, Strike};
use crate::error::Error;
use crate::ports::{FleetStore, Opened, Struck};

/// The value of `sweep` on a fleet record (its partition of the sparse index).
const FLEET: &str = "fleet";

/// Customers forgotten per write (six attributes each, well inside an expression's limits).
const CHUNK: usize = 20;

/// The incident's attributes.
const INCIDENT: [&str; 7] = [
    "incident_id",
    "incident_opened_by",
    "incident_opened_seq",
    "incident_opened_ms",
    "incident_since_ms",
    "incident_reported",
    "incident_reported_ms",
];

/// Separates the organization from the reference in `o#<customer>`.
const SEP: char = '\u{1f}';

fn attr(prefix: &str, customer: &str) -> String {
    format!("{prefix}#{customer}")
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
        let mut write = self.update_record(key)?;
        let mut removed = Vec::new();
        for (i, name) in names.iter().enumerate() {
            removed.push(format!("#a{i}"));
            write = write.expression_attribute_names(format!("#a{i}"), *name);
        }
        let mut condition = Vec::new();
        if let Some(last_ms) = last_ms {
            condition.push("last_ms = :last");
            write = write.expression_attribute_values(":last", n(last_ms));
        }
        if let Some(id) = incident {
            condition.push("incident_id = :id");
            write = write.expression_attribute_values(":id", s(id));
        }
        let condition = condition.join(" AND ");
        written(
            write
                .update_expression(format!("REMOVE {}", removed.join(", ")))
                .condition_expression(condition)
                .send()
                .await,
        )
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
        let write = self
            .update_record(key)?
            .update_expression("SET incident_reported = :n, incident_reported_ms = :to")
            .condition_expression("incident_id = :id AND incident_reported_ms = :from")
            .expression_attribute_values(":n", n(i64::from(customers)))
            .expression_attribute_values(":to", n(at_ms))
            .expression_attribute_values(":id", s(id))
            .expression_attribute_values(":from", n(from_ms))
            .send()
            .await;
        written(write)
    }
}

impl FleetStore for DynamoStore {
    async fn strike(&self, strike: &Strike, now: OffsetDateTime) -> Result<Struck, Error> {
        let c = &strike.customer;
        let write = self
            .update_record(&strike.key())?
            // Failing again: not recovered (connected) any more.
            .update_expression(
                "SET #s = :now, #l = :me, #o = :detail, last_ms = :now, tool = :tool, \
                 #q = if_not_exists(seq, :zero) + :one, seq = if_not_exists(seq, :zero) + :one, \
                 fleet_kind = :kind, category = if_not_exists(category, :category), \
                 record_type = :fleet, sweep = :fleet, window_start_ms = :now, expires_at = :ttl \
                 ADD #n :one REMOVE #r",
            )
            .condition_expression("attribute_not_exists(#l) OR #l <> :me")
            .expression_attribute_names("#s", attr("s", c))
            .expression_attribute_names("#l", attr("l", c))
            .expression_attribute_names("#o", attr("o", c))
            .expression_attribute_names("#n", attr("n", c))
            .expression_attribute_names("#q", attr("q", c))
            .expression_attribute_names("#r", attr("r", c))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(epoch_ms(now)))
            .expression_attribute_values(":me", s(&strike.event_id))
            .expression_attribute_values(
                ":detail",
                s(format!("{}{SEP}{}", strike.organization, strike.reference)),
            )
            .expression_attribute_values(":tool", s(&strike.tool))
            .expression_attribute_values(":kind", s(strike.kind.as_str()))
            .expression_attribute_values(":category", s(&strike.category))
            .expression_attribute_values(":fleet", s(FLEET))
            .expression_attribute_values(":ttl", n((now + self.retention).unix_timestamp()))
            .expression_attribute_values(":one", n(1));
        let empty = || FleetRecord::empty(strike.kind, &strike.tool);
        Ok(
            match self
                .conditional_returning(write, ReturnValue::AllOld)
                .await?
            {
                Conditional::Written(old) => Struck {
                    before: fleet_record(&old).unwrap_or_else(empty),
                    repeat: false,
                },
                Conditional::Refused(now) => Struck {
                    before: now.as_ref().and_then(fleet_record).unwrap_or_else(empty),
                    repeat: true,
                },
            },
        )
    }

    async fn unstrike(&self, strike: &Strike) -> Result<(), Error> {
        let c = &strike.customer;
        let write = self
            .update_record(&strike.key())?
            .update_expression("ADD #n :minus")
            .condition_expression("#l = :me AND #n > :one")
            .expression_attribute_names("#n", attr("n", c))
            .expression_attribute_names("#l", attr("l", c))
            .expression_attribute_values(":me", s(&strike.event_id))
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        written(write)?;
        Ok(())
    }

    async fn open_incident(&self, key: &str, incident: &Incident) -> Result<Opened, Error> {
        let write = self
            .update_record(key)?
            .update_expression(
                "SET incident_id = :id, incident_opened_by = :me, incident_opened_seq = :seq, \
                 incident_opened_ms = :at, \
                 incident_since_ms = :since, incident_reported = :reported, \
                 incident_reported_ms = :at",
            )
            .condition_expression("attribute_exists(last_ms) AND attribute_not_exists(incident_id)")
            .expression_attribute_values(":id", s(&incident.id))
            .expression_attribute_values(":me", s(&incident.opened_by))
            .expression_attribute_values(
                ":seq",
                n(i64::try_from(incident.opened_seq).unwrap_or(i64::MAX)),
            )
            .expression_attribute_values(":at", n(incident.opened_ms))
            .expression_attribute_values(":since", n(incident.since_ms))
            .expression_attribute_values(":reported", n(i64::from(incident.reported)));
        Ok(
            match self.conditional_returning(write, ReturnValue::None).await? {
                Conditional::Written(_) => Opened::Ours,
                Conditional::Refused(Some(now))
                    if string(&now, "incident_opened_by").as_deref()
                        == Some(incident.opened_by.as_str()) =>
                {
                    Opened::Ours
                }
                Conditional::Refused(_) => Opened::Other,
            },
        )
    }

    async fn recover(&self, key: &str, customer: &str) -> Result<Option<FleetRecord>, Error> {
        let write = self
            .update_record(key)?
            .update_expression("SET #r = :one")
            .condition_expression("attribute_exists(#s)")
            .expression_attribute_names("#r", attr("r", customer))
            .expression_attribute_names("#s", attr("s", customer))
            .expression_attribute_values(":one", n(1));
        Ok(
            match self
                .conditional_returning(write, ReturnValue::AllNew)
                .await?
            {
                Conditional::Written(new) => fleet_record(&new),
                Conditional::Refused(_) => None,
            },
        )
    }

    async fn fleet_records(&self) -> Result<Vec<FleetRecord>, Error> {
        let query = self
            .client
            .query()
            .table_name(self.idempotency_table()?)
            .index_name(super::PENDING_SUMMARIES_INDEX)
            .key_condition_expression("sweep = :fleet")
            .expression_attribute_values(":fleet", s(FLEET));
        let keys: Vec<String> = every_item(query)
            .await?
            .iter()
            .filter_map(|i| string(i, "event_id"))
            .collect();
        // The index is eventually consistent: each record is read as it stands.
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            let read = self
                .client
                .get_item()
                .table_name(self.idempotency_table()?)
                .key("event_id", s(&key))
                .consistent_read(true)
                .send()
                .await
                .map_err(dependency)?;
            if let Some(r) = read.item().and_then(fleet_record) {
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
        // Nothing counted since the read: the customers go with it.
        if self
            .forget(&r.key, &INCIDENT, Some(r.last_ms), Some(&incident.id))
            .await?
        {
            return self.prune(r, stale_before_ms).await;
        }
        self.forget(&r.key, &INCIDENT, None, Some(&incident.id))
            .await?;
        Ok(())
    }

    async fn prune(&self, r: &FleetRecord, before_ms: i64) -> Result<(), Error> {
        let stale: Vec<&Member> = r.members.iter().filter(|m| m.last_ms < before_ms).collect();
        if stale.len() == r.members.len() {
            // Nobody left: the record goes (unless something was counted since).
            let delete = self
                .client
                .delete_item()
                .table_name(self.idempotency_table()?)
                .key("event_id", s(&r.key))
                .condition_expression("last_ms = :last AND attribute_not_exists(incident_id)")
                .expression_attribute_values(":last", n(r.last_ms))
                .send()
                .await;
            written(delete)?;
            return Ok(());
        }
        for chunk in stale.chunks(CHUNK) {
            let names: Vec<String> = chunk
                .iter()
                .flat_map(|m| ["s", "q", "n", "l", "o", "r"].map(|p| attr(p, &m.customer)))
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            if !self.forget(&r.key, &names, Some(r.last_ms), None).await? {
                break;
            }
        }
        Ok(())
    }
}

/// A fleet record as stored (items that do not parse are not fleet records).
pub(super) fn fleet_record(item: &Item) -> Option<FleetRecord> {
    let kind = FleetKind::parse(&string(item, "fleet_kind")?)?;
    let n = |name: &str| number(item, name).unwrap_or(0);
    let seq = |name: &str| u64::try_from(n(name)).unwrap_or(0);
    // One customer per `s#` attribute (a customer whose strike is half forgotten is none).
    let mut members: Vec<Member> = item
        .keys()
        .filter_map(|name| name.strip_prefix("s#"))
        .map(|customer| {
            let detail = string(item, &attr("o", customer)).unwrap_or_default();
            let (organization, reference) = detail.split_once(SEP).unwrap_or((&detail, ""));
            Member {
                customer: customer.to_owned(),
                organization: organization.to_owned(),
                reference: reference.to_owned(),
                last_ms: n(&attr("s", customer)),
                failures: count(item, &attr("n", customer)),
                seq: seq(&attr("q", customer)),
                recovered: item.contains_key(&attr("r", customer)),
            }
        })
        .filter(|m| m.last_ms > 0)
        .collect();
    // In the order of their last failures, as `FleetRecord::members` keeps them.
    members.sort_unstable_by_key(|m| (m.last_ms, m.seq));
    let incident = string(item, "incident_id").map(|id| Incident {
        id,
        opened_by: string(item, "incident_opened_by").unwrap_or_default(),
        opened_seq: seq("incident_opened_seq"),
        opened_ms: n("incident_opened_ms"),
        since_ms: n("incident_since_ms"),
        reported: count(item, "incident_reported"),
        reported_ms: n("incident_reported_ms"),
    });
    Some(FleetRecord {
        key: string(item, "event_id")?,
        kind,
        tool: string(item, "tool").unwrap_or_default(),
        category: string(item, "category").unwrap_or_default(),
        members,
        incident,
        last_ms: n("last_ms"),
        seq: seq("seq"),
    })
}
