//! The Anthropic Messages wire format for the mock server: the exact streaming event sequence
//! (`message_start`, `ping`, `content_block_start`/`delta`/`stop` per block, `message_delta`,
//! `message_stop`), the non-streaming message, and `{"type":"error","error":{…}}` envelopes.

use axum::body::Bytes;
use serde_json::{Value, json};

use super::script::{ContentItem, ResponseStep};
use super::wire::{RenderContext, WireFormat, named_frame};

pub(crate) struct Anthropic;

fn message_id(ctx: &RenderContext) -> String {
    format!("msg_mock_{:04}", ctx.sequence)
}

fn tool_id(ctx: &RenderContext, position: usize, id: &Option<String>) -> String {
    id.clone()
        .unwrap_or_else(|| format!("toolu_mock_{:04}_{position}", ctx.sequence))
}

fn event(name: &str, data: Value) -> Bytes {
    named_frame(name, &data)
}

impl WireFormat for Anthropic {
    fn stream_frames(&self, response: &ResponseStep, ctx: &RenderContext) -> Vec<Bytes> {
        let usage = response.usage;
        let mut frames = vec![
            event(
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": message_id(ctx), "type": "message", "role": "assistant",
                    "model": ctx.model, "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {
                        "input_tokens": usage.input_tokens,
                        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                        "cache_read_input_tokens": usage.cache_read_input_tokens,
                        "output_tokens": usage.output_tokens.min(1),
                    },
                }}),
            ),
            event("ping", json!({"type": "ping"})),
        ];
        for (index, item) in response.content.iter().enumerate() {
            frames.extend(block_frames(response, ctx, index, item));
        }
        frames.push(event(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": response.effective_stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": usage.output_tokens}}),
        ));
        frames.push(event("message_stop", json!({"type": "message_stop"})));
        frames
    }

    fn json_response(&self, response: &ResponseStep, ctx: &RenderContext) -> Value {
        let content: Vec<Value> = response
            .content
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                ContentItem::Text { text } => json!({"type": "text", "text": text}),
                ContentItem::Thinking {
                    thinking,
                    signature,
                } => json!({"type": "thinking", "thinking": thinking,
                    "signature": signature.clone().unwrap_or_default()}),
                ContentItem::RedactedThinking { data } => {
                    json!({"type": "redacted_thinking", "data": data})
                }
                ContentItem::ToolUse { id, name, input } => json!({"type": "tool_use",
                    "id": tool_id(ctx, index, id), "name": name, "input": input}),
            })
            .collect();
        let usage = response.usage;
        json!({
            "id": message_id(ctx), "type": "message", "role": "assistant", "model": ctx.model,
            "content": content, "stop_reason": response.effective_stop_reason(),
            "stop_sequence": null,
            "usage": {
                "input_tokens": usage.input_tokens,
                "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens,
                "output_tokens": usage.output_tokens,
            },
        })
    }

    fn error_body(&self, error_type: &str, message: &str) -> Value {
        json!({"type": "error", "error": {"type": error_type, "message": message}})
    }

    fn stream_error_frame(&self, error_type: &str, message: &str) -> Bytes {
        event("error", self.error_body(error_type, message))
    }
}

fn block_frames(
    response: &ResponseStep,
    ctx: &RenderContext,
    index: usize,
    item: &ContentItem,
) -> Vec<Bytes> {
    let delta = |delta: Value| {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        )
    };
    let (start, deltas): (Value, Vec<Bytes>) = match item {
        ContentItem::Text { text } => (
            json!({"type": "text", "text": ""}),
            response
                .chunks(text)
                .into_iter()
                .map(|piece| delta(json!({"type": "text_delta", "text": piece})))
                .collect(),
        ),
        ContentItem::Thinking {
            thinking,
            signature,
        } => {
            let mut deltas: Vec<Bytes> = response
                .chunks(thinking)
                .into_iter()
                .map(|piece| delta(json!({"type": "thinking_delta", "thinking": piece})))
                .collect();
            if let Some(signature) = signature {
                deltas.push(delta(
                    json!({"type": "signature_delta", "signature": signature}),
                ));
            }
            (
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                deltas,
            )
        }
        ContentItem::RedactedThinking { data } => (
            json!({"type": "redacted_thinking", "data": data}),
            Vec::new(),
        ),
        ContentItem::ToolUse { id, name, input } => (
            json!({"type": "tool_use", "id": tool_id(ctx, index, id), "name": name, "input": {}}),
            response
                .chunks(&input.to_string())
                .into_iter()
                .map(|piece| delta(json!({"type": "input_json_delta", "partial_json": piece})))
                .collect(),
        ),
    };
    let mut frames = vec![event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": start}),
    )];
    frames.extend(deltas);
    frames.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    frames
}
