//! `web_search`: a clear error without a backend; against a fake SearXNG (a tiny axum app)
//! the query is passed through, results are formatted and filtered by the domain lists.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use hangar_egress::web::search::MAX_SNIPPET_CHARS;
use hangar_egress::web::{
    MAX_QUERY_CHARS, MAX_SEARCH_RESULTS, SEARCH_NOT_CONFIGURED, WebTools, WebToolsConfig,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::support::*;

async fn fake_searxng() -> Served {
    let search = |Query(params): Query<HashMap<String, String>>| async move {
        if params.get("format").map(String::as_str) != Some("json") {
            return Err(StatusCode::FORBIDDEN);
        }
        let query = params.get("q").cloned().unwrap_or_default();
        Ok(Json(json!({
            "query": query,
            "results": [
                {"url": "https://docs.example.org/a", "title": "Docs  for   {q}", "content": "First\nresult", "engine": "x"},
                {"url": "https://blocked.test/b", "title": "Blocked", "content": "dropped"},
                {"url": "https://www.blocked.test/c", "title": "Blocked sub", "content": "dropped"},
                {"url": "ftp://files.example.org/d", "title": "Not http", "content": "dropped"},
                {"url": "https://example.net/e", "title": "", "content": ""}
            ]
        })))
    };
    let app = Router::new()
        .route("/search", get(search))
        .route(
            "/broken/search",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/html/search", get(|| async { "<html>not json</html>" }))
        .route(
            "/many/search",
            get(|| async {
                let results: Vec<Value> = (0..MAX_SEARCH_RESULTS + 5)
                    .map(|i| json!({"url": format!("https://r{i}.example.org/"), "title": format!("r{i}"), "content": "s".repeat(MAX_SNIPPET_CHARS + 50)}))
                    .collect();
                Json(json!({ "results": results }))
            }),
        );
    serve(app).await
}

fn tools_with(endpoint: Option<String>) -> WebTools {
    WebTools::new(WebToolsConfig {
        search_endpoint: endpoint.map(|e| e.parse().unwrap()),
        ..WebToolsConfig::default()
    })
    .unwrap()
}

async fn search(
    tools: &WebTools,
    input: Value,
    allowed: Option<&[&str]>,
    blocked: Option<&[&str]>,
) -> (bool, String) {
    let call = tool_call("web_search", input, allowed, blocked, None);
    let output = tools.run(&call, CancellationToken::new()).await;
    (output.is_error, output_text(&output))
}

#[tokio::test]
async fn without_a_backend_the_tool_says_how_to_configure_one() {
    let (is_error, text) = search(&tools_with(None), json!({"query": "rust"}), None, None).await;
    assert!(is_error);
    assert_eq!(text, SEARCH_NOT_CONFIGURED);
    assert!(text.contains("not configured") && text.contains("SearXNG"));
}

#[tokio::test]
async fn results_are_formatted_and_blocked_domains_silently_dropped() {
    let backend = fake_searxng().await;
    let tools = tools_with(Some(format!("http://127.0.0.1:{}/search", backend.port)));
    let (is_error, text) = search(
        &tools,
        json!({"query": "rust & tokio"}),
        None,
        Some(&["blocked.test"]),
    )
    .await;
    assert!(!is_error, "{text}");
    assert_eq!(
        text,
        "Search results for \"rust & tokio\":\n\n\
         1. Docs for {q}\n   https://docs.example.org/a\n   First result\n\n\
         2. https://example.net/e\n   https://example.net/e\n"
    );
}

#[tokio::test]
async fn allowed_domains_keep_only_their_results() {
    let backend = fake_searxng().await;
    let tools = tools_with(Some(format!("http://127.0.0.1:{}/search", backend.port)));
    let (is_error, text) =
        search(&tools, json!({"query": "q"}), Some(&["example.org"]), None).await;
    assert!(!is_error, "{text}");
    assert!(
        text.contains("docs.example.org") && !text.contains("example.net"),
        "{text}"
    );
    let (_, none) = search(&tools, json!({"query": "q"}), Some(&["nothing.test"]), None).await;
    assert_eq!(none, "No results for \"q\".");
}

#[tokio::test]
async fn backend_failures_and_bad_inputs_are_tool_errors() {
    let backend = fake_searxng().await;
    let broken = tools_with(Some(format!(
        "http://127.0.0.1:{}/broken/search",
        backend.port
    )));
    let (is_error, text) = search(&broken, json!({"query": "q"}), None, None).await;
    assert!(
        is_error && text.contains("web_search failed") && text.contains("500"),
        "{text}"
    );
    let html = tools_with(Some(format!(
        "http://127.0.0.1:{}/html/search",
        backend.port
    )));
    let (is_error, text) = search(&html, json!({"query": "q"}), None, None).await;
    assert!(is_error && text.contains("not SearXNG JSON"), "{text}");
    let ok = tools_with(Some(format!("http://127.0.0.1:{}/search", backend.port)));
    for input in [
        json!({}),
        json!({"query": ""}),
        json!({"query": "   "}),
        json!({"query": 3}),
        json!({"q": "x"}),
    ] {
        let (is_error, text) = search(&ok, input.clone(), None, None).await;
        assert!(
            is_error && text.contains("invalid web_search input"),
            "{input}: {text}"
        );
    }
}

#[tokio::test]
async fn results_snippets_and_queries_are_capped() {
    let backend = fake_searxng().await;
    let tools = tools_with(Some(format!(
        "http://127.0.0.1:{}/many/search",
        backend.port
    )));
    let (is_error, text) = search(&tools, json!({"query": "q"}), None, None).await;
    assert!(!is_error, "{text}");
    assert!(text.contains(&format!(
        "\n{MAX_SEARCH_RESULTS}. r{}",
        MAX_SEARCH_RESULTS - 1
    )));
    assert!(!text.contains(&format!("r{MAX_SEARCH_RESULTS}")), "{text}");
    let longest_line = text
        .lines()
        .map(|l| l.trim().chars().count())
        .max()
        .unwrap();
    assert_eq!(longest_line, MAX_SNIPPET_CHARS);
    let long_query = "q".repeat(MAX_QUERY_CHARS + 1);
    let (is_error, text) = search(&tools, json!({ "query": long_query }), None, None).await;
    assert!(
        is_error && text.contains("invalid web_search input"),
        "{text}"
    );
}
