//! A finished Kombo Connect flow, told by its activation token (the completion route): whose
//! integration it is, and the create it makes. The create is the `integration-created`
//! webhook's own (one conditional write, one resolution of the customer's failures), so the
//! two ways in meet in one row whichever comes first.

use time::OffsetDateTime;

use super::failures::{Resolution, failure_key};
use super::row::{Mapping, Status};
use crate::clock::rfc3339;
use crate::event::EndUser;
use crate::event::api::TokenIntegration;
use crate::keys;

/// What a completion must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The token names an integration of this customer: store it (the webhook's create).
    Store(Box<Mapping>, Box<Resolution>),
    /// The token names another customer's integration, or one made without a customer:
    /// nothing is written (the reason the token exists).
    AnotherCustomer { token_origin_id: Option<String> },
}

/// The longest activation token accepted (Kombo's are a few dozen to a few hundred bytes).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Whether `token` can be an activation token: 1 to [`MAX_TOKEN_BYTES`] characters of
/// base64, base64url, a JWT or a prefixed id (letters, digits, `-_.~+/=:`). Anything else
/// is the caller's mistake, answered 400 without spending a Kombo request.
pub fn token_shaped(token: &str) -> bool {
    (1..=MAX_TOKEN_BYTES).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=:".contains(&b))
}

/// Decides a completion for the customer `origin_id` (the route's path) from what Kombo said
/// of the token. The row lacks what the token does not tell (category, creator e-mail): the
/// webhook fills those in when it comes.
/// `token_sha256`: the token's digest, kept on the row for a retry of this completion.
pub fn complete(
    t: &TokenIntegration,
    origin_id: &str,
    token_sha256: &str,
    now: OffsetDateTime,
) -> Completion {
    if t.end_user_origin_id.as_deref() != Some(origin_id) {
        return Completion::AnotherCustomer {
            token_origin_id: t.end_user_origin_id.clone(),
        };
    }
    let at = rfc3339(now);
    // `created_event_id` (and `last_event_id`): the same for every try, so a retry knows the
    // row is its own and the webhook knows whose row it meets.
    let id = keys::connect(&t.id);
    let end_user = EndUser {
        organization_name: t.end_user_organization_name.clone(),
        creator_email: None,
        origin_id: Some(origin_id.to_owned()),
    };
    let mapping = Mapping {
        integration_id: t.id.clone(),
        origin_id: Some(origin_id.to_owned()),
        tool: t.tool.clone(),
        category: String::new(),
        organization_name: t.end_user_organization_name.clone(),
        creator_email: None,
        status: Status::Active,
        created_at: Some(at.clone()),
        updated_at: at,
        deleted_at: None,
        last_event_id: id.clone(),
        created_event_id: Some(id.clone()),
        expires_at: None,
        state: None,
        setup_status: t.setup_status.clone(),
        qa_status: None,
        state_updated_at: None,
        connect_token_sha256: Some(token_sha256.to_owned()),
        usable: None,
        unusable_reason: None,
        open_issues: Vec::new(),
    };
    let resolution = Resolution {
        key: failure_key(&end_user, &t.tool),
        end_user,
        tool: t.tool.clone(),
        category: String::new(),
        integration_id: t.id.clone(),
        event_id: id,
    };
    Completion::Store(Box::new(mapping), Box::new(resolution))
}

