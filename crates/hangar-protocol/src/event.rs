//! Session events as stored and sent (`cma-api.md` §4.1, §4.3–4.5, §4.8).
//!
//! An event on the wire is `{"id", "processed_at", "type", …fields}`. [`EventBody`] is the
//! `type` and fields; the store keeps the body as JSON and adds `id` and `processed_at` when
//! it reads a row, so the list endpoint and the stream serve stored text unchanged. Unknown
//! `type` values read back as [`EventBody::Unknown`] and never fail a reader.

use serde::{Deserialize, Serialize};

use crate::content::ContentBlock;
use crate::session::{BudgetLimit, SessionUsage};

/// The `type` and fields of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventBody {
    #[serde(rename = "user.message")]
    UserMessage { content: Vec<ContentBlock> },
    #[serde(rename = "user.interrupt")]
    UserInterrupt {
        #[serde(default)]
        session_thread_id: Option<String>,
    },
    #[serde(rename = "user.tool_confirmation")]
    UserToolConfirmation {
        tool_use_id: String,
        result: Confirmation,
        #[serde(default)]
        deny_message: Option<String>,
        #[serde(default)]
        session_thread_id: Option<String>,
    },
    #[serde(rename = "user.custom_tool_result")]
    UserCustomToolResult {
        custom_tool_use_id: String,
        #[serde(default)]
        content: Option<Vec<ContentBlock>>,
        #[serde(default)]
        is_error: Option<bool>,
        #[serde(default)]
        session_thread_id: Option<String>,
    },
    #[serde(rename = "user.tool_result")]
    UserToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Vec<ContentBlock>>,
        #[serde(default)]
        is_error: Option<bool>,
        #[serde(default)]
        session_thread_id: Option<String>,
    },
    #[serde(rename = "system.message")]
    SystemMessage { content: Vec<ContentBlock> },

    #[serde(rename = "agent.message")]
    AgentMessage { content: Vec<ContentBlock> },
    #[serde(rename = "agent.thinking")]
    AgentThinking {},
    #[serde(rename = "agent.tool_use")]
    AgentToolUse {
        name: String,
        input: serde_json::Value,
        evaluated_permission: Option<Permission>,
        evaluation: Option<Evaluation>,
    },
    #[serde(rename = "agent.tool_result")]
    AgentToolResult {
        tool_use_id: String,
        content: Option<Vec<ContentBlock>>,
        is_error: Option<bool>,
    },
    #[serde(rename = "agent.custom_tool_use")]
    AgentCustomToolUse {
        name: String,
        input: serde_json::Value,
    },

    #[serde(rename = "session.status_running")]
    StatusRunning {},
    #[serde(rename = "session.status_idle")]
    StatusIdle {
        stop_reason: StopReason,
        stop_details: Option<serde_json::Value>,
    },
    #[serde(rename = "session.status_rescheduled")]
    StatusRescheduled {},
    #[serde(rename = "session.status_terminated")]
    StatusTerminated {},
    #[serde(rename = "session.error")]
    SessionError { error: SessionErrorObject },
    #[serde(rename = "session.usage")]
    SessionUsage {
        usage: SessionUsage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<BudgetLimit>,
    },
    #[serde(rename = "session.updated")]
    SessionUpdated(serde_json::Map<String, serde_json::Value>),
    #[serde(rename = "session.deleted")]
    SessionDeleted {},
    #[serde(rename = "session.thread_status_running")]
    ThreadStatusRunning {
        session_thread_id: String,
        agent_name: String,
    },
    #[serde(rename = "session.thread_status_idle")]
    ThreadStatusIdle {
        session_thread_id: String,
        agent_name: String,
        stop_reason: StopReason,
        stop_details: Option<serde_json::Value>,
    },
    #[serde(rename = "session.thread_status_rescheduled")]
    ThreadStatusRescheduled {
        session_thread_id: String,
        agent_name: String,
    },

    #[serde(rename = "span.model_request_start")]
    ModelRequestStart {},
    #[serde(rename = "span.model_request_end")]
    ModelRequestEnd {
        model_request_start_id: String,
        model_usage: SpanModelUsage,
        is_error: bool,
    },

    /// A type this build does not know (written by a newer version). Readers skip it.
    #[serde(other)]
    Unknown,
}

