//! Responses API specifics: the request as recorded by the mock (`instructions`, message
//! items, `function_call` / `function_call_output` with preserved call ids, images, `store`).

use hangar_core::model::{Block, MediaSource, Message, Role};
use hangar_testkit::mock_model::{MockModel, Script, Step};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::{Flavor, request, run};

#[tokio::test]
async fn request_uses_instructions_and_pairs_call_ids() {
    let messages = vec![
        Message {
            role: Role::User,
            content: vec![
                Block::Text {
                    text: "What is the weather where this photo was taken?".into(),
                },
                Block::Image {
                    source: MediaSource::Url {
                        url: "https://example.test/photo.jpg".into(),
                    },
                },
            ],
        },
        Message {
            role: Role::Assistant,
            content: vec![Block::ToolUse {
                id: "call_xyz".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"}),
            }],
        },
        Message {
            role: Role::User,
            content: vec![
                Block::ToolResult {
                    tool_use_id: "call_xyz".into(),
                    content: vec![Block::Text {
                        text: "timeout".into(),
                    }],
                    is_error: true,
                },
                Block::Text {
                    text: "Try again?".into(),
                },
            ],
        },
    ];
    let mock = MockModel::start(Script::new([Step::text("Sure.")]))
        .await
        .expect("mock");
    run(&*Flavor::Responses.client(&mock), request(messages))
        .await
        .expect("stream");
    let requests = mock.requests();
    assert_eq!(requests[0].path, "/v1/responses");
    let body = &requests[0].body;
    assert_eq!(body["instructions"], json!("You are terse."));
    assert_eq!(body["max_output_tokens"], json!(256));
    assert_eq!(body["store"], json!(false));
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    assert_eq!(
        body["input"],
        json!([
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is the weather where this photo was taken?"},
                {"type": "input_image", "image_url": "https://example.test/photo.jpg"},
            ]},
            {"type": "function_call", "call_id": "call_xyz", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_xyz", "output": "Error: timeout"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Try again?"}]},
        ])
    );
}
