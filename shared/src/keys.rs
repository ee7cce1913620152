//! Every key and claim id the product writes, and every id it names its own writes with:
//! each prefix is spelled here and nowhere else (a test reads the source to hold it so).
//!
//! The records table (`IDEMPOTENCY_TABLE_NAME`, key `event_id`) holds, side by side:
//! claims under a Kombo event id or one of the ids below, failure records
//! (`failures#<customer>#<tool>`), fleet records (`fleet#<kind>#<tool>`) and the reconcile
//! run's cursor. The mappings table is keyed by Kombo's integration id; `last_event_id` and
//! `created_event_id` there name the event, or the product's own cause, of a write.

/// A failure record: `failures#<customer>#<tool>`.
const FAILURES: &str = "failures#";
/// The failure record of a customer's issue pages: `issues#<customer>#<tool>`.
const ISSUES: &str = "issues#";
/// The claim of an issue episode's page or notice: `issue:<issue id>:<first observed ms>`.
const ISSUE: &str = "issue:";
/// The claim of an issue episode's "resolved" notice: `issue-resolved:<issue id>:<ms>`.
const ISSUE_RESOLVED: &str = "issue-resolved:";
/// The claim of a "duplicate integration" notice: `duplicate:<newer id>`.
const DUPLICATE: &str = "duplicate:";
/// The customer of a failure that names no `origin_id`: `org:<organization name>`.
const NO_ORIGIN: &str = "org:";
/// A fleet record: `fleet#<kind>#<tool>`.
const FLEET: &str = "fleet#";
/// `created_event_id` of a row a Connect completion stored: `connect:<integration id>`.
pub const CONNECT: &str = "connect:";
/// The reconcile run's cursor item.
pub const RECONCILE_CURSOR: &str = "reconcile#cursor";
/// A state the reconcile run observed: `reconcile:<integration id>:<epoch ms>`.
const RECONCILE_STATE: &str = "reconcile:";
/// A tombstone the reconcile run wrote: `reconcile-deleted:<integration id>`.
const RECONCILE_DELETED: &str = "reconcile-deleted:";
/// The claim of a create's "resolved" notice: `resolved:<create's event id>`.
const RESOLVED: &str = "resolved:";
/// The claim of the sweep's summary: `sweep:<failure record key>:<window start ms>`.
const SWEEP: &str = "sweep:";
/// The claim of a fleet incident's end: `fleet-over:<incident id>`.
const FLEET_OVER: &str = "fleet-over:";
/// The claim of an integration's "setup not finished" notice: `setup-incomplete:<id>`.
const SETUP_INCOMPLETE: &str = "setup-incomplete:";
/// The claim of an integration's "QA failed" notice: `qa-failed:<id>`.
const QA_FAILED: &str = "qa-failed:";
/// A delete through the backend API: `api-delete:<request id>`.
const API_DELETE: &str = "api-delete:";
/// An assignment through the backend API: `api-assign:<request id>`.
const API_ASSIGN: &str = "api-assign:";
/// An assignment by `import-mappings`: `import:<file>:<line>`.
const IMPORT: &str = "import:";
/// The key a connection warm-up reads (no item ever has it).
pub const WARM_UP: &str = "__warm-up__";

