//! The engine's parts: its ports and rules ([`Effects`]), what an effect answers
//! ([`Outcome`]), and what a state write that announced nothing did.

use crate::clock::Clock;
use crate::decide::state::StateApplied;
use crate::decide::{Rules, Status};

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
    /// An integration issue of a type that does not page: kept on the row, its low-urgency
    /// notice published.
    IssueNoticed,
    /// An issue's episode is resolved on the row; no notice was owed (it did not page).
    IssueResolved,
    /// An issue's episode that paged is resolved: the "resolved" notice published.
    IssueResolvedNotified,
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
            Outcome::IssueNoticed => "issue_noticed",
            Outcome::IssueResolved => "issue_resolved",
            Outcome::IssueResolvedNotified => "issue_resolved_notified",
        }
    }
}

pub const DDB: &str = "DynamoDB";
pub const SNS: &str = "SNS";

/// The ports and the rules the effects follow, built once per container.
pub struct Effects<S, P> {
    pub store: S,
    pub alerts: P,
    pub rules: Rules,
    /// The clock (a function so tests can move time).
    pub clock: Clock,
}

/// What a state write that announced nothing did.
pub fn recorded(applied: StateApplied) -> Outcome {
    match applied {
        StateApplied::Deleted => Outcome::IgnoredTombstoned,
        StateApplied::Stale => Outcome::IgnoredStale,
        StateApplied::Applied => Outcome::StateRecorded,
    }
}

pub fn existing(status: Status) -> Outcome {
    match status {
        Status::Active => Outcome::AlreadyStored,
        Status::Deleted => Outcome::IgnoredTombstoned,
    }
}
