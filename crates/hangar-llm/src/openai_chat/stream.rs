//! Decodes Chat Completions chunks (`data: {...}` lines, `data: [DONE]`) into
//! [`ModelEvent`]s. Deliberately lenient, because OpenAI-compatible servers (llama.cpp,
//! Ollama, vLLM) differ in details: missing ids and indexes, empty `choices`, `null` fields,
//! `reasoning_content` or `reasoning`, arguments as objects, no `[DONE]` after the finish.

use std::collections::BTreeMap;

use hangar_core::model::{ModelError, ModelEvent, ModelUsage, StopReason};
use serde::Deserialize;
use serde_json::Value;

use crate::provider_error::{ProviderError, error_from_stream};
use crate::sse::SseEvent;
use crate::stream::{StreamDecoder, mint_tool_call_id, parse_payload, parse_tool_input};

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// llama.cpp, DeepSeek, older vLLM.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Ollama, newer vLLM.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Deserialize)]
struct PromptTokensDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
pub(crate) struct ChatDecoder {
    /// Reasoning text of the thinking block in progress.
    reasoning: Option<String>,
    /// Tool calls by their `index`, assembled across deltas.
    calls: BTreeMap<u64, PartialCall>,
    last_call_index: Option<u64>,
    finish_reason: Option<String>,
    usage: ModelUsage,
}

impl StreamDecoder for ChatDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<ModelEvent>) -> Result<(), ModelError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.finish(out);
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let value: Value = parse_payload(data)?;
        if let Some(error) = ProviderError::from_json(&value) {
            return Err(error_from_stream(&error));
        }
        let chunk: Chunk = serde_json::from_value(value).map_err(|e| {
            ModelError::StreamBroken(format!("malformed chunk from the provider: {e}"))
        })?;
        if let Some(usage) = chunk.usage {
            self.record_usage(usage);
        }
        // We ask for one choice; servers that send more would be answering a different request.
        if let Some(choice) = chunk.choices.unwrap_or_default().into_iter().next() {
            self.apply_delta(choice.delta.unwrap_or_default(), out);
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.finish_reason = Some(reason);
            }
        }
        Ok(())
    }

    /// Some servers close the body right after the finishing chunk without `[DONE]`; the
    /// answer is complete then. Without a finish reason it is not.
    fn end_of_body(&mut self, out: &mut Vec<ModelEvent>) -> Result<(), ModelError> {
        if self.finish_reason.is_none() {
            return Err(ModelError::StreamBroken(
                "the response ended before a finish_reason or [DONE]".to_owned(),
            ));
        }
        self.finish(out);
        Ok(())
    }
}

impl ChatDecoder {
    fn apply_delta(&mut self, delta: Delta, out: &mut Vec<ModelEvent>) {
        if let Some(reasoning) = delta.reasoning_content.or(delta.reasoning)
            && !reasoning.is_empty()
        {
            self.reasoning
                .get_or_insert_with(|| {
                    out.push(ModelEvent::ThinkingStarted);
                    String::new()
                })
                .push_str(&reasoning);
        }
        if let Some(text) = delta.content.filter(|text| !text.is_empty()) {
            self.close_reasoning(out);
            // One text stream per choice: always text block 0.
            out.push(ModelEvent::TextDelta { index: 0, text });
        }
        for call in delta.tool_calls.unwrap_or_default() {
            self.close_reasoning(out);
            self.apply_tool_call_delta(call);
        }
    }

    fn apply_tool_call_delta(&mut self, delta: ToolCallDelta) {
        let index = delta
            .index
            .unwrap_or_else(|| self.index_without_one(delta.id.as_deref()));
        self.last_call_index = Some(index);
        let call = self.calls.entry(index).or_default();
        if let Some(id) = delta.id.filter(|id| !id.is_empty()) {
            call.id = Some(id);
        }
        let Some(function) = delta.function else {
            return;
        };
        if let Some(name) = function.name {
            // Names normally come once; servers that repeat them send the same whole name.
            if !call.name.ends_with(&name) {
                call.name.push_str(&name);
            }
        }
        match function.arguments {
            Some(Value::String(piece)) => call.arguments.push_str(&piece),
            Some(Value::Null) | None => {}
            Some(whole) => call.arguments = whole.to_string(),
        }
    }

