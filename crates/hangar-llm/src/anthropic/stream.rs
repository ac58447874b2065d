//! Decodes the Anthropic Messages event stream (`message_start`, `content_block_*`,
//! `message_delta`, `message_stop`, `ping`, `error`) into [`ModelEvent`]s. Blocks are tracked
//! by their wire index; thinking and tool calls are emitted whole when their block stops.

use std::collections::HashMap;

use hangar_core::model::{ModelError, ModelEvent, ModelUsage, StopReason};
use serde::Deserialize;
use serde_json::Value;

use crate::provider_error::{ProviderError, error_from_stream};
use crate::sse::SseEvent;
use crate::stream::{StreamDecoder, TextBlockCounter, parse_payload, parse_tool_input};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    MessageStart {
        message: WireMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: WireBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: WireDelta,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        delta: WireMessageDelta,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// Counts as sent; `message_delta` repeats them cumulatively, so later values replace earlier.
#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireDelta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct WireMessageDelta {
    stop_reason: Option<String>,
}

/// A content block between its start and stop.
#[derive(Debug)]
enum OpenBlock {
    Text {
        text_index: Option<usize>,
    },
    Thinking {
        text: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        json: String,
        /// Input given whole in `content_block_start` (no provider does this today; kept so
        /// a non-empty start input is not lost when no deltas follow).
        start_input: Value,
    },
    /// A block kind we do not model (server tools): its deltas are ignored.
    Ignored,
}

#[derive(Debug, Default)]
pub(crate) struct AnthropicDecoder {
    blocks: HashMap<u64, OpenBlock>,
    text_blocks: TextBlockCounter,
    usage: ModelUsage,
    stop_reason: Option<StopReason>,
}

impl StreamDecoder for AnthropicDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<ModelEvent>) -> Result<(), ModelError> {
        match parse_payload::<WireEvent>(&event.data)? {
            WireEvent::MessageStart { message } => self.add_usage(message.usage),
            WireEvent::ContentBlockStart {
                index,
                content_block,
            } => self.start_block(index, content_block, out),
            WireEvent::ContentBlockDelta { index, delta } => self.apply_delta(index, delta, out)?,
            WireEvent::ContentBlockStop { index } => self.stop_block(index, out)?,
            WireEvent::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    self.stop_reason = Some(stop_reason(&reason));
                }
                self.add_usage(usage);
            }
            WireEvent::MessageStop => out.push(ModelEvent::Finished {
                stop_reason: self.stop_reason.clone().unwrap_or(StopReason::EndTurn),
                usage: self.usage,
            }),
            WireEvent::Error { error } => {
                let wrapped = serde_json::json!({ "error": error });
                let error = ProviderError::from_json(&wrapped).unwrap_or_default();
                return Err(error_from_stream(&error));
            }
            WireEvent::Ping | WireEvent::Unknown => {}
        }
        Ok(())
    }
}

impl AnthropicDecoder {
    fn add_usage(&mut self, usage: Option<WireUsage>) {
        let Some(usage) = usage else { return };
        let slots = [
            (usage.input_tokens, &mut self.usage.input_tokens),
            (usage.output_tokens, &mut self.usage.output_tokens),
            (
                usage.cache_creation_input_tokens,
                &mut self.usage.cache_creation_input_tokens,
            ),
            (
                usage.cache_read_input_tokens,
                &mut self.usage.cache_read_input_tokens,
            ),
        ];
        for (value, slot) in slots {
            if let Some(value) = value {
                *slot = value;
            }
        }
    }

    fn start_block(&mut self, index: u64, block: WireBlock, out: &mut Vec<ModelEvent>) {
        let open = match block {
            WireBlock::Text { text } => {
                let mut text_index = None;
                if !text.is_empty() {
                    let index = self.text_blocks.index_for(&mut text_index);
                    out.push(ModelEvent::TextDelta { index, text });
                }
                OpenBlock::Text { text_index }
            }
            WireBlock::Thinking {
                thinking,
                signature,
            } => {
                out.push(ModelEvent::ThinkingStarted);
                OpenBlock::Thinking {
                    text: thinking,
                    signature,
                }
            }
            WireBlock::RedactedThinking { data } => OpenBlock::RedactedThinking { data },
            WireBlock::ToolUse { id, name, input } => OpenBlock::ToolUse {
                id,
                name,
                json: String::new(),
                start_input: input,
            },
            WireBlock::Unknown => OpenBlock::Ignored,
        };
        self.blocks.insert(index, open);
    }

