//! Model adapters for Hangar: each turns a provider's streamed HTTP API into the
//! provider-neutral [`hangar_core::model::ModelStream`] of the `ModelClient` port. Adapters classify
//! failures ([`hangar_core::model::ModelError`]); retrying is the harness's job.
//!
//! # Layout
//! - [`router`]: [`ModelRouter`], the `ModelClient` the harness uses; picks a provider by model id.
//! - [`config`]: [`ProvidersConfig`] (the TOML section) and its resolution against the environment.
//! - [`anthropic`], [`openai_chat`], [`openai_responses`]: one adapter per wire format, each a
//!   request builder plus a stream decoder.
//! - `http`: reqwest client (rustls + ring), the POST that opens a stream, timeouts.
//! - `sse`: the server-sent-events line parser all adapters share.
//! - `stream`: the decoder driver that guarantees exactly one `Finished` or an error.
//! - `provider_error`: HTTP statuses, error bodies and `retry-after` → `ModelError`.

pub mod anthropic;
pub mod config;
mod http;
pub mod openai_chat;
pub mod openai_responses;
mod openai_shared;
mod provider_error;
pub mod router;
mod sse;
mod stream;

pub use anthropic::AnthropicClient;
pub use config::{ConfigError, ProviderConfig, ProviderKind, ProvidersConfig};
pub use http::{
    ApiKey, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, HttpSettings, ProviderSettings,
};
pub use openai_chat::OpenAiChatClient;
pub use openai_responses::OpenAiResponsesClient;
pub use router::{ModelRouter, RoutedModel};
