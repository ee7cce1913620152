//! The two tables' schema: every attribute name, index and stored marker the adapters use,
//! each spelled here once (a test reads the source to hold it so). Names never change once
//! deployed: a row written by any earlier version reads the same (docs/table-contract.md).
//!
//! In an expression an attribute is written `#{NAME}` (its placeholder, `#name`); the
//! expression builder ([`super::expr`]) binds every placeholder to the attribute of that
//! name, and refuses one this schema does not declare.

/// Attributes both tables have, with the same meaning.
mod common {
    pub const STATUS: &str = "status";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const LAST_EVENT_ID: &str = "last_event_id";
    pub const ORIGIN_ID: &str = "origin_id";
    pub const ORGANIZATION_NAME: &str = "organization_name";
    pub const TOOL: &str = "tool";
    pub const CATEGORY: &str = "category";
}

/// The mappings table (`TABLE_NAME`): one row per Kombo integration.
pub mod mappings {
    pub use super::common::{
        CATEGORY, EXPIRES_AT, LAST_EVENT_ID, ORGANIZATION_NAME, ORIGIN_ID, STATUS, TOOL,
    };

    /// The key.
    pub const INTEGRATION_ID: &str = "integration_id";
    /// The customer index (key `origin_id`).
    pub const BY_ORIGIN_INDEX: &str = "by-origin-id";

    pub const CREATOR_EMAIL: &str = "creator_email";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const DELETED_AT: &str = "deleted_at";
    pub const CREATED_EVENT_ID: &str = "created_event_id";
    pub const STATE: &str = "state";
    pub const SETUP_STATUS: &str = "setup_status";
    pub const QA_STATUS: &str = "qa_status";
    pub const STATE_UPDATED_AT: &str = "state_updated_at";
    pub const STATE_UPDATED_AT_MS: &str = "state_updated_at_ms";
    pub const CONNECT_TOKEN_SHA256: &str = "connect_token_sha256";
    pub const USABLE: &str = "usable";
    pub const UNUSABLE_REASON: &str = "unusable_reason";
    pub const STATE_EVENT_ID: &str = "state_event_id";
    pub const STATE_BEFORE: &str = "state_before";
    pub const QA_BEFORE: &str = "qa_before";
    pub const INVALID_EVENT_ID: &str = "invalid_event_id";
    pub const RECOVERED_EVENT_ID: &str = "recovered_event_id";
    pub const INVALID_PAGE: &str = "invalid_page";
    /// An issue of the integration: `issue#<Kombo issue id>`, a map of the names below.
    pub const ISSUE: &str = "issue";
    pub const ISSUE_TYPE: &str = "type";
    pub const ISSUE_TITLE: &str = "title";
    pub const ISSUE_SINCE: &str = "since";
    pub const ISSUE_SINCE_MS: &str = "since_ms";
    pub const ISSUE_RESOLVED_MS: &str = "resolved_ms";

    /// The attribute of the integration's issue `issue_id`.
    pub fn issue(issue_id: &str) -> String {
        format!("{ISSUE}#{issue_id}")
    }

    /// The issue id an attribute names (`None`: not an issue's).
    pub fn issue_of(attribute: &str) -> Option<&str> {
        attribute.strip_prefix(ISSUE)?.strip_prefix('#')
    }

    /// Every attribute of a row (an issue's map keys among them).
    pub const ALL: [&str; 32] = [
        INTEGRATION_ID,
        ORIGIN_ID,
        TOOL,
        CATEGORY,
        ORGANIZATION_NAME,
        CREATOR_EMAIL,
        STATUS,
        CREATED_AT,
        UPDATED_AT,
        DELETED_AT,
        LAST_EVENT_ID,
        CREATED_EVENT_ID,
        EXPIRES_AT,
        STATE,
        SETUP_STATUS,
        QA_STATUS,
        STATE_UPDATED_AT,
        STATE_UPDATED_AT_MS,
        CONNECT_TOKEN_SHA256,
        USABLE,
        UNUSABLE_REASON,
        STATE_EVENT_ID,
        STATE_BEFORE,
        QA_BEFORE,
        INVALID_EVENT_ID,
        RECOVERED_EVENT_ID,
        INVALID_PAGE,
        ISSUE_TYPE,
        ISSUE_TITLE,
        ISSUE_SINCE,
        ISSUE_SINCE_MS,
        ISSUE_RESOLVED_MS,
    ];
}

/// The records table (`IDEMPOTENCY_TABLE_NAME`, the name it was deployed with): claim
/// records, failure records, fleet records and the reconcile run's cursor, keyed as
/// [`crate::keys`] says.
pub mod records {
    pub use super::common::{
        CATEGORY, EXPIRES_AT, LAST_EVENT_ID, ORGANIZATION_NAME, ORIGIN_ID, STATUS, TOOL,
    };

    /// The key.
    pub const EVENT_ID: &str = "event_id";
    /// The sweep's sparse index (key `sweep`, sort key `window_start_ms`).
    pub const PENDING_SUMMARIES_INDEX: &str = "pending-summaries";

