//! The OpenAI Chat Completions wire format for the mock server: `chat.completion.chunk` data
//! lines (role chunk, `reasoning_content`/`content` deltas, `tool_calls` deltas with id and
//! name first and arguments in pieces, a finish chunk, a usage chunk when asked, `[DONE]`),
//! the non-streaming `chat.completion`, and `{"error":{…}}` envelopes.

use axum::body::Bytes;
use serde_json::{Value, json};

use super::script::{ContentItem, ResponseStep, Usage};
use super::wire::{RenderContext, WireFormat, data_frame};

pub(crate) struct OpenAiChat;

/// Anthropic stop reasons (the script's vocabulary) as `finish_reason`.
pub(crate) fn finish_reason(stop_reason: &str) -> &str {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => other,
    }
}

/// `prompt_tokens` counts every input token, cached ones included.
fn usage_json(usage: Usage) -> Value {
    let prompt =
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
    })
}

fn call_id(ctx: &RenderContext, position: usize, id: &Option<String>) -> String {
    id.clone()
        .unwrap_or_else(|| format!("call_mock_{:04}_{position}", ctx.sequence))
}

impl WireFormat for OpenAiChat {
    fn stream_frames(&self, response: &ResponseStep, ctx: &RenderContext) -> Vec<Bytes> {
        let chunk = |delta: Value, finish: Value| {
            let body = json!({
                "id": format!("chatcmpl-mock-{:04}", ctx.sequence),
                "object": "chat.completion.chunk", "created": ctx.created, "model": ctx.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            });
            data_frame(&body.to_string())
        };
        let mut frames = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        let mut tool_index = 0;
        for (position, item) in response.content.iter().enumerate() {
            match item {
                ContentItem::Text { text } => frames.extend(
                    response
                        .chunks(text)
                        .into_iter()
                        .map(|piece| chunk(json!({"content": piece}), Value::Null)),
                ),
                ContentItem::Thinking { thinking, .. } => frames.extend(
                    response
                        .chunks(thinking)
                        .into_iter()
                        .map(|piece| chunk(json!({"reasoning_content": piece}), Value::Null)),
                ),
                ContentItem::RedactedThinking { .. } => {}
                ContentItem::ToolUse { id, name, input } => {
                    frames.push(chunk(
                        json!({"tool_calls": [{"index": tool_index, "id": call_id(ctx, position, id),
                            "type": "function", "function": {"name": name, "arguments": ""}}]}),
                        Value::Null,
                    ));
                    for piece in response.chunks(&input.to_string()) {
                        frames.push(chunk(
                            json!({"tool_calls": [{"index": tool_index, "function": {"arguments": piece}}]}),
                            Value::Null,
                        ));
                    }
                    tool_index += 1;
                }
            }
        }
        let finish = finish_reason(&response.effective_stop_reason()).to_owned();
        frames.push(chunk(json!({}), json!(finish)));
        if ctx.include_usage {
            let body = json!({
                "id": format!("chatcmpl-mock-{:04}", ctx.sequence),
                "object": "chat.completion.chunk", "created": ctx.created, "model": ctx.model,
                "choices": [], "usage": usage_json(response.usage),
            });
            frames.push(data_frame(&body.to_string()));
        }
        frames.push(data_frame("[DONE]"));
        frames
    }

    fn json_response(&self, response: &ResponseStep, ctx: &RenderContext) -> Value {
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut tool_calls = Vec::new();
        for (position, item) in response.content.iter().enumerate() {
            match item {
                ContentItem::Text { text: part } => text.push_str(part),
                ContentItem::Thinking { thinking, .. } => reasoning.push_str(thinking),
                ContentItem::RedactedThinking { .. } => {}
                ContentItem::ToolUse { id, name, input } => tool_calls.push(json!({
                    "id": call_id(ctx, position, id), "type": "function",
                    "function": {"name": name, "arguments": input.to_string()},
                })),
            }
        }
        let mut message = json!({"role": "assistant", "content": text});
        if !reasoning.is_empty() {
            message["reasoning_content"] = json!(reasoning);
        }
        if !tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(tool_calls);
        }
        json!({
            "id": format!("chatcmpl-mock-{:04}", ctx.sequence),
            "object": "chat.completion", "created": ctx.created, "model": ctx.model,
            "choices": [{"index": 0, "message": message,
                "finish_reason": finish_reason(&response.effective_stop_reason())}],
            "usage": usage_json(response.usage),
        })
    }

    fn error_body(&self, error_type: &str, message: &str) -> Value {
        json!({"error": {"message": message, "type": error_type, "param": null, "code": error_type}})
    }

    fn stream_error_frame(&self, error_type: &str, message: &str) -> Bytes {
        data_frame(&self.error_body(error_type, message).to_string())
    }
}
