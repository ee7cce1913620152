//! What Kombo sends, typed: the webhook payloads (see `kombo-webhooks.md` in the reference
//! material) here, the API's payloads in [`api`].
//!
//! - Required fields are required; types are checked (dates are RFC 3339, URLs parse).
//! - Unknown fields are ignored: Kombo adds fields over time.
//! - Enumerations are *open*: a value Kombo adds later (a new category, a new state) is
//!   kept verbatim as `Other(String)` and stored/forwarded as-is, never rejected, so a
//!   new Kombo category does not turn into failed deliveries.

pub mod api;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use url::Url;

/// A string that must not appear in logs in clear (`creator_email`). `Debug` and
/// `Display` print `[redacted]`; [`Sensitive::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(s: impl Into<String>) -> Self {
        Sensitive(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Declares an enumeration whose unknown values are kept as `Other(String)`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            /// A value this version does not know yet, kept verbatim.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Other(s) => s,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// `category` / `integration_category`.
    Category { Hris = "HRIS", Ats = "ATS", Assessment = "ASSESSMENT", Lms = "LMS" }
);
open_enum!(
    /// `integration-state-changed.state`.
    IntegrationState { Active = "ACTIVE", Invalid = "INVALID", Inactive = "INACTIVE" }
);
open_enum!(
    /// `integration-state-changed.setup_status`.
    SetupStatus { Incomplete = "INCOMPLETE", FinalSyncPending = "FINAL_SYNC_PENDING", Completed = "COMPLETED" }
);
open_enum!(
    /// `integration-state-changed.qa_status`.
    QaStatus { Pending = "PENDING", Failed = "FAILED", Passed = "PASSED" }
);

/// A required string that must not be empty (ids, tools, names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct NonEmpty(String);

impl NonEmpty {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(serde::de::Error::custom("must not be empty"));
        }
        Ok(NonEmpty(s))
    }
}

impl std::fmt::Display for NonEmpty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `origin_id`: null, absent and the empty string all mean "created without one"
/// (DynamoDB index keys cannot be empty strings, and an empty id names no customer).
fn origin_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let id = Option::<String>::deserialize(d)?.filter(|s| !s.is_empty());
    if let Some(id) = &id {
        fits_key(id).map_err(serde::de::Error::custom)?;
    }
    Ok(id)
}

/// DynamoDB's limit on a partition key (the table's, and the customer index's).
pub const MAX_KEY_BYTES: usize = 2048;

/// An id stored as a key must fit DynamoDB's key size: refused (400 naming the field)
/// rather than answered 500 on every retry.
pub(crate) fn fits_key(id: &str) -> Result<(), String> {
    if id.len() > MAX_KEY_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_KEY_BYTES} can be stored",
            id.len()
        ));
    }
    Ok(())
}

/// The `end_user` object shared by all lifecycle events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EndUser {
    pub organization_name: String,
    #[serde(default)]
    pub creator_email: Option<Sensitive>,
    #[serde(default, deserialize_with = "origin_id")]
    pub origin_id: Option<String>,
}

