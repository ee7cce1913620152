//! A create, whichever way it came in (the `integration-created` webhook, or a Connect
//! completion's activation token), as plain values: which existing row its one write may
//! fill in, what the write found, and under whose id it resolves the customer's failures.

use super::alert::{Alert, AlertKind, alert};
use super::row::{Mapping, Status};
use crate::event::{EndUser, Sensitive};
use crate::keys;

/// What a conditional insert of a new mapping found. `row`: the row as it stands after
/// the write (`None` only for a row that does not read as a mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The row did not exist and is now stored.
    Stored,
    /// A row recorded from a state change (its create had not been seen) is now complete.
    Completed { row: Option<Box<Mapping>> },
    /// A row was there already: unchanged, or (a webhook create meeting the row a Connect
    /// completion stored) only its missing fields filled in.
    Exists {
        status: Status,
        /// The row was stored by this same create (a retry of it), whatever other events
        /// changed on it since.
        own: bool,
        row: Option<Box<Mapping>>,
    },
}

/// Whether `m`'s write may fill in the row a Connect completion stored first (once: the
/// category and creator e-mail the activation token does not tell): a webhook's create
/// may; another completion's may not.
pub fn fills_connect_row(m: &Mapping) -> bool {
    !m.created_event_id.as_deref().is_some_and(keys::is_connect)
}

/// The id under which a create resolves its customer's failures, if it does: its own when
/// it stored the row (now, or on an earlier try of it); the row's creator's when the row is
/// this customer's and the two ways in met on it (a webhook meeting a Connect completion's
/// row, or the other way round), so whichever comes second repeats, never doubles, the
/// first one's notice. `None` for a tombstone, another customer's row, or another create's
/// row of the same way in.
pub fn resolution_id(inserted: &Inserted, m: &Mapping) -> Option<String> {
    let connect = |id: &Option<String>| id.as_deref().is_some_and(keys::is_connect);
    match inserted {
        Inserted::Stored | Inserted::Completed { .. } => m.created_event_id.clone(),
        Inserted::Exists {
            status: Status::Active,
            own: true,
            ..
        } => m.created_event_id.clone(),
        Inserted::Exists {
            status: Status::Active,
            own: false,
            row: Some(row),
        } if row.origin_id == m.origin_id
            && (connect(&row.created_event_id) != connect(&m.created_event_id)) =>
        {
            row.created_event_id.clone()
        }
        _ => None,
    }
}

