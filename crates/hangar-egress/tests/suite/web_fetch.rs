//! `web_fetch` against local origins reached through the resolver override table. Only
//! `origin.test` is granted private addresses, so every other loopback destination (by name,
//! by number, by redirect) is refused exactly as a public deployment would refuse it.

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::response::IntoResponse;
use axum::routing::get;
use hangar_egress::web::{MAX_FETCH_BYTES, WebTools, WebToolsConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::support::*;

fn tools() -> WebTools {
    WebTools::new(WebToolsConfig {
        resolver: test_resolver(),
        private_destination_hosts: vec![ORIGIN.to_owned(), OTHER.to_owned()],
        ..WebToolsConfig::default()
    })
    .unwrap()
}

const PAGE: &str = "<!doctype html><html><head><title>Test &amp; Page</title>\
    <style>body{color:red}</style><script>alert('x')</script></head>\
    <body><h1>Heading</h1><p>First <a href=\"/next\">linked</a> paragraph.</p></body></html>";

async fn site() -> Served {
    let app = Router::new()
        .route(
            "/page",
            get(|| async { ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/json",
            get(|| async { ([(CONTENT_TYPE, "application/json")], r#"{"a":1}"#) }),
        )
        .route("/long", get(|| async { "word ".repeat(1000) }))
        .route("/huge", get(|| async { "x".repeat(MAX_FETCH_BYTES + 100) }))
        .route(
            "/image",
            get(|| async {
                (
                    [(CONTENT_TYPE, "image/png")],
                    vec![0x89u8, b'P', b'N', b'G', 0, 0],
                )
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/to-loopback",
            get(|| async { redirect("http://127.0.0.1:9/secret") }),
        )
        .route(
            "/to-internal",
            get(|| async { redirect("http://internal.test/secret") }),
        )
        .route("/to-page", get(|| async { redirect("/page") }))
        .route("/loop", get(|| async { redirect("/loop") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                "late"
            }),
        );
    serve(app).await
}

fn redirect(location: &str) -> impl IntoResponse + use<> {
    (StatusCode::FOUND, [(LOCATION, location.to_owned())])
}

async fn fetch(
    tools: &WebTools,
    url: &str,
    allowed: Option<&[&str]>,
    blocked: Option<&[&str]>,
) -> (bool, String) {
    let call = tool_call("web_fetch", json!({ "url": url }), allowed, blocked, None);
    let output = tools.run(&call, CancellationToken::new()).await;
    (output.is_error, output_text(&output))
}

#[tokio::test]
async fn html_pages_come_back_as_readable_text() {
    let site = site().await;
    let (is_error, text) = fetch(
        &tools(),
        &format!("http://{ORIGIN}:{}/page", site.port),
        None,
        None,
    )
    .await;
    assert!(!is_error, "{text}");
    assert!(text.contains("Title: Test & Page"), "{text}");
    assert!(
        text.contains("# Heading\n\nFirst linked paragraph."),
        "{text}"
    );
    assert!(
        !text.contains("alert") && !text.contains("color:red"),
        "{text}"
    );
}

#[tokio::test]
async fn json_is_returned_as_text() {
    let site = site().await;
    let (is_error, text) = fetch(
        &tools(),
        &format!("http://{ORIGIN}:{}/json", site.port),
        None,
        None,
    )
    .await;
    assert!(!is_error, "{text}");
    assert!(text.ends_with(r#"{"a":1}"#), "{text}");
}

#[tokio::test]
async fn allowed_domains_refuse_other_hosts_with_url_not_allowed() {
    let site = site().await;
    let tools = tools();
    let ok = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/page", site.port),
        Some(&["origin.test"]),
        None,
    )
    .await;
    assert!(!ok.0, "{}", ok.1);
    let (is_error, text) = fetch(
        &tools,
        &format!("http://{OTHER}:{}/page", site.port),
        Some(&["origin.test"]),
        None,
    )
    .await;
    assert!(is_error);
    assert!(text.starts_with("url_not_allowed"), "{text}");
    assert!(text.contains("allowed_domains"), "{text}");
}

#[tokio::test]
async fn blocked_domains_refuse_listed_hosts_and_their_subdomains() {
    let site = site().await;
    let tools = tools();
    let (is_error, text) = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/page", site.port),
        None,
        Some(&["test"]),
    )
    .await;
    assert!(
        is_error && text.contains("url_not_allowed") && text.contains("blocked_domains"),
        "{text}"
    );
    let ok = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/page", site.port),
        None,
        Some(&["other.test"]),
    )
    .await;
    assert!(!ok.0, "{}", ok.1);
}

#[tokio::test]
async fn redirects_are_followed_and_rechecked_on_every_hop() {
    let site = site().await;
    let tools = tools();
    let followed = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/to-page", site.port),
        None,
        None,
    )
    .await;
    assert!(!followed.0, "{}", followed.1);
    assert!(followed.1.contains("/page\n"), "{}", followed.1);

    let (is_error, text) = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/to-loopback", site.port),
        None,
        None,
    )
    .await;
    assert!(is_error && text.contains("loopback"), "{text}");

    let (is_error, text) = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/to-internal", site.port),
        None,
        None,
    )
    .await;
    assert!(
        is_error && text.contains("internal.test") && text.contains("loopback"),
        "{text}"
    );

    let (is_error, text) = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/to-page", site.port),
        Some(&["other.test"]),
        None,
    )
    .await;
    assert!(is_error && text.contains("url_not_allowed"), "{text}");

    let (is_error, text) = fetch(
        &tools,
        &format!("http://{ORIGIN}:{}/loop", site.port),
        None,
        None,
    )
    .await;
    assert!(is_error && text.contains("too many redirects"), "{text}");
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused() {
    let site = site().await;
    let tools = tools();
    for url in [
        format!("http://127.0.0.1:{}/page", site.port),
        format!("http://[::1]:{}/page", site.port),
        format!("http://{INTERNAL}:{}/page", site.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
    ] {
        let (is_error, text) = fetch(&tools, &url, None, None).await;
        assert!(
            is_error && text.contains("web_fetch refused"),
            "{url}: {text}"
        );
    }
}

#[tokio::test]
async fn long_content_is_cut_to_max_content_tokens_with_a_note() {
    let site = site().await;
    let url = format!("http://{ORIGIN}:{}/long", site.port);
    let call = tool_call("web_fetch", json!({ "url": url }), None, None, Some(10));
    let output = tools().run(&call, CancellationToken::new()).await;
    let text = output_text(&output);
    assert!(!output.is_error);
    let body = text.split("\n\n").nth(1).unwrap();
    assert_eq!(body, "word word word word word word word word ");
    assert!(
        text.contains("[Content truncated: showing about 10 of about 1250 tokens"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_inputs_schemes_binary_and_http_errors_are_tool_errors() {
    let site = site().await;
    let tools = tools();
    let port = site.port;
    let cases = [
        (json!({}), "invalid web_fetch input"),
        (json!({"url": 5}), "invalid web_fetch input"),
        (json!({"url": "x", "extra": 1}), "invalid web_fetch input"),
        (json!({"url": "not a url"}), "invalid URL"),
        (
            json!({"url": "file:///etc/passwd"}),
            "only fetches http and https",
        ),
        (
            json!({"url": "ftp://origin.test/x"}),
            "only fetches http and https",
        ),
        (
            json!({"url": format!("http://user:pw@{ORIGIN}:{port}/page")}),
            "credentials",
        ),
        (
            json!({"url": format!("http://{ORIGIN}:{port}/image")}),
            "binary content (image/png)",
        ),
        (
            json!({"url": format!("http://{ORIGIN}:{port}/missing")}),
            "HTTP 404",
        ),
    ];
    for (input, expected) in cases {
        let call = tool_call("web_fetch", input.clone(), None, None, None);
        let output = tools.run(&call, CancellationToken::new()).await;
        let text = output_text(&output);
        assert!(
            output.is_error && text.contains(expected),
            "{input}: {text}"
        );
    }
}

#[tokio::test]
async fn cancellation_ends_a_slow_fetch() {
    let site = site().await;
    let url = format!("http://{ORIGIN}:{}/slow", site.port);
    let call = tool_call("web_fetch", json!({ "url": url }), None, None, None);
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        canceller.cancel();
    });
    let output = tools().run(&call, cancel).await;
    assert!(output.is_error);
    assert_eq!(output_text(&output), "web_fetch was cancelled");
}

#[tokio::test]
async fn bodies_beyond_the_size_cap_are_cut_and_say_so() {
    let site = site().await;
    let url = format!("http://{ORIGIN}:{}/huge", site.port);
    let call = tool_call(
        "web_fetch",
        json!({ "url": url }),
        None,
        None,
        Some(u32::MAX),
    );
    let output = tools().run(&call, CancellationToken::new()).await;
    let text = output_text(&output);
    assert!(!output.is_error);
    let body = text.split("\n\n").nth(1).unwrap();
    assert_eq!(body.len(), MAX_FETCH_BYTES);
    assert!(text.ends_with(&format!(
        "[Body truncated: only the first {MAX_FETCH_BYTES} bytes were downloaded]"
    )));
}
