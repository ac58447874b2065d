//! The harness's per-session runtime state that must outlive a runner: whether a turn is in
//! flight (crash recovery needs to know) and which tool uses wait for the client. Stored as
//! JSON beside the session row and written in the same transaction as the events that change
//! it; everything else a runner knows is rebuilt from the log.

use hangar_protocol::environment::Environment;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimeState {
    /// A turn is in flight: `session.status_running` was appended and no idle since. A runner
    /// that finds this set on start recovers the turn (the previous runner died).
    #[serde(default)]
    pub turn_open: bool,
    /// Tool uses the session waits on (`requires_action`), in the order the model made them.
    #[serde(default)]
    pub pending: Vec<PendingAction>,
    /// Model requests made in the current turn (the tool-round limit counts them).
    #[serde(default)]
    pub turn_requests: u32,
    /// The environment as it was when the session first ran; its sandbox is built from this
    /// copy even if the environment is updated later.
    #[serde(default)]
    pub environment: Option<Environment>,
}

/// A tool use waiting for the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAction {
    /// The `agent.tool_use` / `agent.custom_tool_use` event id.
    pub event_id: String,
    pub name: String,
    pub kind: PendingKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// An `always_ask` built-in tool: waits for `user.tool_confirmation`.
    Confirmation,
    /// A custom tool: waits for `user.custom_tool_result`.
    CustomResult,
    /// A sandbox tool of a self-hosted environment: waits for `user.tool_result`.
    ClientResult,
}

impl PendingKind {
    /// The client event that answers this kind.
    pub const fn answered_by(self) -> &'static str {
        match self {
            PendingKind::Confirmation => "user.tool_confirmation",
            PendingKind::CustomResult => "user.custom_tool_result",
            PendingKind::ClientResult => "user.tool_result",
        }
    }
}

impl RuntimeState {
    /// Reads the stored JSON; an empty or unreadable state is a fresh one (a reader never
    /// fails on state written by another version; the log stays the source of truth).
    pub fn decode(json: &str) -> RuntimeState {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn encode(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Backend(e.to_string()))
    }

    pub fn pending(&self, event_id: &str) -> Option<&PendingAction> {
        self.pending.iter().find(|p| p.event_id == event_id)
    }
}
