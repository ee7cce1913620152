//! The create, whichever way it came in (the `integration-created` webhook, or a Connect
//! completion's activation token): one conditional write with a read of the customer's
//! failure record beside it, and the one "resolved" notice it owes; and the create of an
//! integration without a customer, with its notice.

use time::OffsetDateTime;

use super::claims::{Duplicate, nothing};
use super::engine::{DDB, Effects, Outcome, SNS};
use crate::deadline::{Deadline, UNDO_RESERVE};
use crate::decide::create::{self, Inserted};
use crate::decide::failures::Resolving;
use crate::decide::fleet::Strike;
use crate::decide::notices::resolved_notice;
use crate::decide::{Alert, Mapping, Resolution, Status};
use crate::error::Error;
use crate::ports::{AlertPublisher, Store};

/// What a create did: the write's result, and what became of the "resolved" notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub inserted: Inserted,
    pub notice: Notice,
}

/// The "resolved" notice of a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// This create sent it.
    Sent,
    /// None is owed, or it was sent before.
    None,
    /// Another invocation holds its claim (the other way in, or a concurrent duplicate):
    /// it sends it, or releases the claim for a retry to.
    InFlight(String),
}

impl<S: Store, P: AlertPublisher> Effects<S, P> {
    /// The create of a mapping with its customer, whichever way it came in (the
    /// `integration-created` webhook, or a Connect completion's activation token): one
    /// conditional write, and at the same time a read of the customer's failure record for
    /// the tool and a query of the customer's rows (one round trip for the three). A second
    /// live integration of the tool for the customer sends one "duplicate integration"
    /// notice (naming the older ones). Only where that record holds failures to resolve,
    /// and the row is this customer's and this create's (or the other way in's), are they
    /// resolved with one "resolved" notice, claimed under the id of the create that stored
    /// the row, so the two ways in and their retries send it once. A failure that lands
    /// between the read and the write is left for the next create, as one that lands just
    /// after it would be.
    pub async fn create(
        &self,
        m: &Mapping,
        resolution: &Resolution,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Created, Error> {
        // The customer's rows beside the write: a second live integration of the tool (a
        // duplicate) is found without another round trip.
        let origin = m.origin_id.as_deref().unwrap_or_default();
        let (inserted, on_record, rows) = tokio::try_join!(
            Box::pin(deadline.run(DDB, self.store.insert(m))),
            Box::pin(deadline.run(DDB, self.store.on_record(&resolution.key))),
            Box::pin(deadline.run(DDB, self.store.by_origin(origin))),
        )?;
        let ours = create::resolution_id(&inserted, m);
        if ours.is_some()
            && let Some((claim, notice)) = create::duplicates(m, &rows)
        {
            // Another delivery sending it right now: it goes out (or its claim is released
            // for that delivery's retry); this one's answer does not wait for it.
            Box::pin(self.publish_once(&claim, &notice, now, deadline)).await?;
        }
        let owed = ours.filter(|id| on_record.to_resolve(id));
        let notice = match owed {
            Some(event_id) => {
                let r = Resolution {
                    event_id,
                    ..resolution.clone()
                };
                match self.resolve(&r, now, deadline).await {
                    Ok(true) => Notice::Sent,
                    Ok(false) => Notice::None,
                    Err(Error::InProgress(id)) => Notice::InFlight(id),
                    Err(e) => return Err(e),
                }
            }
            None => Notice::None,
        };
        Ok(Created { inserted, notice })
    }

    /// Stores a mapping without customer and publishes the notice once, unless the
    /// integration was deleted meanwhile. The write (safe to repeat: a row stands after it)
    /// goes out with the notice's claim. A retry after a failed publish finds the row its own
    /// create stored (`created_event_id`, which no other event writes) and publishes then,
    /// whatever state changes arrived in between.
    pub(super) async fn store_and_notify(
        &self,
        event_id: &str,
        m: &Mapping,
        alert: &Alert,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Outcome, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        let write = Box::pin(soft.run(DDB, self.store.insert(m)));
        self.once_alongside(
            event_id,
            now,
            deadline,
            Duplicate {
                answer: Outcome::AlreadyStored,
                undo: nothing,
            },
            write,
            |inserted| async move {
                match inserted {
                    Inserted::Exists {
                        status: Status::Deleted,
                        ..
                    } => return Ok(Outcome::IgnoredTombstoned),
                    Inserted::Exists { own: false, .. } => return Ok(Outcome::AlreadyStored),
                    Inserted::Stored
                    | Inserted::Completed { .. }
                    | Inserted::Exists { own: true, .. } => {}
                }
                soft.run(SNS, self.alerts.publish(alert)).await?;
                Ok(Outcome::StoredUnassigned)
            },
        )
        .await
    }

    /// Resolves the customer's failures on record for this create's tool; if there were
    /// any, publishes one "resolved" notice (a claim on [`Resolution::notice_id`] makes it
    /// exactly-once across retries and concurrent duplicates). `true`: this call sent it.
    async fn resolve(
        &self,
        r: &Resolution,
        now: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<bool, Error> {
        let soft = deadline.earlier(UNDO_RESERVE);
        // The resolving write is safe to repeat (a retry of this create finds its own name
        // on the record): it goes out with the notice's claim, and so does marking the
        // customer connected on its tool's fleet record (if it is on it: a customer of an
        // incident has its notice folded into the incident's end).
        let (key, customer) = Strike::connected(r);
        let (key, customer) = (key.as_str(), customer.as_str());
        let resolving = Box::pin(async move {
            tokio::try_join!(
                Box::pin(soft.run(DDB, self.store.resolve(&r.key, &r.event_id, now))),
                Box::pin(soft.run(DDB, self.store.recover(key, customer))),
            )
        });
        let outcome = self
            .once_alongside(
                &r.notice_id(),
                now,
                deadline,
                Duplicate {
                    answer: Outcome::Stored,
                    undo: nothing,
                },
                resolving,
                |(resolving, fleet)| async move {
                    let (failed, category) = match resolving {
                        Resolving::Nothing => return Ok(Outcome::Stored),
                        Resolving::Notify { failed, category } => (failed, category),
                    };
                    if fleet.is_some_and(|f| f.in_incident(customer, &self.rules.fleet)) {
                        return Ok(Outcome::InIncident);
                    }
                    let notice = if r.category.is_empty() {
                        // A Connect completion: the category is the failures'.
                        resolved_notice(
                            &Resolution {
                                category,
                                ..r.clone()
                            },
                            failed,
                        )
                    } else {
                        resolved_notice(r, failed)
                    };
                    soft.run(SNS, self.alerts.publish(&notice))
                        .await
                        .map(|()| Outcome::Resolved)
                },
            )
            .await?;
        Ok(outcome == Outcome::Resolved)
    }
}
