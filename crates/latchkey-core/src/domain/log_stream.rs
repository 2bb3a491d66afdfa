//! Log streams (Auth0's `/api/v2/log-streams`, custom webhook type `http` only): where tenant
//! log entries are POSTed, and which. Secrets (the `Authorization` value, the signing secret)
//! are held sealed with the tenant's key; they never appear in a response after creation.

use crate::audit::codes;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStreamStatus {
    Active,
    Paused,
}

impl LogStreamStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
        }
    }
}

/// How events are framed in a POST body. Latchkey sends one event per POST in every format:
/// `JSONOBJECT` = the entry, `JSONLINES` = the entry and a newline, `JSONARRAY` = `[entry]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContentFormat {
    #[serde(rename = "JSONOBJECT")]
    JsonObject,
    #[serde(rename = "JSONLINES")]
    JsonLines,
    #[serde(rename = "JSONARRAY")]
    JsonArray,
}

impl ContentFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "JSONOBJECT" => Some(Self::JsonObject),
            "JSONLINES" => Some(Self::JsonLines),
            "JSONARRAY" => Some(Self::JsonArray),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JsonObject => "JSONOBJECT",
            Self::JsonLines => "JSONLINES",
            Self::JsonArray => "JSONARRAY",
        }
    }
    /// The POST body for one log entry.
    pub fn frame(self, entry: &Value) -> String {
        match self {
            Self::JsonObject => entry.to_string(),
            Self::JsonLines => format!("{entry}\n"),
            Self::JsonArray => format!("[{entry}]"),
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSink {
    pub endpoint: String,
    pub content_type: String,
    pub content_format: ContentFormat,
    /// The `Authorization` header's value, sealed (`log-stream-auth\0{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_authorization: Option<String>,
    #[serde(default)]
    pub custom_headers: Vec<(String, String)>,
}

/// Names the endpoint; never the headers (they may carry credentials).
impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("endpoint", &self.endpoint)
            .field("content_format", &self.content_format)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogStream {
    pub id: String,
    pub name: String,
    pub status: LogStreamStatus,
    pub sink: HttpSink,
    /// Auth0 filter categories (`auth.login.fail`, …); empty = every event.
    #[serde(default)]
    pub filters: Vec<String>,
    /// The HMAC key of `Latchkey-Signature`, sealed (`log-stream\0{id}`).
    pub sealed_signing_secret: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl LogStream {
    /// Whether an entry of type `code` goes to this stream (ignoring the status).
    pub fn wants(&self, code: &str) -> bool {
        self.filters.is_empty() || {
            let category = category_of(code);
            self.filters.iter().any(|f| f == category)
        }
    }

    /// Auth0's `LogStream` object. `httpAuthorization` is write-only and never rendered.
    pub fn to_json(&self) -> Value {
        let headers: Vec<Value> = self
            .sink
            .custom_headers
            .iter()
            .map(|(h, v)| json!({"header": h, "value": v}))
            .collect();
        let filters: Vec<Value> = self
            .filters
            .iter()
            .map(|f| json!({"type": "category", "name": f}))
            .collect();
        json!({
            "id": self.id,
            "name": self.name,
            "type": "http",
            "status": self.status.as_str(),
            "sink": {
                "httpEndpoint": self.sink.endpoint,
                "httpContentType": self.sink.content_type,
                "httpContentFormat": self.sink.content_format.as_str(),
                "httpCustomHeaders": headers,
            },
            "filters": filters,
        })
    }
}

/// The filter categories Auth0 accepts (`LogStreamFilterGroupNameEnum`).
pub const FILTER_CATEGORIES: &[&str] = &[
    "auth.ancillary.fail",
    "auth.ancillary.success",
    "auth.login.fail",
    "auth.login.notification",
    "auth.login.success",
    "auth.logout.fail",
    "auth.logout.success",
    "auth.signup.fail",
    "auth.signup.success",
    "auth.silent_auth.fail",
    "auth.silent_auth.success",
    "auth.token_exchange.fail",
    "auth.token_exchange.success",
    "management.fail",
    "management.success",
    "scim.event",
    "system.notification",
    "user.fail",
    "user.notification",
    "user.success",
    "actions",
    "other",
];

/// The Auth0 filter category of a log type code (Auth0's "Log Stream Filters" page); codes it
/// does not list are `other`.
pub fn category_of(code: &str) -> &'static str {
    match code {
        codes::FAILED_LOGIN
        | codes::FAILED_LOGIN_WRONG_PASSWORD
        | codes::FAILED_LOGIN_INVALID_USER => "auth.login.fail",
        codes::SUCCESS_LOGIN => "auth.login.success",
        codes::SUCCESS_LOGOUT => "auth.logout.success",
        codes::SUCCESS_SIGNUP => "auth.signup.success",
        codes::SUCCESS_EXCHANGE_CLIENT_CREDENTIALS
        | codes::SUCCESS_EXCHANGE_REFRESH_TOKEN
        | codes::SUCCESS_EXCHANGE_AUTHORIZATION_CODE => "auth.token_exchange.success",
        // User/Behavioral - Success / Failure: password changes and their requests.
        codes::SUCCESS_CHANGE_PASSWORD
        | codes::SUCCESS_CHANGE_PASSWORD_REQUEST
        | codes::SUCCESS_VERIFICATION_EMAIL
        | codes::SUCCESS_VERIFICATION_EMAIL_REQUEST => "user.success",
        codes::FAILED_CHANGE_PASSWORD
        | codes::FAILED_CHANGE_PASSWORD_REQUEST
        | codes::FAILED_VERIFICATION_EMAIL
        | codes::FAILED_VERIFICATION_EMAIL_REQUEST => "user.fail",
        codes::MFA_ENROLLED => "user.success",
        codes::FAILED_MFA => "user.fail",
        // System - Notification: the brute-force block and its release.
        codes::BLOCKED_BY_ATTEMPTS | codes::USER_BLOCK_RELEASED => "system.notification",
        codes::SUCCESS_API_OPERATION => "management.success",
        _ => "other",
    }
}
