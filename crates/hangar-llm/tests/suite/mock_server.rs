//! The scripted mock model server seen from a plain HTTP client: its control endpoints
//! (`/_mock/steps`, `/_mock/requests`), the exact Anthropic event sequence, non-streaming
//! answers in each format, and the "script exhausted" error.

use hangar_testkit::mock_model::{ContentItem, MockModel, ResponseStep, Script, Step};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    // The workspace builds reqwest without a default crypto provider; this test process
    // installs ring (each nextest test is its own process).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, String) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn control_endpoints_queue_steps_and_list_requests() {
    let mock = MockModel::start(Script::default()).await.expect("mock");
    let client = http();
    let base = format!("http://{}", mock.addr);
    let steps = json!([
        {"type": "response", "content": [{"type": "text", "text": "hi"}]},
        {"type": "response", "content": [{"type": "tool_use", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"type": "response", "content": [{"type": "text", "text": "done"}], "stop_reason": "max_tokens"},
    ]);
    let (status, body) = post(&client, format!("{base}/_mock/steps"), steps).await;
    assert_eq!((status, body.as_str()), (200, r#"{"added":3,"queued":3}"#));

    let (status, body) = post(
        &client,
        format!("{base}/v1/messages"),
        json!({"model": "m"}),
    )
    .await;
    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(message["content"], json!([{"type": "text", "text": "hi"}]));
    assert_eq!(message["stop_reason"], json!("end_turn"));

    let (_, body) = post(
        &client,
        format!("{base}/v1/chat/completions"),
        json!({"model": "m"}),
    )
    .await;
    let completion: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        completion["choices"][0]["finish_reason"],
        json!("tool_calls")
    );
    assert_eq!(
        completion["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"})
    );

    let (_, body) = post(
        &client,
        format!("{base}/v1/responses"),
        json!({"model": "m"}),
    )
    .await;
    let response: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(response["status"], json!("incomplete"));
    assert_eq!(response["output"][0]["content"][0]["text"], json!("done"));

    let (status, body) = post(
        &client,
        format!("{base}/v1/messages"),
        json!({"model": "m"}),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("script exhausted"), "{body}");

    let listed: Value = client
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let paths: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/v1/messages",
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/messages"
        ]
    );
    assert_eq!(listed[0]["body"], json!({"model": "m"}));
    assert_eq!(
        listed[0]["headers"]["content-type"],
        json!("application/json")
    );
}

#[tokio::test]
async fn anthropic_stream_has_the_real_event_sequence() {
    let step = ResponseStep::new(vec![
        ContentItem::thinking("hm", "sig"),
        ContentItem::text("hello"),
        ContentItem::tool_use("toolu_1", "noop", json!({})),
    ])
    .chunk_chars(100);
    let mock = MockModel::start(Script::new([Step::Response(step)]))
        .await
        .expect("mock");
    let (status, body) = post(
        &http(),
        format!("{}/v1/messages", mock.anthropic_base_url()),
        json!({"model": "m", "stream": true}),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
}

#[tokio::test]
async fn chat_stream_ends_with_usage_and_done() {
    let mock = MockModel::start(Script::new([Step::text("hi")]))
        .await
        .expect("mock");
    let (_, body) = post(
        &http(),
        format!("{}/chat/completions", mock.openai_base_url()),
        json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    let data: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let usage_chunk: Value = serde_json::from_str(data[data.len() - 2]).expect("json");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(usage_chunk["usage"]["prompt_tokens"].is_u64());
}
