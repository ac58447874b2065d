//! The OpenAI Responses wire format for the mock server: `response.created`,
//! `response.in_progress`, per output item `response.output_item.added` → deltas
//! (`output_text`, `function_call_arguments`, `reasoning_summary_text`) → `…done` events →
//! `response.output_item.done`, then `response.completed` (or `response.incomplete` for
//! `max_tokens`), each with a `sequence_number`; the non-streaming response object; and
//! `{"error":{…}}` envelopes.

use axum::body::Bytes;
use serde_json::{Value, json};

use super::script::{ContentItem, ResponseStep, Usage};
use super::wire::{RenderContext, WireFormat, named_frame};

pub(crate) struct OpenAiResponses;

fn usage_json(usage: Usage) -> Value {
    let input =
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + usage.output_tokens,
    })
}

/// The finished output item for `item` at `index`.
fn output_item(ctx: &RenderContext, index: usize, item: &ContentItem) -> Value {
    let id = |prefix: &str| format!("{prefix}_mock_{:04}_{index}", ctx.sequence);
    match item {
        ContentItem::Text { text } => json!({
            "id": id("msg"), "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }),
        ContentItem::Thinking { thinking, .. } => json!({
            "id": id("rs"), "type": "reasoning",
            "summary": [{"type": "summary_text", "text": thinking}],
        }),
        ContentItem::RedactedThinking { data } => json!({
            "id": id("rs"), "type": "reasoning", "summary": [], "encrypted_content": data,
        }),
        ContentItem::ToolUse {
            id: call_id,
            name,
            input,
        } => json!({
            "id": id("fc"), "type": "function_call", "status": "completed",
            "call_id": call_id.clone().unwrap_or_else(|| id("call")),
            "name": name, "arguments": input.to_string(),
        }),
    }
}

/// The item as first announced: nothing generated yet.
fn announced_item(done: &Value) -> Value {
    let mut item = done.clone();
    match done["type"].as_str() {
        Some("message") => {
            item["status"] = json!("in_progress");
            item["content"] = json!([]);
        }
        Some("reasoning") => item["summary"] = json!([]),
        Some("function_call") => {
            item["status"] = json!("in_progress");
            item["arguments"] = json!("");
        }
        _ => {}
    }
    item
}

/// The events between `added` and `done` of one item, without sequence numbers.
fn item_deltas(
    response: &ResponseStep,
    item: &ContentItem,
    done: &Value,
    index: usize,
) -> Vec<Value> {
    let at = json!({"item_id": done["id"], "output_index": index});
    let with = |kind: &str, extra: Value| {
        let mut event = at.clone();
        event["type"] = json!(kind);
        if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
            event.extend(extra.clone());
        }
        event
    };
    let mut events = Vec::new();
    match item {
        ContentItem::Text { text } => {
            let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
            events.push(with(
                "response.content_part.added",
                json!({"content_index": 0, "part": part("")}),
            ));
            for piece in response.chunks(text) {
                events.push(with(
                    "response.output_text.delta",
                    json!({"content_index": 0, "delta": piece}),
                ));
            }
            events.push(with(
                "response.output_text.done",
                json!({"content_index": 0, "text": text}),
            ));
            events.push(with(
                "response.content_part.done",
                json!({"content_index": 0, "part": part(text)}),
            ));
        }
        ContentItem::Thinking { thinking, .. } => {
            let part = |text: &str| json!({"type": "summary_text", "text": text});
            events.push(with(
                "response.reasoning_summary_part.added",
                json!({"summary_index": 0, "part": part("")}),
            ));
            for piece in response.chunks(thinking) {
                events.push(with(
                    "response.reasoning_summary_text.delta",
                    json!({"summary_index": 0, "delta": piece}),
                ));
            }
            events.push(with(
                "response.reasoning_summary_text.done",
                json!({"summary_index": 0, "text": thinking}),
            ));
            events.push(with(
                "response.reasoning_summary_part.done",
                json!({"summary_index": 0, "part": part(thinking)}),
            ));
        }
        ContentItem::RedactedThinking { .. } => {}
        ContentItem::ToolUse { input, .. } => {
            let arguments = input.to_string();
            for piece in response.chunks(&arguments) {
                events.push(with(
                    "response.function_call_arguments.delta",
                    json!({"delta": piece}),
                ));
            }
            events.push(with(
                "response.function_call_arguments.done",
                json!({"arguments": arguments}),
            ));
        }
    }
    events
}

fn response_object(
    response: &ResponseStep,
    ctx: &RenderContext,
    status: &str,
    output: Vec<Value>,
) -> Value {
    let mut object = json!({
        "id": format!("resp_mock_{:04}", ctx.sequence), "object": "response",
        "created_at": ctx.created, "status": status, "model": ctx.model, "output": output,
        "usage": if status == "in_progress" { Value::Null } else { usage_json(response.usage) },
    });
    if status == "incomplete" {
        object["incomplete_details"] = json!({"reason": "max_output_tokens"});
    }
    object
}

fn final_status(response: &ResponseStep) -> &'static str {
    if response.effective_stop_reason() == "max_tokens" {
        "incomplete"
    } else {
        "completed"
    }
}

impl WireFormat for OpenAiResponses {
    fn stream_frames(&self, response: &ResponseStep, ctx: &RenderContext) -> Vec<Bytes> {
        let started = response_object(response, ctx, "in_progress", Vec::new());
        let mut events = vec![
            json!({"type": "response.created", "response": started}),
            json!({"type": "response.in_progress", "response": started}),
        ];
        let mut output = Vec::new();
        for (index, item) in response.content.iter().enumerate() {
            let done = output_item(ctx, index, item);
            events.push(
                json!({"type": "response.output_item.added", "output_index": index,
                "item": announced_item(&done)}),
            );
            events.extend(item_deltas(response, item, &done, index));
            events.push(
                json!({"type": "response.output_item.done", "output_index": index, "item": done}),
            );
            output.push(done);
        }
        let status = final_status(response);
        events.push(json!({"type": format!("response.{status}"),
            "response": response_object(response, ctx, status, output)}));
        events
            .into_iter()
            .enumerate()
            .map(|(sequence, mut event)| {
                event["sequence_number"] = json!(sequence);
                let name = event["type"].as_str().unwrap_or("message").to_owned();
                named_frame(&name, &event)
            })
            .collect()
    }

    fn json_response(&self, response: &ResponseStep, ctx: &RenderContext) -> Value {
        let output = (response.content.iter().enumerate())
            .map(|(index, item)| output_item(ctx, index, item))
            .collect();
        response_object(response, ctx, final_status(response), output)
    }

    fn error_body(&self, error_type: &str, message: &str) -> Value {
        json!({"error": {"message": message, "type": error_type, "param": null, "code": error_type}})
    }

    fn stream_error_frame(&self, error_type: &str, message: &str) -> Bytes {
        named_frame(
            "error",
            &json!({"type": "error", "code": error_type, "message": message, "param": null}),
        )
    }
}
