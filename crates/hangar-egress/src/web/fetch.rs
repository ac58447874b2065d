//! `web_fetch`: fetch one http(s) URL for the model. Every hop (the URL and each redirect
//! target) is checked against the tool's domain lists and the egress address checks; the body
//! is capped in size and time, HTML becomes readable text, other text passes through, binary
//! content is refused, and the result is cut to `max_content_tokens`.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use url::Url;

use super::client::egress_error_in;
use super::domains::{DomainFilter, DomainList};
use super::html::html_to_text;
use crate::host::Host;
use crate::policy::EgressPolicy;
use crate::resolve::EgressError;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Longest a whole fetch (all hops and the body) may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Most body bytes read; the rest is dropped and the result says so.
pub const MAX_FETCH_BYTES: usize = 5 * 1024 * 1024;
/// `max_content_tokens` when the agent's config sets none.
pub const DEFAULT_MAX_CONTENT_TOKENS: u32 = 25_000;
/// Characters per token for the approximate token count.
pub const CHARS_PER_TOKEN: usize = 4;

/// Why a fetch produced no content. The `Display` text is the tool error the model reads.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("url_not_allowed: {url} is not allowed by this tool's {}", list.field_name())]
    NotAllowed { url: String, list: DomainList },
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("unsupported URL scheme `{scheme}` in {url}: web_fetch only fetches http and https")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("web_fetch refused {url}: {source}")]
    Refused { url: String, source: EgressError },
    #[error("too many redirects (more than {MAX_REDIRECTS}) starting from {url}")]
    TooManyRedirects { url: String },
    #[error("redirect from {url} has no usable Location header")]
    BadRedirect { url: String },
    #[error("{url} returned HTTP {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error(
        "{url} returned binary content ({content_type}); web_fetch only returns text, HTML \
         and JSON"
    )]
    Binary { url: String, content_type: String },
    #[error("fetching {url} timed out after {}s", FETCH_TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("fetching {url} failed: {reason}")]
    Network { url: String, reason: String },
}

/// A fetched document, already converted to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub final_url: String,
    pub content_type: String,
    pub title: Option<String>,
    pub text: String,
    /// The body was longer than [`MAX_FETCH_BYTES`].
    pub body_truncated: bool,
}

/// Parses and checks a URL before any network access.
pub(crate) fn check_url(
    raw: &str,
    filter: &DomainFilter,
    policy: &EgressPolicy,
) -> Result<Url, FetchError> {
    let invalid = |reason: String| FetchError::InvalidUrl {
        url: raw.to_owned(),
        reason,
    };
    let url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    check_parsed(&url, filter, policy)?;
    Ok(url)
}

fn check_parsed(url: &Url, filter: &DomainFilter, policy: &EgressPolicy) -> Result<(), FetchError> {
    let shown = url.to_string();
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::UnsupportedScheme {
            url: shown,
            scheme: url.scheme().to_owned(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        let reason = "credentials in URLs are not supported".to_owned();
        return Err(FetchError::InvalidUrl { url: shown, reason });
    }
    let host = url
        .host_str()
        .and_then(|h| Host::parse(h).ok())
        .ok_or_else(|| FetchError::InvalidUrl {
            url: shown.clone(),
            reason: "no valid host".to_owned(),
        })?;
    filter.check(&host).map_err(|list| FetchError::NotAllowed {
        url: shown.clone(),
        list,
    })?;
    // reqwest does not ask the resolver about IP literals, so check them here.
    if let Host::Ip(ip) = host {
        policy
            .check_address(&host, ip)
            .map_err(|denial| FetchError::Refused {
                url: shown,
                source: denial.into(),
            })?;
    }
    Ok(())
}

/// Follows redirects by hand (each target re-checked) and reads the final body.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    start: Url,
    filter: &DomainFilter,
    policy: &EgressPolicy,
) -> Result<Fetched, FetchError> {
    let start_shown = start.to_string();
    let attempt = async {
        let mut url = start;
        for _ in 0..=MAX_REDIRECTS {
            let response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| request_error(&url, &e))?;
            if !response.status().is_redirection() {
                return read_document(url, response).await;
            }
            let next = redirect_target(&url, &response)?;
            check_parsed(&next, filter, policy)?;
            url = next;
        }
        Err(FetchError::TooManyRedirects {
            url: start_shown.clone(),
        })
    };
    match tokio::time::timeout(FETCH_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout { url: start_shown }),
    }
}

fn redirect_target(url: &Url, response: &reqwest::Response) -> Result<Url, FetchError> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|location| url.join(location).ok())
        .ok_or_else(|| FetchError::BadRedirect {
            url: url.to_string(),
        })
}

