//! The error envelope and the one table that maps each error kind to its HTTP status and wire
//! `error.type` (`shared/spec/cma-api.md` §1.10, `cma-behaviour.md` A.3).

use serde::{Deserialize, Serialize};

/// Every kind of error the API can answer with. The doc of each variant says what triggers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or invalid request: bad JSON, wrong type, unknown field, over a limit, bad
    /// cursor, a rule of the resource violated. 400.
    InvalidRequest,
    /// No credential, or one we do not know. 401.
    Authentication,
    /// The credential is valid but may not do this. 403.
    Permission,
    /// No such object, no such route, or the route's beta header is missing. 404.
    NotFound,
    /// The method is not defined on this path. 405.
    MethodNotAllowed,
    /// A semantic conflict (stale version, duplicate name). 409, never to be retried blindly.
    Conflict,
    /// The request body is larger than the server accepts. 413.
    RequestTooLarge,
    /// Too many requests. 429.
    RateLimited,
    /// A bug or an infrastructure failure on our side. 500.
    Internal,
    /// The server is shutting down or overloaded. 529.
    Overloaded,
}

impl ErrorKind {
    /// HTTP status code of this kind.
    pub const fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Overloaded => 529,
        }
    }

    /// The wire `error.type` of this kind.
    pub const fn wire_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::MethodNotAllowed => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::Conflict => "conflict_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Internal => "api_error",
            ErrorKind::Overloaded => "overloaded_error",
        }
    }

    /// Whether a client may retry the same request unchanged (sent as `x-should-retry`).
    pub const fn should_retry(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Internal | ErrorKind::Overloaded
        )
    }
}

/// An error as the API reports it: a kind, a message for humans that names the offending
/// field or object, and an optional machine-readable `details.error_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub error_code: Option<&'static str>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            error_code: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Attaches `details.error_code`, which selects a specific SDK exception class.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }

    /// The wire envelope of this error.
    pub fn envelope(&self, request_id: Option<String>) -> ErrorEnvelope {
        ErrorEnvelope {
            r#type: "error".to_owned(),
            error: ErrorObject {
                r#type: self.kind.wire_type().to_owned(),
                message: self.message.clone(),
                details: self.error_code.map(|code| ErrorDetails {
                    error_code: code.to_owned(),
                }),
            },
            request_id,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.wire_type(),
            self.kind.status(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// `{"type":"error","error":{…},"request_id":…}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub r#type: String,
    pub error: ErrorObject,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorObject {
    pub r#type: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub details: Option<ErrorDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetails {
    pub error_code: String,
}
