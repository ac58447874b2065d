//! The `ToolRuntime` port: where built-in tool calls (`bash`, `read`, `write`, `edit`,
//! `glob`, `grep`, `web_fetch`, `web_search`) execute. The harness decides *whether* a call
//! runs (permission policy, confirmations); a runtime only runs it. The embedded default is
//! the local sandbox (`hangar-sandbox` + `hangar-tools`); [`NoSandbox`] stands in when no
//! backend is configured and says so in every result.

use async_trait::async_trait;
use hangar_protocol::agent::BuiltinToolConfig;
use hangar_protocol::environment::Environment;
use tokio_util::sync::CancellationToken;

use crate::model::Block;

/// Where a call runs: the session and the environment it was created on.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolContext {
    pub session_id: String,
    pub environment: Environment,
}

/// One built-in tool call, as the model made it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The `agent.tool_use` event id.
    pub id: String,
    /// One of the built-in names (`bash`, `read`, …).
    pub name: String,
    /// The model's input, not yet validated (the runtime validates it and reports a bad
    /// input as a tool error).
    pub input: serde_json::Value,
    /// The agent's resolved config of this tool (web tools read their domain lists here).
    pub config: BuiltinToolConfig,
}

/// The result of a call as the model will see it. A failed command, a missing file or a bad
/// input is a *tool* error (`is_error: true` with a message that explains it), not an
/// [`ToolRuntimeError`].
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// `Text` and `Image` blocks only.
    pub content: Vec<Block>,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput {
            content: vec![Block::Text { text: text.into() }],
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        ToolOutput {
            content: vec![Block::Text { text: text.into() }],
            is_error: true,
        }
    }
}

/// Failures of the runtime itself: the call could not be executed at all. The harness
/// records a tool error result (so the transcript stays paired) and a `session.error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolRuntimeError {
    /// The session's environment could not be built (a package failed to install). The
    /// message names the package and the installer's output. Not retried by the harness.
    #[error("environment build failed: {0}")]
    EnvironmentBuild(String),
    /// The sandbox could not be started or was lost. Not retried by the harness.
    #[error("sandbox unavailable: {0}")]
    Sandbox(String),
}

#[async_trait]
pub trait ToolRuntime: Send + Sync + 'static {
    /// Runs `call` for the session in `ctx`. Provisions the session's sandbox on first use.
    /// When `cancel` fires the call stops promptly and returns an error output saying it was
    /// cancelled.
    async fn run(
        &self,
        ctx: &ToolContext,
        call: &ToolCall,
        cancel: CancellationToken,
    ) -> Result<ToolOutput, ToolRuntimeError>;

    /// The session went idle: stop its sandbox processes if the runtime wants to (files are
    /// kept). Must be cheap to call repeatedly.
    async fn session_idle(&self, session_id: &str);

    /// The session was deleted: stop everything and delete its files.
    async fn session_deleted(&self, session_id: &str);
}

/// The runtime used when no sandbox backend is configured: every call gets an explicit error
/// result, never a fake success.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSandbox;

#[async_trait]
impl ToolRuntime for NoSandbox {
    async fn run(
        &self,
        _ctx: &ToolContext,
        call: &ToolCall,
        _cancel: CancellationToken,
    ) -> Result<ToolOutput, ToolRuntimeError> {
        Ok(ToolOutput::error(format!(
            "The `{}` tool cannot run: this Hangar server has no sandbox backend configured, so \
             built-in tools are unavailable in this session.",
            call.name
        )))
    }

    async fn session_idle(&self, _session_id: &str) {}

    async fn session_deleted(&self, _session_id: &str) {}
}
