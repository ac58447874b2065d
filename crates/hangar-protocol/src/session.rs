//! Sessions: an agent at work in an environment. The response embeds the resolved agent
//! snapshot. `shared/spec/cma-api.md` §2.4, §3.4.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agent::{
    AgentDefinition, AgentType, McpServer, Metadata, MetadataPatch, ModelParam, SkillParams,
    ToolParams,
};
use crate::nullable::Patch;
use crate::string_or::StringOr;
use crate::time::Timestamp;

literal_type!(
    /// `"session"`
    SessionType = "session"
);
literal_type!(
    /// `"USD"`
    Usd = "USD"
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub r#type: SessionType,
    pub id: String,
    pub status: SessionStatus,
    pub title: Option<String>,
    pub environment_id: String,
    pub deployment_id: Option<String>,
    pub agent: SessionAgent,
    #[schema(value_type = Vec<Object>)]
    pub resources: Vec<serde_json::Value>,
    pub vault_ids: Vec<String>,
    pub metadata: Metadata,
    pub budget: Option<BudgetLimit>,
    #[schema(value_type = Vec<Object>)]
    pub outcome_evaluations: Vec<serde_json::Value>,
    pub stats: SessionStats,
    pub usage: SessionUsage,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// The agent version a session runs, resolved at creation (with any overrides applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionAgent {
    pub r#type: AgentType,
    pub id: String,
    pub version: i64,
    #[serde(flatten)]
    pub definition: AgentDefinition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Rescheduling,
    Running,
    Idle,
    Terminated,
}

impl SessionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Rescheduling => "rescheduling",
            SessionStatus::Running => "running",
            SessionStatus::Idle => "idle",
            SessionStatus::Terminated => "terminated",
        }
    }

    pub fn parse(text: &str) -> Option<SessionStatus> {
        match text {
            "rescheduling" => Some(SessionStatus::Rescheduling),
            "running" => Some(SessionStatus::Running),
            "idle" => Some(SessionStatus::Idle),
            "terminated" => Some(SessionStatus::Terminated),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BudgetLimit {
    pub r#type: String,
    pub max_list_cost: MonetaryAmount,
}

/// Money in minor units as a string: `{"amount": "2500", "currency": "USD"}` is $25.00.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MonetaryAmount {
    pub amount: String,
    pub currency: Usd,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionStats {
    pub active_seconds: f64,
    pub duration_seconds: f64,
}

/// Cumulative usage of a session; starts at zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation: CacheCreationUsage,
    pub server_tool_use: ServerToolUsage,
    pub list_cost: MonetaryAmount,
    pub active_seconds: f64,
}

impl SessionUsage {
    /// All counters at zero and a list cost of `"0"` USD.
    pub fn zero() -> Self {
        SessionUsage {
            list_cost: MonetaryAmount {
                amount: "0".to_owned(),
                currency: Usd,
            },
            ..SessionUsage::default()
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CacheCreationUsage {
    pub ephemeral_5m_input_tokens: u64,
    pub ephemeral_1h_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServerToolUsage {
    pub web_search_requests: u64,
    pub web_fetch_requests: u64,
}

// ---------------------------------------------------------------------------------------------
// Request params
// ---------------------------------------------------------------------------------------------

/// `agent` on session create: an agent id (latest version) or a reference object.
pub type SessionAgentParam = StringOr<AgentReferenceParams>;

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum AgentReferenceParams {
    /// `{type: "agent", id, version?}`: pin a version (latest when omitted).
    #[serde(rename = "agent")]
    Agent(PinnedAgentParams),
    /// `{type: "agent_with_overrides", id, version?, model?, system?, tools?, …}`.
    #[serde(rename = "agent_with_overrides")]
    WithOverrides(AgentOverridesParams),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinnedAgentParams {
    pub id: String,
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentOverridesParams {
    pub id: String,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub model: Patch<ModelParam>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub system: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ToolParams>>)]
    pub tools: Patch<Vec<ToolParams>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<McpServer>>)]
    pub mcp_servers: Patch<Vec<McpServer>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<SkillParams>>)]
    pub skills: Patch<Vec<SkillParams>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreateParams {
    #[schema(value_type = Object)]
    pub agent: SessionAgentParam,
    pub environment_id: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub budget: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub initial_events: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub resources: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub vault_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionUpdateParams {
    #[serde(default)]
    pub agent: Option<SessionAgentUpdateParams>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub budget: Patch<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Patch<MetadataPatch>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    /// Reserved by the contract: any request that sets it is rejected.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub vault_ids: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionAgentUpdateParams {
    #[serde(default)]
    pub mcp_servers: Option<Vec<McpServer>>,
    #[serde(default)]
    pub tools: Option<Vec<ToolParams>>,
}