    // A claim record.
    pub const TOKEN: &str = "token";
    pub const IN_PROGRESS_UNTIL: &str = "in_progress_until";
    /// What the claimed effect did (an effect's outcome, as a webhook answers it).
    pub const OUTCOME: &str = "outcome";

    // A failure record.
    pub const RECORD_TYPE: &str = "record_type";
    pub const WINDOW_START_MS: &str = "window_start_ms";
    pub const WINDOW_OPENED_BY: &str = "window_opened_by";
    pub const CARRIED: &str = "carried";
    pub const FOLDED: &str = "folded";
    pub const FOLDED_IDS: &str = "folded_ids";
    pub const TOTAL: &str = "total";
    pub const FIRST_FAILURE_AT: &str = "first_failure_at";
    pub const LAST_FAILURE_AT: &str = "last_failure_at";
    pub const LAST_LOG_URL: &str = "last_log_url";
    pub const SWEEP: &str = "sweep";
    pub const RESOLVED_BY: &str = "resolved_by";
    pub const RESOLVED_AT: &str = "resolved_at";
    pub const RESOLVED_TOTAL: &str = "resolved_total";
    pub const SUMMARY_PENDING: &str = "summary_pending";
    pub const SUMMARY_ID: &str = "summary_id";

    // A fleet record.
    pub const FLEET_KIND: &str = "fleet_kind";
    pub const LAST_MS: &str = "last_ms";
    pub const SEQ: &str = "seq";
    pub const INCIDENT_ID: &str = "incident_id";
    pub const INCIDENT_OPENED_BY: &str = "incident_opened_by";
    pub const INCIDENT_OPENED_SEQ: &str = "incident_opened_seq";
    pub const INCIDENT_OPENED_MS: &str = "incident_opened_ms";
    pub const INCIDENT_SINCE_MS: &str = "incident_since_ms";
    pub const INCIDENT_REPORTED: &str = "incident_reported";
    pub const INCIDENT_REPORTED_MS: &str = "incident_reported_ms";
    /// Set once the record lists `MEMBER_CAP` customers: a new one is only counted
    /// (`overflow`).
    pub const FLEET_FULL: &str = "full";
    pub const FLEET_OVERFLOW: &str = "overflow";
    /// A fleet record's customer: `<prefix>#<customer>`, one attribute per fact.
    pub const MEMBER_LAST_MS: &str = "s";
    pub const MEMBER_SEQ: &str = "q";
    pub const MEMBER_FAILURES: &str = "n";
    pub const MEMBER_LAST_EVENT: &str = "l";
    pub const MEMBER_DETAIL: &str = "o";
    pub const MEMBER_RECOVERED: &str = "r";
    pub const MEMBER_ESTABLISHED: &str = "e";
    pub const MEMBER_FIRST_MS: &str = "f";

    // The reconcile cursor.
    pub const AFTER: &str = "after";

    /// `sweep` of a failure record with folded failures.
    pub const SWEEP_DUE: &str = "due";
    /// `sweep` (and `record_type`) of a fleet record.
    pub const SWEEP_FLEET: &str = "fleet";

    /// Every attribute with a fixed name (a fleet record's customers' are [`member`]'s).
    pub const ALL: [&str; 39] = [
        EVENT_ID,
        STATUS,
        EXPIRES_AT,
        TOKEN,
        IN_PROGRESS_UNTIL,
        OUTCOME,
        RECORD_TYPE,
        WINDOW_START_MS,
        WINDOW_OPENED_BY,
        CARRIED,
        FOLDED,
        FOLDED_IDS,
        TOTAL,
        FIRST_FAILURE_AT,
        LAST_FAILURE_AT,
        LAST_LOG_URL,
        LAST_EVENT_ID,
        ORGANIZATION_NAME,
        TOOL,
        CATEGORY,
        ORIGIN_ID,
        SWEEP,
        RESOLVED_BY,
        RESOLVED_AT,
        RESOLVED_TOTAL,
        SUMMARY_PENDING,
        SUMMARY_ID,
        FLEET_KIND,
        LAST_MS,
        SEQ,
        INCIDENT_ID,
        INCIDENT_OPENED_BY,
        INCIDENT_OPENED_SEQ,
        INCIDENT_OPENED_MS,
        INCIDENT_SINCE_MS,
        INCIDENT_REPORTED,
        INCIDENT_REPORTED_MS,
        FLEET_FULL,
        FLEET_OVERFLOW,
    ];

    /// The open incident's attributes.
    pub const INCIDENT: [&str; 7] = [
        INCIDENT_ID,
        INCIDENT_OPENED_BY,
        INCIDENT_OPENED_SEQ,
        INCIDENT_OPENED_MS,
        INCIDENT_SINCE_MS,
        INCIDENT_REPORTED,
        INCIDENT_REPORTED_MS,
    ];

