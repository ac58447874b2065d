//! Anthropic-specific behaviour: the request as recorded by the mock (system placement,
//! block mapping, tool_result pairing, replayed thinking) and cache-creation usage.

use hangar_core::model::{Block, MediaSource, Message, ModelEvent, ModelUsage, Role};
use hangar_testkit::mock_model::{ContentItem, MockModel, ResponseStep, Script, Step, Usage};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::{Flavor, finished, request, run, user_text};

fn tool_round_trip() -> Vec<Message> {
    vec![
        Message {
            role: Role::User,
            content: vec![
                Block::Text {
                    text: "What is in this picture, and the weather in Paris?".into(),
                },
                Block::Image {
                    source: MediaSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into(),
                    },
                },
            ],
        },
        Message {
            role: Role::Assistant,
            content: vec![
                Block::Thinking {
                    text: "I need the weather.".into(),
                    signature: Some("sig-1".into()),
                },
                Block::ToolUse {
                    id: "toolu_01".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Paris"}),
                },
            ],
        },
        Message {
            role: Role::User,
            content: vec![Block::ToolResult {
                tool_use_id: "toolu_01".into(),
                content: vec![Block::Text {
                    text: "unavailable".into(),
                }],
                is_error: true,
            }],
        },
    ]
}

#[tokio::test]
async fn request_puts_system_top_level_and_pairs_tool_results() {
    let mock = MockModel::start(Script::new([Step::text("It is a cat.")]))
        .await
        .expect("mock");
    run(
        &*Flavor::Anthropic.client(&mock),
        request(tool_round_trip()),
    )
    .await
    .expect("stream");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/messages");
    let body = &requests[0].body;
    assert_eq!(body["system"], json!("You are terse."));
    assert_eq!(body["model"], json!("test-model"));
    assert_eq!(body["max_tokens"], json!(256));
    assert_eq!(
        body["tools"],
        json!([{
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture, and the weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I need the weather.", "signature": "sig-1"},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "unavailable"}], "is_error": true},
            ]},
        ])
    );
}

#[tokio::test]
async fn usage_keeps_cache_creation_and_reads() {
    let usage = Usage {
        input_tokens: 3,
        output_tokens: 9,
        cache_creation_input_tokens: 1200,
        cache_read_input_tokens: 800,
    };
    let step = ResponseStep::new(vec![ContentItem::text("ok")]).usage(usage);
    let mock = MockModel::start(Script::new([Step::Response(step)]))
        .await
        .expect("mock");
    let events = run(
        &*Flavor::Anthropic.client(&mock),
        request(vec![user_text("hi")]),
    )
    .await
    .expect("stream");
    assert_eq!(
        finished(&events).1,
        ModelUsage {
            input_tokens: 3,
            output_tokens: 9,
            cache_creation_input_tokens: 1200,
            cache_read_input_tokens: 800
        }
    );
}

#[tokio::test]
async fn redacted_thinking_and_separate_text_blocks_are_kept_apart() {
    let step = ResponseStep::new(vec![
        ContentItem::RedactedThinking {
            data: "opaque".into(),
        },
        ContentItem::text("first"),
        ContentItem::tool_use("toolu_9", "get_weather", json!({"city": "Oslo"})),
        ContentItem::text("second"),
    ]);
    let mock = MockModel::start(Script::new([Step::Response(step)]))
        .await
        .expect("mock");
    let events = run(
        &*Flavor::Anthropic.client(&mock),
        request(vec![user_text("hi")]),
    )
    .await
    .expect("stream");
    assert_eq!(
        events[0],
        ModelEvent::RedactedThinking {
            data: "opaque".into()
        }
    );
    assert_eq!(super::support::text_of(&events, 0), "first");
    assert_eq!(super::support::text_of(&events, 1), "second");
}

/// llama.cpp answers errors on `/v1/messages` in the OpenAI shape.
#[tokio::test]
async fn openai_shaped_error_body_on_messages_is_understood() {
    let step = Step::Error(hangar_testkit::mock_model::ErrorStep {
        status: 400,
        error_type: String::new(),
        message: String::new(),
        body: Some(
            json!({"error": {"code": 400, "message": "request (5009 tokens) exceeds the available context size (4096 tokens)", "type": "exceed_context_size_error"}}),
        ),
        retry_after: None,
        retry_after_ms: None,
        delay_ms: 0,
    });
    let mock = MockModel::start(Script::new([step])).await.expect("mock");
    let error = run(
        &*Flavor::Anthropic.client(&mock),
        request(vec![user_text("hi")]),
    )
    .await
    .expect_err("400");
    assert_eq!(
        error,
        hangar_core::model::ModelError::InvalidRequest {
            status: 400,
            message: "exceed_context_size_error: request (5009 tokens) exceeds the available context size (4096 tokens)".into()
        }
    );
}
