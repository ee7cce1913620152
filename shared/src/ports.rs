//! The ports the webhook pipeline drives: storage of mappings, claim records for
//! exactly-once side effects, and alert publishing. The AWS adapters live in
//! [`crate::dynamo`] and [`crate::sns`]; tests may put other implementations behind them.

use std::future::Future;

use time::OffsetDateTime;

use crate::decide::fleet::{FleetRecord, Incident, Strike};
use crate::decide::{
    Alert, Descriptive, Failure, FailureRecord, Mapping, StateUpdate, Status, Tombstone,
};
use crate::error::Error;

/// What a conditional insert of a new mapping found. `row`: the row as it stands after
/// the write (`None` only for a row that does not read as a mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The row did not exist and is now stored.
    Stored,
    /// A row recorded from a state change (its create had not been seen) is now complete.
    Completed { row: Option<Box<Mapping>> },
    /// A row was there already: unchanged, or (a webhook create meeting the row a Connect
    /// completion stored) only its missing fields filled in.
    Exists {
        status: Status,
        /// The row was stored by this same create (a retry of it), whatever other events
        /// changed on it since.
        own: bool,
        row: Option<Box<Mapping>>,
    },
}

/// What a tombstone write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstoned {
    /// The row is now a tombstone (created, or turned from ACTIVE).
    Marked,
    /// It was a tombstone already; nothing changed.
    AlreadyDeleted,
}

/// What a state update found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateApplied {
    /// Recorded (or the same update recorded again; a row made if there was none).
    Applied,
    /// A newer state is stored; nothing changed.
    Stale,
    /// The integration is a tombstone; nothing changed.
    Deleted,
}

/// A state update's result and whether this event made the transition its alert is
/// about: it made the integration INVALID (and that INVALID period still stands: the
/// only case that pages), or it took the integration from INVALID to ACTIVE (a
/// "recovered" notice). A retry of that same event is told so again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateResult {
    pub applied: StateApplied,
    pub announce: bool,
    /// An INVALID write: its page's claim as the row holds it now.
    pub page: PageClaim,
}

/// The claim of an INVALID period's page, kept on the mapping row (`invalid_page`), so the
/// state write is also the claim: an INVALID that pages nobody costs one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageClaim {
    /// None stands (not an INVALID write, or a claim released after a failed page).
    None,
    /// This invocation's claim stands (its write set it, or an earlier try of it did).
    Ours,
    /// The page was sent.
    Sent,
    /// Another invocation's claim stands: `value` as stored, the event that set it, and the
    /// epoch ms after which it may be taken over.
    Held {
        value: String,
        event_id: String,
        until_ms: i64,
    },
}

impl PageClaim {
    /// The stored value of a claim by `event_id`, invocation `token`, valid until `until_ms`.
    pub fn value(event_id: &str, token: &str, until_ms: i64) -> String {
        format!("{until_ms}|{token}|{event_id}")
    }

    /// Reads a stored value (`mine`: this invocation's).
    pub fn read(stored: Option<&str>, mine: &str) -> PageClaim {
        match stored {
            None => PageClaim::None,
            Some(v) if v == mine => PageClaim::Ours,
            Some(PAGE_SENT) => PageClaim::Sent,
            Some(v) => {
                let mut parts = v.splitn(3, '|');
                let until_ms = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let event_id = parts.nth(1).unwrap_or_default().to_owned();
                PageClaim::Held {
                    value: v.to_owned(),
                    event_id,
                    until_ms,
                }
            }
        }
    }
}

/// `invalid_page` once the page went out.
pub const PAGE_SENT: &str = "SENT";

/// Linking an integration to a customer (the backend route, or an import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub integration_id: String,
    pub origin_id: String,
    /// Take it from another customer it belongs to.
    pub force: bool,
    /// An import: make the row if there is none, with these descriptive fields (the create
    /// completes it if it ever comes). `None`: the row must exist.
    pub create: Option<Descriptive>,
    pub updated_at: String,
    /// What did it, as `last_event_id` (`api-assign:<request id>`, `import:<file>:<line>`).
    pub cause: String,
}

/// What an assignment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assigned {
    /// The row had no customer (or `force` took it from `previous`); now it has this one.
    Assigned { previous: Option<String> },
    /// No row was there; an import made it.
    Created,
    /// It belongs to this customer already: nothing written.
    Unchanged,
    /// It belongs to another customer (and `force` was not given): nothing written.
    Conflict { current: String },
    /// No such integration (and not an import): nothing written.
    NotFound,
    /// The integration is deleted: nothing written.
    Deleted,
}

