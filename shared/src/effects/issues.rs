//! An integration issue (`issue-status-changed`): kept on the integration's row beside the
//! episode's claim (one round trip for both), then paged (folded per customer and tool and
//! counted on the tool's fleet record, as a connection failure), noticed, or, once
//! resolved, said resolved: each once per episode.

use std::future::Future;

use super::claims::{Duplicate, nothing};
use super::engine::{DDB, Effects, Outcome, SNS};
use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::Alert;
use crate::decide::issues::{self, Episode, IssueDecision, OnRow, Raise, RowSaw};
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};
use time::OffsetDateTime;

impl<S: Store, P: AlertPublisher> Effects<S, P> {
    pub(super) async fn record_issue(
        &self,
        decision: IssueDecision,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        match decision {
            IssueDecision::Raised {
                episode,
                row,
                raise: Raise::Page(failure),
            } => {
                let noted = self.note_issue(row.as_ref(), deadline);
                self.count_failure_with(&episode.claim(), &failure, now, deadline, noted, skip)
                    .await
            }
            IssueDecision::Raised {
                episode,
                row,
                raise: Raise::Notice(notice),
            } => {
                let noted = self.note_issue(row.as_ref(), deadline);
                self.issue_once(&episode, now, deadline, noted, |saw| async move {
                    if let Some(outcome) = skip(saw) {
                        return Ok(outcome);
                    }
                    self.publish_issue(&notice, deadline, Outcome::IssueNoticed)
                        .await
                })
                .await
            }
            IssueDecision::Raised {
                episode,
                raise: Raise::Environment(page),
                ..
            } => {
                // Resolved already (its resolved arrived first, and left its mark): nothing
                // to page.
                let resolved_claim = episode.resolved_claim();
                let resolved = async {
                    let read = self.store.outcome(&resolved_claim);
                    deadline.run(DDB, read).await
                };
                self.issue_once(&episode, now, deadline, resolved, |resolved| async move {
                    if resolved.is_some() {
                        return Ok(Outcome::IgnoredStale);
                    }
                    self.publish_issue(&page, deadline, Outcome::Alerted).await
                })
                .await
            }
            IssueDecision::Resolved {
                episode,
                row,
                notice,
                fleet,
            } => {
                self.resolve_issue(&episode, row.as_ref(), &notice, fleet, now, deadline)
                    .await
            }
        }
    }

    /// The issue's write on its row (if it names an integration), inside `deadline` less
    /// the undo reserve.
    async fn note_issue(&self, row: Option<&OnRow>, deadline: Deadline) -> Result<RowSaw, Error> {
        match row {
            Some(row) => {
                let soft = deadline.earlier(UNDO_RESERVE);
                soft.run(DDB, self.store.note_issue(row)).await
            }
            None => Ok(RowSaw::Written),
        }
    }

    /// Runs `effect` once per episode (its claim), `first` going out beside the claim.
    async fn issue_once<T, F>(
        &self,
        episode: &Episode,
        now: OffsetDateTime,
        deadline: Deadline,
        first: impl Future<Output = Result<T, Error>>,
        effect: impl FnOnce(T) -> F,
    ) -> Result<Outcome, Error>
    where
        F: Future<Output = Result<Outcome, Error>>,
    {
        let duplicate = Duplicate {
            answer: Outcome::AlreadyAlerted,
            undo: nothing,
        };
        self.once_alongside(&episode.claim(), now, deadline, duplicate, first, effect)
            .await
    }

    async fn publish_issue(
        &self,
        alert: &Alert,
        deadline: Deadline,
        sent: Outcome,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        soft.run(SNS, self.alerts.publish(alert)).await?;
        Ok(sent)
    }

    /// Marks the episode resolved on the row (and the customer resolved on its tool's issues
    /// fleet record), beside a read of what the episode's raise did: one round trip. Only an
    /// episode that paged (not folded into a window or an incident, not a notice) owes its
    /// "resolved" notice, sent once under a claim of its own.
    async fn resolve_issue(
        &self,
        episode: &Episode,
        row: Option<&OnRow>,
        notice: &Alert,
        fleet: Option<(String, String)>,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let claim = episode.claim();
        let recovering = async {
            match &fleet {
                Some((key, customer)) => soft.run(DDB, self.store.recover(key, customer)).await,
                None => Ok(None),
            }
        };
        let (_, raised, record) = tokio::try_join!(
            Box::pin(self.note_issue(row, deadline)),
            Box::pin(soft.run(DDB, self.store.outcome(&claim))),
            Box::pin(recovering),
        )?;
        let resolved_claim = episode.resolved_claim();
        if !issues::paged(raised.as_deref()) {
            if row.is_none() {
                // An environment's issue has no row to keep its resolution: its claim does,
                // so a raise arriving after it pages nobody.
                let quiet = async { Ok(Outcome::IssueResolved) };
                return self
                    .once(
                        &resolved_claim,
                        now,
                        deadline,
                        Outcome::IssueResolved,
                        quiet,
                    )
                    .await;
            }
            return Ok(Outcome::IssueResolved);
        }
        let in_incident = match (&record, &fleet) {
            (Some(r), Some((_, customer))) => r.in_incident(customer, &self.rules.fleet),
            _ => false,
        };
        if in_incident {
            return Ok(Outcome::InIncident);
        }
        let sent = Box::pin(self.publish_once(&resolved_claim, notice, now, deadline));
        match sent.await? {
            Some(true) => Ok(Outcome::IssueResolvedNotified),
            Some(false) => Ok(Outcome::IssueResolved),
            // Another delivery is sending it right now: Kombo retries this one.
            None => Err(Error::InProgress(resolved_claim)),
        }
    }
}

/// What a raise whose row write found it not owed answers (the counts taken back).
fn skip(saw: RowSaw) -> Option<Outcome> {
    match saw {
        RowSaw::Written | RowSaw::Already => None,
        RowSaw::Resolved => Some(Outcome::IgnoredStale),
        RowSaw::Deleted => Some(Outcome::IgnoredTombstoned),
    }
}
