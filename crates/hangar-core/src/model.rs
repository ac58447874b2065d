//! The `ModelClient` port: one streamed request to a language model, in provider-neutral
//! terms. Adapters (`hangar-llm`) translate [`ModelRequest`] into a provider's wire format and
//! the provider's stream back into [`ModelEvent`]s. Retrying is the harness's job (it records
//! every attempt in the session log); adapters only classify failures ([`ModelError`]).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One request: the whole conversation so far, the tools on offer and the output budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    /// The agent's model id as configured (`claude-sonnet-4-6`, `local/qwen2.5-coder`); the
    /// router picks a provider from it and passes the provider-local id on.
    pub model: String,
    pub system: Option<String>,
    /// Alternating user/assistant turns; the first is a user turn.
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// A content block of a message. Not every provider accepts every block; adapters convert
/// what they can (an image for a text-only provider becomes a short text note) and never
/// drop a tool call or tool result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: MediaSource,
    },
    Document {
        source: MediaSource,
        title: Option<String>,
    },
    /// Model reasoning, replayed to providers that require it with tool use (Anthropic
    /// extended thinking needs the signature back).
    Thinking {
        text: String,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: serde_json::Value,
    },
    ToolResult {
        tool_use_id: String,
        /// Only `Text`, `Image` and `Document` blocks.
        content: Vec<Block>,
        is_error: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// Plain text document content.
    Text {
        data: String,
    },
}

/// A tool the model may call: name, description and JSON Schema of its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
}

/// What a model stream yields, in order. A well-formed stream ends with exactly one
/// [`ModelEvent::Finished`]; a stream that ends without it is an error
/// ([`ModelError::StreamBroken`]), never a silently shorter answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    /// A thinking block began (lets previews show `agent.thinking` early).
    ThinkingStarted,
    /// A thinking block, complete.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// A redacted thinking block, complete.
    RedactedThinking { data: String },
    /// Text appended to text block `index` of this response (0-based, counting text blocks
    /// only; a new index opens a new block).
    TextDelta { index: usize, text: String },
    /// A tool call with its complete, parsed input.
    ToolUse {
        id: String,
        name: String,
        input: serde_json::Value,
    },
    /// The response is complete.
    Finished {
        stop_reason: StopReason,
        usage: ModelUsage,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    Refusal,
    /// A provider reason we do not know, kept verbatim.
    Other(String),
}

/// Token counts of one response. `input_tokens` excludes cached tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl ModelUsage {
    pub fn add(&mut self, other: &ModelUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }
}

/// Why a model request failed. [`ModelError::is_retryable`] decides whether the harness tries
/// again (after [`ModelError::retry_after`] when the provider said so).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// No connection, or it failed before the response began (DNS, refused, timeout). Retried.
    #[error("cannot reach the model provider: {0}")]
    Connect(String),
    /// 429 from the provider. Retried, honouring `retry-after`.
    #[error("the model provider is rate limiting requests: {message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// 529, 503 or a provider `overloaded_error`. Retried, honouring `retry-after`.
    #[error("the model provider is overloaded: {message}")]
    Overloaded {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Any other 5xx. Retried, honouring `retry-after`.
    #[error("the model provider failed with HTTP {status}: {message}")]
    Server {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// 401/403: the credential is missing or wrong. Not retried.
    #[error("the model provider rejected the credentials (HTTP {status}): {message}")]
    Authentication { status: u16, message: String },
    /// 402 or a billing error. Not retried.
    #[error("the model provider refused for billing reasons: {message}")]
    Billing { message: String },
    /// 400/404/413/422: the request itself is wrong (unknown model, context too long). Not
    /// retried.
    #[error("the model provider rejected the request (HTTP {status}): {message}")]
    InvalidRequest { status: u16, message: String },
    /// The stream began but broke: connection lost, malformed data, an error event, or no
    /// final event. Retried (nothing of the broken response is kept).
    #[error("the model response stream broke: {0}")]
    StreamBroken(String),
    /// No provider is configured for the model, or its settings are unusable. Not retried.
    #[error("{0}")]
    Config(String),
}

impl ModelError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ModelError::Connect(_)
                | ModelError::RateLimited { .. }
                | ModelError::Overloaded { .. }
                | ModelError::Server { .. }
                | ModelError::StreamBroken(_)
        )
    }

    /// The delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ModelError::RateLimited { retry_after, .. }
            | ModelError::Overloaded { retry_after, .. }
            | ModelError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A response in progress. Dropping it cancels the request.
#[async_trait]
pub trait ModelStream: Send {
    /// The next event; `None` after [`ModelEvent::Finished`] or after an error.
    async fn next(&mut self) -> Option<Result<ModelEvent, ModelError>>;
}

/// The port to language models.
#[async_trait]
pub trait ModelClient: Send + Sync + 'static {
    /// Sends `request` and returns the response stream once the provider has accepted it.
    /// Failures before the first byte of the response (HTTP status, connection) come back
    /// here; failures after it come from the stream.
    async fn stream(&self, request: ModelRequest) -> Result<Box<dyn ModelStream>, ModelError>;

    /// Whether `model` can be routed to a configured provider; the error says why not and
    /// what to configure. Called when an agent is created or its model changes.
    fn check_model(&self, model: &str) -> Result<(), String>;
}
