//! The script a [`super::MockModel`] replays: its serde types (the JSON format documented in
//! the module header) and builder helpers so Rust tests can write steps tersely. Rendering a
//! step into a wire format is the per-format modules' job.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An ordered queue of steps; every request to any endpoint takes the next one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl Script {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script {
            steps: steps.into_iter().collect(),
        }
    }

    /// Parses a script file: `{"steps": [...]}` or a bare array of steps.
    pub fn from_json(text: &str) -> Result<Script, serde_json::Error> {
        match serde_json::from_str::<Vec<Step>>(text) {
            Ok(steps) => Ok(Script { steps }),
            Err(_) => serde_json::from_str(text),
        }
    }
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// A complete, well-formed response.
    Response(ResponseStep),
    /// An HTTP error before any body.
    Error(ErrorStep),
    /// The first `after_events` events of `response`, then an in-stream error event when
    /// `error` is set, then a dropped connection (or a normal end with `clean_close`).
    BrokenStream(BrokenStreamStep),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseStep {
    #[serde(default)]
    pub content: Vec<ContentItem>,
    /// Anthropic vocabulary (`end_turn`, `tool_use`, `max_tokens`, `stop_sequence`,
    /// `refusal`), translated for the OpenAI formats. Default: `tool_use` when the content
    /// has a tool call, else `end_turn`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    /// Text, thinking and tool arguments are streamed in pieces of this many characters.
    #[serde(default)]
    pub chunk_chars: Option<usize>,
    /// Wait before sending the response headers.
    #[serde(default)]
    pub delay_ms: u64,
    /// Wait before each event after the first.
    #[serde(default)]
    pub event_delay_ms: u64,
}

/// A content block of a scripted response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentItem {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        /// Minted per wire format (`toolu_…`, `call_…`) when absent.
        #[serde(default)]
        id: Option<String>,
        name: String,
        input: Value,
    },
}

/// Token counts reported by the response; `input_tokens` excludes cached tokens, as in the
/// Anthropic format (the OpenAI formats report the total and the cached part).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorStep {
    pub status: u16,
    /// The provider's error type (`rate_limit_error`, `overloaded_error`…), put into the
    /// endpoint's own error envelope.
    #[serde(default = "default_error_type")]
    pub error_type: String,
    #[serde(default)]
    pub message: String,
    /// A raw body sent instead of the envelope (e.g. llama.cpp's OpenAI-shaped error on
    /// `/v1/messages`, or plain text).
    #[serde(default)]
    pub body: Option<Value>,
    /// `retry-after` header value, verbatim (seconds or an HTTP date).
    #[serde(default)]
    pub retry_after: Option<String>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_error_type() -> String {
    "api_error".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokenStreamStep {
    pub after_events: usize,
    #[serde(default)]
    pub error: Option<StreamError>,
    /// End the body normally after the events instead of dropping the connection: a
    /// well-framed but truncated stream, as a misbehaving proxy might produce.
    #[serde(default)]
    pub clean_close: bool,
    #[serde(default)]
    pub response: ResponseStep,
}

/// An error event sent inside the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamError {
    #[serde(rename = "type")]
    pub error_type: String,
    #[serde(default)]
    pub message: String,
}

impl Step {
    /// A response with one text block.
    pub fn text(text: &str) -> Step {
        Step::Response(ResponseStep::new(vec![ContentItem::text(text)]))
    }

    /// A response with these blocks.
    pub fn content(content: Vec<ContentItem>) -> Step {
        Step::Response(ResponseStep::new(content))
    }

    /// An HTTP error with the endpoint's envelope.
    pub fn http_error(status: u16, error_type: &str, message: &str) -> Step {
        Step::Error(ErrorStep {
            status,
            error_type: error_type.to_owned(),
            message: message.to_owned(),
            body: None,
            retry_after: None,
            retry_after_ms: None,
            delay_ms: 0,
        })
    }

    /// `response`, cut off after `after_events` events by dropping the connection.
    pub fn broken(after_events: usize, response: ResponseStep) -> Step {
        Step::BrokenStream(BrokenStreamStep {
            after_events,
            error: None,
            clean_close: false,
            response,
        })
    }

