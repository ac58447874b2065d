//! Builds the OpenAI Responses request body: the system prompt as `instructions`, the
//! conversation as input items (messages, `function_call`, `function_call_output`) in order,
//! with call ids preserved so every output pairs with its call.

use hangar_core::model::{Block, MediaSource, Message, ModelRequest, Role, ToolSpec};
use serde_json::{Map, Value, json};

use crate::openai_shared::{document_text, media_url, tool_result_text};

/// The JSON body of `POST {base}/responses` with `stream: true`. `store: false` because the
/// session log is the transcript: nothing needs to live at the provider.
pub(crate) fn request_body(request: &ModelRequest) -> Value {
    let mut input = Vec::new();
    for message in &request.messages {
        match message.role {
            Role::User => push_user_items(message, &mut input),
            Role::Assistant => push_assistant_items(message, &mut input),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert("instructions".into(), json!(system));
    }
    body.insert("input".into(), Value::Array(input));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(tool).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    body.insert("max_output_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    body.insert("store".into(), json!(false));
    Value::Object(body)
}

fn tool(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.input_schema,
    })
}

/// Collects consecutive content parts into one message item, so item order follows block
/// order exactly.
struct ItemWriter<'a> {
    input: &'a mut Vec<Value>,
    role: &'static str,
    parts: Vec<Value>,
}

impl ItemWriter<'_> {
    fn part(&mut self, part: Value) {
        self.parts.push(part);
    }

    fn item(&mut self, item: Value) {
        self.flush();
        self.input.push(item);
    }

    fn flush(&mut self) {
        if !self.parts.is_empty() {
            let content = std::mem::take(&mut self.parts);
            self.input
                .push(json!({ "type": "message", "role": self.role, "content": content }));
        }
    }
}

fn push_user_items(message: &Message, input: &mut Vec<Value>) {
    let mut writer = ItemWriter {
        input,
        role: "user",
        parts: Vec::new(),
    };
    for block in &message.content {
        match block {
            Block::Text { text } => writer.part(json!({ "type": "input_text", "text": text })),
            Block::Image { source } => writer.part(json!({
                "type": "input_image",
                "image_url": media_url(source, "text/plain"),
            })),
            Block::Document { source, title } => {
                writer.part(document_part(source, title.as_deref()))
            }
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => writer.item(json!({
                "type": "function_call_output",
                "call_id": tool_use_id,
                "output": tool_result_text(content, *is_error),
            })),
            Block::Thinking { .. } | Block::RedactedThinking { .. } | Block::ToolUse { .. } => {}
        }
    }
    writer.flush();
}

/// Plain-text documents inline as text; binary ones as files (OpenAI reads PDFs this way).
fn document_part(source: &MediaSource, title: Option<&str>) -> Value {
    match source {
        MediaSource::Text { .. } => {
            json!({ "type": "input_text", "text": document_text(source, title) })
        }
        MediaSource::Base64 { .. } => json!({
            "type": "input_file",
            "filename": title.unwrap_or("document"),
            "file_data": media_url(source, "text/plain"),
        }),
        MediaSource::Url { url } => json!({ "type": "input_file", "file_url": url }),
    }
}

/// Assistant text as `output_text` message items, tool calls as `function_call` items.
/// Reasoning is not replayed: its provider-side ids are not kept in the transcript.
fn push_assistant_items(message: &Message, input: &mut Vec<Value>) {
    let mut writer = ItemWriter {
        input,
        role: "assistant",
        parts: Vec::new(),
    };
    for block in &message.content {
        match block {
            Block::Text { text } => writer.part(json!({ "type": "output_text", "text": text })),
            Block::ToolUse { id, name, input } => writer.item(json!({
                "type": "function_call",
                "call_id": id,
                "name": name,
                "arguments": input.to_string(),
            })),
            _ => {}
        }
    }
    writer.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn keeps_call_ids_and_block_order() {
        let request = ModelRequest {
            model: "gpt-test".into(),
            system: Some("sys".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Block::Text { text: "hi".into() }],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Block::Text {
                            text: "checking".into(),
                        },
                        Block::ToolUse {
                            id: "call_7".into(),
                            name: "bash".into(),
                            input: json!({"command": "ls"}),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Block::ToolResult {
                        tool_use_id: "call_7".into(),
                        content: vec![Block::Text {
                            text: "a.txt".into(),
                        }],
                        is_error: false,
                    }],
                },
            ],
            tools: vec![ToolSpec {
                name: "bash".into(),
                description: "Run".into(),
                input_schema: json!({"type": "object"}),
            }],
            max_tokens: 50,
        };
        assert_eq!(
            request_body(&request),
            json!({
                "model": "gpt-test",
                "instructions": "sys",
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "checking"}]},
                    {"type": "function_call", "call_id": "call_7", "name": "bash", "arguments": "{\"command\":\"ls\"}"},
                    {"type": "function_call_output", "call_id": "call_7", "output": "a.txt"},
                ],
                "tools": [{"type": "function", "name": "bash", "description": "Run", "parameters": {"type": "object"}}],
                "max_output_tokens": 50,
                "stream": true,
                "store": false,
            })
        );
    }
}
