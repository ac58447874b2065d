//! Turns provider failures into [`ModelError`]s: HTTP statuses with their error bodies
//! (Anthropic's `{"type":"error","error":{…}}`, OpenAI's `{"error":{…}}`, llama.cpp's
//! OpenAI-shaped errors on every endpoint, plain-text bodies), `retry-after` headers, and error
//! events that arrive inside a stream. Classification lives here so all adapters agree on
//! what is retryable.

use std::time::Duration;

use hangar_core::model::ModelError;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The longest provider message we keep; error pages can be large HTML documents.
const MAX_MESSAGE_CHARS: usize = 500;

/// What a provider said about a failure, whichever envelope it used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProviderError {
    /// `error.type` (Anthropic, OpenAI) or `code` (OpenAI Responses stream errors).
    pub kind: Option<String>,
    /// `error.code` when it is a string (OpenAI: `insufficient_quota`, `rate_limit_exceeded`).
    pub code: Option<String>,
    pub message: String,
}

impl ProviderError {
    /// Reads an error envelope out of any JSON value; `None` when it carries no error.
    pub fn from_json(value: &Value) -> Option<ProviderError> {
        let error = match value.get("error") {
            Some(Value::String(message)) => {
                return Some(ProviderError::with_message(message));
            }
            Some(error @ Value::Object(_)) => error,
            _ if value.get("type").and_then(Value::as_str) == Some("error") => value,
            _ => return None,
        };
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
        let message = text("message")
            .or_else(|| {
                value
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| error.to_string());
        Some(ProviderError {
            kind: text("type").filter(|kind| kind != "error"),
            code: text("code"),
            message: truncate(&message),
        })
    }

    /// Reads an HTTP error body: JSON envelope if it parses, else the text itself.
    pub fn from_body(body: &[u8]) -> ProviderError {
        let parsed = serde_json::from_slice::<Value>(body).ok();
        if let Some(error) = parsed.as_ref().and_then(ProviderError::from_json) {
            return error;
        }
        // vLLM and other FastAPI servers answer `{"detail": "..."}`.
        if let Some(detail) = parsed
            .as_ref()
            .and_then(|value| value.get("detail"))
            .and_then(Value::as_str)
        {
            return ProviderError::with_message(detail);
        }
        ProviderError::with_message(String::from_utf8_lossy(body).trim())
    }

    fn with_message(message: &str) -> ProviderError {
        ProviderError {
            message: truncate(message),
            ..ProviderError::default()
        }
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.kind.iter().chain(self.code.iter()).map(String::as_str)
    }

    fn is_any_of(&self, names: &[&str]) -> bool {
        self.names().any(|name| names.contains(&name))
    }

    /// `kind: message`, or just the message when the provider gave no kind.
    pub fn describe(&self) -> String {
        match self.names().next() {
            Some(name) if !self.message.is_empty() => format!("{name}: {}", self.message),
            Some(name) => name.to_owned(),
            None if self.message.is_empty() => "no error message".to_owned(),
            None => self.message.clone(),
        }
    }
}

const BILLING: &[&str] = &["billing_error", "insufficient_quota"];
const OVERLOADED: &[&str] = &["overloaded_error", "server_is_overloaded", "slow_down"];
const RATE_LIMITED: &[&str] = &["rate_limit_error", "rate_limit_exceeded"];

/// Classifies an HTTP error response.
pub(crate) fn error_from_http(status: u16, headers: &HeaderMap, body: &[u8]) -> ModelError {
    let error = ProviderError::from_body(body);
    let retry_after = retry_after(headers);
    let message = if error.message.is_empty() && error.kind.is_none() {
        format!("HTTP {status} with an empty body")
    } else {
        error.describe()
    };
    // OpenAI reports an exhausted quota as a 429; retrying cannot help.
    if error.is_any_of(BILLING) || status == 402 {
        return ModelError::Billing { message };
    }
    if status == 529 || status == 503 || error.is_any_of(OVERLOADED) {
        return ModelError::Overloaded {
            message,
            retry_after,
        };
    }
    match status {
        429 => ModelError::RateLimited {
            message,
            retry_after,
        },
        401 | 403 => ModelError::Authentication { status, message },
        // A timed-out or conflicting request may well succeed when sent again.
        408 | 409 => ModelError::Server {
            status,
            message,
            retry_after,
        },
        400..=499 => ModelError::InvalidRequest { status, message },
        _ => ModelError::Server {
            status,
            message,
            retry_after,
        },
    }
}

/// Classifies an error that arrived inside a stream (an `error` event, an `error` object in
/// a data line, `response.failed`). Unknown kinds break the stream, which is retried.
pub(crate) fn error_from_stream(error: &ProviderError) -> ModelError {
    let message = error.describe();
    if error.is_any_of(OVERLOADED) {
        ModelError::Overloaded {
            message,
            retry_after: None,
        }
    } else if error.is_any_of(RATE_LIMITED) {
        ModelError::RateLimited {
            message,
            retry_after: None,
        }
    } else if error.is_any_of(BILLING) {
        ModelError::Billing { message }
    } else if error.is_any_of(&["authentication_error", "permission_error"]) {
        ModelError::Authentication {
            status: 401,
            message,
        }
    } else if error.is_any_of(&[
        "invalid_request_error",
        "context_length_exceeded",
        "exceed_context_size_error",
    ]) {
        ModelError::InvalidRequest {
            status: 400,
            message,
        }
    } else {
        ModelError::StreamBroken(format!("the provider reported an error: {message}"))
    }
}

/// The delay a provider asked for: `retry-after-ms` (OpenAI) first, then `retry-after` as
/// seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(millis) = header("retry-after-ms").and_then(parse_seconds) {
        return Some(millis / 1000);
    }
    let value = header("retry-after")?.trim();
    parse_seconds(value).or_else(|| {
        let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let wait = date.signed_duration_since(chrono::Utc::now());
        Some(wait.to_std().unwrap_or(Duration::ZERO))
    })
}

