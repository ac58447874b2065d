//! Decodes the OpenAI Responses event stream into [`ModelEvent`]s. Output items (messages,
//! function calls, reasoning) are tracked by item id, falling back to `output_index`, because
//! llama.cpp sends only ids and OpenAI sends both. Tool calls are emitted when their item is
//! done; items a server never closes are closed at `response.completed`.

use std::collections::HashMap;

use hangar_core::model::{ModelError, ModelEvent, ModelUsage, StopReason};
use serde_json::Value;

use super::wire::{ItemRef, WireEvent, WireItem, WireResponse};
use crate::provider_error::{ProviderError, error_from_stream};
use crate::sse::SseEvent;
use crate::stream::{
    StreamDecoder, TextBlockCounter, mint_tool_call_id, parse_payload, parse_tool_input,
};

/// An output item between `added` and `done`.
#[derive(Debug)]
enum OpenItem {
    Message {
        /// Text block number of each content part that received text.
        text_blocks: HashMap<u64, Option<usize>>,
    },
    FunctionCall {
        call_id: Option<String>,
        name: String,
        arguments: String,
    },
    Reasoning {
        text: String,
        summary_index: Option<u64>,
    },
}

#[derive(Debug, Default)]
pub(crate) struct ResponsesDecoder {
    /// Open items in output order, by key (item id, or `#<output_index>`).
    items: Vec<(String, OpenItem)>,
    keys_by_output_index: HashMap<u64, String>,
    text_blocks: TextBlockCounter,
    saw_function_call: bool,
    saw_refusal: bool,
}

impl StreamDecoder for ResponsesDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<ModelEvent>) -> Result<(), ModelError> {
        let value: Value = parse_payload(&event.data)?;
        if value.get("type").and_then(Value::as_str) == Some("error") {
            let error = ProviderError::from_json(&value).unwrap_or_default();
            return Err(error_from_stream(&error));
        }
        let event: WireEvent = serde_json::from_value(value).map_err(|e| {
            ModelError::StreamBroken(format!("malformed event from the provider: {e}"))
        })?;
        match event {
            WireEvent::ItemAdded { output_index, item } => self.add_item(output_index, item, out),
            WireEvent::ItemDone { output_index, item } => self.finish_item(output_index, item, out),
            WireEvent::TextDelta {
                at,
                content_index,
                delta,
            } => self.text_delta(&at, content_index, delta, out),
            WireEvent::RefusalDelta {
                at,
                content_index,
                delta,
            } => {
                self.saw_refusal = true;
                self.text_delta(&at, content_index, delta, out);
            }
            WireEvent::ArgumentsDelta { at, delta } => {
                if let OpenItem::FunctionCall { arguments, .. } = self.call_item(&at) {
                    arguments.push_str(&delta);
                }
            }
            WireEvent::ArgumentsDone { at, arguments: all } => {
                if let OpenItem::FunctionCall { arguments, .. } = self.call_item(&at) {
                    *arguments = all;
                }
            }
            WireEvent::ReasoningDelta {
                at,
                summary_index,
                delta,
            } => self.reasoning_delta(&at, summary_index, &delta, out),
            WireEvent::Completed { response } => self.finish(response, out),
            WireEvent::Incomplete { response } => self.finish(response, out),
            WireEvent::Failed { response } => {
                let error = response
                    .get("error")
                    .map(|error| serde_json::json!({ "error": error }))
                    .and_then(|wrapped| ProviderError::from_json(&wrapped))
                    .unwrap_or_default();
                return Err(error_from_stream(&error));
            }
            WireEvent::Other => {}
        }
        Ok(())
    }
}

impl ResponsesDecoder {
    fn key(&self, at: &ItemRef) -> String {
        if let Some(id) = &at.item_id
            && self.items.iter().any(|(key, _)| key == id)
        {
            return id.clone();
        }
        if let Some(key) = at
            .output_index
            .and_then(|i| self.keys_by_output_index.get(&i))
        {
            return key.clone();
        }
        match (&at.item_id, at.output_index) {
            (Some(id), _) => id.clone(),
            (None, Some(index)) => format!("#{index}"),
            (None, None) => "#unknown".to_owned(),
        }
    }

