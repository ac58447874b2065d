//! The server-side web tools, `web_fetch` and `web_search`. They run in the server process
//! (not in a sandbox), so they apply the egress address checks themselves: no fetch may reach
//! loopback/private addresses such as the server's own API. The agent's per-tool
//! `allowed_domains`/`blocked_domains` apply; the environment's networking does not
//! (cma-behaviour 13). Every outcome is a [`ToolOutput`]; bad input is a tool error.
//!
//! Layout: `client` (reqwest + ring TLS + checking resolver), `domains` (the tool's lists),
//! `fetch`, `html` (HTML → text), `search` (SearXNG JSON backend).

mod client;
pub mod domains;
pub mod fetch;
pub mod html;
pub mod search;

use std::sync::Arc;

use hangar_core::tool_runtime::{ToolCall, ToolOutput};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::policy::EgressPolicy;
use crate::resolve::Resolver;

pub use self::client::ClientBuildError;
pub use self::domains::{DomainFilter, DomainList};
pub use self::fetch::{
    CHARS_PER_TOKEN, DEFAULT_MAX_CONTENT_TOKENS, FETCH_TIMEOUT, FetchError, Fetched,
    MAX_FETCH_BYTES, MAX_REDIRECTS,
};
pub use self::search::{MAX_SEARCH_RESULTS, SEARCH_NOT_CONFIGURED, SEARCH_TIMEOUT, SearchError};

/// Longest `web_search` query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Longest `web_fetch` URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 8192;
/// The `User-Agent` of both tools.
pub const USER_AGENT: &str = concat!("hangar-web-tools/", env!("CARGO_PKG_VERSION"));

/// How the server sets up the web tools.
#[derive(Debug, Clone, Default)]
pub struct WebToolsConfig {
    /// SearXNG-compatible JSON search URL (`…/search`); `None` = `web_search` says it is not
    /// configured.
    pub search_endpoint: Option<Url>,
    /// Name resolution for fetches (an override table in tests).
    pub resolver: Resolver,
    /// Let fetches reach loopback/private addresses. Only for tests and operators who opt in.
    pub allow_private_destinations: bool,
    /// Hosts (exact names) whose private addresses fetches may reach, everything else
    /// staying under the address checks (an internal docs server; a test origin).
    pub private_destination_hosts: Vec<String>,
}

/// `web_fetch` and `web_search`, ready to run calls. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct WebTools {
    policy: Arc<EgressPolicy>,
    fetch_client: reqwest::Client,
    search_client: reqwest::Client,
    search_endpoint: Option<Url>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchInput {
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchInput {
    query: String,
}

impl WebTools {
    pub fn new(config: WebToolsConfig) -> Result<WebTools, ClientBuildError> {
        let policy = Arc::new(
            EgressPolicy::unrestricted()
                .allow_private_destinations(config.allow_private_destinations)
                .allow_private_destinations_for(&config.private_destination_hosts)
                .build(),
        );
        let fetch_client =
            client::fetch_client(policy.clone(), config.resolver, USER_AGENT, FETCH_TIMEOUT)?;
        Ok(WebTools {
            policy,
            fetch_client,
            search_client: client::search_client(USER_AGENT, SEARCH_TIMEOUT)?,
            search_endpoint: config.search_endpoint,
        })
    }

    /// Whether `name` is one of the tools this type runs.
    pub fn handles(name: &str) -> bool {
        matches!(name, "web_fetch" | "web_search")
    }

    /// Runs a `web_fetch` or `web_search` call. Cancellation ends it promptly with an error
    /// output.
    pub async fn run(&self, call: &ToolCall, cancel: CancellationToken) -> ToolOutput {
        let work = async {
            match call.name.as_str() {
                "web_fetch" => self.web_fetch(call).await,
                "web_search" => self.web_search(call).await,
                other => ToolOutput::error(format!("`{other}` is not a web tool")),
            }
        };
        tokio::select! {
            output = work => output,
            () = cancel.cancelled() => ToolOutput::error(format!("{} was cancelled", call.name)),
        }
    }

    async fn web_fetch(&self, call: &ToolCall) -> ToolOutput {
        let input: FetchInput = match serde_json::from_value(call.input.clone()) {
            Ok(input) => input,
            Err(error) => {
                return ToolOutput::error(format!(
                    "invalid web_fetch input: {error}; expected {{\"url\": \"https://…\"}}"
                ));
            }
        };
        if input.url.len() > MAX_URL_BYTES {
            return ToolOutput::error(format!(
                "invalid web_fetch input: url longer than {MAX_URL_BYTES} bytes"
            ));
        }
        let filter = DomainFilter::from_config(&call.config);
        let fetched = async {
            let url = fetch::check_url(input.url.trim(), &filter, &self.policy)?;
            fetch::fetch(&self.fetch_client, url, &filter, &self.policy).await
        };
        match fetched.await {
            Ok(document) => {
                let max_tokens = call
                    .config
                    .max_content_tokens
                    .unwrap_or(DEFAULT_MAX_CONTENT_TOKENS);
                ToolOutput::text(render_document(&document, max_tokens))
            }
            Err(error) => ToolOutput::error(error.to_string()),
        }
    }

    async fn web_search(&self, call: &ToolCall) -> ToolOutput {
        let input: SearchInput = match serde_json::from_value(call.input.clone()) {
            Ok(input) => input,
            Err(error) => {
                return ToolOutput::error(format!(
                    "invalid web_search input: {error}; expected {{\"query\": \"…\"}}"
                ));
            }
        };
        let query = input.query.trim();
        if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
            return ToolOutput::error(format!(
                "invalid web_search input: query must be 1 to {MAX_QUERY_CHARS} characters"
            ));
        }
        let Some(endpoint) = &self.search_endpoint else {
            return ToolOutput::error(SearchError::NotConfigured.to_string());
        };
        let filter = DomainFilter::from_config(&call.config);
        match search::search(&self.search_client, endpoint, query, &filter).await {
            Ok(hits) => ToolOutput::text(search::format_results(query, &hits)),
            Err(error) => ToolOutput::error(format!("web_search failed: {error}")),
        }
    }
}

/// The fetched document as the model reads it: a short header, the text, and notes about
/// anything cut.
fn render_document(document: &Fetched, max_tokens: u32) -> String {
    let (text, token_note) = fetch::truncate_to_tokens(&document.text, max_tokens);
    let mut out = format!(
        "URL: {}\nContent-Type: {}\n",
        document.final_url, document.content_type
    );
    if let Some(title) = &document.title {
        out.push_str(&format!("Title: {title}\n"));
    }
    out.push('\n');
    out.push_str(&text);
    if document.body_truncated {
        out.push_str(&format!(
            "\n\n[Body truncated: only the first {MAX_FETCH_BYTES} bytes were downloaded]"
        ));
    }
    if let Some(note) = token_note {
        out.push_str("\n\n");
        out.push_str(&note);
    }
    out
}
