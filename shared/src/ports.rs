//! The ports the effects drive, each a trait named for what it holds: the mapping rows
//! ([`MappingStore`]), the claim records that make an effect exactly-once ([`ClaimStore`]),
//! the failure records ([`FailureStore`]) and fleet records ([`FleetStore`]) of the records
//! table, the reconcile run's reads ([`ReconcileStore`]), and alert publishing
//! ([`AlertPublisher`]). Each has one implementation, the AWS adapter ([`crate::dynamo`],
//! [`crate::sns`]); a caller bounds by what it uses, [`Store`] where it uses every table's
//! records. What the store answers is a plain value of [`crate::decide`].

use std::future::Future;

use time::OffsetDateTime;

use crate::decide::claims::Claim;
use crate::decide::create::Inserted;
use crate::decide::failures::{Count, OnRecord, Resolving, Wrote};
use crate::decide::fleet::{FleetRecord, Incident, Opened, Strike, Struck};
use crate::decide::routes::{Assigned, Tombstoned};
use crate::decide::state::StateResult;
use crate::decide::{Alert, Descriptive, Failure, FailureRecord, Mapping, StateUpdate, Tombstone};
use crate::error::Error;

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

pub trait MappingStore: Send + Sync {
    /// Stores `m` unless a row (active or tombstone) exists, or completes a row recorded
    /// from a state change: one conditional write.
    fn insert(&self, m: &Mapping) -> impl Future<Output = Result<Inserted, Error>> + Send;
    /// Marks the integration deleted unless it is already: one conditional write.
    fn tombstone(&self, t: &Tombstone) -> impl Future<Output = Result<Tombstoned, Error>> + Send;
    /// Records a state unless a newer one is stored or the integration is deleted: one
    /// conditional write.
    /// `page_claim`: for an INVALID, the claim ([`crate::decide::state::PageClaim::value`]) the write sets on the
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
    /// Writes `row`'s `setup_status` (with its `usable` and reason) onto the stored row if
    /// that has none yet and is not deleted: a Connect completion's token filling in the
    /// webhook's row. `true`: written.
    fn fill_setup(&self, row: &Mapping) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Sets the row's `usable` to [`Mapping::usable_now`], provided its status, state and
    /// setup status are still what `row` holds (a row written before the attribute existed,
    /// or one it disagrees with): one conditional write. `true`: written.
    fn settle_usable(&self, row: &Mapping) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Keeps an integration issue on its row (`issue#<id>`): a raise where no entry, or only
    /// an older episode's, stands; a resolution where no newer episode stands. A row is made
    /// for an integration not seen yet; a tombstone is left alone. One conditional write.
    fn note_issue(
        &self,
        row: &crate::decide::issues::OnRow,
    ) -> impl Future<Output = Result<crate::decide::issues::RowSaw, Error>> + Send;
    /// The row of `integration_id` as it stands (a strongly consistent read; `None`: none).
    fn row(
        &self,
        integration_id: &str,
    ) -> impl Future<Output = Result<Option<Mapping>, Error>> + Send;
    /// Every row of one customer (the `by-origin-id` index), tombstones included.
    fn by_origin(
        &self,
        origin_id: &str,
    ) -> impl Future<Output = Result<Vec<Mapping>, Error>> + Send;
}

/// Claim records ([`crate::decide::claims`]): conditional put (in progress, with an expiry)
/// → effect → mark completed, with what the effect did; on failure, release.
pub trait ClaimStore: Send + Sync {
    fn claim(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Claim, Error>> + Send;
    /// Marks the claim completed, keeping `outcome` (what the effect did) on it.
    fn complete(
        &self,
        event_id: &str,
        token: &str,
        now: OffsetDateTime,
        outcome: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// What the effect of the claim `event_id` did, once it completed (`None`: no claim, or
    /// one in progress): a strongly consistent read.
    fn outcome(&self, event_id: &str)
    -> impl Future<Output = Result<Option<String>, Error>> + Send;
    fn release(
        &self,
        event_id: &str,
        token: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The failure records of the records table: one per customer and tool, with a
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

/// The fleet records of the records table: one per tool and kind, counting which
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
    pub rows: Vec<Mapping>,
    /// The key to continue after; `None`: the table's end.
    pub next: Option<String>,
}

/// What the reconcile run reads besides single rows: the whole table in pages (a `Scan`,
/// granted to that function alone), and where the previous run stopped (one item in the
/// records table).
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

/// Every table's records: what the effects ([`crate::effects`]) drive.
pub trait Store: MappingStore + ClaimStore + FailureStore + FleetStore {}

impl<T: MappingStore + ClaimStore + FailureStore + FleetStore> Store for T {}
