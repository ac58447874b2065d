//! Chat Completions specifics: the flattened request as recorded by the mock (system message,
//! tool_calls with preserved ids, `role: "tool"` results, image parts, usage options) and the
//! retry-after-ms header.

use std::time::Duration;

use hangar_core::model::{Block, MediaSource, Message, ModelError, Role};
use hangar_testkit::mock_model::{ErrorStep, MockModel, Script, Step};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::{Flavor, request, run};

fn conversation() -> Vec<Message> {
    vec![
        Message {
            role: Role::User,
            content: vec![
                Block::Text {
                    text: "Weather in Paris and Rome? See map.".into(),
                },
                Block::Image {
                    source: MediaSource::Base64 {
                        media_type: "image/jpeg".into(),
                        data: "/9j/4AAQ".into(),
                    },
                },
            ],
        },
        Message {
            role: Role::Assistant,
            content: vec![
                Block::Text {
                    text: "Checking.".into(),
                },
                Block::ToolUse {
                    id: "call_A".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Paris"}),
                },
                Block::ToolUse {
                    id: "call_B".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Rome"}),
                },
            ],
        },
        Message {
            role: Role::User,
            content: vec![
                Block::ToolResult {
                    tool_use_id: "call_A".into(),
                    content: vec![Block::Text {
                        text: "sunny".into(),
                    }],
                    is_error: false,
                },
                Block::ToolResult {
                    tool_use_id: "call_B".into(),
                    content: vec![
                        Block::Text {
                            text: "radar:".into(),
                        },
                        Block::Image {
                            source: MediaSource::Base64 {
                                media_type: "image/png".into(),
                                data: "AAAA".into(),
                            },
                        },
                    ],
                    is_error: false,
                },
            ],
        },
    ]
}

#[tokio::test]
async fn request_flattens_system_tool_calls_and_tool_messages() {
    let mock = MockModel::start(Script::new([Step::text("Sunny and rainy.")]))
        .await
        .expect("mock");
    run(&*Flavor::Chat.client(&mock), request(conversation()))
        .await
        .expect("stream");
    let requests = mock.requests();
    assert_eq!(requests[0].path, "/v1/chat/completions");
    let body = &requests[0].body;
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_tokens"], json!(256));
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris and Rome? See map."},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            ]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_B", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_A", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_B", "content": "radar:\n[image (image/png) omitted: tool output can only be text here]"},
        ])
    );
}

#[tokio::test]
async fn retry_after_ms_wins_over_retry_after() {
    let step = Step::Error(ErrorStep {
        status: 429,
        error_type: "rate_limit_exceeded".into(),
        message: "Rate limit reached".into(),
        body: None,
        retry_after: Some("20".into()),
        retry_after_ms: Some(1500),
        delay_ms: 0,
    });
    let mock = MockModel::start(Script::new([step])).await.expect("mock");
    let error = run(&*Flavor::Chat.client(&mock), request(vec![]))
        .await
        .expect_err("429");
    assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn exhausted_quota_is_billing() {
    let step = Step::http_error(429, "insufficient_quota", "You exceeded your current quota");
    let mock = MockModel::start(Script::new([step])).await.expect("mock");
    let error = run(&*Flavor::Chat.client(&mock), request(vec![]))
        .await
        .expect_err("429");
    assert!(matches!(error, ModelError::Billing { .. }), "{error:?}");
}
