//! A row of the mappings table as the decisions see it: the mapping, its tombstone, the
//! state an `integration-state-changed` sets on it, and the rule of its `usable`.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::clock::rfc3339;

/// `status` of a mapping row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Active,
    Deleted,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Deleted => "DELETED",
        }
    }
}

/// Why a backend cannot use an integration now: the row's `unusable_reason`, and what its
/// UI offers (reconnect, finish setup, wait for the final sync, ask Kombo's support).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unusable {
    /// A tombstone: the integration is deleted.
    Deleted,
    /// Kombo's state `INVALID`: the customer must reconnect (a reconnection link).
    Invalid,
    /// Kombo's state `INACTIVE`: paused.
    Inactive,
    /// `setup_status` `INCOMPLETE` (or a value this version does not know): the customer
    /// must finish the setup steps (a setup link); Kombo answers data calls 409
    /// `INTEGRATION.SETUP_INCOMPLETE`.
    SetupIncomplete,
    /// `setup_status` `FINAL_SYNC_PENDING`: data comes after the final sync; Kombo answers
    /// 409 `INTEGRATION.SETUP_SYNC_PENDING` until then.
    FinalSyncPending,
    /// `qa_status` `FAILED`: Kombo answers 409 `INTEGRATION.QA_FAILED`.
    QaFailed,
}

impl Unusable {
    /// As stored and answered.
    pub fn as_str(self) -> &'static str {
        match self {
            Unusable::Deleted => "deleted",
            Unusable::Invalid => "invalid",
            Unusable::Inactive => "inactive",
            Unusable::SetupIncomplete => "setup_incomplete",
            Unusable::FinalSyncPending => "final_sync_pending",
            Unusable::QaFailed => "qa_failed",
        }
    }
}

/// Why a backend cannot use an integration with these facts (`None`: it can), the first
/// reason that holds: a tombstone; Kombo's state `INVALID` or `INACTIVE`; a setup that is
/// not `COMPLETED` (no `setup_status` yet, as on rows from before it was kept, counts as
/// completed); `qa_status` `FAILED`. What Kombo answers with 409 is never usable. An
/// unknown state (Kombo adds values) does not make it unusable; an unknown setup status
/// does (Kombo serves data only once setup is `COMPLETED`).
pub fn unusable(
    status: Status,
    state: Option<&str>,
    setup_status: Option<&str>,
    qa_status: Option<&str>,
) -> Option<Unusable> {
    if status == Status::Deleted {
        return Some(Unusable::Deleted);
    }
    match state {
        Some("INVALID") => return Some(Unusable::Invalid),
        Some("INACTIVE") => return Some(Unusable::Inactive),
        _ => {}
    }
    match setup_status {
        None | Some("COMPLETED") => {}
        Some("FINAL_SYNC_PENDING") => return Some(Unusable::FinalSyncPending),
        Some(_) => return Some(Unusable::SetupIncomplete),
    }
    (qa_status == Some("FAILED")).then_some(Unusable::QaFailed)
}

/// Whether a backend can use an integration now, the table's `usable` attribute: no
/// [`unusable`] reason holds.
pub fn usable(
    status: Status,
    state: Option<&str>,
    setup_status: Option<&str>,
    qa_status: Option<&str>,
) -> bool {
    unusable(status, state, setup_status, qa_status).is_none()
}

/// A row of the mappings table, as stored (see docs/table-contract.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub integration_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_id: Option<String>,
    /// Tool, category and organization: from Kombo's events; an imported row (see
    /// `import-mappings`) may lack the organization until its create arrives.
    #[serde(default)]
    pub tool: String,
    /// Empty (and not stored) on a row a Connect completion stored until the webhook fills it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    #[serde(default)]
    pub organization_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_email: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub last_event_id: String,
    /// The `integration-created` event that stored (or completed) the row; written by
    /// that create only, so a retry of it knows the row is its own whatever other events
    /// changed since. Absent on rows recorded from a state change before their create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_event_id: Option<String>,
    /// TTL (epoch seconds); set on tombstones only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// From `integration-state-changed` (absent until one arrives): `ACTIVE`,
    /// `INVALID`, `INACTIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qa_status: Option<String>,
    /// Kombo's `updated_at` of that state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<String>,
    /// A row a Connect completion stored: the SHA-256 of the activation token (base64url),
    /// so a retry of that completion finds its row after Kombo has used the token up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_token_sha256: Option<String>,
    /// [`usable`] of the row's status, state, setup and QA status, as stored: every write
    /// sets it from what the row holds after it; absent on rows written before the
    /// attribute existed (read [`Mapping::usable_now`]), and on a mapping not stored yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable: Option<bool>,
    /// [`unusable`]'s reason beside `usable = false`, as stored (absent where usable; on rows
    /// written before it existed, read [`Mapping::unusable_now`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unusable_reason: Option<Unusable>,
    /// Kombo's open issues of the integration (`issue-status-changed`), read from the row's
    /// `issue#<id>` attributes by the adapter; never written from here. An open issue does
    /// not make an integration unusable (Kombo still serves its data): it warns.
    #[serde(default, skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub open_issues: Vec<OpenIssue>,
}

