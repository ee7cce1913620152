//! A webhook's decision carried out: each kind through its effect.

use time::OffsetDateTime;

use super::create::Notice;
use super::engine::{DDB, Effects, Outcome, existing};
use crate::deadline::Deadline;
use crate::decide::create::Inserted;
use crate::decide::routes::Tombstoned;
use crate::decide::{Decision, StateAlert};
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};

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
            Decision::State(update, alert, qa_notice) => {
                let stated = match &alert {
                    StateAlert::None => self.record_state(&update, deadline).await?,
                    StateAlert::Recovered(notice) => {
                        self.record_recovery(event_id, &update, notice, now, deadline)
                            .await?
                    }
                    StateAlert::Invalid(page) => {
                        self.record_invalid(event_id, &update, page, now, deadline)
                            .await?
                    }
                };
                if let Some(notice) = qa_notice.filter(|_| stated.qa_failed) {
                    self.notify_qa_failed(&update, &notice, now, deadline)
                        .await?;
                }
                Ok(stated.outcome)
            }
            Decision::Issue(issue) => self.record_issue(issue, now, deadline).await,
            Decision::StoreUnassigned(m, alert) => {
                self.store_and_notify(event_id, &m, &alert, now, deadline)
                    .await
            }
        }
    }
}