pub trait MappingStore: Send + Sync {
    /// Stores `m` unless a row (active or tombstone) exists, or completes a row recorded
    /// from a state change: one conditional write.
    fn insert(&self, m: &Mapping) -> impl Future<Output = Result<Inserted, Error>> + Send;
    /// Marks the integration deleted unless it is already: one conditional write.
    fn tombstone(&self, t: &Tombstone) -> impl Future<Output = Result<Tombstoned, Error>> + Send;
    /// Records a state unless a newer one is stored or the integration is deleted: one
    /// conditional write.
    /// `page_claim`: for an INVALID, the claim ([`PageClaim::value`]) the write sets on the
    /// row where none stands.
    fn update_state(
        &self,
        u: &StateUpdate,
        page_claim: Option<&str>,
    ) -> impl Future<Output = Result<StateResult, Error>> + Send;
    /// Moves the row's INVALID page claim from `from` to `to` (`None`: none), if `from`
    /// still stands (and the row is INVALID, for a new claim): one conditional write.
    /// `true`: moved.
    fn swap_page_claim(
        &self,
        integration_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Names `event_id` on the row as the state change that took it out of INVALID, if its
    /// state still stands (so its retry notifies even after a newer state): one conditional
    /// write, only on a recovery.
    fn note_recovery(
        &self,
        integration_id: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Sets the customer of an integration: one conditional write.
    fn assign(&self, a: &Assignment) -> impl Future<Output = Result<Assigned, Error>> + Send;
    /// Records a Connect completion's token digest on the customer's existing row (stored by
    /// the webhook first), so a retry of that completion finds it: one conditional write,
    /// nothing if the row is deleted or another customer's. `true`: recorded.
    fn note_token(
        &self,
        integration_id: &str,
        origin_id: &str,
        token_sha256: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Sets the row's `usable` to [`Mapping::usable_now`], provided its status, state and
    /// setup status are still what `row` holds (a row written before the attribute existed,
    /// or one it disagrees with): one conditional write. `true`: written.
    fn settle_usable(&self, row: &Mapping) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Every row of one customer (the `by-origin-id` index), tombstones included.
    fn by_origin(
        &self,
        origin_id: &str,
    ) -> impl Future<Output = Result<Vec<Mapping>, Error>> + Send;
}

/// The state of a claim on an event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation holds the claim and must complete or release it.
    Acquired,
    /// The effect happened already (a duplicate delivery).
    Completed,
    /// Another invocation holds an unexpired claim.
    InProgress,
}

/// Claim records, in the pattern of AWS Powertools' idempotency utility: conditional
/// put (in progress, with an expiry) → effect → mark completed; on failure, release.
pub trait ClaimStore: Send + Sync {
    fn claim(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Claim, Error>> + Send;
    fn complete(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn release(
        &self,
        event_id: &str,
        token: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// What counting a failure on its record decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// This failure opened a window (or a retry of the one that did): page, reporting
    /// the `carried` failures folded into the previous window and not reported since.
    Page { carried: u32 },
    /// Counted into the open window (or counted before, by a retry of it): no page.
    Folded,
}

/// What counting a failure did: the decision, and this call's own write, if it made one
/// (none when an earlier try of the same failure had counted it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub counted: Counted,
    pub wrote: Option<Wrote>,
}

/// A count's write, as [`FailureStore::uncount`] takes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    /// It opened the window that started at `window_start_ms` (epoch ms).
    Opened { window_start_ms: i64 },
    /// It folded the failure into the window that started at `window_start_ms`.
    Folded { window_start_ms: i64 },
}

/// What resolving a customer's failures on a create found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolving {
    /// This create resolved `failed` failures (now, or on an earlier try of it): notify.
    /// `category`: the failures' (a Connect completion does not know its own).
    Notify { failed: u32, category: String },
    /// No failures on record (or another create resolved them).
    Nothing,
}

/// What a create reads of its customer's failure record for the tool, at the same time as
/// it writes the row (so learning it costs no sequential round trip).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnRecord {
    /// Failures not resolved yet.
    pub total: u32,
    /// The create that resolved the last ones.
    pub resolved_by: Option<String>,
}

impl OnRecord {
    /// Whether the create `event_id` has failures to resolve: some are on record, or it
    /// resolved them itself on an earlier try (whose notice may not have gone out).
    pub fn to_resolve(&self, event_id: &str) -> bool {
        self.total > 0 || self.resolved_by.as_deref() == Some(event_id)
    }
}

/// The failure records of the idempotency table: one per customer and tool, with a
/// window that folds a storm of failures into one page. Every decision is one
/// conditional write.
pub trait FailureStore: Send + Sync {
    /// Counts `f` at `now`: opens a window (no window, or it closed: `fold_window` after it
    /// opened) or folds it into the open one.
    fn count_failure(
        &self,
        f: &Failure,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Count, Error>> + Send;
    /// Takes back what [`Self::count_failure`] wrote for `f`: it was a duplicate of a failure
    /// handled before (its claim completed), counted again because the window that counted
    /// it had closed. An opened window is closed again (its count back where it was, so the
    /// next failure pages); a fold is subtracted. Nothing, if the record moved on since.
    fn uncount(&self, f: &Failure, wrote: Wrote) -> impl Future<Output = Result<(), Error>> + Send;
    /// The record `key` as it stands (a strongly consistent read; nothing there: the default).
    fn on_record(&self, key: &str) -> impl Future<Output = Result<OnRecord, Error>> + Send;
    /// Closes the record `key` (its count goes to `resolved_total`) on behalf of the create
    /// `event_id`.
    fn resolve(
        &self,
        key: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Resolving, Error>> + Send;
    /// Records whose window opened before `closed_before_ms` (epoch ms) and that may have
    /// folded failures, or a summary, to report (a sparse index: only those).
    fn closed_windows(
        &self,
        closed_before_ms: i64,
    ) -> impl Future<Output = Result<Vec<FailureRecord>, Error>> + Send;
    /// Takes the folded failures of `r`'s window for a summary, if they are still the ones
    /// read: `true` if this call took them.
    fn take_summary(&self, r: &FailureRecord) -> impl Future<Output = Result<bool, Error>> + Send;
    /// The summary `summary_id` went out: forget it (and the index entry, if nothing else
    /// is pending).
    fn summary_sent(
        &self,
        key: &str,
        summary_id: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Nothing to report on `key`: leave the sparse index.
    fn tidy(&self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// What counting a strike on its fleet record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Struck {
    /// The record before the strike; for a repeat, as it stands (the strike counted).
    pub before: FleetRecord,
    /// An earlier try of the same event counted it: nothing written.
    pub repeat: bool,
}

/// What opening an incident found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// This event opened it (now, or on an earlier try): page it.
    Ours,
    /// Another strike opened one first: this one is counted on it.
    Other,
}

/// The fleet records of the idempotency table: one per tool and kind, counting which
/// customers failed when, and the incident open on it. Every change is one conditional write.
pub trait FleetStore: Send + Sync {
    /// Counts `strike` at `now` (refused if it is the customer's last counted: a repeat).
    fn strike(
        &self,
        strike: &Strike,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Struck, Error>> + Send;
    /// Takes back the failure a duplicate counted again (if it is still the customer's last).
    fn unstrike(&self, strike: &Strike) -> impl Future<Output = Result<(), Error>> + Send;
    /// Opens `incident` on the record `key` unless one is open.
    fn open_incident(
        &self,
        key: &str,
        incident: &Incident,
    ) -> impl Future<Output = Result<Opened, Error>> + Send;
    /// Marks `customer` recovered on the record `key`, if it is on it: the record after
    /// (`None`: not on it).
    fn recover(
        &self,
        key: &str,
        customer: &str,
    ) -> impl Future<Output = Result<Option<FleetRecord>, Error>> + Send;
    /// Every fleet record (a sparse index: only those).
    fn fleet_records(&self) -> impl Future<Output = Result<Vec<FleetRecord>, Error>> + Send;
    /// Takes the update of `r`'s incident, reporting `customers`, at `now_ms`, if no other
    /// took one since `r` was read: `true` if this call took it.
    fn take_update(
        &self,
        r: &FleetRecord,
        customers: usize,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Gives an update taken at `now_ms` back (its publish failed).
    fn give_back_update(
        &self,
        r: &FleetRecord,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Ends `r`'s incident and forgets the customers whose last failure is before
    /// `stale_before_ms` (if nothing was counted since `r` was read).
    fn end_incident(
        &self,
        r: &FleetRecord,
        stale_before_ms: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Forgets the customers of `r` whose last failure is before `before_ms`, if nothing
    /// was counted since `r` was read.
    fn prune(
        &self,
        r: &FleetRecord,
        before_ms: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

pub trait AlertPublisher: Send + Sync {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), Error>> + Send;
}

/// One page of the mappings table, in the table's own (hash) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<crate::decide::Mapping>,
    /// The key to continue after; `None`: the table's end.
    pub next: Option<String>,
}

/// What the reconcile run reads besides single rows: the whole table in pages (a `Scan`,
/// granted to that function alone), and where the previous run stopped (one item in the
/// idempotency table).
pub trait ReconcileStore: Send + Sync {
    /// Up to `limit` rows after the integration id `after` (from the start: `None`).
    fn scan_page(
        &self,
        after: Option<&str>,
        limit: i32,
    ) -> impl Future<Output = Result<Page, Error>> + Send;
    /// The integration id the previous run stopped after, if it stopped before the end.
    fn cursor(&self) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// Remembers where to go on from (`None`: start over next time).
    fn save_cursor(&self, after: Option<&str>) -> impl Future<Output = Result<(), Error>> + Send;
}
