//! The effects engine: the only code that sequences port calls. It carries a decision out
//! ([`Effects::apply`]) for the webhooks, and its parts for the other front doors (the
//! Connect completion's [`Effects::create`], the reconcile run's repairs, the sweep's
//! notices): every effect under a claim that makes it exactly-once ([`claims`]), the create
//! and its "resolved" notice ([`create`]), the state write and its INVALID page or
//! "recovered" notice ([`state`]), a failure's count, page and fleet incident
//! ([`failures`]). What each store answer means is decided in [`crate::decide`].

mod claims;
mod create;
mod failures;
mod state;

pub use create::{Created, Notice};

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::decide::create::Inserted;
use crate::decide::routes::Tombstoned;
use crate::decide::state::StateApplied;
use crate::decide::{Decision, Rules, StateAlert, Status};
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};

/// What happened, on success (all answered 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new mapping was stored.
    Stored,
    /// A row recorded from a state change (the create came later) is now complete.
    Completed,
    /// A new mapping without customer was stored and the notice published.
    StoredUnassigned,
    /// The mapping exists already (a duplicate or repeated create): nothing changed.
    AlreadyStored,
    /// A create for an integration that is already deleted: nothing changed.
    IgnoredTombstoned,
    /// The integration is now marked deleted.
    Deleted,
    /// It was marked deleted already: nothing changed.
    AlreadyDeleted,
    /// The alert was published (a failure that opened a window: the page).
    Alerted,
    /// A failure counted into its customer's open window: no page.
    Folded,
    /// The mapping is stored (or was, by an earlier try) and the customer's failures on
    /// record are resolved: the "resolved" notice was published.
    Resolved,
    /// The alert for this event was published before: nothing sent.
    AlreadyAlerted,
    /// The integration's new state is recorded.
    StateRecorded,
    /// The new state is recorded and the INVALID alert published.
    StateRecordedAlerted,
    /// ACTIVE after INVALID is recorded and the "recovered" notice published.
    StateRecordedRecovered,
    /// A newer state is stored already: nothing changed.
    IgnoredStale,
    /// This failure (or INVALID) was the tool's customer that reached the threshold: the
    /// fleet incident opened and its page was published.
    IncidentOpened,
    /// Counted on the tool's open fleet incident: the customer's own page (or "recovered"
    /// notice) folded into it.
    InIncident,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Completed => "completed",
            Outcome::StoredUnassigned => "stored_unassigned",
            Outcome::AlreadyStored => "already_stored",
            Outcome::IgnoredTombstoned => "ignored_tombstoned",
            Outcome::Deleted => "deleted",
            Outcome::AlreadyDeleted => "already_deleted",
            Outcome::Alerted => "alerted",
            Outcome::Folded => "folded",
            Outcome::Resolved => "resolved",
            Outcome::AlreadyAlerted => "already_alerted",
            Outcome::StateRecorded => "state_recorded",
            Outcome::StateRecordedAlerted => "state_recorded_alerted",
            Outcome::StateRecordedRecovered => "state_recorded_recovered",
            Outcome::IgnoredStale => "ignored_stale",
            Outcome::IncidentOpened => "incident_opened",
            Outcome::InIncident => "folded_into_incident",
        }
    }
}

pub(crate) const DDB: &str = "DynamoDB";
pub(crate) const SNS: &str = "SNS";

/// The ports and the rules the effects follow, built once per container.
pub struct Effects<S, P> {
    pub store: S,
    pub alerts: P,
    pub rules: Rules,
    /// The clock (a function so tests can move time).
    pub clock: Clock,
}

impl<S: Store, P: AlertPublisher> Effects<S, P> {
    /// Carries a decision out, every call inside `deadline`. Effects that must undo
    /// themselves on failure (release a claim) run inside a deadline that leaves time
    /// for the undo.
    pub async fn apply(
        &self,
        event_id: &str,
        decision: Decision,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        match decision {
            Decision::Store(m, resolution) => {
                let created = self.create(&m, &resolution, now, deadline).await?;
                match created.notice {
                    Notice::Sent => return Ok(Outcome::Resolved),
                    // The other way in (or a duplicate) is sending it right now: Kombo
                    // retries this delivery, which then finds it sent (or sends it).
                    Notice::InFlight(id) => return Err(Error::InProgress(id)),
                    Notice::None => {}
                }
                Ok(match created.inserted {
                    Inserted::Stored => Outcome::Stored,
                    Inserted::Completed { .. } => Outcome::Completed,
                    Inserted::Exists { status, .. } => existing(status),
                })
            }
            Decision::Tombstone(t) => {
                Ok(match deadline.run(DDB, self.store.tombstone(&t)).await? {
                    Tombstoned::Marked => Outcome::Deleted,
                    Tombstoned::AlreadyDeleted => Outcome::AlreadyDeleted,
                })
            }
            Decision::Failure(failure) => {
                self.count_failure(event_id, &failure, now, deadline).await
            }
            Decision::State(update, StateAlert::None) => Ok(recorded(
                deadline
                    .run(DDB, self.store.update_state(&update, None))
                    .await?
                    .applied,
            )),
            Decision::State(update, StateAlert::Recovered(notice)) => {
                self.record_recovery(event_id, &update, &notice, now, deadline)
                    .await
            }
            Decision::State(update, StateAlert::Invalid(alert)) => {
                self.record_invalid(event_id, &update, &alert, now, deadline)
                    .await
            }
            Decision::StoreUnassigned(m, alert) => {
                self.store_and_notify(event_id, &m, &alert, now, deadline)
                    .await
            }
        }
    }
}

/// What a state write that announced nothing did.
pub(crate) fn recorded(applied: StateApplied) -> Outcome {
    match applied {
        StateApplied::Deleted => Outcome::IgnoredTombstoned,
        StateApplied::Stale => Outcome::IgnoredStale,
        StateApplied::Applied => Outcome::StateRecorded,
    }
}

fn existing(status: Status) -> Outcome {
    match status {
        Status::Active => Outcome::AlreadyStored,
        Status::Deleted => Outcome::IgnoredTombstoned,
    }
}