/// The customer's row (stored first by the webhook, which brings no `setup_status`) with the
/// token's `setup_status` where the row has none (`None`: nothing to fill): an integration
/// whose setup is unfinished is not usable, whichever way in came first.
pub fn with_token_setup(row: &Mapping, token_setup: Option<&str>) -> Option<Mapping> {
    let setup =
        token_setup.filter(|_| row.setup_status.is_none() && row.status == Status::Active)?;
    let mut filled = row.clone();
    filled.setup_status = Some(setup.to_owned());
    filled.usable = Some(filled.usable_now());
    filled.unusable_reason = filled.unusable_now();
    Some(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn token(origin: Option<&str>) -> TokenIntegration {
        TokenIntegration {
            id: "workday:abc".into(),
            tool: "workday".into(),
            end_user_origin_id: origin.map(str::to_owned),
            end_user_organization_name: "Acme, Inc.".into(),
            setup_status: Some("COMPLETED".into()),
        }
    }

    #[test]
    fn the_token_of_this_customer_stores_its_integration_as_the_webhook_would() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let Completion::Store(m, r) = complete(&token(Some("42")), "42", "h", now) else {
            panic!("stores");
        };
        assert_eq!(m.integration_id, "workday:abc");
        assert_eq!(m.origin_id.as_deref(), Some("42"));
        assert_eq!(m.created_event_id.as_deref(), Some("connect:workday:abc"));
        assert_eq!(m.last_event_id, "connect:workday:abc");
        assert_eq!(m.category, "", "the token does not tell the category");
        assert_eq!(m.creator_email, None);
        assert_eq!(m.setup_status.as_deref(), Some("COMPLETED"));
        assert_eq!(m.connect_token_sha256.as_deref(), Some("h"));
        assert_eq!(r.key, "failures#42#workday");
        assert_eq!(r.notice_id(), "resolved:connect:workday:abc");
        // The category is not written, so the webhook's create can fill it in.
        let item: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert!(item.get("category").is_none(), "{item}");
    }

    #[test]
    fn another_customers_token_or_one_without_customer_stores_nothing() {
        let now = datetime!(2026-12-01 10:00 UTC);
        assert_eq!(
            complete(&token(Some("43")), "42", "h", now),
            Completion::AnotherCustomer {
                token_origin_id: Some("43".into())
            }
        );
        assert_eq!(
            complete(&token(None), "42", "h", now),
            Completion::AnotherCustomer {
                token_origin_id: None
            }
        );
        // Exact: no trimming or case folding makes "042" or "42 " customer 42.
        for other in ["042", "42 ", ""] {
            assert!(matches!(
                complete(&token(Some(other)), "42", "h", now),
                Completion::AnotherCustomer { .. }
            ));
        }
    }
    #[test]
    fn the_tokens_unfinished_setup_fills_the_webhooks_row_once() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let Completion::Store(m, _) = complete(&token(Some("42")), "42", "h", now) else {
            panic!("stores");
        };
        // The webhook's row: no setup status, usable.
        let mut row = (*m).clone();
        row.setup_status = None;
        row = row.with_usable_now();
        assert_eq!(row.usable, Some(true));
        let filled = with_token_setup(&row, Some("INCOMPLETE")).expect("filled");
        assert_eq!(filled.setup_status.as_deref(), Some("INCOMPLETE"));
        assert_eq!(filled.usable, Some(false));
        assert_eq!(
            filled.unusable_reason,
            Some(crate::decide::row::Unusable::SetupIncomplete)
        );
        // A finished setup fills in too, and stays usable.
        let done = with_token_setup(&row, Some("COMPLETED")).expect("filled");
        assert_eq!(done.usable, Some(true));
        // Nothing to fill: the row knows its setup, the token tells none, the row is deleted.
        assert_eq!(with_token_setup(&filled, Some("COMPLETED")), None);
        assert_eq!(with_token_setup(&row, None), None);
        let mut gone = row.clone();
        gone.status = Status::Deleted;
        assert_eq!(with_token_setup(&gone, Some("INCOMPLETE")), None);
    }
    #[test]
    fn only_a_token_shaped_string_is_sent_to_kombo() {
        for ok in [
            "act_Zx9-_",
            "eyJhbGciOi.eyJzdWIi.sig-_",
            "YWJj+/==",
            "tok:1",
            &"a".repeat(4096),
        ] {
            assert!(token_shaped(ok), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "a\nb",
            "<script>",
            "a%2Fb",
            "ä",
            &"a".repeat(4097),
        ] {
            assert!(!token_shaped(bad), "{bad:?}");
        }
    }
}