    /// `response`, cut off after `after_events` events by a normal end of the body.
    pub fn truncated(after_events: usize, response: ResponseStep) -> Step {
        Step::BrokenStream(BrokenStreamStep {
            after_events,
            error: None,
            clean_close: true,
            response,
        })
    }

    /// `response`, cut off after `after_events` events by an in-stream error event.
    pub fn stream_error(
        after_events: usize,
        error_type: &str,
        message: &str,
        response: ResponseStep,
    ) -> Step {
        Step::BrokenStream(BrokenStreamStep {
            after_events,
            error: Some(StreamError {
                error_type: error_type.to_owned(),
                message: message.to_owned(),
            }),
            clean_close: true,
            response,
        })
    }

    /// Sets `retry-after` on an error step (no effect on other steps).
    pub fn with_retry_after(mut self, value: &str) -> Step {
        if let Step::Error(error) = &mut self {
            error.retry_after = Some(value.to_owned());
        }
        self
    }
}

impl ResponseStep {
    pub fn new(content: Vec<ContentItem>) -> ResponseStep {
        ResponseStep {
            content,
            ..ResponseStep::default()
        }
    }

    pub fn stop_reason(mut self, reason: &str) -> Self {
        self.stop_reason = Some(reason.to_owned());
        self
    }

    pub fn usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    pub fn chunk_chars(mut self, chars: usize) -> Self {
        self.chunk_chars = Some(chars);
        self
    }

    pub fn event_delay_ms(mut self, millis: u64) -> Self {
        self.event_delay_ms = millis;
        self
    }

    pub fn delay_ms(mut self, millis: u64) -> Self {
        self.delay_ms = millis;
        self
    }

    /// The stop reason to report, in Anthropic vocabulary.
    pub(crate) fn effective_stop_reason(&self) -> String {
        if let Some(reason) = &self.stop_reason {
            return reason.clone();
        }
        let has_tool_use = self
            .content
            .iter()
            .any(|item| matches!(item, ContentItem::ToolUse { .. }));
        if has_tool_use { "tool_use" } else { "end_turn" }.to_owned()
    }

    /// Pieces to stream `text` in (at least one, even for empty text).
    pub(crate) fn chunks(&self, text: &str) -> Vec<String> {
        let size = self.chunk_chars.unwrap_or(DEFAULT_CHUNK_CHARS).max(1);
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return vec![String::new()];
        }
        chars
            .chunks(size)
            .map(|piece| piece.iter().collect())
            .collect()
    }
}

const DEFAULT_CHUNK_CHARS: usize = 6;

impl ContentItem {
    pub fn text(text: &str) -> ContentItem {
        ContentItem::Text {
            text: text.to_owned(),
        }
    }

    pub fn thinking(thinking: &str, signature: &str) -> ContentItem {
        ContentItem::Thinking {
            thinking: thinking.to_owned(),
            signature: Some(signature.to_owned()),
        }
    }

    pub fn tool_use(id: &str, name: &str, input: Value) -> ContentItem {
        ContentItem::ToolUse {
            id: Some(id.to_owned()),
            name: name.to_owned(),
            input,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_step_kind_and_rejects_typos() {
        let script = Script::from_json(
            &json!({"steps": [
                {"type": "response", "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "hi"},
                    {"type": "tool_use", "name": "bash", "input": {"command": "ls"}},
                ], "usage": {"input_tokens": 3}},
                {"type": "error", "status": 429, "error_type": "rate_limit_error", "retry_after": "2"},
                {"type": "broken_stream", "after_events": 2, "response": {"content": [{"type": "text", "text": "x"}]}},
            ]})
            .to_string(),
        )
        .unwrap();
        assert_eq!(script.steps.len(), 3);
        assert!(Script::from_json(r#"[{"type": "response", "contnet": []}]"#).is_err());
        assert_eq!(
            Script::from_json(r#"[{"type": "response"}]"#)
                .unwrap()
                .steps
                .len(),
            1
        );
    }

    #[test]
    fn chunks_split_on_characters() {
        let step = ResponseStep::default().chunk_chars(2);
        assert_eq!(step.chunks("héllo"), vec!["hé", "ll", "o"]);
        assert_eq!(step.chunks(""), vec![""]);
    }
}
