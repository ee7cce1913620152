//! What the store's answers mean for a backend route's caller, as plain values: the
//! outcome a route answers, or the caller's error (4xx, never a page).

use super::alert::{reconnection_route, setup_route};
use super::create::Inserted;
use super::row::{Mapping, Status, Unusable};
use crate::error::Error;

/// What a tombstone write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstoned {
    /// The row is now a tombstone (created, or turned from ACTIVE).
    Marked,
    /// It was a tombstone already; nothing changed.
    AlreadyDeleted,
}

impl Tombstoned {
    /// The `outcome` a delete answers.
    pub fn outcome(self) -> &'static str {
        match self {
            Tombstoned::Marked => "deleted",
            Tombstoned::AlreadyDeleted => "already_deleted",
        }
    }
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

/// `PUT /integrations/{integration_id}/customer`: the outcome and the customer the row
/// was taken from, or the caller's error.
pub fn assigned(
    integration_id: &str,
    result: Assigned,
) -> Result<(&'static str, Option<String>), Error> {
    match result {
        Assigned::Assigned { previous } => Ok(("assigned", previous)),
        Assigned::Created => Ok(("assigned", None)),
        Assigned::Unchanged => Ok(("unchanged", None)),
        Assigned::NotFound => Err(Error::NotFound {
            code: "not_found",
            message: format!("integration {integration_id} is not known"),
        }),
        Assigned::Deleted => Err(deleted(integration_id)),
        Assigned::Conflict { current } => Err(Error::Conflict {
            code: "assigned_to_another_customer",
            message: format!(
                "integration {integration_id} belongs to customer {current}; send \"force\": true to move it"
            ),
        }),
    }
}

/// A reconnection or setup link for the customer `origin_id`'s integration: only for a row
/// the table holds for that customer and that is not deleted. Another customer's row and no
/// row are the same 404 (revealing nothing); this customer's tombstone is a 409.
pub fn owned(row: Option<&Mapping>, origin_id: &str, integration_id: &str) -> Result<(), Error> {
    match row {
        Some(r) if r.origin_id.as_deref() == Some(origin_id) => match r.status {
            Status::Active => Ok(()),
            Status::Deleted => Err(deleted(integration_id)),
        },
        _ => Err(Error::NotFound {
            code: "unknown_integration",
            message: format!("customer {origin_id} has no integration {integration_id}"),
        }),
    }
}

/// A connection link for `tool` is refused (409 `already_connected`, naming the
/// integration and its repair) when the customer has a live integration of that tool: Kombo
/// does not de-duplicate, a second link makes a second integration (and a second bill).
pub fn not_connected(rows: &[Mapping], origin_id: &str, tool: &str) -> Result<(), Error> {
    let Some(live) = rows
        .iter()
        .find(|r| r.status == Status::Active && r.tool == tool)
    else {
        return Ok(());
    };
    let id = &live.integration_id;
    let what = match live.unusable_now() {
        Some(Unusable::Invalid) => format!(
            "; it is INVALID: reconnect it with {}",
            reconnection_route(origin_id, id)
        ),
        Some(Unusable::SetupIncomplete) => format!(
            "; its setup is not finished: {}",
            setup_route(origin_id, id)
        ),
        _ => String::new(),
    };
    Err(Error::Conflict {
        code: "already_connected",
        message: format!(
            "customer {origin_id} has integration {id} of {tool} already{what}; send \"allow_another\": true for a second one"
        ),
    })
}

/// The caller's 409 for an integration that is deleted.
pub fn deleted(integration_id: &str) -> Error {
    Error::Conflict {
        code: "integration_deleted",
        message: format!("integration {integration_id} is deleted"),
    }
}

/// What a Connect completion's create means for its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// Stored now (or a row a state change recorded, completed): the row.
    Stored(Option<Box<Mapping>>),
    /// The webhook's row (or an earlier completion's) of this customer: the row, and
    /// whether the token's digest must be noted on it (so a retry of this completion,
    /// the token used up, finds it).
    AlreadyStored {
        row: Option<Box<Mapping>>,
        note_token: bool,
    },
}

impl Completed {
    /// The `outcome` the route answers.
    pub fn outcome(&self) -> &'static str {
        match self {
            Completed::Stored(_) => "stored",
            Completed::AlreadyStored { .. } => "already_stored",
        }
    }
}