/// A non-negative decimal number of seconds (or milliseconds, scaled by the caller).
fn parse_seconds(value: &str) -> Option<Duration> {
    let number: f64 = value.trim().parse().ok()?;
    (number.is_finite() && number >= 0.0).then(|| Duration::from_secs_f64(number))
}

fn truncate(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(*name, value);
            }
        }
        map
    }

    #[test]
    fn reads_anthropic_openai_llama_and_text_bodies() {
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            ProviderError::from_body(anthropic).describe(),
            "overloaded_error: Overloaded"
        );
        let openai = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let parsed = ProviderError::from_body(openai);
        assert_eq!(parsed.code.as_deref(), Some("rate_limit_exceeded"));
        let llama = br#"{"error":{"code":400,"message":"too long","type":"exceed_context_size_error","n_ctx":4096}}"#;
        assert_eq!(
            ProviderError::from_body(llama).describe(),
            "exceed_context_size_error: too long"
        );
        assert_eq!(
            ProviderError::from_body(b"{\"error\":\"model not found\"}").describe(),
            "model not found"
        );
        assert_eq!(
            ProviderError::from_body(b"{\"detail\":\"Not Found\"}").describe(),
            "Not Found"
        );
        assert_eq!(
            ProviderError::from_body(b"Bad gateway\n").describe(),
            "Bad gateway"
        );
    }

    #[test]
    fn maps_statuses_to_error_kinds() {
        let none = HeaderMap::new();
        assert!(matches!(
            error_from_http(429, &none, b""),
            ModelError::RateLimited { .. }
        ));
        assert!(matches!(
            error_from_http(529, &none, b""),
            ModelError::Overloaded { .. }
        ));
        assert!(matches!(
            error_from_http(503, &none, b""),
            ModelError::Overloaded { .. }
        ));
        assert!(matches!(
            error_from_http(500, &none, b""),
            ModelError::Server { status: 500, .. }
        ));
        assert!(matches!(
            error_from_http(401, &none, b""),
            ModelError::Authentication { status: 401, .. }
        ));
        assert!(matches!(
            error_from_http(403, &none, b""),
            ModelError::Authentication { status: 403, .. }
        ));
        assert!(matches!(
            error_from_http(402, &none, b""),
            ModelError::Billing { .. }
        ));
        for status in [400, 404, 413, 422] {
            assert!(matches!(
                error_from_http(status, &none, b""),
                ModelError::InvalidRequest { .. }
            ));
        }
    }

    #[test]
    fn exhausted_openai_quota_is_billing_not_rate_limiting() {
        let body = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        let error = error_from_http(429, &HeaderMap::new(), body);
        assert!(matches!(error, ModelError::Billing { .. }));
        assert!(!error.is_retryable());
    }

    #[test]
    fn parses_retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1.5")])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3"), ("retry-after-ms", "250")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let future = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        let wait = retry_after(&headers(&[("retry-after", &future)])).unwrap_or_default();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
    }

    #[test]
    fn stream_errors_keep_their_meaning() {
        let overloaded = ProviderError {
            kind: Some("overloaded_error".into()),
            code: None,
            message: "Overloaded".into(),
        };
        assert!(matches!(
            error_from_stream(&overloaded),
            ModelError::Overloaded { .. }
        ));
        let unknown = ProviderError {
            kind: Some("api_error".into()),
            code: None,
            message: "Internal".into(),
        };
        assert_eq!(
            error_from_stream(&unknown),
            ModelError::StreamBroken("the provider reported an error: api_error: Internal".into())
        );
    }

    #[test]
    fn truncates_huge_messages() {
        let body = "x".repeat(5000);
        assert_eq!(
            ProviderError::from_body(body.as_bytes())
                .message
                .chars()
                .count(),
            501
        );
    }
}
