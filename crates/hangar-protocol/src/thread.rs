//! Session threads (`cma-api.md` §3.4 `SessionThread`). Every session has one primary thread,
//! the agent itself; multiagent sub-threads do not exist here yet.

use serde::Serialize;
use utoipa::ToSchema;

use crate::session::{SessionAgent, SessionStats, SessionStatus, SessionUsage};
use crate::time::Timestamp;

literal_type!(
    /// `"session_thread"`
    SessionThreadType = "session_thread"
);

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionThread {
    pub r#type: SessionThreadType,
    pub id: String,
    pub session_id: String,
    pub agent: SessionAgent,
    pub status: SessionStatus,
    pub parent_thread_id: Option<String>,
    pub workflow_run_id: Option<String>,
    pub stats: Option<SessionStats>,
    pub usage: Option<SessionUsage>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}