impl Mapping {
    /// [`unusable`] as the row's own fields say: what its stored `unusable_reason` must be.
    pub fn unusable_now(&self) -> Option<Unusable> {
        unusable(
            self.status,
            self.state.as_deref(),
            self.setup_status.as_deref(),
            self.qa_status.as_deref(),
        )
    }

    /// [`usable`] as the row's own fields say: what its stored `usable` must be.
    pub fn usable_now(&self) -> bool {
        self.unusable_now().is_none()
    }

    /// Whether the stored `usable` and `unusable_reason` are what the row's fields say
    /// (a row written before either existed, or under an older rule, is not).
    pub fn usable_settled(&self) -> bool {
        self.usable == Some(self.usable_now()) && self.unusable_reason == self.unusable_now()
    }

    /// `usable` and `unusable_reason` from the row's fields (also on a row written before
    /// the attributes existed).
    pub fn with_usable_now(mut self) -> Mapping {
        self.usable = Some(self.usable_now());
        self.unusable_reason = self.unusable_now();
        self
    }

    /// The row as the backend answers it: [`Self::with_usable_now`], without the Connect
    /// token's digest (the table's business: a caller has no use for it, and an answer that
    /// reaches a page or a log must not carry it).
    pub fn answered(self) -> Mapping {
        Mapping {
            connect_token_sha256: None,
            ..self.with_usable_now()
        }
    }
}

/// The descriptive fields a tombstone fills in only where the row does not have them
/// yet (a delete may arrive before its create, or without one ever coming). A delete
/// through the backend API knows none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Descriptive {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator_email: Option<String>,
}

/// The fields a tombstone always sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TombstoneMark {
    pub status: Status,
    pub deleted_at: String,
    pub updated_at: String,
    pub last_event_id: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub integration_id: String,
    pub mark: TombstoneMark,
    pub descriptive: Descriptive,
}

impl Tombstone {
    /// The tombstone for an integration deleted through the backend API (Kombo's
    /// `DELETE /integrations/{id}`), marked with `cause` as its event id.
    pub fn deleted_by_api(
        integration_id: &str,
        cause: String,
        now: OffsetDateTime,
        retention: Duration,
    ) -> Self {
        Tombstone {
            integration_id: integration_id.to_owned(),
            mark: TombstoneMark {
                status: Status::Deleted,
                deleted_at: rfc3339(now),
                updated_at: rfc3339(now),
                last_event_id: cause,
                expires_at: (now + retention).unix_timestamp(),
            },
            descriptive: Descriptive::default(),
        }
    }
}

/// The state fields an `integration-state-changed` event sets on a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateFields {
    pub state: String,
    pub setup_status: String,
    /// Absent when the source does not say (Kombo's `GET /integrations/{id}` has none):
    /// the stored one stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qa_status: Option<String>,
    /// Kombo's `updated_at` of the state, RFC 3339.
    pub state_updated_at: String,
    /// The same as epoch milliseconds: an older update never overwrites a newer one.
    pub state_updated_at_ms: i64,
    pub updated_at: String,
    pub last_event_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    pub integration_id: String,
    pub fields: StateFields,
    /// What the event says about the integration: fills a row that does not exist yet
    /// (an integration created before this stack was deployed), never overwrites.
    pub descriptive: Descriptive,
    /// The new state is INVALID: the store records which event made it so, and tells
    /// whether this event is the one that did (then on-call is paged).
    pub invalid: bool,
    /// The new state is ACTIVE: the store records which event took the integration out
    /// of INVALID, if this one did (then one "recovered" notice goes out).
    pub recovers: bool,
    /// The `qa_status` the row holds, for an update that does not say (the reconcile run,
    /// which read the row): what `usable` follows from with this state.
    pub stored_qa_status: Option<String>,
}

impl StateUpdate {
    /// The `qa_status` the row holds after this update.
    pub fn qa_status(&self) -> Option<&str> {
        self.fields
            .qa_status
            .as_deref()
            .or(self.stored_qa_status.as_deref())
    }

    /// Why the row cannot be used after this update (it is not a tombstone: the write's
    /// condition).
    pub fn unusable(&self) -> Option<Unusable> {
        unusable(
            Status::Active,
            Some(&self.fields.state),
            Some(&self.fields.setup_status),
            self.qa_status(),
        )
    }
}

/// An open issue as the backend answers it (`open_issues` of a row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIssue {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// When Kombo first observed it (RFC 3339).
    pub since: String,
}

