//! Builds the Chat Completions request body. The conversation is flattened the way
//! OpenAI-compatible servers expect: system prompt as the first message, assistant tool calls
//! in `tool_calls`, each tool result as its own `role: "tool"` message right after them.

use hangar_core::model::{Block, Message, ModelRequest, Role, ToolSpec};
use serde_json::{Map, Value, json};

use crate::openai_shared::{document_text, media_url, tool_result_text};

/// Which field carries the output budget. OpenAI's newer models accept only
/// `max_completion_tokens`; many compatible servers know only `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MaxTokensField {
    MaxTokens,
    MaxCompletionTokens,
}

/// The JSON body of `POST {base}/chat/completions` with `stream: true`.
pub(crate) fn request_body(request: &ModelRequest, max_tokens_field: MaxTokensField) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({ "role": "system", "content": system }));
    }
    for message in &request.messages {
        match message.role {
            Role::User => push_user_message(message, &mut messages),
            Role::Assistant => messages.push(assistant_message(message)),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    let budget_key = match max_tokens_field {
        MaxTokensField::MaxTokens => "max_tokens",
        MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
    };
    body.insert(budget_key.into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(tool).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    Value::Object(body)
}

fn tool(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.input_schema,
        }
    })
}

/// Tool results first (they must follow the assistant's `tool_calls`), then the rest of the
/// user's content as one user message.
fn push_user_message(message: &Message, messages: &mut Vec<Value>) {
    let mut parts = Vec::new();
    for block in &message.content {
        match block {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => messages.push(json!({
                "role": "tool",
                "tool_call_id": tool_use_id,
                "content": tool_result_text(content, *is_error),
            })),
            Block::Text { text } => parts.push(json!({ "type": "text", "text": text })),
            Block::Image { source } => parts.push(json!({
                "type": "image_url",
                "image_url": { "url": media_url(source, "text/plain") },
            })),
            Block::Document { source, title } => parts.push(json!({
                "type": "text",
                "text": document_text(source, title.as_deref()),
            })),
            // Reasoning and tool calls never come from the user.
            Block::Thinking { .. } | Block::RedactedThinking { .. } | Block::ToolUse { .. } => {}
        }
    }
    if !parts.is_empty() {
        messages.push(json!({ "role": "user", "content": user_content(parts) }));
    }
}

/// Plain text as a string (every server accepts that); parts only when there is an image.
fn user_content(parts: Vec<Value>) -> Value {
    let all_text = parts.iter().all(|part| part["type"] == "text");
    if all_text {
        let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        json!(texts.join("\n\n"))
    } else {
        Value::Array(parts)
    }
}

/// Text joined into `content` (an empty string rather than null when there is none: some
/// servers reject null), tool calls with their arguments as a JSON string. Reasoning has no
/// standard field in this format and is left out.
fn assistant_message(message: &Message) -> Value {
    let mut text = Vec::new();
    let mut tool_calls = Vec::new();
    for block in &message.content {
        match block {
            Block::Text { text: part } => text.push(part.as_str()),
            Block::ToolUse { id, name, input } => tool_calls.push(json!({
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": input.to_string() },
            })),
            _ => {}
        }
    }
    let mut assistant = json!({ "role": "assistant", "content": text.join("\n\n") });
    if !tool_calls.is_empty()
        && let Some(object) = assistant.as_object_mut()
    {
        object.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    assistant
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_core::model::MediaSource;
    use pretty_assertions::assert_eq;

    #[test]
    fn flattens_a_tool_round_trip() {
        let request = ModelRequest {
            model: "qwen".into(),
            system: Some("sys".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Block::Text {
                            text: "look".into(),
                        },
                        Block::Image {
                            source: MediaSource::Url {
                                url: "https://example.test/a.png".into(),
                            },
                        },
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![Block::ToolUse {
                        id: "call_1".into(),
                        name: "read".into(),
                        input: json!({"path": "a"}),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Block::ToolResult {
                            tool_use_id: "call_1".into(),
                            content: vec![Block::Text {
                                text: "data".into(),
                            }],
                            is_error: false,
                        },
                        Block::Text {
                            text: "and now?".into(),
                        },
                    ],
                },
            ],
            tools: vec![],
            max_tokens: 64,
        };
        assert_eq!(
            request_body(&request, MaxTokensField::MaxTokens),
            json!({
                "model": "qwen",
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
                    ]},
                    {"role": "assistant", "content": "", "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": "{\"path\":\"a\"}"}},
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "data"},
                    {"role": "user", "content": "and now?"},
                ],
                "max_tokens": 64,
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
    }
}