/// The create of `m` for the customer `origin_id` found `inserted`: a row of this
/// customer's, or the caller's error (a tombstone; a row of another customer).
pub fn completed(
    inserted: Inserted,
    m: Mapping,
    origin_id: &str,
    token_sha256: &str,
) -> Result<Completed, Error> {
    let another = |row: &Mapping| row.origin_id.as_deref() != Some(origin_id);
    let assigned_to_another = || Error::Conflict {
        code: "assigned_to_another_customer",
        message: format!(
            "integration {} is assigned to another customer in the mappings table; nothing was stored",
            m.integration_id
        ),
    };
    match inserted {
        Inserted::Stored => Ok(Completed::Stored(Some(Box::new(m)))),
        // A row a state change recorded first, which an operator may have assigned to
        // another customer since: the create filled it in, but it is not this customer's.
        Inserted::Completed { row: Some(row) } if another(&row) => Err(assigned_to_another()),
        Inserted::Completed { row } => Ok(Completed::Stored(row)),
        Inserted::Exists {
            status: Status::Deleted,
            ..
        } => Err(deleted(&m.integration_id)),
        Inserted::Exists { row: Some(row), .. } if another(&row) => Err(assigned_to_another()),
        Inserted::Exists { row, .. } => {
            let note_token = row
                .as_ref()
                .is_some_and(|r| r.connect_token_sha256.as_deref() != Some(token_sha256));
            Ok(Completed::AlreadyStored { row, note_token })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(origin: &str, digest: Option<&str>) -> Box<Mapping> {
        Box::new(Mapping {
            integration_id: "workday:1".into(),
            origin_id: Some(origin.into()),
            tool: "workday".into(),
            category: String::new(),
            organization_name: "Acme".into(),
            creator_email: None,
            status: Status::Active,
            created_at: Some("t".into()),
            updated_at: "t".into(),
            deleted_at: None,
            last_event_id: "c-1".into(),
            created_event_id: Some("c-1".into()),
            expires_at: None,
            state: None,
            setup_status: None,
            qa_status: None,
            state_updated_at: None,
            connect_token_sha256: digest.map(Into::into),
            usable: None,
            unusable_reason: None,
            open_issues: Vec::new(),
        })
    }

    #[test]
    fn an_assignment_answers_its_outcome_or_the_callers_error() {
        assert_eq!(
            assigned(
                "w:1",
                Assigned::Assigned {
                    previous: Some("41".into())
                }
            )
            .unwrap(),
            ("assigned", Some("41".into()))
        );
        assert_eq!(
            assigned("w:1", Assigned::Unchanged).unwrap(),
            ("unchanged", None)
        );
        let e = assigned(
            "w:1",
            Assigned::Conflict {
                current: "41".into(),
            },
        )
        .unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (409, "assigned_to_another_customer")
        );
        let e = assigned("w:1", Assigned::Deleted).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (409, "integration_deleted")
        );
        assert_eq!(
            assigned("w:1", Assigned::NotFound)
                .unwrap_err()
                .status()
                .as_u16(),
            404
        );
    }

    #[test]
    fn a_completion_answers_this_customers_row_and_refuses_the_rest() {
        let m = *row("42", Some("h"));
        assert_eq!(
            completed(Inserted::Stored, m.clone(), "42", "h")
                .unwrap()
                .outcome(),
            "stored"
        );
        let tomb = Inserted::Exists {
            status: Status::Deleted,
            own: false,
            row: None,
        };
        assert_eq!(
            completed(tomb, m.clone(), "42", "h").unwrap_err().code(),
            "integration_deleted"
        );
        let other = Inserted::Exists {
            status: Status::Active,
            own: false,
            row: Some(row("43", None)),
        };
        assert_eq!(
            completed(other, m.clone(), "42", "h").unwrap_err().code(),
            "assigned_to_another_customer"
        );
        // A state-only row filled in, but assigned to another customer since.
        let filled_theirs = Inserted::Completed {
            row: Some(row("43", None)),
        };
        assert_eq!(
            completed(filled_theirs, m.clone(), "42", "h")
                .unwrap_err()
                .code(),
            "assigned_to_another_customer"
        );
        let filled_ours = Inserted::Completed {
            row: Some(row("42", None)),
        };
        assert_eq!(
            completed(filled_ours, m.clone(), "42", "h")
                .unwrap()
                .outcome(),
            "stored"
        );
        // The webhook's row: noted with the token's digest unless it has it.
        let webhooks = Inserted::Exists {
            status: Status::Active,
            own: false,
            row: Some(row("42", None)),
        };
        assert!(matches!(
            completed(webhooks, m.clone(), "42", "h").unwrap(),
            Completed::AlreadyStored {
                note_token: true,
                ..
            }
        ));
        let noted = Inserted::Exists {
            status: Status::Active,
            own: true,
            row: Some(row("42", Some("h"))),
        };
        assert!(matches!(
            completed(noted, m, "42", "h").unwrap(),
            Completed::AlreadyStored {
                note_token: false,
                ..
            }
        ));
    }

    #[test]
    fn a_link_is_only_for_this_customers_live_row_and_the_rest_reveals_nothing() {
        let ours = row("42", None);
        assert!(owned(Some(&ours), "42", "workday:1").is_ok());
        let mut tomb = row("42", None);
        tomb.status = Status::Deleted;
        let e = owned(Some(&tomb), "42", "workday:1").unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (409, "integration_deleted")
        );
        let theirs = owned(Some(&row("43", None)), "42", "workday:1").unwrap_err();
        let none = owned(None, "42", "workday:1").unwrap_err();
        assert_eq!(
            (theirs.status().as_u16(), theirs.code()),
            (404, "unknown_integration")
        );
        assert_eq!(theirs.body(), none.body(), "another's row reads as no row");
        let mut their_tomb = row("43", None);
        their_tomb.status = Status::Deleted;
        assert_eq!(
            owned(Some(&their_tomb), "42", "workday:1")
                .unwrap_err()
                .body(),
            none.body()
        );
        let mut unassigned = row("42", None);
        unassigned.origin_id = None;
        assert_eq!(
            owned(Some(&unassigned), "42", "workday:1")
                .unwrap_err()
                .code(),
            "unknown_integration"
        );
    }

    #[test]
    fn a_second_link_for_a_connected_tool_is_refused_naming_the_repair() {
        let ok = *row("42", None);
        assert!(
            not_connected(std::slice::from_ref(&ok), "42", "personio").is_ok(),
            "another tool"
        );
        let e = not_connected(std::slice::from_ref(&ok), "42", "workday").unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (409, "already_connected"));
        assert!(e.to_string().contains("workday:1") && e.to_string().contains("allow_another"));
        let mut invalid = ok.clone();
        invalid.state = Some("INVALID".into());
        let e = not_connected(&[invalid], "42", "workday").unwrap_err();
        assert!(
            e.to_string()
                .contains("/customers/42/integrations/workday:1/reconnection-link"),
            "{e}"
        );
        let mut gone = ok;
        gone.status = Status::Deleted;
        assert!(
            not_connected(&[gone], "42", "workday").is_ok(),
            "a tombstone is no integration"
        );
    }
}
