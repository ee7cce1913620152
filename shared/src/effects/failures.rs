//! A failed connection flow: counted on its customer's failure record and its tool's
//! fleet record beside the claim, then paged (with what the previous window folded), folded
//! into the open window, or taken by the tool's fleet incident (opening it, at the
//! threshold).

use std::future::Future;

use time::OffsetDateTime;

use super::claims::Duplicate;
use super::engine::{DDB, Effects, Outcome, SNS};
use crate::clock::epoch_ms;
use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::Failure;
use crate::decide::failures::{Count, Counted};
use crate::decide::fleet::{self, FleetKind, Incident, Opened, Strike, Struck, Verdict};
use crate::decide::notices::{in_incident_notice, page_with_folded};
use crate::decide::row::Status;
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};

impl<S: Store, P: AlertPublisher> Effects<S, P> {
    /// Counts a failure on its customer's record and on its tool's fleet record, once per
    /// event: the one that opens a window pages (reporting what the previous window
    /// folded), unless the tool's fleet incident takes it (it is open: counted on it; this
    /// failure reached the threshold: the incident's page instead); the rest of the window
    /// is counted. Both counts go out with the claim (one round trip: a page costs three
    /// with the publish and the completion, an incident's page four with its opening); a
    /// retry of the failure that paged pages again (its page failed); a duplicate of a
    /// failure handled before takes back the counts it made again.
    pub(super) async fn count_failure(
        &self,
        event_id: &str,
        failure: &Failure,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let nothing_else = std::future::ready(Ok(()));
        self.count_failure_with(event_id, failure, now, deadline, nothing_else, |()| None)
            .await
    }

