//! HTTP plumbing shared by the adapters: one reqwest client per provider (rustls with the ring
//! provider, a connect timeout), the POST that opens a stream (classifying failures before
//! the first byte), and [`SseBody`], which reads the event stream with an idle timeout between
//! chunks. Nothing here knows a provider's wire format.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hangar_core::model::ModelError;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::provider_error::error_from_http;
use crate::sse::{SseEvent, SseParser};

/// How long to wait for a TCP + TLS connection to a provider.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a provider may stay silent: before the response headers, and between chunks of
/// the stream. Generous because a local CPU model may think for minutes before its first
/// token; hosted providers send `ping`s far more often.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The most of an HTTP error body we read to explain the failure.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The credential for one provider, resolved when the provider is configured.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiKey {
    Set(String),
    /// No key, and none is needed (a local or self-hosted server): no auth header is sent.
    NotRequired,
    /// A key is needed but its environment variable was empty; requests fail with
    /// [`ModelError::Config`] naming the variable.
    Missing {
        env_var: String,
    },
}

impl fmt::Debug for ApiKey {
    // The key never reaches logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiKey::Set(_) => f.write_str("ApiKey::Set(<redacted>)"),
            ApiKey::NotRequired => f.write_str("ApiKey::NotRequired"),
            ApiKey::Missing { env_var } => write!(f, "ApiKey::Missing({env_var})"),
        }
    }
}

impl ApiKey {
    /// The key to send, `None` for keyless servers, or the configuration error.
    pub(crate) fn require(&self, provider: &str) -> Result<Option<&str>, ModelError> {
        match self {
            ApiKey::Set(key) => Ok(Some(key)),
            ApiKey::NotRequired => Ok(None),
            ApiKey::Missing { env_var } => Err(ModelError::Config(format!(
                "the `{provider}` model provider needs an API key: set the environment \
                 variable {env_var}"
            ))),
        }
    }
}

/// A credential as a header value, marked sensitive so it never shows in debug output.
pub(crate) fn secret_header(provider: &str, value: &str) -> Result<HeaderValue, ModelError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        ModelError::Config(format!(
            "the API key of the `{provider}` model provider is not a valid header value"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Timeouts of one provider's HTTP calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Where and how to reach one provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// A name for error messages (`anthropic`, `local`).
    pub name: String,
    /// Anthropic: `https://api.anthropic.com`; OpenAI: `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: ApiKey,
    pub http: HttpSettings,
}

/// One provider endpoint with its client; clones share the connection pool.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    url: String,
    idle_timeout: Duration,
}

impl Endpoint {
    /// `path` is appended to the base URL (`/v1/messages`, `/chat/completions`).
    pub fn new(settings: &ProviderSettings, path: &str) -> Result<Endpoint, ModelError> {
        let client = build_client(&settings.http).map_err(|error| {
            ModelError::Config(format!(
                "cannot set up the HTTP client for the `{}` model provider: {error}",
                settings.name
            ))
        })?;
        Ok(Endpoint {
            client,
            url: format!("{}{path}", settings.base_url.trim_end_matches('/')),
            idle_timeout: settings.http.idle_timeout,
        })
    }

    /// POSTs `body` and returns the event stream once the provider accepted the request.
    pub async fn open_stream(
        &self,
        headers: HeaderMap,
        body: &serde_json::Value,
    ) -> Result<SseBody, ModelError> {
        let request = self
            .client
            .post(&self.url)
            .headers(headers)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
            .body(body.to_string());
        let response = match tokio::time::timeout(self.idle_timeout, request.send()).await {
            Err(_) => {
                return Err(ModelError::Connect(format!(
                    "no response from {} within {:?}",
                    self.url, self.idle_timeout
                )));
            }
            Ok(Err(error)) => return Err(ModelError::Connect(describe(&error))),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = self.read_error_body(response).await;
            return Err(error_from_http(status.as_u16(), &headers, &body));
        }
        Ok(SseBody::new(response, self.idle_timeout))
    }

    /// Reads at most [`MAX_ERROR_BODY_BYTES`]; a body that stalls or breaks is cut short
    /// rather than turning a clear HTTP status into a timeout.
    async fn read_error_body(&self, mut response: reqwest::Response) -> Vec<u8> {
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY_BYTES {
            match tokio::time::timeout(self.idle_timeout, response.chunk()).await {
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body
    }
}

fn build_client(settings: &HttpSettings) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // The workspace builds reqwest without HTTP/2.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(settings.connect_timeout)
        .build()?)
}

/// A reqwest error with its causes, which carry the useful part ("connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The body of a streaming response, read as server-sent events.
pub(crate) struct SseBody {
    response: reqwest::Response,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    idle_timeout: Duration,
    ended: bool,
}

impl SseBody {
    fn new(response: reqwest::Response, idle_timeout: Duration) -> SseBody {
        SseBody {
            response,
            parser: SseParser::new(),
            pending: VecDeque::new(),
            idle_timeout,
            ended: false,
        }
    }

    /// The next event; `Ok(None)` when the body ended normally. A body that breaks or stays
    /// silent longer than the idle timeout is [`ModelError::StreamBroken`].
    pub async fn next_event(&mut self) -> Result<Option<SseEvent>, ModelError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            match tokio::time::timeout(self.idle_timeout, self.response.chunk()).await {
                Err(_) => {
                    return Err(ModelError::StreamBroken(format!(
                        "the provider sent nothing for {:?}",
                        self.idle_timeout
                    )));
                }
                Ok(Err(error)) => {
                    return Err(ModelError::StreamBroken(format!(
                        "reading the response failed: {}",
                        describe(&error)
                    )));
                }
                Ok(Ok(Some(chunk))) => self.pending.extend(self.parser.push(&chunk)),
                Ok(Ok(None)) => {
                    self.ended = true;
                    self.pending.extend(self.parser.finish());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_ring_backed_client() {
        assert!(build_client(&HttpSettings::default()).is_ok());
    }

    #[test]
    fn missing_key_names_the_variable_and_is_not_logged() {
        let missing = ApiKey::Missing {
            env_var: "ANTHROPIC_API_KEY".into(),
        };
        let error = missing.require("anthropic").err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("ANTHROPIC_API_KEY")));
        assert_eq!(
            format!("{:?}", ApiKey::Set("sk-secret".into())),
            "ApiKey::Set(<redacted>)"
        );
    }
}
