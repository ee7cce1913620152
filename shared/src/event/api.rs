//! Kombo's API payloads the product sends and reads (the webhooks' payloads are in
//! [`super`]): the bodies of `POST /connect/create-link`, `POST /integrations/{id}/relink` and
//! `POST /integrations/{id}/setup-link`, and what `GET /integrations/{id}` and
//! `GET /connect/integration-by-token/{token}` answer. Plain values; the client that sends
//! and receives them is [`crate::kombo`].

use serde::{Deserialize, Serialize};

/// The body of `POST /connect/create-link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLink {
    pub end_user_email: String,
    pub end_user_organization_name: String,
    pub end_user_origin_id: String,
    pub integration_category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_config_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_filtering: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_field_mapping: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_static_ips: Option<bool>,
}

/// An integration as `GET /integrations/{id}` describes it (the fields this product keeps;
/// Kombo's SDK model `GetIntegrationsIntegrationIDPositiveResponseData` has more).
#[derive(Debug, Clone, Deserialize)]
pub struct Integration {
    pub id: String,
    pub tool: Tool,
    pub category: String,
    /// `ACTIVE`, `INVALID` or `INACTIVE` (the webhooks' `state`).
    pub status: String,
    pub setup_status: String,
    pub end_user: super::EndUser,
}

/// `tool` of [`Integration`]: an object in this answer, a plain id in the webhooks.
#[derive(Debug, Clone, Deserialize)]
pub struct Tool {
    pub id: String,
}

/// What `GET /connect/integration-by-token/{token}` says of the integration a finished
/// Connect flow made (Kombo's SDK model `GetConnectIntegrationByTokenTokenPositiveResponseData`).
/// No category and no creator e-mail: the `integration-created` webhook brings those.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenIntegration {
    pub id: String,
    pub tool: String,
    /// The customer the link was made for; `None` for a link made without one.
    #[serde(default)]
    pub end_user_origin_id: Option<String>,
    pub end_user_organization_name: String,
    /// `INCOMPLETE`, `FINAL_SYNC_PENDING` or `COMPLETED`.
    #[serde(default)]
    pub setup_status: Option<String>,
}

/// The body of `POST /integrations/{integration_id}/relink` (Kombo's SDK model
/// `PostIntegrationsIntegrationIdRelinkRequestBody`): every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relink {
    /// `EMBEDDED` (1 hour, for `showKomboConnect`; Kombo's default) or `MAGIC_LINK` (1 year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_config_id: Option<String>,
}

/// The body of `POST /integrations/{integration_id}/setup-link` (Kombo's SDK model
/// `PostIntegrationsIntegrationIdSetupLinkRequestBody`): `link_type` required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupLink {
    pub link_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// What `POST /connect/create-link` answers: the link, and the addresses the customer must
/// allow-list when `enable_static_ips` was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedLink {
    pub link: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_ips: Option<Vec<String>>,
}