    /// The position of the open item at `at`, created with `make` when the server skipped
    /// its `output_item.added`.
    fn position_or(&mut self, at: &ItemRef, make: impl FnOnce() -> OpenItem) -> usize {
        let key = self.key(at);
        if let Some(position) = self.items.iter().position(|(k, _)| *k == key) {
            return position;
        }
        if let Some(index) = at.output_index {
            self.keys_by_output_index.insert(index, key.clone());
        }
        self.items.push((key, make()));
        self.items.len() - 1
    }

    fn call_item(&mut self, at: &ItemRef) -> &mut OpenItem {
        let position = self.position_or(at, || OpenItem::FunctionCall {
            call_id: None,
            name: String::new(),
            arguments: String::new(),
        });
        &mut self.items[position].1
    }

    fn add_item(&mut self, output_index: Option<u64>, item: WireItem, out: &mut Vec<ModelEvent>) {
        let at = ItemRef {
            item_id: item.id().map(str::to_owned),
            output_index,
        };
        let key = self.key(&at);
        if self.items.iter().any(|(k, _)| *k == key) {
            return; // a repeated announcement changes nothing
        }
        let open = match item {
            WireItem::Message { .. } => OpenItem::Message {
                text_blocks: HashMap::new(),
            },
            WireItem::FunctionCall {
                call_id,
                name,
                arguments,
                ..
            } => OpenItem::FunctionCall {
                call_id,
                name: name.unwrap_or_default(),
                arguments: arguments.unwrap_or_default(),
            },
            WireItem::Reasoning { .. } => {
                out.push(ModelEvent::ThinkingStarted);
                OpenItem::Reasoning {
                    text: String::new(),
                    summary_index: None,
                }
            }
            WireItem::Other => return,
        };
        self.position_or(&at, || open);
    }

    fn text_delta(
        &mut self,
        at: &ItemRef,
        content_index: Option<u64>,
        delta: String,
        out: &mut Vec<ModelEvent>,
    ) {
        if delta.is_empty() {
            return;
        }
        let position = self.position_or(at, || OpenItem::Message {
            text_blocks: HashMap::new(),
        });
        if let OpenItem::Message { text_blocks } = &mut self.items[position].1 {
            let assigned = text_blocks.entry(content_index.unwrap_or(0)).or_default();
            let index = self.text_blocks.index_for(assigned);
            out.push(ModelEvent::TextDelta { index, text: delta });
        }
    }

    fn reasoning_delta(
        &mut self,
        at: &ItemRef,
        summary_index: Option<u64>,
        delta: &str,
        out: &mut Vec<ModelEvent>,
    ) {
        let mut started = false;
        let position = self.position_or(at, || {
            started = true;
            OpenItem::Reasoning {
                text: String::new(),
                summary_index: None,
            }
        });
        if started {
            out.push(ModelEvent::ThinkingStarted);
        }
        if let OpenItem::Reasoning {
            text,
            summary_index: current,
        } = &mut self.items[position].1
        {
            // Separate summary parts the way OpenAI's own clients show them.
            if summary_index.is_some() && *current != summary_index && !text.is_empty() {
                text.push_str("\n\n");
            }
            *current = summary_index;
            text.push_str(delta);
        }
    }

    fn finish_item(
        &mut self,
        output_index: Option<u64>,
        item: WireItem,
        out: &mut Vec<ModelEvent>,
    ) {
        let at = ItemRef {
            item_id: item.id().map(str::to_owned),
            output_index,
        };
        let key = self.key(&at);
        let open = self
            .items
            .iter()
            .position(|(k, _)| *k == key)
            .map(|position| self.items.remove(position).1);
        self.close(open, Some(item), out);
    }

