//! Builds the Anthropic Messages request body from a [`ModelRequest`]. Every block kind has a
//! native counterpart here, so nothing is converted to text.

use hangar_core::model::{Block, MediaSource, Message, ModelRequest, Role, ToolSpec};
use serde_json::{Map, Value, json};

/// The JSON body of `POST /v1/messages` with `stream: true`.
pub(crate) fn request_body(request: &ModelRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert("system".into(), json!(system));
    }
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(tool).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    Value::Object(body)
}

fn message(message: &Message) -> Value {
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let content: Vec<Value> = message.content.iter().filter_map(block).collect();
    json!({ "role": role, "content": content })
}

fn tool(tool: &ToolSpec) -> Value {
    json!({
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.input_schema,
    })
}

/// `None` only for thinking without a signature: such thinking came from another provider and
/// Anthropic rejects unsigned thinking blocks, so it cannot be replayed.
fn block(block: &Block) -> Option<Value> {
    Some(match block {
        Block::Text { text } => json!({ "type": "text", "text": text }),
        Block::Image { source } => {
            json!({ "type": "image", "source": media_source(source, "text/plain") })
        }
        Block::Document { source, title } => {
            let mut document =
                json!({ "type": "document", "source": media_source(source, "text/plain") });
            if let (Some(title), Some(object)) = (title, document.as_object_mut()) {
                object.insert("title".into(), json!(title));
            }
            document
        }
        Block::Thinking { text, signature } => {
            let signature = signature.as_deref().filter(|s| !s.is_empty())?;
            json!({ "type": "thinking", "thinking": text, "signature": signature })
        }
        Block::RedactedThinking { data } => json!({ "type": "redacted_thinking", "data": data }),
        Block::ToolUse { id, name, input } => {
            json!({ "type": "tool_use", "id": id, "name": name, "input": input })
        }
        Block::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let content: Vec<Value> = content.iter().filter_map(self::block).collect();
            let mut result =
                json!({ "type": "tool_result", "tool_use_id": tool_use_id, "content": content });
            if *is_error && let Some(object) = result.as_object_mut() {
                object.insert("is_error".into(), json!(true));
            }
            result
        }
    })
}

fn media_source(source: &MediaSource, text_media_type: &str) -> Value {
    match source {
        MediaSource::Base64 { media_type, data } => {
            json!({ "type": "base64", "media_type": media_type, "data": data })
        }
        MediaSource::Url { url } => json!({ "type": "url", "url": url }),
        MediaSource::Text { data } => {
            json!({ "type": "text", "media_type": text_media_type, "data": data })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn request(messages: Vec<Message>) -> ModelRequest {
        ModelRequest {
            model: "claude-test".into(),
            system: Some("Be brief.".into()),
            messages,
            tools: vec![ToolSpec {
                name: "bash".into(),
                description: "Run a command".into(),
                input_schema: json!({"type": "object"}),
            }],
            max_tokens: 100,
        }
    }

    #[test]
    fn maps_every_block_kind() {
        let body = request_body(&request(vec![
            Message {
                role: Role::User,
                content: vec![
                    Block::Text { text: "hi".into() },
                    Block::Image {
                        source: MediaSource::Base64 {
                            media_type: "image/png".into(),
                            data: "AAAA".into(),
                        },
                    },
                    Block::Document {
                        source: MediaSource::Text {
                            data: "notes".into(),
                        },
                        title: Some("notes.txt".into()),
                    },
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::Thinking {
                        text: "hmm".into(),
                        signature: Some("sig".into()),
                    },
                    Block::Thinking {
                        text: "foreign".into(),
                        signature: None,
                    },
                    Block::RedactedThinking { data: "xyz".into() },
                    Block::ToolUse {
                        id: "toolu_1".into(),
                        name: "bash".into(),
                        input: json!({"command": "ls"}),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult {
                    tool_use_id: "toolu_1".into(),
                    content: vec![Block::Text {
                        text: "boom".into(),
                    }],
                    is_error: true,
                }],
            },
        ]));
        assert_eq!(
            body,
            json!({
                "model": "claude-test",
                "max_tokens": 100,
                "stream": true,
                "system": "Be brief.",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}, "title": "notes.txt"},
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "xyz"},
                        {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "boom"}], "is_error": true},
                    ]},
                ],
                "tools": [{"name": "bash", "description": "Run a command", "input_schema": {"type": "object"}}],
            })
        );
    }
}