    /// A customer's attributes on a fleet record.
    pub const MEMBER: [&str; 8] = [
        MEMBER_LAST_MS,
        MEMBER_SEQ,
        MEMBER_FAILURES,
        MEMBER_LAST_EVENT,
        MEMBER_DETAIL,
        MEMBER_RECOVERED,
        MEMBER_ESTABLISHED,
        MEMBER_FIRST_MS,
    ];

    /// The attribute `prefix` ([`MEMBER`]) of `customer` on a fleet record.
    pub fn member(prefix: &str, customer: &str) -> String {
        format!("{prefix}#{customer}")
    }

    /// The customer of a member attribute of `prefix` (`None`: not one).
    pub fn member_of<'a>(attribute: &'a str, prefix: &str) -> Option<&'a str> {
        attribute.strip_prefix(prefix)?.strip_prefix('#')
    }
}

/// Whether `name` is an attribute this schema declares (of either table).
pub fn declares(name: &str) -> bool {
    mappings::ALL.contains(&name) || records::ALL.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::row::{Descriptive, Mapping, RowSeen, StateFields, Status, TombstoneMark};

    fn keys_of<T: serde::Serialize>(value: &T) -> Vec<String> {
        match serde_json::to_value(value).unwrap() {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn every_field_a_row_is_written_from_is_a_declared_attribute() {
        let m = Mapping {
            integration_id: "w:1".into(),
            origin_id: Some("42".into()),
            tool: "w".into(),
            category: "LMS".into(),
            organization_name: "Acme".into(),
            creator_email: Some("a@b".into()),
            status: Status::Active,
            created_at: Some("t".into()),
            updated_at: "t".into(),
            deleted_at: Some("t".into()),
            last_event_id: "e".into(),
            created_event_id: Some("e".into()),
            expires_at: Some(1),
            state: Some("ACTIVE".into()),
            setup_status: Some("COMPLETED".into()),
            qa_status: Some("PASSED".into()),
            state_updated_at: Some("t".into()),
            connect_token_sha256: Some("h".into()),
            usable: Some(false),
            unusable_reason: Some(crate::decide::row::Unusable::QaFailed),
            open_issues: Vec::new(),
        };
        let fields = StateFields {
            state: "ACTIVE".into(),
            setup_status: "COMPLETED".into(),
            qa_status: Some("PASSED".into()),
            state_updated_at: "t".into(),
            state_updated_at_ms: 1,
            updated_at: "t".into(),
            last_event_id: "e".into(),
        };
        let descriptive = Descriptive {
            origin_id: Some("42".into()),
            tool: Some("w".into()),
            category: Some("LMS".into()),
            organization_name: Some("Acme".into()),
            creator_email: Some("a@b".into()),
        };
        let mark = TombstoneMark {
            status: Status::Deleted,
            deleted_at: "t".into(),
            updated_at: "t".into(),
            last_event_id: "e".into(),
            expires_at: 1,
        };
        let mut written = keys_of(&m);
        written.extend(keys_of(&fields));
        written.extend(keys_of(&descriptive));
        written.extend(keys_of(&mark));
        assert_eq!(
            keys_of(&m).len(),
            20,
            "a new Mapping field: declare it here"
        );
        for name in written {
            assert!(
                mappings::ALL.contains(&name.as_str()),
                "{name} is not declared"
            );
        }
        // What a write reads back of a row.
        let seen: RowSeen = serde_json::from_value(serde_json::json!({
            "status": "DELETED", "last_event_id": "e", "created_event_id": "c",
            "origin_id": "42", "state": "INVALID", "invalid_event_id": "i",
            "recovered_event_id": "r", "state_event_id": "s", "state_before": "NONE",
            "invalid_page": "SENT"
        }))
        .unwrap();
        assert!(seen.deleted() && seen.invalid_page.as_deref() == Some("SENT"));
        // The stored status values, as the conditions spell them.
        assert_eq!(
            serde_json::to_value(Status::Deleted).unwrap(),
            Status::Deleted.as_str()
        );
        assert_eq!(
            serde_json::to_value(Status::Active).unwrap(),
            Status::Active.as_str()
        );
    }

    #[test]
    fn a_members_attribute_names_its_customer_whatever_its_characters() {
        let name = records::member(records::MEMBER_LAST_MS, "36#1 x");
        assert_eq!(name, "s#36#1 x");
        assert_eq!(
            records::member_of(&name, records::MEMBER_LAST_MS),
            Some("36#1 x")
        );
        assert_eq!(records::member_of(&name, records::MEMBER_SEQ), None);
        assert_eq!(records::member_of("seq", records::MEMBER_LAST_MS), None);
    }

    #[test]
    fn the_schema_declares_each_name_once_per_table() {
        for all in [&mappings::ALL[..], &records::ALL[..]] {
            let mut names = all.to_vec();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), all.len());
        }
        assert!(declares("invalid_page") && declares("incident_id"));
        assert!(!declares("s") && !declares("nope"));
    }
}
