//! The state write and the alert it may owe: an INVALID's page (its claim on the row, set
//! by the write itself) or a recovery's "recovered" notice, each counted on the tool's
//! fleet record beside it; and the QA notice of a write that turned `qa_status` FAILED.

use time::OffsetDateTime;

use super::claims::{Duplicate, nothing, settle};
use super::engine::{DDB, Effects, Outcome, SNS, recorded};
use super::failures::tolerated;
use crate::clock::epoch_ms;
use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::fleet::{Strike, Verdict};
use crate::decide::notices::in_incident_notice;
use crate::decide::state::{PAGE_SENT, PageClaim, PageStep};
use crate::decide::{Alert, StateUpdate};
use crate::error::Error;
use crate::keys;
use crate::ports::{AlertPublisher, Store};

/// What a state path did, and whether its write owes the QA notice.
pub(super) struct Stated {
    pub outcome: Outcome,
    pub qa_failed: bool,
}

impl<S: Store, P: AlertPublisher> Effects<S, P> {
    /// Records a state that announces nothing (neither INVALID nor ACTIVE): one write.
    pub(super) async fn record_state(
        &self,
        update: &StateUpdate,
        deadline: Deadline,
    ) -> Result<Stated, Error> {
        let result = deadline
            .run(DDB, self.store.update_state(update, None))
            .await?;
        Ok(Stated {
            outcome: recorded(result.applied),
            qa_failed: result.qa_failed,
        })
    }

    /// Publishes the QA notice `update` owes once (a claim on its event: a retry or a
    /// duplicate finds it sent; a later FAILED detail owes none).
    pub(super) async fn notify_qa_failed(
        &self,
        update: &StateUpdate,
        notice: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let claim = keys::qa_failed(&update.integration_id, &update.fields.last_event_id);
        match self.publish_once(&claim, notice, now, deadline).await? {
            // Another delivery is sending it right now: Kombo retries this one.
            None => Err(Error::InProgress(claim)),
            Some(_) => Ok(()),
        }
    }