    fn apply_delta(
        &mut self,
        index: u64,
        delta: WireDelta,
        out: &mut Vec<ModelEvent>,
    ) -> Result<(), ModelError> {
        let Some(block) = self.blocks.get_mut(&index) else {
            return Err(unknown_block(index));
        };
        match (block, delta) {
            (OpenBlock::Text { text_index }, WireDelta::TextDelta { text }) => {
                if !text.is_empty() {
                    let index = self.text_blocks.index_for(text_index);
                    out.push(ModelEvent::TextDelta { index, text });
                }
            }
            (OpenBlock::Thinking { text, .. }, WireDelta::ThinkingDelta { thinking }) => {
                text.push_str(&thinking);
            }
            (
                OpenBlock::Thinking { signature, .. },
                WireDelta::SignatureDelta { signature: part },
            ) => {
                signature.push_str(&part);
            }
            (OpenBlock::ToolUse { json, .. }, WireDelta::InputJsonDelta { partial_json }) => {
                json.push_str(&partial_json);
            }
            (OpenBlock::Ignored, _) | (_, WireDelta::Unknown) => {}
            (block, delta) => {
                return Err(ModelError::StreamBroken(format!(
                    "delta {delta:?} does not fit content block {index} ({block:?})"
                )));
            }
        }
        Ok(())
    }

    fn stop_block(&mut self, index: u64, out: &mut Vec<ModelEvent>) -> Result<(), ModelError> {
        let Some(block) = self.blocks.remove(&index) else {
            return Err(unknown_block(index));
        };
        match block {
            OpenBlock::Thinking { text, signature } => out.push(ModelEvent::Thinking {
                text,
                signature: (!signature.is_empty()).then_some(signature),
            }),
            OpenBlock::RedactedThinking { data } => out.push(ModelEvent::RedactedThinking { data }),
            OpenBlock::ToolUse {
                id,
                name,
                json,
                start_input,
            } => {
                let input = match start_input {
                    Value::Object(object) if json.trim().is_empty() && !object.is_empty() => {
                        Value::Object(object)
                    }
                    _ => parse_tool_input(&json),
                };
                out.push(ModelEvent::ToolUse { id, name, input });
            }
            OpenBlock::Text { .. } | OpenBlock::Ignored => {}
        }
        Ok(())
    }
}

fn unknown_block(index: u64) -> ModelError {
    ModelError::StreamBroken(format!(
        "event for content block {index}, which is not open"
    ))
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "refusal" => StopReason::Refusal,
        other => StopReason::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn decode_all(payloads: &[Value]) -> Result<Vec<ModelEvent>, ModelError> {
        let mut decoder = AnthropicDecoder::default();
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

    #[test]
    fn decodes_thinking_text_and_tool_use_with_cumulative_usage() {
        let events = decode_all(&[
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 10, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 4, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "see."}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"command\": "}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"ls\"}"}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "noop", "input": {}}}),
            json!({"type": "content_block_stop", "index": 3}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 42}}),
            json!({"type": "message_stop"}),
        ]);
        assert_eq!(
            events,
            Ok(vec![
                ModelEvent::ThinkingStarted,
                ModelEvent::Thinking {
                    text: "Let me see.".into(),
                    signature: Some("sig==".into())
                },
                ModelEvent::TextDelta {
                    index: 0,
                    text: "Hi".into()
                },
                ModelEvent::ToolUse {
                    id: "toolu_1".into(),
                    name: "bash".into(),
                    input: json!({"command": "ls"})
                },
                ModelEvent::ToolUse {
                    id: "toolu_2".into(),
                    name: "noop".into(),
                    input: json!({})
                },
                ModelEvent::Finished {
                    stop_reason: StopReason::ToolUse,
                    usage: ModelUsage {
                        input_tokens: 10,
                        output_tokens: 42,
                        cache_creation_input_tokens: 3,
                        cache_read_input_tokens: 4
                    }
                },
            ])
        );
    }

    #[test]
    fn delta_for_a_block_that_was_never_started_breaks_the_stream() {
        let result = decode_all(&[
            json!({"type": "content_block_delta", "index": 5, "delta": {"type": "text_delta", "text": "x"}}),
        ]);
        assert!(matches!(result, Err(ModelError::StreamBroken(_))));
    }

    #[test]
    fn overloaded_error_event_is_overloaded() {
        let result = decode_all(&[
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ]);
        assert!(matches!(result, Err(ModelError::Overloaded { .. })));
    }

    #[test]
    fn unknown_stop_reason_is_kept_verbatim() {
        assert_eq!(
            stop_reason("pause_turn"),
            StopReason::Other("pause_turn".into())
        );
    }
}