/// The "duplicate integration" notice a create owes, with its claim (once per newer
/// integration, so once per pair): `m` is a live integration of the same tool for the same
/// customer as older live ones among `rows` (the customer's rows, read beside the create's
/// write). Kombo does not de-duplicate integrations: a second connection link instead of a
/// reconnection makes two, billed and synced twice. Only rows created before `m` (by
/// `created_at`, then id) count: a late retry of the older one's create owes nothing.
pub fn duplicates(m: &Mapping, rows: &[Mapping]) -> Option<(String, Alert)> {
    // When `m` was stored: the row as read (a retry's first try), else this write's.
    let mine = rows
        .iter()
        .find(|r| r.integration_id == m.integration_id)
        .and_then(|r| r.created_at.as_deref())
        .or(m.created_at.as_deref())
        .unwrap_or_default();
    let older: Vec<&Mapping> = rows
        .iter()
        .filter(|r| {
            r.integration_id != m.integration_id
                && r.status == Status::Active
                && r.tool == m.tool
                && r.origin_id == m.origin_id
                && (
                    r.created_at.as_deref().unwrap_or_default(),
                    r.integration_id.as_str(),
                ) < (mine, m.integration_id.as_str())
        })
        .collect();
    if older.is_empty() {
        return None;
    }
    let claim = keys::duplicate(&m.integration_id);
    let end_user = EndUser {
        organization_name: m.organization_name.clone(),
        creator_email: m.creator_email.clone().map(Sensitive::new),
        origin_id: m.origin_id.clone(),
    };
    let listed: Vec<String> = older
        .iter()
        .map(|o| {
            format!(
                "{} ({})",
                o.integration_id,
                o.state.as_deref().unwrap_or("ACTIVE")
            )
        })
        .collect();
    let listed = listed.join(", ");
    let what = if older.len() == 1 {
        "two live".to_owned()
    } else {
        format!("{} live", older.len() + 1)
    };
    let notice = alert(
        AlertKind::DuplicateIntegration,
        format!(
            "Kombo duplicate integration: {} ({} {})",
            m.organization_name, m.tool, m.category
        ),
        &format!(
            "The customer now has {what} {} integrations: Kombo does not de-duplicate, so \
             each is billed and each syncs. Low urgency.",
            m.tool
        ),
        &end_user,
        &m.tool,
        &m.category,
        &[
            ("Integration id", m.integration_id.as_str()),
            ("Older integrations (state)", listed.as_str()),
        ],
        &claim,
    );
    Some((claim, notice))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(created: &str, origin: &str) -> Mapping {
        Mapping {
            integration_id: "workday:1".into(),
            origin_id: Some(origin.into()),
            tool: "workday".into(),
            category: "LMS".into(),
            organization_name: "Acme".into(),
            creator_email: None,
            status: Status::Active,
            created_at: Some("t".into()),
            updated_at: "t".into(),
            deleted_at: None,
            last_event_id: created.into(),
            created_event_id: Some(created.into()),
            expires_at: None,
            state: None,
            setup_status: None,
            qa_status: None,
            state_updated_at: None,
            connect_token_sha256: None,
            usable: None,
            unusable_reason: None,
            open_issues: Vec::new(),
        }
    }

    fn exists(own: bool, row: Option<Mapping>) -> Inserted {
        Inserted::Exists {
            status: Status::Active,
            own,
            row: row.map(Box::new),
        }
    }

    #[test]
    fn a_webhook_may_fill_a_connect_row_and_a_completion_may_not() {
        assert!(fills_connect_row(&mapping("c-1", "42")));
        assert!(!fills_connect_row(&mapping("connect:workday:1", "42")));
    }

    #[test]
    fn a_create_resolves_under_its_own_id_where_it_stored_the_row() {
        let m = mapping("c-1", "42");
        for inserted in [
            Inserted::Stored,
            Inserted::Completed { row: None },
            exists(true, None),
        ] {
            assert_eq!(resolution_id(&inserted, &m), Some("c-1".into()));
        }
    }

    #[test]
    fn the_two_ways_in_meeting_on_one_row_resolve_under_the_first_ones_id() {
        let webhook = mapping("c-1", "42");
        let completion = mapping("connect:workday:1", "42");
        assert_eq!(
            resolution_id(&exists(false, Some(completion.clone())), &webhook),
            Some("connect:workday:1".into())
        );
        assert_eq!(
            resolution_id(&exists(false, Some(webhook.clone())), &completion),
            Some("c-1".into())
        );
        // The same way in twice (another create's row): not this create's to resolve.
        assert_eq!(
            resolution_id(&exists(false, Some(mapping("c-0", "42"))), &webhook),
            None
        );
        // Another customer's row, or a tombstone: nothing.
        assert_eq!(
            resolution_id(
                &exists(false, Some(mapping("connect:workday:1", "43"))),
                &webhook
            ),
            None
        );
        let tomb = Inserted::Exists {
            status: Status::Deleted,
            own: true,
            row: None,
        };
        assert_eq!(resolution_id(&tomb, &webhook), None);
    }

    #[test]
    fn a_second_live_integration_of_one_tool_for_one_customer_is_noticed_once_per_pair() {
        let mut new = mapping("c-2", "42");
        new.created_at = Some("2026-12-01T10:00:00Z".into());
        let mut older = mapping("c-1", "42");
        older.integration_id = "workday:0".into();
        older.created_at = Some("2026-11-01T10:00:00Z".into());
        older.state = Some("INVALID".into());
        let (claim, notice) = duplicates(&new, &[older.clone(), new.clone()]).expect("a notice");
        assert_eq!(claim, "duplicate:workday:1");
        assert_eq!(notice.kind, AlertKind::DuplicateIntegration);
        assert!(
            notice
                .message
                .contains("Older integrations (state): workday:0 (INVALID)"),
            "{}",
            notice.message
        );
        assert!(
            notice.next_steps[0].contains("reconnection-link"),
            "{:?}",
            notice.next_steps
        );
        // The older one's late retry (the newer stands beside it): nothing, the pair is the
        // newer's to tell.
        assert!(duplicates(&older, &[older.clone(), new.clone()]).is_none());
        // Its first try read: when it was stored, not this try's time.
        let mut retried = new.clone();
        retried.created_at = Some("2026-12-06T00:00:00Z".into());
        assert!(duplicates(&retried, &[older.clone(), new.clone()]).is_some());
        // Three: one notice naming both older ones.
        let mut oldest = older.clone();
        oldest.integration_id = "workday:00".into();
        oldest.created_at = Some("2026-10-01T10:00:00Z".into());
        oldest.state = None;
        let (_, three) = duplicates(&new, &[oldest, older.clone(), new.clone()]).unwrap();
        assert!(
            three.message.contains("3 live")
                && three
                    .message
                    .contains("workday:00 (ACTIVE), workday:0 (INVALID)")
                || three
                    .message
                    .contains("workday:0 (INVALID), workday:00 (ACTIVE)"),
            "{}",
            three.message
        );
        // Another tool, a tombstone, another customer: none.
        let mut other_tool = older.clone();
        other_tool.tool = "personio".into();
        let mut deleted = older.clone();
        deleted.status = Status::Deleted;
        let mut theirs = older;
        theirs.origin_id = Some("43".into());
        assert!(duplicates(&new, &[other_tool, deleted, theirs]).is_none());
    }
}
