//! The harness (the "brain"): runs a session's turns from its log. A runner folds the log into
//! what it needs (the conversation, queued input, pending tool uses), asks the model, appends
//! what the model said, dispatches tool calls, appends their results, and repeats until the
//! turn ends. Nothing lives only in memory: any runner can pick a session up after a crash.
//!
//! # Layout
//! - [`state`]: the runtime state persisted beside the session row.
//! - [`transcript`]: the log folded into model messages.
//! - [`builtin_tools`]: what the model is told about the built-in tools.
//! - `catalog`: the session agent's tools resolved for one turn.
//! - `runner`: the session loop and the turn; `model_step`: one model request with previews
//!   and retries; `tool_calls`: permission checks and tool execution; `response`: assembly of
//!   a streamed response into events.

pub mod builtin_tools;
mod catalog;
mod model_step;
mod response;
pub(crate) mod runner;
pub mod state;
mod tool_calls;
pub mod transcript;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use crate::event_log::EventLog;
use crate::event_store::EventStore;
use crate::model::ModelClient;
use crate::pricing::PriceTable;
use crate::store::{Store, StoreError};
use crate::tool_runtime::ToolRuntime;

/// How model requests that fail with a retryable error are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (the first request included).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): the provider's `retry-after` when it
    /// gave one (capped), else exponential backoff.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(MAX_RETRY_AFTER);
        }
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Longest `retry-after` honoured; a provider asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Model requests in one turn before it ends with `tool_use_limit_reached_error`.
pub const MAX_MODEL_REQUESTS_PER_TURN: u32 = 200;
/// Text kept from one tool result; the rest is replaced by a note. The sandbox caps its
/// outputs far below this; this bound protects the log from any runtime.
pub const MAX_TOOL_RESULT_CHARS: usize = 200_000;
/// Output tokens requested per model call unless configured.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 8192;

#[derive(Debug, Clone)]
pub struct HarnessConfig {
    /// This node's lease owner name.
    pub owner: String,
    pub lease_ttl: Duration,
    pub retry: RetryPolicy,
    pub max_output_tokens: u32,
    pub max_requests_per_turn: u32,
    /// Model list prices: `usage.list_cost` and budgets.
    pub prices: Arc<PriceTable>,
}

impl HarnessConfig {
    pub fn new(owner: impl Into<String>) -> Self {
        HarnessConfig {
            owner: owner.into(),
            lease_ttl: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_output_tokens: DEFAULT_MAX_OUTPUT_TOKENS,
            max_requests_per_turn: MAX_MODEL_REQUESTS_PER_TURN,
            prices: Arc::new(PriceTable::default()),
        }
    }
}

/// Everything a runner uses, shared by all runners of this node.
pub struct Harness {
    pub log: EventLog,
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn EventStore>,
    pub model: Arc<dyn ModelClient>,
    pub tools: Arc<dyn ToolRuntime>,
    pub config: HarnessConfig,
}

/// Why a runner stopped working on a session before it ran out of work.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The store failed; the scheduler retries the session later.
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
    /// Another runner holds the session now; this one stops without writing.
    #[error("the session lease was lost")]
    LeaseLost,
    /// The session was deleted while the runner worked on it.
    #[error("the session no longer exists")]
    SessionGone,
    /// The server is shutting down; the turn resumes on the next start.
    #[error("shutting down")]
    Shutdown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap_and_honour_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        let delays: Vec<_> = (1..=4).map(|n| policy.delay(n, None)).collect();
        assert_eq!(
            delays,
            [100, 200, 350, 350].map(Duration::from_millis).to_vec()
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            MAX_RETRY_AFTER
        );
    }
}