/// What each webhook payload type declares about itself.
pub trait WebhookEvent: for<'de> Deserialize<'de> {
    /// The envelope's `type` for this payload.
    const TYPE: &'static str;
    /// The integration the event is about, if it names one (for logs and keys).
    fn integration_id(&self) -> Option<&str>;
    /// The name of that field in `data`.
    const ID_FIELD: &'static str = "integration_id";
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IntegrationCreated {
    pub id: NonEmpty,
    pub tool: NonEmpty,
    pub category: Category,
    pub end_user: EndUser,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IntegrationDeleted {
    pub id: NonEmpty,
    pub tool: NonEmpty,
    pub category: Category,
    pub end_user: EndUser,
    #[serde(with = "time::serde::rfc3339")]
    pub deleted_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectionFlowFailed {
    pub integration_tool: NonEmpty,
    pub integration_category: Category,
    pub end_user: EndUser,
    pub log_url: Url,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IntegrationStateChanged {
    pub integration_id: NonEmpty,
    pub integration_tool: NonEmpty,
    pub integration_category: Category,
    pub end_user: EndUser,
    pub qa_status: QaStatus,
    pub setup_status: SetupStatus,
    pub state: IntegrationState,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

open_enum!(
    /// `issue-status-changed.change`.
    IssueChange { Raised = "raised", Resolved = "resolved" }
);
open_enum!(
    /// `issue-status-changed.issue.status`.
    IssueStatus { Open = "OPEN", Resolved = "RESOLVED" }
);

/// A value that must be there but may be `null` (Kombo's SDK models mark these required):
/// a missing field is refused, naming it; `null` is `None`.
fn required_nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// The issue of an `issue-status-changed` (Kombo's SDK model `IssueStatusChangedWebhookPayload`):
/// `type` is an open set (a type Kombo adds later is kept and handled, never refused).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Issue {
    pub id: NonEmpty,
    #[serde(rename = "type")]
    pub kind: NonEmpty,
    pub title: String,
    pub status: IssueStatus,
    pub markdown_message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_observed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// The integration an issue is about (`null` for an environment-wide issue).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssueIntegration {
    pub id: NonEmpty,
    pub tool: NonEmpty,
    pub category: Category,
    pub end_user: EndUser,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssueStatusChanged {
    pub change: IssueChange,
    pub issue: Issue,
    #[serde(deserialize_with = "required_nullable")]
    pub integration: Option<IssueIntegration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChangedModel {
    pub name: NonEmpty,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DataChanged {
    pub integration_id: NonEmpty,
    pub integration_tool: NonEmpty,
    pub integration_category: Category,
    pub changed_models: Vec<ChangedModel>,
}

impl WebhookEvent for IntegrationCreated {
    const ID_FIELD: &'static str = "id";
    const TYPE: &'static str = "integration-created";
    fn integration_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
}

impl WebhookEvent for IntegrationDeleted {
    const ID_FIELD: &'static str = "id";
    const TYPE: &'static str = "integration-deleted";
    fn integration_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
}

impl WebhookEvent for ConnectionFlowFailed {
    const TYPE: &'static str = "connection-flow-failed";
    fn integration_id(&self) -> Option<&str> {
        None
    }
}

impl WebhookEvent for IntegrationStateChanged {
    const TYPE: &'static str = "integration-state-changed";
    fn integration_id(&self) -> Option<&str> {
        Some(self.integration_id.as_str())
    }
}

impl WebhookEvent for IssueStatusChanged {
    const TYPE: &'static str = "issue-status-changed";
    const ID_FIELD: &'static str = "integration.id";
    fn integration_id(&self) -> Option<&str> {
        self.integration.as_ref().map(|i| i.id.as_str())
    }
}

impl WebhookEvent for DataChanged {
    const TYPE: &'static str = "data-changed";
    fn integration_id(&self) -> Option<&str> {
        Some(self.integration_id.as_str())
    }
}

/// A verified, parsed webhook: the envelope's `id` and the typed `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<T> {
    pub id: String,
    pub data: T,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    id: NonEmpty,
    #[serde(rename = "type")]
    kind: NonEmpty,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// Why a body is not an event of the expected type: 400 or 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON, not an object, or a field missing/mistyped: the message names it.
    Invalid(String),
    /// A well-formed envelope of another type.
    WrongType { expected: &'static str, got: String },
}

/// Parses a body as an event of type `T`: envelope first (so a wrong `type` is reported
/// as such, not as missing fields), then `data`. Error messages name the field path,
/// e.g. `data.end_user.organization_name: missing field`.
pub fn parse<T: WebhookEvent>(body: &[u8]) -> Result<Envelope<T>, ParseError> {
    expect_object("body", body)?;
    let de = &mut serde_json::Deserializer::from_slice(body);
    let raw: RawEnvelope =
        serde_path_to_error::deserialize(&mut *de).map_err(|e| describe("", &e))?;
    // Nothing but white space may follow the object.
    de.end()
        .map_err(|e| ParseError::Invalid(format!("body is not valid JSON: {e}")))?;
    if raw.kind.as_str() != T::TYPE {
        return Err(ParseError::WrongType {
            expected: T::TYPE,
            got: raw.kind.0,
        });
    }
    expect_object("data", raw.data.get().as_bytes())?;
    let de = &mut serde_json::Deserializer::from_str(raw.data.get());
    let data: T = serde_path_to_error::deserialize(de).map_err(|e| describe("data", &e))?;
    if let Some(id) = data.integration_id() {
        fits_key(id).map_err(|m| ParseError::Invalid(format!("data.{}: {m}", T::ID_FIELD)))?;
    }
    Ok(Envelope { id: raw.id.0, data })
}

/// serde's derive also accepts a JSON array for a struct (fields by position); Kombo
/// sends objects, so anything else is refused before it can be read that way.
pub(crate) fn expect_object(what: &str, json: &[u8]) -> Result<(), ParseError> {
    match json.trim_ascii_start().first() {
        Some(b'{') => Ok(()),
        _ => match serde_json::from_slice::<serde_json::Value>(json) {
            Err(e) => Err(ParseError::Invalid(format!(
                "{what} is not valid JSON: {e}"
            ))),
            Ok(v) => Err(ParseError::Invalid(format!(
                "{what}: invalid type: expected a JSON object, got {}",
                match v {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::Object(_) => "an object",
                }
            ))),
        },
    }
}

fn describe(prefix: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> ParseError {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ParseError::Invalid(format!("body is not valid JSON: {inner}"));
    }
    let path = e.path().to_string();
    let path = match (prefix, path.as_str()) {
        ("", ".") => "body".to_owned(),
        ("", p) => p.to_owned(),
        (pre, ".") => pre.to_owned(),
        (pre, p) => format!("{pre}.{p}"),
    };
    // serde_json appends " at line L column C"; the field path says more.
    let msg = inner.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    ParseError::Invalid(format!("{path}: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str = r#"{"id":"5gjAtURLPbnTiwgkaBfiA3WJ","type":"integration-created","data":{"id":"successfactors:CBNMt7dSNCzBdnRTx87dev4E","tool":"successfactors","category":"LMS","end_user":{"origin_id":"36123","creator_email":"user@example.com","organization_name":"Acme, Inc."}}}"#;

    fn invalid<T: WebhookEvent + std::fmt::Debug>(body: &str) -> String {
        match parse::<T>(body.as_bytes()) {
            Err(ParseError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn ids_over_dynamodbs_key_limit_are_refused_naming_the_field() {
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let origin = CREATED.replace("\"36123\"", &format!("\"{long}\""));
        let m = invalid::<IntegrationCreated>(&origin);
        assert!(
            m.starts_with("data.end_user.origin_id: is 2049 bytes long"),
            "{m}"
        );
        let id = CREATED.replace(
            "\"successfactors:CBNMt7dSNCzBdnRTx87dev4E\"",
            &format!("\"{long}\""),
        );
        let m = invalid::<IntegrationCreated>(&id);
        assert!(m.starts_with("data.id: is 2049 bytes long"), "{m}");
        let fits = "y".repeat(MAX_KEY_BYTES);
        let ok = CREATED.replace("\"36123\"", &format!("\"{fits}\""));
        assert!(parse::<IntegrationCreated>(ok.as_bytes()).is_ok());
    }

    #[test]
    fn parses_kombos_documented_example() {
        let e = parse::<IntegrationCreated>(CREATED.as_bytes()).unwrap();
        assert_eq!(e.id, "5gjAtURLPbnTiwgkaBfiA3WJ");
        assert_eq!(
            e.data.id.as_str(),
            "successfactors:CBNMt7dSNCzBdnRTx87dev4E"
        );
        assert_eq!(e.data.category, Category::Lms);
        assert_eq!(e.data.end_user.origin_id.as_deref(), Some("36123"));
        assert_eq!(
            e.data
                .end_user
                .creator_email
                .as_ref()
                .map(Sensitive::expose),
            Some("user@example.com")
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_unknown_categories_kept() {
        let body = CREATED
            .replace(r#""LMS""#, r#""PAYROLL""#)
            .replace(r#""tool":"#, r#""new_field":{"x":[1]},"tool":"#);
        let e = parse::<IntegrationCreated>(body.as_bytes()).unwrap();
        assert_eq!(e.data.category, Category::Other("PAYROLL".into()));
        assert_eq!(e.data.category.as_str(), "PAYROLL");
    }

    #[test]
    fn null_or_empty_origin_id_and_null_email_are_accepted() {
        for origin in ["null", r#""""#] {
            let body = CREATED
                .replace(r#""36123""#, origin)
                .replace(r#""user@example.com""#, "null");
            let e = parse::<IntegrationCreated>(body.as_bytes()).unwrap();
            assert_eq!(e.data.end_user.origin_id, None);
            assert_eq!(e.data.end_user.creator_email, None);
        }
    }

    #[test]
    fn missing_field_is_named_with_its_path() {
        let body = CREATED.replace(r#","organization_name":"Acme, Inc.""#, "");
        let m = invalid::<IntegrationCreated>(&body);
        assert!(
            m.contains("data.end_user") && m.contains("organization_name"),
            "{m}"
        );
    }

    #[test]
    fn mistyped_field_is_named() {
        let body = CREATED.replace(r#""category":"LMS""#, r#""category":7"#);
        let m = invalid::<IntegrationCreated>(&body);
        assert!(m.starts_with("data.category:"), "{m}");
    }

    #[test]
    fn empty_integration_id_is_rejected() {
        let body = CREATED.replace("successfactors:CBNMt7dSNCzBdnRTx87dev4E", "");
        let m = invalid::<IntegrationCreated>(&body);
        assert!(m.starts_with("data.id:") && m.contains("empty"), "{m}");
    }

    #[test]
    fn deleted_at_must_be_rfc3339() {
        let ok = r#"{"id":"e1","type":"integration-deleted","data":{"id":"workday:x","tool":"workday","category":"LMS","end_user":{"organization_name":"A","origin_id":null,"creator_email":null},"deleted_at":"2022-11-02T10:50:10.242Z"}}"#;
        let e = parse::<IntegrationDeleted>(ok.as_bytes()).unwrap();
        assert_eq!(e.data.deleted_at.year(), 2022);
        let bad = ok.replace("2022-11-02T10:50:10.242Z", "yesterday");
        assert!(invalid::<IntegrationDeleted>(&bad).starts_with("data.deleted_at:"));
    }

    #[test]
    fn log_url_must_be_a_url() {
        let ok = r#"{"id":"e2","type":"connection-flow-failed","data":{"integration_tool":"workday","integration_category":"LMS","end_user":{"organization_name":"A"},"log_url":"https://app.kombo.dev/env/production/logs/C3xUo6XAsB2sbKC7M1gyXaRX"}}"#;
        parse::<ConnectionFlowFailed>(ok.as_bytes()).unwrap();
        let bad = ok.replace("https://app.kombo.dev/env/production/logs/", "not a url ");
        assert!(invalid::<ConnectionFlowFailed>(&bad).starts_with("data.log_url:"));
    }

    #[test]
    fn state_changed_and_data_changed_parse() {
        let sc = r#"{"id":"e3","type":"integration-state-changed","data":{"integration_id":"workday:x","integration_tool":"workday","integration_category":"LMS","end_user":{"organization_name":"A","origin_id":"42"},"qa_status":"PASSED","setup_status":"SOMETHING_NEW","state":"INVALID","updated_at":"2026-01-01T00:00:00Z"}}"#;
        let e = parse::<IntegrationStateChanged>(sc.as_bytes()).unwrap();
        assert_eq!(e.data.state, IntegrationState::Invalid);
        assert_eq!(
            e.data.setup_status,
            SetupStatus::Other("SOMETHING_NEW".into())
        );
        let dc = r#"{"id":"FhghqjnCi9WuAoLT8Z75CFcs","type":"data-changed","data":{"integration_id":"sandbox:7C9M5sXAQx2cNMpVHLojrFpL","integration_tool":"sandbox","integration_category":"LMS","changed_models":[{"name":"lms_courses"}]}}"#;
        let e = parse::<DataChanged>(dc.as_bytes()).unwrap();
        assert_eq!(e.data.changed_models[0].name.as_str(), "lms_courses");
    }

    #[test]
    fn wrong_type_names_both_types() {
        let err = parse::<IntegrationDeleted>(CREATED.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            ParseError::WrongType {
                expected: "integration-deleted",
                got: "integration-created".into()
            }
        );
    }

    #[test]
    fn not_json_and_not_an_object_are_invalid() {
        assert!(invalid::<IntegrationCreated>("{").starts_with("body is not valid JSON"));
        assert!(invalid::<IntegrationCreated>("not json").starts_with("body is not valid JSON"));
        for v in [
            "[]",
            "3",
            "null",
            r#""s""#,
            r#"["e1","integration-created",{}]"#,
        ] {
            let m = invalid::<IntegrationCreated>(v);
            assert!(
                m.starts_with("body: invalid type: expected a JSON object"),
                "{v}: {m}"
            );
        }
        let positional = r#"{"id":"e1","type":"integration-created","data":["workday:x","workday","LMS",{"organization_name":"A"}]}"#;
        let m = invalid::<IntegrationCreated>(positional);
        assert!(
            m.starts_with("data: invalid type: expected a JSON object, got an array"),
            "{m}"
        );
        let trailing = format!("{CREATED} x");
        assert!(invalid::<IntegrationCreated>(&trailing).contains("trailing characters"));
        let m = invalid::<IntegrationCreated>(r#"{"type":"integration-created","data":{}}"#);
        assert!(m.contains("missing field `id`"), "{m}");
    }

    #[test]
    fn sensitive_never_prints() {
        let e = parse::<IntegrationCreated>(CREATED.as_bytes()).unwrap();
        assert!(!format!("{e:?}").contains("user@example.com"));
    }

    const RAISED: &str = r#"{"id":"iss-ev-1","type":"issue-status-changed","data":{"change":"raised","issue":{"id":"iss_1","type":"integration.authentication_failed","title":"Authentication failed","status":"OPEN","markdown_message":"The **credentials** stopped working.","first_observed_at":"2026-12-01T10:00:00.000Z","resolved_at":null},"integration":{"id":"workday:1","tool":"workday","category":"LMS","end_user":{"organization_name":"Acme","creator_email":null,"origin_id":"42"}}}}"#;

    #[test]
    fn an_issue_parses_with_an_open_type_and_a_null_or_missing_integration_is_told_apart() {
        let e = parse::<IssueStatusChanged>(RAISED.as_bytes()).unwrap();
        assert_eq!(e.data.change, IssueChange::Raised);
        assert_eq!(
            e.data.issue.kind.as_str(),
            "integration.authentication_failed"
        );
        assert_eq!(
            e.data.integration.as_ref().unwrap().id.as_str(),
            "workday:1"
        );
        assert_eq!(e.data.issue.resolved_at, None);
        // A type Kombo adds later, and an environment-wide issue: accepted.
        let other = RAISED
            .replace("integration.authentication_failed", "environment.something_new")
            .replace(r#""integration":{"id":"workday:1","tool":"workday","category":"LMS","end_user":{"organization_name":"Acme","creator_email":null,"origin_id":"42"}}"#, r#""integration":null"#);
        let e = parse::<IssueStatusChanged>(other.as_bytes()).unwrap();
        assert_eq!(e.data.issue.kind.as_str(), "environment.something_new");
        assert_eq!(e.data.integration, None);
        // Required, though nullable: a missing one is named.
        let missing = other.replace(r#","integration":null"#, "");
        assert_eq!(
            parse::<IssueStatusChanged>(missing.as_bytes()),
            Err(ParseError::Invalid(
                "data: missing field `integration`".into()
            ))
        );
        let no_resolved = RAISED.replace(r#","resolved_at":null"#, "");
        assert_eq!(
            parse::<IssueStatusChanged>(no_resolved.as_bytes()),
            Err(ParseError::Invalid(
                "data.issue: missing field `resolved_at`".into()
            ))
        );
        let bad_time = RAISED.replace("2026-12-01T10:00:00.000Z", "yesterday");
        assert!(matches!(
            parse::<IssueStatusChanged>(bad_time.as_bytes()),
            Err(ParseError::Invalid(m)) if m.starts_with("data.issue.first_observed_at")
        ));
    }
}