impl EventBody {
    /// The wire `type` of this event.
    pub const fn type_name(&self) -> &'static str {
        match self {
            EventBody::UserMessage { .. } => "user.message",
            EventBody::UserInterrupt { .. } => "user.interrupt",
            EventBody::UserToolConfirmation { .. } => "user.tool_confirmation",
            EventBody::UserCustomToolResult { .. } => "user.custom_tool_result",
            EventBody::UserToolResult { .. } => "user.tool_result",
            EventBody::SystemMessage { .. } => "system.message",
            EventBody::AgentMessage { .. } => "agent.message",
            EventBody::AgentThinking {} => "agent.thinking",
            EventBody::AgentToolUse { .. } => "agent.tool_use",
            EventBody::AgentToolResult { .. } => "agent.tool_result",
            EventBody::AgentCustomToolUse { .. } => "agent.custom_tool_use",
            EventBody::StatusRunning {} => "session.status_running",
            EventBody::StatusIdle { .. } => "session.status_idle",
            EventBody::StatusRescheduled {} => "session.status_rescheduled",
            EventBody::StatusTerminated {} => "session.status_terminated",
            EventBody::SessionError { .. } => "session.error",
            EventBody::SessionUsage { .. } => "session.usage",
            EventBody::SessionUpdated(_) => "session.updated",
            EventBody::SessionDeleted {} => "session.deleted",
            EventBody::ThreadStatusRunning { .. } => "session.thread_status_running",
            EventBody::ThreadStatusIdle { .. } => "session.thread_status_idle",
            EventBody::ThreadStatusRescheduled { .. } => "session.thread_status_rescheduled",
            EventBody::ModelRequestStart {} => "span.model_request_start",
            EventBody::ModelRequestEnd { .. } => "span.model_request_end",
            EventBody::Unknown => "unknown",
        }
    }

    /// Client-originated events (`user.*`, `system.message`) have a nullable `processed_at`.
    pub const fn is_client_event(&self) -> bool {
        matches!(
            self,
            EventBody::UserMessage { .. }
                | EventBody::UserInterrupt { .. }
                | EventBody::UserToolConfirmation { .. }
                | EventBody::UserCustomToolResult { .. }
                | EventBody::UserToolResult { .. }
                | EventBody::SystemMessage { .. }
        )
    }
}

/// Every stored event type a `types[]` filter may name (`SessionEventType`: the stored
/// types except `session.deleted`).
pub const FILTERABLE_EVENT_TYPES: [&str; 41] = [
    "user.message",
    "user.interrupt",
    "user.tool_confirmation",
    "user.custom_tool_result",
    "user.tool_result",
    "user.define_outcome",
    "system.message",
    "agent.message",
    "agent.thinking",
    "agent.tool_use",
    "agent.tool_result",
    "agent.mcp_tool_use",
    "agent.mcp_tool_result",
    "agent.custom_tool_use",
    "agent.thread_message_sent",
    "agent.thread_message_received",
    "agent.thread_context_compacted",
    "session.status_running",
    "session.status_idle",
    "session.status_rescheduled",
    "session.status_terminated",
    "session.error",
    "session.updated",
    "session.usage",
    "session.thread_created",
    "session.thread_status_running",
    "session.thread_status_idle",
    "session.thread_status_rescheduled",
    "session.thread_status_terminated",
    "span.model_request_start",
    "span.model_request_end",
    "span.outcome_evaluation_start",
    "span.outcome_evaluation_ongoing",
    "span.outcome_evaluation_end",
    "workflow_run.created",
    "workflow_run.status_running",
    "workflow_run.status_idle",
    "workflow_run.phase_started",
    "workflow_run.phase_ended",
    "workflow_run.error",
    "workflow_run.status_ended",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    Allow,
    Deny,
}