fn request_error(url: &Url, error: &reqwest::Error) -> FetchError {
    let shown = url.to_string();
    if let Some(egress) = egress_error_in(error) {
        return FetchError::Refused {
            url: shown,
            source: egress.clone(),
        };
    }
    if error.is_timeout() {
        return FetchError::Timeout { url: shown };
    }
    FetchError::Network {
        url: shown,
        reason: error_chain(error),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a content type is, for deciding how to return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
    Binary,
}

fn kind_of(content_type: &str) -> Kind {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/html" | "application/xhtml+xml" => Kind::Html,
        t if t.starts_with("text/") => Kind::Text,
        "application/json"
        | "application/xml"
        | "application/javascript"
        | "application/x-javascript"
        | "application/ecmascript"
        | "application/yaml"
        | "application/x-yaml"
        | "application/toml"
        | "application/x-ndjson" => Kind::Text,
        t if t.ends_with("+json") || t.ends_with("+xml") => Kind::Text,
        _ => Kind::Binary,
    }
}

/// Without a content type, sniff: NUL bytes mean binary, a leading `<html`/`<!doctype`
/// means HTML, anything else is text.
fn sniff(body: &[u8]) -> Kind {
    let head = &body[..body.len().min(1024)];
    if head.contains(&0) {
        return Kind::Binary;
    }
    let start = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        Kind::Html
    } else {
        Kind::Text
    }
}

async fn read_document(url: Url, mut response: reqwest::Response) -> Result<Fetched, FetchError> {
    let shown = url.to_string();
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status { url: shown, status });
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let declared = content_type.as_deref().map(kind_of);
    if declared == Some(Kind::Binary) {
        let content_type = content_type.unwrap_or_default();
        return Err(FetchError::Binary {
            url: shown,
            content_type,
        });
    }
    let mut body = Vec::new();
    let mut body_truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| request_error(&url, &e))?
    {
        let room = MAX_FETCH_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            body_truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let kind = declared.unwrap_or_else(|| sniff(&body));
    let content_type = content_type.unwrap_or_else(|| "(none)".to_owned());
    if kind == Kind::Binary {
        return Err(FetchError::Binary {
            url: shown,
            content_type,
        });
    }
    let decoded = decode(&body, &content_type);
    let (title, text) = match kind {
        Kind::Html => {
            let page = html_to_text(&decoded);
            (page.title, page.text)
        }
        _ => (None, decoded),
    };
    Ok(Fetched {
        final_url: shown,
        content_type,
        title,
        text,
        body_truncated,
    })
}

/// UTF-8 (lossy), except Latin-1 family charsets, which map bytes to code points directly.
fn decode(body: &[u8], content_type: &str) -> String {
    let lower = content_type.to_ascii_lowercase();
    let latin1 = ["iso-8859-1", "latin1", "windows-1252", "us-ascii"]
        .iter()
        .any(|charset| lower.contains(&format!("charset={charset}")));
    match latin1 {
        true => body.iter().map(|b| char::from(*b)).collect(),
        false => String::from_utf8_lossy(body).into_owned(),
    }
}

/// Cuts `text` to about `max_tokens` tokens (chars / [`CHARS_PER_TOKEN`]); returns the text
/// and, when cut, a note saying how much was kept.
pub fn truncate_to_tokens(text: &str, max_tokens: u32) -> (String, Option<String>) {
    let max_chars = usize::try_from(max_tokens)
        .unwrap_or(usize::MAX)
        .saturating_mul(CHARS_PER_TOKEN);
    let total_chars = text.chars().count();
    if total_chars <= max_chars {
        return (text.to_owned(), None);
    }
    let kept: String = text.chars().take(max_chars).collect();
    let note = format!(
        "[Content truncated: showing about {max_tokens} of about {} tokens \
         (max_content_tokens = {max_tokens})]",
        total_chars.div_ceil(CHARS_PER_TOKEN)
    );
    (kept, Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_classified() {
        assert_eq!(kind_of("text/html; charset=utf-8"), Kind::Html);
        assert_eq!(kind_of("text/plain"), Kind::Text);
        assert_eq!(kind_of("application/vnd.api+json"), Kind::Text);
        assert_eq!(kind_of("image/png"), Kind::Binary);
        assert_eq!(kind_of("application/pdf"), Kind::Binary);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Kind::Binary);
        assert_eq!(sniff(b"  <!DOCTYPE html><p>x"), Kind::Html);
    }

    #[test]
    fn truncation_counts_chars_not_bytes() {
        let (kept, note) = truncate_to_tokens("ééééééééé", 2);
        assert_eq!(kept, "éééééééé");
        assert!(note.unwrap().contains("max_content_tokens = 2"));
        assert_eq!(truncate_to_tokens("short", 2), ("short".to_owned(), None));
    }

    #[test]
    fn latin1_bodies_decode_byte_per_char() {
        assert_eq!(decode(b"caf\xe9", "text/plain; charset=ISO-8859-1"), "café");
        assert_eq!(decode("café".as_bytes(), "text/plain"), "café");
    }
}