    /// Emits what a finished item completes, merging what was streamed with the final item.
    fn close(&mut self, open: Option<OpenItem>, done: Option<WireItem>, out: &mut Vec<ModelEvent>) {
        match (open, done) {
            (
                open @ (None | Some(OpenItem::FunctionCall { .. })),
                Some(WireItem::FunctionCall {
                    id,
                    call_id,
                    name,
                    arguments,
                }),
            ) => {
                let (open_id, open_name, open_args) = match open {
                    Some(OpenItem::FunctionCall {
                        call_id,
                        name,
                        arguments,
                    }) => (call_id, name, arguments),
                    _ => (None, String::new(), String::new()),
                };
                self.emit_call(
                    call_id.or(open_id).or(id),
                    name.filter(|n| !n.is_empty()).unwrap_or(open_name),
                    arguments
                        .filter(|a| !a.trim().is_empty())
                        .unwrap_or(open_args),
                    out,
                );
            }
            (
                Some(OpenItem::FunctionCall {
                    call_id,
                    name,
                    arguments,
                }),
                _,
            ) => {
                self.emit_call(call_id, name, arguments, out);
            }
            (
                open,
                Some(WireItem::Reasoning {
                    summary, content, ..
                }),
            ) => {
                let streamed = match open {
                    Some(OpenItem::Reasoning { text, .. }) => Some(text),
                    _ => None,
                };
                let was_started = streamed.is_some();
                let text = streamed
                    .filter(|text| !text.is_empty())
                    .unwrap_or_else(|| joined_texts(content.iter().flatten().chain(&summary)));
                if !was_started && text.is_empty() {
                    return; // an empty reasoning item the server never announced
                }
                if !was_started {
                    out.push(ModelEvent::ThinkingStarted);
                }
                out.push(ModelEvent::Thinking {
                    text,
                    signature: None,
                });
            }
            (Some(OpenItem::Reasoning { text, .. }), _) => out.push(ModelEvent::Thinking {
                text,
                signature: None,
            }),
            (open, Some(WireItem::Message { content, .. })) => {
                let streamed = matches!(&open, Some(OpenItem::Message { text_blocks }) if !text_blocks.is_empty());
                if !streamed {
                    // Servers that send the text only with the finished item.
                    for part in &content {
                        if let Some(text) = part.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            let index = self.text_blocks.index_for(&mut None);
                            out.push(ModelEvent::TextDelta {
                                index,
                                text: text.to_owned(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn emit_call(
        &mut self,
        call_id: Option<String>,
        name: String,
        arguments: String,
        out: &mut Vec<ModelEvent>,
    ) {
        self.saw_function_call = true;
        out.push(ModelEvent::ToolUse {
            id: call_id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(mint_tool_call_id),
            name,
            input: parse_tool_input(&arguments),
        });
    }

    fn finish(&mut self, response: WireResponse, out: &mut Vec<ModelEvent>) {
        for (_, open) in std::mem::take(&mut self.items) {
            self.close(Some(open), None, out);
        }
        let stop_reason = match response.incomplete_details.and_then(|d| d.reason) {
            Some(reason) if reason == "max_output_tokens" => StopReason::MaxTokens,
            Some(reason) if reason == "content_filter" => StopReason::Refusal,
            Some(reason) => StopReason::Other(reason),
            None if self.saw_function_call => StopReason::ToolUse,
            None if self.saw_refusal => StopReason::Refusal,
            None => StopReason::EndTurn,
        };
        let usage = response.usage.map_or_else(ModelUsage::default, |usage| {
            let cached = usage.input_tokens_details.map_or(0, |d| d.cached_tokens);
            ModelUsage {
                input_tokens: usage.input_tokens.saturating_sub(cached),
                output_tokens: usage.output_tokens,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: cached,
            }
        });
        out.push(ModelEvent::Finished { stop_reason, usage });
    }
}

fn joined_texts<'a>(parts: impl Iterator<Item = &'a Value>) -> String {
    let texts: Vec<&str> = parts
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .filter(|text| !text.is_empty())
        .collect();
    texts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn decode(payloads: &[Value]) -> Result<Vec<ModelEvent>, ModelError> {
        let mut decoder = ResponsesDecoder::default();
        let mut out = Vec::new();
        for payload in payloads {
            let event = SseEvent {
                event: payload["type"].as_str().map(str::to_owned),
                data: payload.to_string(),
            };
            decoder.decode(event, &mut out)?;
        }
        Ok(out)
    }

    /// llama-server's stream: item ids only, no `output_index`, reasoning as
    /// `reasoning_text`, function call items closed only in the final batch.
    #[test]
    fn decodes_a_llama_cpp_style_stream_without_output_indexes() {
        let events = decode(&[
            json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}),
            json!({"type": "response.output_item.added", "item": {"id": "rs_1", "type": "reasoning", "summary": [], "content": [], "encrypted_content": "", "status": "in_progress"}}),
            json!({"type": "response.reasoning_text.delta", "delta": "hmm", "item_id": "rs_1"}),
            json!({"type": "response.output_item.added", "item": {"id": "fc_A", "arguments": "", "call_id": "call_A", "name": "get_weather", "type": "function_call", "status": "in_progress"}}),
            json!({"type": "response.function_call_arguments.delta", "delta": "{\"city\":", "item_id": "fc_A"}),
            json!({"type": "response.function_call_arguments.delta", "delta": "\"Paris\"}", "item_id": "fc_A"}),
            json!({"type": "response.output_item.done", "item": {"id": "rs_1", "type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "hmm"}]}}),
            json!({"type": "response.output_item.done", "item": {"id": "fc_A", "type": "function_call", "status": "completed", "arguments": "{\"city\":\"Paris\"}", "call_id": "call_A", "name": "get_weather"}}),
            json!({"type": "response.completed", "response": {"status": "completed", "usage": {"input_tokens": 50, "output_tokens": 9, "total_tokens": 59, "input_tokens_details": {"cached_tokens": 20}}}}),
        ]);
        assert_eq!(
            events,
            Ok(vec![
                ModelEvent::ThinkingStarted,
                ModelEvent::Thinking {
                    text: "hmm".into(),
                    signature: None
                },
                ModelEvent::ToolUse {
                    id: "call_A".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Paris"})
                },
                ModelEvent::Finished {
                    stop_reason: StopReason::ToolUse,
                    usage: ModelUsage {
                        input_tokens: 30,
                        output_tokens: 9,
                        cache_creation_input_tokens: 0,
                        cache_read_input_tokens: 20
                    }
                },
            ])
        );
    }

    #[test]
    fn text_parts_number_text_blocks_and_unclosed_calls_close_at_completion() {
        let events = decode(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []}}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "a"}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 1, "delta": "b"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{}"}),
            json!({"type": "response.completed", "response": {"status": "completed"}}),
        ])
        .unwrap_or_default();
        assert_eq!(
            events[0],
            ModelEvent::TextDelta {
                index: 0,
                text: "a".into()
            }
        );
        assert_eq!(
            events[1],
            ModelEvent::TextDelta {
                index: 1,
                text: "b".into()
            }
        );
        assert!(
            matches!(&events[2], ModelEvent::ToolUse { id, input, .. } if id.starts_with("call_") && *input == json!({}))
        );
    }

    #[test]
    fn text_only_in_the_finished_item_is_not_lost() {
        let events = decode(&[
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"id": "msg_1", "type": "message", "content": [{"type": "output_text", "text": "whole"}]}}),
            json!({"type": "response.completed", "response": {}}),
        ])
        .unwrap_or_default();
        assert_eq!(
            events[0],
            ModelEvent::TextDelta {
                index: 0,
                text: "whole".into()
            }
        );
    }

    #[test]
    fn incomplete_for_max_tokens_is_max_tokens() {
        let events = decode(&[
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        assert_eq!(
            events,
            Ok(vec![ModelEvent::Finished {
                stop_reason: StopReason::MaxTokens,
                usage: ModelUsage::default()
            }])
        );
    }

    #[test]
    fn failed_and_error_events_fail_the_stream() {
        let failed = decode(&[
            json!({"type": "response.failed", "response": {"status": "failed", "error": {"code": "server_error", "message": "boom"}}}),
        ]);
        assert_eq!(
            failed,
            Err(ModelError::StreamBroken(
                "the provider reported an error: server_error: boom".into()
            ))
        );
        let limited = decode(&[
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow", "param": null}),
        ]);
        assert!(matches!(limited, Err(ModelError::RateLimited { .. })));
    }
}