/// A mapping row as a conditional write found it: the row it replaced when written, the
/// row that stands when refused (only what the decisions read of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RowSeen {
    /// As stored (read as text: a value this version does not know is not a tombstone).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub last_event_id: Option<String>,
    #[serde(default)]
    pub created_event_id: Option<String>,
    #[serde(default)]
    pub origin_id: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub qa_status: Option<String>,
    /// The event that opened the current INVALID period.
    #[serde(default)]
    pub invalid_event_id: Option<String>,
    /// The state change that took the row out of INVALID last.
    #[serde(default)]
    pub recovered_event_id: Option<String>,
    /// The event whose state the row holds.
    #[serde(default)]
    pub state_event_id: Option<String>,
    /// The state that event's write replaced (`NONE`: there was none).
    #[serde(default)]
    pub state_before: Option<String>,
    /// The `qa_status` that event's write replaced (`NONE`: there was none; absent: the
    /// write was by a version before it was kept).
    #[serde(default)]
    pub qa_before: Option<String>,
    /// The INVALID period's page claim ([`super::state::PageClaim`]).
    #[serde(default)]
    pub invalid_page: Option<String>,
}

impl RowSeen {
    pub fn deleted(&self) -> bool {
        self.status.as_deref() == Some(Status::Deleted.as_str())
    }

    /// Whether `event_id` wrote this row's defining fact: `field` (the create's or the
    /// INVALID's event id) or, on a row written before that field existed (an upgrade
    /// from a version without it), `last_event_id`.
    pub fn written_by(&self, field: &Option<String>, event_id: &str) -> bool {
        match field {
            Some(id) => id == event_id,
            None => self.last_event_id.as_deref() == Some(event_id),
        }
    }

    /// Whether the create `event_id` stored this row (now or on an earlier try of it).
    pub fn created_by(&self, event_id: &str) -> bool {
        self.written_by(&self.created_event_id, event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_written_by_the_event_its_field_names_or_before_the_field_its_last_event() {
        let row = RowSeen {
            last_event_id: Some("s-9".into()),
            created_event_id: Some("c-1".into()),
            ..RowSeen::default()
        };
        assert!(row.created_by("c-1"));
        assert!(!row.created_by("s-9"), "the field names the create");
        let before = RowSeen {
            last_event_id: Some("c-1".into()),
            ..RowSeen::default()
        };
        assert!(before.created_by("c-1"), "a row from before the field");
        assert!(!before.created_by("c-2"));
    }

    #[test]
    fn usable_is_what_kombo_serves_data_for_and_the_reason_is_the_first_that_holds() {
        use Status::{Active, Deleted};
        let reason = |status, state, setup, qa| unusable(status, state, setup, qa);
        assert_eq!(reason(Active, None, None, None), None, "no state seen yet");
        assert_eq!(
            reason(Active, Some("ACTIVE"), Some("COMPLETED"), Some("PASSED")),
            None
        );
        assert_eq!(
            reason(Active, Some("PAUSED"), None, Some("PENDING")),
            None,
            "a state Kombo adds later; QA not finished is not a 409"
        );
        for (state, setup, qa, why) in [
            (Some("INVALID"), Some("COMPLETED"), None, Unusable::Invalid),
            (
                Some("INACTIVE"),
                Some("COMPLETED"),
                None,
                Unusable::Inactive,
            ),
            (
                Some("ACTIVE"),
                Some("INCOMPLETE"),
                None,
                Unusable::SetupIncomplete,
            ),
            (None, Some("INCOMPLETE"), None, Unusable::SetupIncomplete),
            (
                Some("ACTIVE"),
                Some("SOMETHING_NEW"),
                None,
                Unusable::SetupIncomplete,
            ),
            (
                Some("ACTIVE"),
                Some("FINAL_SYNC_PENDING"),
                None,
                Unusable::FinalSyncPending,
            ),
            (
                Some("ACTIVE"),
                Some("COMPLETED"),
                Some("FAILED"),
                Unusable::QaFailed,
            ),
            (
                Some("INVALID"),
                Some("INCOMPLETE"),
                Some("FAILED"),
                Unusable::Invalid,
            ),
        ] {
            assert_eq!(
                reason(Active, state, setup, qa),
                Some(why),
                "{state:?} {setup:?} {qa:?}"
            );
            assert!(!usable(Active, state, setup, qa));
        }
        assert_eq!(
            reason(Deleted, Some("ACTIVE"), Some("COMPLETED"), None),
            Some(Unusable::Deleted),
            "a tombstone"
        );
        assert!(usable(Active, Some("ACTIVE"), Some("COMPLETED"), None));
    }

    #[test]
    fn a_reason_is_stored_and_answered_as_its_name() {
        for r in [
            Unusable::Deleted,
            Unusable::Invalid,
            Unusable::Inactive,
            Unusable::SetupIncomplete,
            Unusable::FinalSyncPending,
            Unusable::QaFailed,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
