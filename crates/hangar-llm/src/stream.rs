//! The provider-neutral half of a response stream: [`DecodedStream`] pulls server-sent events
//! from the body, hands them to a per-provider [`StreamDecoder`] and enforces the port's
//! promise — events in order, exactly one `Finished` at the end, and an error (never a
//! shorter answer) when the body breaks or ends early. Also small helpers every decoder needs.

use std::collections::VecDeque;

use async_trait::async_trait;
use hangar_core::model::{ModelError, ModelEvent, ModelStream};
use serde_json::{Map, Value};

use crate::http::SseBody;
use crate::sse::SseEvent;

/// Turns one provider's server-sent events into [`ModelEvent`]s.
pub(crate) trait StreamDecoder: Send {
    /// Handles one event, pushing what it completes. Pushing [`ModelEvent::Finished`] ends
    /// the response: nothing after it is read.
    fn decode(&mut self, event: SseEvent, out: &mut Vec<ModelEvent>) -> Result<(), ModelError>;

    /// The body ended before `Finished`. A decoder for a lenient wire format may finish
    /// here; the default is the port's rule: the stream broke.
    fn end_of_body(&mut self, _out: &mut Vec<ModelEvent>) -> Result<(), ModelError> {
        Err(ModelError::StreamBroken(
            "the response ended before its final event".to_owned(),
        ))
    }
}

/// A [`ModelStream`] over an SSE body and a decoder.
pub(crate) struct DecodedStream<D> {
    body: SseBody,
    decoder: D,
    queue: VecDeque<ModelEvent>,
    /// `Finished` is queued: read no more of the body.
    complete: bool,
    /// An error was returned: the stream yields nothing more.
    failed: bool,
}

impl<D: StreamDecoder> DecodedStream<D> {
    pub fn new(body: SseBody, decoder: D) -> Self {
        DecodedStream {
            body,
            decoder,
            queue: VecDeque::new(),
            complete: false,
            failed: false,
        }
    }

    fn enqueue(&mut self, events: Vec<ModelEvent>) {
        for event in events {
            if self.complete {
                break; // anything after Finished is not part of this response
            }
            self.complete = matches!(event, ModelEvent::Finished { .. });
            self.queue.push_back(event);
        }
    }

    fn fail(&mut self, error: ModelError) -> Option<Result<ModelEvent, ModelError>> {
        self.failed = true;
        self.queue.clear();
        Some(Err(error))
    }
}

#[async_trait]
impl<D: StreamDecoder> ModelStream for DecodedStream<D> {
    async fn next(&mut self) -> Option<Result<ModelEvent, ModelError>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.complete {
                return None;
            }
            let mut out = Vec::new();
            let step = match self.body.next_event().await {
                Ok(Some(event)) => self.decoder.decode(event, &mut out),
                Ok(None) => self.decoder.end_of_body(&mut out).and_then(|()| {
                    if out.iter().any(|e| matches!(e, ModelEvent::Finished { .. })) {
                        Ok(())
                    } else {
                        Err(ModelError::StreamBroken(
                            "the response ended before its final event".to_owned(),
                        ))
                    }
                }),
                Err(error) => Err(error),
            };
            if let Err(error) = step {
                return self.fail(error);
            }
            self.enqueue(out);
        }
    }
}

/// Parses a JSON event payload; a payload that is not JSON breaks the stream.
pub(crate) fn parse_payload<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, ModelError> {
    serde_json::from_str(data).map_err(|error| {
        let preview: String = data.chars().take(200).collect();
        ModelError::StreamBroken(format!(
            "malformed event from the provider ({error}): {preview}"
        ))
    })
}

/// A tool call's complete input from its JSON text. Empty means `{}`. Text that is not a
/// JSON object (small local models produce such) is kept as `{"_raw_arguments": text}` so
/// the harness can tell the model its input was bad instead of failing the whole response.
pub(crate) fn parse_tool_input(raw: &str) -> Value {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(object @ Value::Object(_)) => object,
        Ok(Value::Null) => Value::Object(Map::new()),
        // Some servers encode the arguments twice.
        Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
            Ok(object @ Value::Object(_)) => object,
            _ => raw_arguments(raw),
        },
        _ => raw_arguments(raw),
    }
}

fn raw_arguments(raw: &str) -> Value {
    let mut object = Map::new();
    object.insert("_raw_arguments".to_owned(), Value::String(raw.to_owned()));
    Value::Object(object)
}

/// An id for a tool call whose provider sent none (some OpenAI-compatible servers).
pub(crate) fn mint_tool_call_id() -> String {
    format!("call_{}", uuid::Uuid::now_v7().simple())
}

/// Numbers text blocks as the port wants them: 0, 1, 2… in order of their first text, so a
/// block that never receives text takes no number.
#[derive(Debug, Default)]
pub(crate) struct TextBlockCounter {
    next: usize,
}

impl TextBlockCounter {
    /// The index for a block that already has `assigned` or is about to get its first text.
    pub fn index_for(&mut self, assigned: &mut Option<usize>) -> usize {
        *assigned.get_or_insert_with(|| {
            let index = self.next;
            self.next += 1;
            index
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn tool_input_is_parsed_leniently() {
        assert_eq!(parse_tool_input(""), json!({}));
        assert_eq!(parse_tool_input("  "), json!({}));
        assert_eq!(parse_tool_input("null"), json!({}));
        assert_eq!(
            parse_tool_input("{\"city\": \"Paris\"}"),
            json!({"city": "Paris"})
        );
        assert_eq!(
            parse_tool_input("\"{\\\"city\\\":\\\"Rome\\\"}\""),
            json!({"city": "Rome"})
        );
        assert_eq!(
            parse_tool_input("{\"city\": \"Par"),
            json!({"_raw_arguments": "{\"city\": \"Par"})
        );
        assert_eq!(parse_tool_input("[1]"), json!({"_raw_arguments": "[1]"}));
    }

    #[test]
    fn text_blocks_are_numbered_on_first_text() {
        let mut counter = TextBlockCounter::default();
        let (mut a, mut b) = (None, None);
        assert_eq!(counter.index_for(&mut a), 0);
        assert_eq!(counter.index_for(&mut a), 0);
        assert_eq!(counter.index_for(&mut b), 1);
    }

    #[test]
    fn minted_ids_are_unique() {
        assert_ne!(mint_tool_call_id(), mint_tool_call_id());
    }
}
