//! What a provider wire format must provide to the mock server: a scripted response as a
//! list of SSE frames and as a non-streaming JSON body, and its error envelopes. One
//! implementation per format lives next to this file.

use axum::body::Bytes;
use serde_json::Value;

use super::script::ResponseStep;

/// Per-response facts a renderer needs.
#[derive(Debug, Clone)]
pub(crate) struct RenderContext {
    /// The `model` of the request, echoed back as providers do.
    pub model: String,
    /// A number unique to this response within the server, for ids.
    pub sequence: u64,
    /// Chat Completions only: the request asked for `stream_options.include_usage`.
    pub include_usage: bool,
    /// Seconds since the epoch, for `created` fields.
    pub created: u64,
}

pub(crate) trait WireFormat: Send + Sync + 'static {
    /// The complete event sequence, one SSE frame (`event:`/`data:` lines + blank line) each.
    fn stream_frames(&self, response: &ResponseStep, ctx: &RenderContext) -> Vec<Bytes>;
    /// The response as the endpoint returns it when `stream` is false or absent.
    fn json_response(&self, response: &ResponseStep, ctx: &RenderContext) -> Value;
    /// The endpoint's HTTP error body.
    fn error_body(&self, error_type: &str, message: &str) -> Value;
    /// An error event inside a stream.
    fn stream_error_frame(&self, error_type: &str, message: &str) -> Bytes;
}

/// `event: NAME` + `data: JSON` frame (Anthropic, Responses).
pub(crate) fn named_frame(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// A bare `data: …` frame (Chat Completions).
pub(crate) fn data_frame(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}