    /// [`Self::count_failure`] with `also`, a step sent beside the counts (and the claim),
    /// whose result may end it there (`skip`: the outcome, the counts taken back). For a
    /// failed connection the strike waits for the customer's rows (one read beside the
    /// counts): a customer with a live integration is established (only those open a fleet
    /// incident), and its strike says so. A strike (or that read) that fails never stops
    /// the customer's own page: without it the failure is judged alone.
    pub(super) async fn count_failure_with<A>(
        &self,
        event_id: &str,
        failure: &Failure,
        now: OffsetDateTime,
        deadline: Deadline,
        also: impl Future<Output = Result<A, Error>>,
        skip: impl FnOnce(A) -> Option<Outcome>,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let strike = Strike::of_failure(failure);
        let origin = failure
            .origin_id
            .as_deref()
            .filter(|_| strike.kind == FleetKind::ConnectionFailures);
        // The customer's rows first, for a failed connection: a customer with a live
        // integration is established, and its strike says so in the same write (strikes at
        // once then count exactly the established customers before them). A read that fails
        // strikes as a sign-up: the customer is still paged.
        let striking = async move {
            let mut strike = strike;
            if let Some(origin) = origin {
                let rows = tolerated(event_id, soft.run(DDB, self.store.by_origin(origin)).await);
                strike.established |=
                    rows.is_some_and(|rows| rows.iter().any(|r| r.status == Status::Active));
            }
            let struck = tolerated(
                event_id,
                soft.run(DDB, self.store.strike(&strike, now)).await,
            );
            Ok::<_, Error>((strike, struck))
        };
        let counts = Box::pin(async move {
            tokio::try_join!(
                Box::pin(soft.run(DDB, self.store.count_failure(failure, now))),
                Box::pin(striking),
                Box::pin(also),
            )
        });
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: Outcome::AlreadyAlerted,
                // What the counts beside the claim changed, taken back.
                undo: |(count, (strike, struck), _): (Count, (Strike, Option<Struck>), A)| async move {
                    self.uncount(event_id, failure, &strike, count, struck, deadline)
                        .await
                },
            },
            counts,
            |(count, (strike, struck), also)| async move {
                if let Some(outcome) = skip(also) {
                    self.uncount(event_id, failure, &strike, count, struck, deadline)
                        .await;
                    return Ok(outcome);
                }
                let verdict = struck
                    .as_ref()
                    .map_or(Verdict::Alone, |struck| self.judge(&strike, struck, now));
                let acting = async {
                    match verdict {
                        Verdict::InIncident {
                            incident_id,
                            notice,
                        } => {
                            if notice {
                                let notice = in_incident_notice(&failure.page, &incident_id);
                                soft.run(SNS, self.alerts.publish(&notice)).await?;
                            }
                            Ok(Outcome::InIncident)
                        }
                        Verdict::Open {
                            incident_id,
                            since_ms,
                        } => match &struck {
                            Some(struck) => {
                                self.open_incident(
                                    &strike,
                                    struck,
                                    incident_id,
                                    since_ms,
                                    now,
                                    soft,
                                )
                                .await
                            }
                            None => unreachable!("an opening is judged from its strike"),
                        },
                        Verdict::Alone => match count.counted {
                            Counted::Folded => Ok(Outcome::Folded),
                            Counted::Page { carried } => {
                                let page = page_with_folded(&failure.page, carried);
                                soft.run(SNS, self.alerts.publish(&page)).await?;
                                Ok(Outcome::Alerted)
                            }
                        },
                    }
                };
                acting.await
            },
        )
        .await
    }

    /// Takes back the counts a failure made that must not count (a duplicate of one handled
    /// before; one whose effect turned out not owed): its fold or window, its strike.
    async fn uncount(
        &self,
        event_id: &str,
        failure: &Failure,
        strike: &Strike,
        count: Count,
        struck: Option<Struck>,
        deadline: Deadline,
    ) {
        let uncount = async {
            match count.wrote {
                Some(wrote) => deadline.run(DDB, self.store.uncount(failure, wrote)).await,
                None => Ok(()),
            }
        };
        let unstrike = async {
            match struck {
                Some(struck) if !struck.repeat => {
                    deadline.run(DDB, self.store.unstrike(strike)).await
                }
                _ => Ok(()),
            }
        };
        let (a, b) = tokio::join!(Box::pin(uncount), Box::pin(unstrike));
        if let Err(e) = a.and(b) {
            tracing::error!(event_id, error = %e, "a count was not taken back");
        }
    }

    /// What a strike means, from its fleet record as it stood.
    pub(super) fn judge(&self, strike: &Strike, struck: &Struck, now: OffsetDateTime) -> Verdict {
        fleet::judge(
            &struck.before,
            strike,
            struck.repeat,
            &self.rules.fleet,
            epoch_ms(now),
        )
    }

    /// Opens the fleet incident `id` for `strike` and pages it, unless another strike
    /// opened one first (then this one is counted on it). A retry of the strike that opened
    /// it pages again.
    pub(super) async fn open_incident(
        &self,
        strike: &Strike,
        struck: &Struck,
        id: String,
        since_ms: i64,
        now: OffsetDateTime,
        soft: Deadline,
    ) -> Result<Outcome, Error> {
        let now_ms = epoch_ms(now);
        let after = struck.before.with_strike(strike, struck.repeat, now_ms);
        let page = fleet::incident_page(&after, &id, since_ms, &self.rules.fleet);
        let incident = Incident::opening(&after, strike, id, since_ms, now_ms);
        match soft
            .run(DDB, self.store.open_incident(&strike.key(), &incident))
            .await?
        {
            Opened::Other => Ok(Outcome::InIncident),
            Opened::Ours => {
                soft.run(SNS, self.alerts.publish(&page)).await?;
                Ok(Outcome::IncidentOpened)
            }
        }
    }
}

/// A fleet step's result, its failure logged and dropped: the fleet record counts for
/// incidents, and losing one strike must never stop the customer's own page.
pub(super) fn tolerated<T>(event_id: &str, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(event_id, error = %e, "a fleet record step failed: judged without it");
            None
        }
    }
}
