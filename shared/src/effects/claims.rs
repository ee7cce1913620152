//! Exactly-once effects: a claim on an id in the records table before the effect (a
//! step a duplicate may repeat goes out beside it, one round trip for both), the effect
//! only under the claim, and the claim settled after it (marked done, or released for a
//! retry). A duplicate of an effect done before gets its answer, and what its repeated
//! step changed taken back.

use std::future::Future;

use time::OffsetDateTime;

use super::engine::{DDB, Effects, Outcome, SNS};
use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::Alert;
use crate::decide::claims::Claim;
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};

impl<S: Store, P: AlertPublisher> Effects<S, P> {
    /// Runs `effect` at most once to completion per event id (claim → effect →
    /// complete; release on failure so a retry can do it). The claim and the effect run
    /// inside `deadline` less [`UNDO_RESERVE`]; completing or releasing inside `deadline`.
    pub(crate) async fn once(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        deadline: Deadline,
        duplicate: Outcome,
        effect: impl Future<Output = Result<Outcome, Error>>,
    ) -> Result<Outcome, Error> {
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: duplicate,
                undo: nothing,
            },
            std::future::ready(Ok(())),
            |()| Box::pin(effect),
        )
        .await
    }

    /// [`Self::once`] with `first`, a step a duplicate may run again, sent at the same time
    /// as the claim: one round trip for both. `effect` gets its result and runs only under
    /// the claim; `duplicate.undo` gets it when the claim shows the event completed before
    /// (what a repeated `first` changed is taken back there, if anything). Both are awaited whatever
    /// either does, so a claim taken while `first` failed is released.
    pub(crate) async fn once_alongside<T, F, U>(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        deadline: Deadline,
        duplicate: Duplicate<impl FnOnce(T) -> U>,
        first: impl Future<Output = Result<T, Error>>,
        effect: impl FnOnce(T) -> F,
    ) -> Result<Outcome, Error>
    where
        F: Future<Output = Result<Outcome, Error>>,
        U: Future<Output = ()>,
    {
        let token = uuid::Uuid::new_v4().to_string();
        let soft = deadline.earlier(UNDO_RESERVE);
        // Boxed, as in `Deadline::run`: SDK futures side by side would outgrow a debug
        // build's stack.
        let (claim, first) = tokio::join!(
            Box::pin(soft.run(DDB, self.store.claim(event_id, &token, now))),
            Box::pin(first)
        );
        let result = match claim? {
            // A duplicate of an event handled before: what `first` changed (if anything) is
            // taken back.
            Claim::Completed => {
                if let Ok(t) = first {
                    Box::pin((duplicate.undo)(t)).await;
                }
                return Ok(duplicate.answer);
            }
            Claim::InProgress => return Err(Error::InProgress(event_id.to_owned())),
            Claim::Acquired => match first {
                Ok(t) => Box::pin(effect(t)).await,
                Err(e) => Err(e),
            },
        };
        let now = (self.clock)();
        settle(
            event_id,
            result,
            deadline,
            |outcome| self.store.complete(event_id, &token, now, outcome.as_str()),
            self.store.release(event_id, &token),
        )
        .await
    }

    /// Publishes `notice` once under the claim `claim`: `Some(true)` if this call sent it,
    /// `Some(false)` if it went out before, `None` if another invocation is sending it
    /// right now.
    pub(crate) async fn publish_once(
        &self,
        claim: &str,
        notice: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Option<bool>, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let sent = self
            .once(claim, now, deadline, Outcome::AlreadyAlerted, async {
                soft.run(SNS, self.alerts.publish(notice))
                    .await
                    .map(|()| Outcome::Alerted)
            })
            .await;
        match sent {
            Err(Error::InProgress(_)) => Ok(None),
            other => Ok(Some(other? == Outcome::Alerted)),
        }
    }
}

/// Ends a claimed effect inside `deadline`: on success the claim is marked done with the
/// effect's outcome (`complete`), on failure given back for a retry (`release`); only the
/// one needed runs.
/// The effect happened when it succeeded: the answer is 200 even if marking fails (the
/// claim then expires and a later duplicate could repeat the effect, which is better than
/// making Kombo retry now and repeat it for sure).
pub(crate) async fn settle<C: Future<Output = Result<(), Error>>>(
    event_id: &str,
    result: Result<Outcome, Error>,
    deadline: Deadline,
    complete: impl FnOnce(Outcome) -> C,
    release: impl Future<Output = Result<(), Error>>,
) -> Result<Outcome, Error> {
    match result {
        Ok(outcome) => {
            if let Err(e) = deadline.run(DDB, complete(outcome)).await {
                tracing::error!(event_id, error = %e, "effect done but claim not marked completed");
            }
            Ok(outcome)
        }
        Err(e) => {
            if let Err(release) = deadline.run(DDB, release).await {
                tracing::error!(event_id, error = %release, "claim not released; a retry can take it over once it expires");
            }
            Err(e)
        }
    }
}

/// What a duplicate of an event completed before gets: its `answer`, once `undo` took back
/// what the step sent beside the claim changed (if anything).
pub(crate) struct Duplicate<U> {
    pub answer: Outcome,
    pub undo: U,
}

/// The `undo` of an effect whose first step changes nothing a duplicate must take back.
pub(crate) async fn nothing<T>(_: T) {}