    /// Records an ACTIVE state (one write) and, if this event took the integration out of
    /// INVALID (now, or on an earlier try of it), publishes the "recovered" notice once (a
    /// claim on the event id, taken only then: an ordinary ACTIVE costs no claim), naming
    /// the event on the row at the same time. Beside the claim it marks the integration
    /// recovered on its tool's fleet record; one of an incident's has its notice folded into
    /// the incident's end.
    pub(super) async fn record_recovery(
        &self,
        event_id: &str,
        update: &StateUpdate,
        notice: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Stated, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let result = soft.run(DDB, self.store.update_state(update, None)).await?;
        let stated = |outcome| Stated {
            outcome,
            qa_failed: result.qa_failed,
        };
        if !result.announce {
            return Ok(stated(recorded(result.applied)));
        }
        // Counted on the tool's INVALID incident, if the integration is one of its
        // customers: the notice is folded into the incident's end.
        let key = Strike::recovery_key(update);
        let id = update.integration_id.as_str();
        let customer = Strike::customer_of_update(update);
        let customer = customer.as_str();
        let recovering = Box::pin(async move {
            match &key {
                Some(key) => soft.run(DDB, self.store.recover(key, customer)).await,
                None => Ok(None),
            }
        });
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: Outcome::AlreadyAlerted,
                undo: nothing,
            },
            recovering,
            |record| async move {
                let folded = record.is_some_and(|r| r.in_incident(customer, &self.rules.fleet));
                // Both awaited, whatever the other does: the row keeps the name even when
                // the notice fails (its retry, perhaps after a newer state, finds it there).
                let publish = async {
                    if folded {
                        Ok(())
                    } else {
                        soft.run(SNS, self.alerts.publish(notice)).await
                    }
                };
                let (noted, published) = tokio::join!(
                    Box::pin(soft.run(DDB, self.store.note_recovery(id, event_id))),
                    Box::pin(publish),
                );
                noted.and(published).map(|()| {
                    if folded {
                        Outcome::InIncident
                    } else {
                        Outcome::StateRecordedRecovered
                    }
                })
            },
        )
        .await
        .map(stated)
    }

    /// Records an INVALID state and publishes `alert` only if this event is the one that
    /// made the integration INVALID and that INVALID period still stands (a second INVALID,
    /// an older one arriving late, or one already superseded pages nobody). The page's claim
    /// lives on the row and is set by the state write itself where none stands: an INVALID
    /// that pages nobody, or a duplicate, costs that one write; a page four round trips
    /// (the write, the fleet strike, the publish, marking the claim sent). Only an INVALID
    /// that pages is counted on its tool's fleet record (a duplicate, a stale or a
    /// non-paging detail strikes nothing), for its customer: inside an incident its page is
    /// folded into it (the claim marked sent all the same; an established customer's first
    /// in it still gets a low-urgency notice), and the INVALID that reaches the threshold
    /// opens the incident and pages it instead. A strike that fails never stops the page.
    pub(super) async fn record_invalid(
        &self,
        event_id: &str,
        update: &StateUpdate,
        alert: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Stated, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let until = now + self.rules.claim_expiry;
        let mine = PageClaim::value(event_id, &uuid::Uuid::new_v4().to_string(), epoch_ms(until));
        let id = update.integration_id.as_str();
        let result = soft
            .run(DDB, self.store.update_state(update, Some(&mine)))
            .await?;
        let stated = |outcome| Stated {
            outcome,
            qa_failed: result.qa_failed,
        };
        if !result.announce {
            return Ok(stated(recorded(result.applied)));
        }
        match result.page.step(event_id, epoch_ms(now)) {
            PageStep::Page => {}
            PageStep::AlreadySent => return Ok(stated(Outcome::AlreadyAlerted)),
            PageStep::InProgress => return Err(Error::InProgress(event_id.to_owned())),
            PageStep::TakeOver { from } => {
                self.take_page_claim(event_id, id, from.as_deref(), &mine, soft)
                    .await?
            }
        }
        // The INVALID that pages, counted on its tool's fleet record (its retry: a repeat,
        // judged as the first try was).
        let strike = Strike::of_invalid(update, event_id);
        let fleet = match &strike {
            Some(strike) => tolerated(
                event_id,
                soft.run(DDB, self.store.strike(strike, now)).await,
            )
            .map(|struck| (strike, struck)),
            None => None,
        };
        let verdict = fleet.as_ref().map_or(Verdict::Alone, |(strike, struck)| {
            self.judge(strike, struck, now)
        });
        let paged = match (verdict, &fleet) {
            (
                Verdict::InIncident {
                    incident_id,
                    notice,
                },
                _,
            ) => {
                let notice = notice.then(|| in_incident_notice(alert, &incident_id));
                match notice {
                    Some(notice) => soft
                        .run(SNS, self.alerts.publish(&notice))
                        .await
                        .map(|()| Outcome::InIncident),
                    None => Ok(Outcome::InIncident),
                }
            }
            (
                Verdict::Open {
                    incident_id,
                    since_ms,
                },
                Some((strike, struck)),
            ) => {
                self.open_incident(strike, struck, incident_id, since_ms, now, soft)
                    .await
            }
            _ => soft
                .run(SNS, self.alerts.publish(alert))
                .await
                .map(|()| Outcome::StateRecordedAlerted),
        };
        settle(
            event_id,
            paged,
            deadline,
            |_| async {
                let sent = self.store.swap_page_claim(id, Some(&mine), Some(PAGE_SENT));
                sent.await.map(drop)
            },
            async {
                let release = self.store.swap_page_claim(id, Some(&mine), None);
                release.await.map(drop)
            },
        )
        .await
        .map(stated)
    }

    /// Takes the row's INVALID page claim over from `from` for `event_id`; someone else
    /// took it first: in progress there.
    async fn take_page_claim(
        &self,
        event_id: &str,
        integration_id: &str,
        from: Option<&str>,
        mine: &str,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let taken = deadline
            .run(
                DDB,
                self.store.swap_page_claim(integration_id, from, Some(mine)),
            )
            .await?;
        if taken {
            Ok(())
        } else {
            Err(Error::InProgress(event_id.to_owned()))
        }
    }
}