/// `evaluated_permission` of a tool use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Allow,
    Ask,
    Deny,
}

/// `evaluation`: the policy that produced the permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evaluation {
    AlwaysAllow,
    AlwaysAsk,
    /// The `auto` policy; `evaluated_permission` is `{type: allow}`, or `{type: ask|deny,
    /// reason_code}`.
    Auto {
        evaluated_permission: serde_json::Value,
    },
}

/// `stop_reason` of `session.status_idle` and `session.thread_status_idle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    RequiresAction { event_ids: Vec<String> },
    RetriesExhausted,
    BudgetReached,
    Refusal,
}

/// `retry_status` of a session error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RetryStatus {
    /// The server retries; the session continues.
    Retrying,
    /// This turn is over; the session returns to idle.
    Exhausted,
    /// The session terminates.
    Terminal,
}

/// The `error` of a `session.error` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionErrorObject {
    pub r#type: SessionErrorType,
    pub message: String,
    pub retry_status: RetryStatus,
    /// Only for the MCP error types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionErrorType {
    UnknownError,
    ModelOverloadedError,
    ModelRateLimitedError,
    ModelRequestFailedError,
    McpConnectionFailedError,
    BillingError,
    ToolUseLimitReachedError,
}

/// `model_usage` of `span.model_request_end`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanModelUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

/// Stream-only preview frames (`event_deltas[]`), never stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Preview {
    /// Opens the preview of the event that will carry `event.id`.
    #[serde(rename = "event_start")]
    Start { event: PreviewTarget },
    /// Text appended to content entry `delta.index` of event `event_id`.
    #[serde(rename = "event_delta")]
    Delta {
        event_id: String,
        delta: ContentDelta,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewTarget {
    pub r#type: &'static str,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentDelta {
    pub r#type: &'static str,
    pub index: usize,
    pub content: ContentBlock,
}

impl Preview {
    /// The event type a preview belongs to (`agent.message` or `agent.thinking`), for the
    /// per-connection `event_deltas[]` selection.
    pub fn previewed_type(&self) -> &'static str {
        match self {
            Preview::Start { event } => event.r#type,
            Preview::Delta { .. } => "agent.message",
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Preview::Start { .. } => "event_start",
            Preview::Delta { .. } => "event_delta",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_serialise_with_their_type_tag() {
        let body = EventBody::StatusIdle {
            stop_reason: StopReason::RequiresAction {
                event_ids: vec!["sevt_1".into()],
            },
            stop_details: None,
        };
        assert_eq!(
            serde_json::to_value(&body).expect("json"),
            json!({"type": "session.status_idle",
                "stop_reason": {"type": "requires_action", "event_ids": ["sevt_1"]},
                "stop_details": null})
        );
        assert_eq!(
            serde_json::to_value(EventBody::AgentThinking {}).expect("json"),
            json!({"type": "agent.thinking"})
        );
        let updated: serde_json::Map<_, _> =
            [("title".to_owned(), json!("t"))].into_iter().collect();
        assert_eq!(
            serde_json::to_value(EventBody::SessionUpdated(updated)).expect("json"),
            json!({"type": "session.updated", "title": "t"})
        );
    }

    #[test]
    fn unknown_types_read_back_as_unknown() {
        let body: EventBody =
            serde_json::from_value(json!({"type": "workflow_run.created", "x": 1})).expect("read");
        assert_eq!(body, EventBody::Unknown);
    }

    #[test]
    fn type_names_match_the_serialised_tag() {
        let samples = [
            EventBody::UserInterrupt {
                session_thread_id: None,
            },
            EventBody::StatusRunning {},
            EventBody::ModelRequestStart {},
            EventBody::ModelRequestEnd {
                model_request_start_id: "x".into(),
                model_usage: SpanModelUsage::default(),
                is_error: false,
            },
        ];
        for body in samples {
            let value = serde_json::to_value(&body).expect("json");
            assert_eq!(value["type"], body.type_name());
            assert!(FILTERABLE_EVENT_TYPES.contains(&body.type_name()));
        }
    }
}
