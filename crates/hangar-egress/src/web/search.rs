//! `web_search` against a SearXNG-compatible JSON endpoint configured by the operator
//! (`GET <endpoint>?q=<query>&format=json` → `{"results": [{"url", "title", "content"}]}`).
//! Results outside the tool's domain lists are dropped silently (cma-behaviour 13). Without a
//! configured endpoint the tool says so instead of pretending to search.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::domains::DomainFilter;
use crate::host::Host;

/// Longest a search request may take.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(15);
/// Most results returned to the model.
pub const MAX_SEARCH_RESULTS: usize = 10;
/// Longest snippet per result, in characters.
pub const MAX_SNIPPET_CHARS: usize = 500;
/// Largest search response body read.
pub const MAX_SEARCH_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// The tool error when no endpoint is configured.
pub const SEARCH_NOT_CONFIGURED: &str = "web_search is not configured on this server. An \
    operator can enable it by setting the server's web search endpoint to a SearXNG-compatible \
    JSON search URL (for example http://127.0.0.1:8888/search; it is queried as \
    ?q=<query>&format=json, so SearXNG needs the json format enabled in its settings.yml).";

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{SEARCH_NOT_CONFIGURED}")]
    NotConfigured,
    #[error("the search backend timed out after {}s", SEARCH_TIMEOUT.as_secs())]
    Timeout,
    #[error("the search backend failed: {0}")]
    Backend(String),
}

#[derive(Debug, Deserialize)]
struct SearxResponse {
    #[serde(default)]
    results: Vec<SearxResult>,
}

#[derive(Debug, Deserialize)]
struct SearxResult {
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
}

/// One result as returned to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

/// Queries the endpoint and returns the filtered, capped results.
pub(crate) async fn search(
    client: &reqwest::Client,
    endpoint: &Url,
    query: &str,
    filter: &DomainFilter,
) -> Result<Vec<SearchHit>, SearchError> {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("q", query)
        .append_pair("format", "json");
    let request = async {
        let mut response = client.get(url).send().await?.error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_SEARCH_RESPONSE_BYTES {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Some(body))
    };
    let body = match tokio::time::timeout(SEARCH_TIMEOUT, request).await {
        Err(_) => return Err(SearchError::Timeout),
        Ok(Err(error)) if error.is_timeout() => return Err(SearchError::Timeout),
        Ok(Err(error)) => return Err(SearchError::Backend(error.to_string())),
        Ok(Ok(None)) => return Err(SearchError::Backend("response too large".to_owned())),
        Ok(Ok(Some(body))) => body,
    };
    let parsed: SearxResponse = serde_json::from_slice(&body)
        .map_err(|e| SearchError::Backend(format!("response is not SearXNG JSON: {e}")))?;
    Ok(parsed
        .results
        .into_iter()
        .filter(|result| result_allowed(&result.url, filter))
        .take(MAX_SEARCH_RESULTS)
        .map(|result| SearchHit {
            title: collapse(&result.title),
            url: result.url,
            snippet: collapse(&result.content)
                .chars()
                .take(MAX_SNIPPET_CHARS)
                .collect(),
        })
        .collect())
}

/// http(s) results whose host passes the domain lists.
fn result_allowed(raw: &str, filter: &DomainFilter) -> bool {
    let Ok(url) = Url::parse(raw) else {
        return false;
    };
    let host = url.host_str().and_then(|h| Host::parse(h).ok());
    matches!(url.scheme(), "http" | "https") && host.is_some_and(|h| filter.allows(&h))
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text the model reads.
pub fn format_results(query: &str, hits: &[SearchHit]) -> String {
    if hits.is_empty() {
        return format!("No results for \"{query}\".");
    }
    let mut out = format!("Search results for \"{query}\":\n");
    for (index, hit) in hits.iter().enumerate() {
        let title = if hit.title.is_empty() {
            &hit.url
        } else {
            &hit.title
        };
        out.push_str(&format!("\n{}. {title}\n   {}\n", index + 1, hit.url));
        if !hit.snippet.is_empty() {
            out.push_str(&format!("   {}\n", hit.snippet));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_format_as_a_numbered_list() {
        let hits = vec![SearchHit {
            title: "Rust".into(),
            url: "https://rust-lang.org/".into(),
            snippet: "A language".into(),
        }];
        assert_eq!(
            format_results("rust", &hits),
            "Search results for \"rust\":\n\n1. Rust\n   https://rust-lang.org/\n   A language\n"
        );
        assert_eq!(format_results("x", &[]), "No results for \"x\".");
    }

    #[test]
    fn non_http_and_filtered_results_are_dropped() {
        let filter = DomainFilter::new(None, Some(&["blocked.test".to_owned()]));
        assert!(result_allowed("https://ok.test/a", &filter));
        assert!(!result_allowed("https://www.blocked.test/a", &filter));
        assert!(!result_allowed("ftp://ok.test/a", &filter));
        assert!(!result_allowed("not a url", &filter));
    }
}