    /// For servers that omit `index`: a new id opens a new call, otherwise the delta continues
    /// the last one.
    fn index_without_one(&self, id: Option<&str>) -> u64 {
        match (self.last_call_index, id) {
            (None, _) => 0,
            (Some(last), Some(id)) => {
                let same = self.calls.get(&last).and_then(|c| c.id.as_deref()) == Some(id);
                if same { last } else { last + 1 }
            }
            (Some(last), None) => last,
        }
    }

    fn close_reasoning(&mut self, out: &mut Vec<ModelEvent>) {
        if let Some(text) = self.reasoning.take() {
            out.push(ModelEvent::Thinking {
                text,
                signature: None,
            });
        }
    }

    fn record_usage(&mut self, usage: Usage) {
        let cached = usage
            .prompt_tokens_details
            .and_then(|details| details.cached_tokens)
            .unwrap_or(0);
        let prompt = usage.prompt_tokens.unwrap_or(0);
        self.usage = ModelUsage {
            input_tokens: prompt.saturating_sub(cached),
            output_tokens: usage.completion_tokens.unwrap_or(0),
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
        };
    }

    fn finish(&mut self, out: &mut Vec<ModelEvent>) {
        self.close_reasoning(out);
        let has_calls = !self.calls.is_empty();
        for call in std::mem::take(&mut self.calls).into_values() {
            out.push(ModelEvent::ToolUse {
                id: call.id.unwrap_or_else(mint_tool_call_id),
                name: call.name,
                input: parse_tool_input(&call.arguments),
            });
        }
        let mut stop_reason = match self.finish_reason.as_deref() {
            Some("stop") | None => StopReason::EndTurn,
            Some("length") => StopReason::MaxTokens,
            Some("tool_calls" | "function_call") => StopReason::ToolUse,
            Some("content_filter") => StopReason::Refusal,
            Some(other) => StopReason::Other(other.to_owned()),
        };
        // Some servers say `stop` even when the answer is tool calls.
        if has_calls && stop_reason == StopReason::EndTurn {
            stop_reason = StopReason::ToolUse;
        }
        out.push(ModelEvent::Finished {
            stop_reason,
            usage: self.usage,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn decode(lines: &[&str], end_of_body: bool) -> Result<Vec<ModelEvent>, ModelError> {
        let mut decoder = ChatDecoder::default();
        let mut out = Vec::new();
        for line in lines {
            let event = SseEvent {
                event: None,
                data: (*line).to_owned(),
            };
            decoder.decode(event, &mut out)?;
        }
        if end_of_body {
            decoder.end_of_body(&mut out)?;
        }
        Ok(out)
    }

    /// The chunk sequence llama-server sends for a tool call (local-model.md §2.3).
    #[test]
    fn assembles_a_llama_cpp_style_tool_call() {
        let events = decode(
            &[
                r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1,"id":"chatcmpl-x","model":"qwen","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}"#,
                r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"tool_calls":[{"index":0,"id":"Xy12","type":"function","function":{"name":"get_weather","arguments":"{"}}]}}],"object":"chat.completion.chunk"}"#,
                r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"city\": "}}]}}],"object":"chat.completion.chunk"}"#,
                r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}],"object":"chat.completion.chunk"}"#,
                r#"{"choices":[{"finish_reason":"tool_calls","index":0,"delta":{}}],"object":"chat.completion.chunk"}"#,
                r#"{"choices":[],"usage":{"completion_tokens":12,"prompt_tokens":165,"total_tokens":177},"timings":{"predicted_n":12},"object":"chat.completion.chunk"}"#,
                "[DONE]",
            ],
            false,
        );
        assert_eq!(
            events,
            Ok(vec![
                ModelEvent::ToolUse {
                    id: "Xy12".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Paris"})
                },
                ModelEvent::Finished {
                    stop_reason: StopReason::ToolUse,
                    usage: ModelUsage {
                        input_tokens: 165,
                        output_tokens: 12,
                        ..ModelUsage::default()
                    }
                },
            ])
        );
    }

    #[test]
    fn streams_text_and_reasoning_with_cached_usage() {
        let events = decode(
            &[
                r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
                r#"{"choices":[{"delta":{"reasoning_content":"think"}}]}"#,
                r#"{"choices":[{"delta":{"reasoning":"ing"}}]}"#,
                r#"{"choices":[{"delta":{"content":"Hel"}}]}"#,
                r#"{"choices":[{"delta":{"content":"lo"},"finish_reason":"length"}],"usage":null}"#,
                r#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":60}}}"#,
                "[DONE]",
            ],
            false,
        );
        assert_eq!(
            events,
            Ok(vec![
                ModelEvent::ThinkingStarted,
                ModelEvent::Thinking {
                    text: "thinking".into(),
                    signature: None
                },
                ModelEvent::TextDelta {
                    index: 0,
                    text: "Hel".into()
                },
                ModelEvent::TextDelta {
                    index: 0,
                    text: "lo".into()
                },
                ModelEvent::Finished {
                    stop_reason: StopReason::MaxTokens,
                    usage: ModelUsage {
                        input_tokens: 40,
                        output_tokens: 5,
                        cache_creation_input_tokens: 0,
                        cache_read_input_tokens: 60
                    }
                },
            ])
        );
    }

    #[test]
    fn tolerates_missing_ids_indexes_and_done_and_keeps_bad_arguments() {
        let events = decode(
            &[
                r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"a","arguments":"{\"x\":1}"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"id":"second","function":{"name":"b","arguments":"{oops"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"id":"third","function":{"name":"c","arguments":{"y":2}}}]}}]}"#,
                r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
            ],
            true,
        )
        .unwrap_or_default();
        assert_eq!(events.len(), 4);
        assert!(
            matches!(&events[0], ModelEvent::ToolUse { id, name, input } if id.starts_with("call_") && name == "a" && *input == json!({"x": 1}))
        );
        assert_eq!(
            events[1],
            ModelEvent::ToolUse {
                id: "second".into(),
                name: "b".into(),
                input: json!({"_raw_arguments": "{oops"})
            }
        );
        assert_eq!(
            events[2],
            ModelEvent::ToolUse {
                id: "third".into(),
                name: "c".into(),
                input: json!({"y": 2})
            }
        );
        assert!(matches!(
            events[3],
            ModelEvent::Finished {
                stop_reason: StopReason::ToolUse,
                ..
            }
        ));
    }

    #[test]
    fn several_tool_calls_interleaved_by_index() {
        let events = decode(
            &[
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c0","function":{"name":"read","arguments":""}},{"index":1,"id":"c1","function":{"name":"glob","arguments":"{\"p"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\":1}"}}]}}]}"#,
                r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
                "[DONE]",
            ],
            false,
        );
        let calls: Vec<(String, Value)> = events
            .unwrap_or_default()
            .into_iter()
            .filter_map(|event| match event {
                ModelEvent::ToolUse { id, input, .. } => Some((id, input)),
                _ => None,
            })
            .collect();
        assert_eq!(
            calls,
            vec![("c0".into(), json!({})), ("c1".into(), json!({"p": 1}))]
        );
    }

    #[test]
    fn error_object_in_a_data_line_fails_the_stream() {
        let result = decode(
            &[
                r#"{"error":{"message":"The model produced output that does not match","type":"server_error","code":500}}"#,
            ],
            false,
        );
        assert!(
            matches!(result, Err(ModelError::StreamBroken(message)) if message.contains("does not match"))
        );
    }

    #[test]
    fn body_ending_without_finish_is_broken() {
        let result = decode(&[r#"{"choices":[{"delta":{"content":"Hel"}}]}"#], true);
        assert!(matches!(result, Err(ModelError::StreamBroken(_))));
    }

    #[test]
    fn not_json_is_broken() {
        assert!(matches!(
            decode(&["{nope"], false),
            Err(ModelError::StreamBroken(_))
        ));
    }
}