/// `customer` as it is, if at most `cap` bytes; else its first 40 bytes (whole characters), `~`
/// and 16 hex digits of its SHA-256: at most 57 bytes, so naming a name twice changes nothing
/// (`cap` ≥ 57).
pub fn bounded_customer(customer: &str, cap: usize) -> String {
    use sha2::{Digest, Sha256};
    if customer.len() <= cap {
        return customer.to_owned();
    }
    let digest = Sha256::digest(customer.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let mut head = 40;
    while !customer.is_char_boundary(head) {
        head -= 1;
    }
    format!("{}~{hash}", &customer[..head])
}

/// The longest customer name a fleet record (or an over-long failure record key) keeps as it
/// is ([`bounded_customer`]).
pub const CUSTOMER_CAP: usize = 64;

/// The longest failure record key: room is left within DynamoDB's 2,048-byte key for the
/// claims named after it (`sweep:<key>:<ms>`).
const FAILURE_KEY_MAX: usize = 2_000;

/// A failure record's customer part: as it is where the key fits, else bounded (the way a
/// fleet record names it, so the two agree).
fn customer_part(customer: &str, tool: &str) -> String {
    let fixed = FAILURES.len().max(ISSUES.len()) + 1 + tool.len();
    if fixed + customer.len() <= FAILURE_KEY_MAX {
        customer.to_owned()
    } else {
        bounded_customer(customer, CUSTOMER_CAP)
    }
}

/// Who a failure record is about: the customer's `origin_id`, or `org:<organization name>`.
pub fn customer(origin_id: Option<&str>, organization_name: &str) -> String {
    match origin_id {
        Some(origin) => origin.to_owned(),
        None => format!("{NO_ORIGIN}{organization_name}"),
    }
}

/// The failure record of one customer ([`customer`]) and tool.
/// A customer too long for the key is named bounded ([`bounded_customer`]).
pub fn failure_record(customer: &str, tool: &str) -> String {
    format!("{FAILURES}{}#{tool}", customer_part(customer, tool))
}

/// The failure record of one customer's issue pages for a tool.
pub fn issue_record(customer: &str, tool: &str) -> String {
    format!("{ISSUES}{}#{tool}", customer_part(customer, tool))
}

/// The customer a failure record key (of connection failures or of issues) of `tool`
/// names (`None`: not such a key).
pub fn customer_in_failure_record<'a>(key: &'a str, tool: &str) -> Option<&'a str> {
    key.strip_prefix(FAILURES)
        .or_else(|| key.strip_prefix(ISSUES))?
        .strip_suffix(tool)?
        .strip_suffix('#')
}

/// The claim of one issue episode (`issue_id` first observed at `first_observed_ms`).
pub fn issue_episode(issue_id: &str, first_observed_ms: i64) -> String {
    format!("{ISSUE}{issue_id}:{first_observed_ms}")
}

/// The claim of one issue episode's "resolved" notice.
pub fn issue_resolved(issue_id: &str, first_observed_ms: i64) -> String {
    format!("{ISSUE_RESOLVED}{issue_id}:{first_observed_ms}")
}

/// The claim of the notice that `newer` duplicates older integrations (one tool, one
/// customer).
pub fn duplicate(newer: &str) -> String {
    format!("{DUPLICATE}{newer}")
}

/// The fleet record of one tool and kind (`kind` as the record stores it).
pub fn fleet_record(kind: &str, tool: &str) -> String {
    format!("{FLEET}{kind}#{tool}")
}

/// A fleet incident's id: its kind, tool and opening (epoch ms).
pub fn incident(kind: &str, tool: &str, opened_ms: i64) -> String {
    format!("{kind}:{tool}:{opened_ms}")
}

/// The claim of incident `incident_id`'s "incident over".
pub fn incident_over(incident_id: &str) -> String {
    format!("{FLEET_OVER}{incident_id}")
}

/// The event id a Connect completion writes `integration_id`'s row under.
pub fn connect(integration_id: &str) -> String {
    format!("{CONNECT}{integration_id}")
}

/// Whether an event id is a Connect completion's ([`connect`]).
pub fn is_connect(event_id: &str) -> bool {
    event_id.starts_with(CONNECT)
}

/// The claim of the "resolved" notice of the create `event_id`.
pub fn resolved(event_id: &str) -> String {
    format!("{RESOLVED}{event_id}")
}

/// The claim of the summary of failure record `key`'s window opened at `window_start_ms`.
pub fn summary(key: &str, window_start_ms: i64) -> String {
    format!("{SWEEP}{key}:{window_start_ms}")
}

/// The event id of a state the reconcile run observed at `ms`.
pub fn reconcile_state(integration_id: &str, ms: i64) -> String {
    format!("{}{ms}", reconcile_state_prefix(integration_id))
}

/// What every [`reconcile_state`] of one integration starts with.
pub fn reconcile_state_prefix(integration_id: &str) -> String {
    format!("{RECONCILE_STATE}{integration_id}:")
}

/// The event id of a tombstone the reconcile run wrote (deletion is final: one each).
pub fn reconcile_deleted(integration_id: &str) -> String {
    format!("{RECONCILE_DELETED}{integration_id}")
}

/// The claim of `integration_id`'s "setup not finished" notice (once per integration).
pub fn setup_incomplete(integration_id: &str) -> String {
    format!("{SETUP_INCOMPLETE}{integration_id}")
}

/// The claim of the "QA failed" notice the state change `event_id` of `integration_id`
/// owes (once per change that made QA fail: a second failure after a pass has its own).
pub fn qa_failed(integration_id: &str, event_id: &str) -> String {
    format!("{QA_FAILED}{integration_id}:{event_id}")
}

/// The cause of a delete through the backend API.
pub fn api_delete(request_id: &str) -> String {
    format!("{API_DELETE}{request_id}")
}

/// The cause of an assignment through the backend API.
pub fn api_assign(request_id: &str) -> String {
    format!("{API_ASSIGN}{request_id}")
}

/// The cause of an assignment by `import-mappings` (`source` file, line `number`).
pub fn import(source: &str, number: u64) -> String {
    format!("{IMPORT}{source}:{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_and_id_as_stored() {
        assert_eq!(
            failure_record(&customer(Some("36123"), "Acme"), "workday"),
            "failures#36123#workday"
        );
        assert_eq!(customer(None, "Acme, Inc."), "org:Acme, Inc.");
        assert_eq!(
            customer_in_failure_record("failures#org:Acme#workday", "workday"),
            Some("org:Acme")
        );
        assert_eq!(
            customer_in_failure_record("fleet#x#workday", "workday"),
            None
        );
        assert_eq!(
            fleet_record("connection-failures", "workday"),
            "fleet#connection-failures#workday"
        );
        assert_eq!(incident_over("k:t:1"), "fleet-over:k:t:1");
        assert_eq!(connect("workday:abc"), "connect:workday:abc");
        assert!(is_connect("connect:workday:abc") && !is_connect("ev1"));
        assert_eq!(resolved("ev1"), "resolved:ev1");
        assert_eq!(summary("failures#1#w", 1000), "sweep:failures#1#w:1000");
        assert_eq!(reconcile_state("workday:1", 5), "reconcile:workday:1:5");
        assert_eq!(
            reconcile_deleted("workday:1"),
            "reconcile-deleted:workday:1"
        );
        assert_eq!(api_delete("r1"), "api-delete:r1");
        assert_eq!(setup_incomplete("w:1"), "setup-incomplete:w:1");
        assert_eq!(qa_failed("w:1", "s1"), "qa-failed:w:1:s1");
        assert_eq!(issue_record("42", "workday"), "issues#42#workday");
        assert_eq!(
            customer_in_failure_record("issues#42#workday", "workday"),
            Some("42")
        );
        assert_eq!(issue_episode("iss_1", 5), "issue:iss_1:5");
        assert_eq!(issue_resolved("iss_1", 5), "issue-resolved:iss_1:5");
        assert_eq!(duplicate("w:2"), "duplicate:w:2");
        assert_eq!(api_assign("r1"), "api-assign:r1");
        assert_eq!(import("f.csv", 2), "import:f.csv:2");
    }
    #[test]
    fn a_customer_too_long_for_the_key_is_named_bounded_as_the_fleet_names_it() {
        // The longest origin_id an event may carry: its record's key and the sweep's claim
        // named after it fit DynamoDB's 2,048-byte key.
        let longest = "x".repeat(crate::event::MAX_KEY_BYTES);
        for key in [
            failure_record(&longest, "successfactors"),
            issue_record(&longest, "successfactors"),
        ] {
            assert!(key.len() <= FAILURE_KEY_MAX, "{}", key.len());
            assert!(summary(&key, 1_795_608_000_000).len() <= crate::event::MAX_KEY_BYTES);
            let named = customer_in_failure_record(&key, "successfactors").unwrap();
            assert_eq!(named, bounded_customer(&longest, CUSTOMER_CAP));
        }
        // One that fits is kept as it is (keys already stored stay what they were).
        let fits = "y".repeat(1_900);
        assert_eq!(
            customer_in_failure_record(&failure_record(&fits, "workday"), "workday"),
            Some(fits.as_str())
        );
        // Bounded twice is bounded once, multi-byte names too (whole characters).
        for name in ["ä".repeat(1_500), "x".repeat(65), "日本".repeat(40)] {
            let once = bounded_customer(&name, CUSTOMER_CAP);
            assert!(once.len() <= 57, "{once}");
            assert_eq!(bounded_customer(&once, CUSTOMER_CAP), once);
        }
        assert_eq!(bounded_customer("42", CUSTOMER_CAP), "42");
    }
}
