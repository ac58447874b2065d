//! Agents: the response object (always fully resolved) and the create/update params (short
//! forms accepted, unknown fields rejected). `shared/spec/cma-api.md` §2.1, §3.1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer, ser::SerializeMap};
use utoipa::ToSchema;

use crate::nullable::Patch;
use crate::string_or::StringOr;
use crate::time::Timestamp;

literal_type!(
    /// `"agent"`
    AgentType = "agent"
);
literal_type!(
    /// `"url"`
    UrlType = "url"
);
literal_type!(
    /// `"object"`
    ObjectType = "object"
);
literal_type!(
    /// `"approximate"`
    ApproximateType = "approximate"
);

/// Metadata as stored and returned: at most 16 string pairs.
pub type Metadata = BTreeMap<String, String>;
/// Metadata patch on update: a string upserts a key, `null` deletes it.
pub type MetadataPatch = BTreeMap<String, Option<String>>;

/// An agent version as returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    pub r#type: AgentType,
    pub id: String,
    pub version: i64,
    #[serde(flatten)]
    pub definition: AgentDefinition,
    pub metadata: Metadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// What an agent *is*, shared by the agent resource and the snapshot a session embeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentDefinition {
    pub name: String,
    pub description: Option<String>,
    pub system: Option<String>,
    pub model: ModelConfig,
    pub execution_identity: ExecutionIdentity,
    pub tools: Vec<Tool>,
    pub mcp_servers: Vec<McpServer>,
    pub skills: Vec<Skill>,
    /// Always `null`: multiagent rosters are refused at create/update (not supported yet).
    #[schema(value_type = Option<Object>)]
    pub multiagent: Option<serde_json::Value>,
}

/// The resolved model: `{id, effort, inference_geo, speed}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelConfig {
    pub id: String,
    pub effort: Option<Effort>,
    pub inference_geo: Option<String>,
    pub speed: Option<Speed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Effort {
    Low,
    Medium,
    High,
    Xhigh,
    Max,
}

impl Effort {
    pub fn parse(text: &str) -> Option<Effort> {
        match text {
            "low" => Some(Effort::Low),
            "medium" => Some(Effort::Medium),
            "high" => Some(Effort::High),
            "xhigh" => Some(Effort::Xhigh),
            "max" => Some(Effort::Max),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Speed {
    Standard,
    Fast,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecutionIdentity {
    ServiceAccount,
    AwsRole { role_arn: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PermissionPolicy {
    AlwaysAllow,
    AlwaysAsk,
    Auto,
}

/// One entry of `agent.tools`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum Tool {
    #[serde(rename = "agent_toolset_20260401")]
    AgentToolset(AgentToolset),
    #[serde(rename = "mcp_toolset")]
    McpToolset(McpToolset),
    #[serde(rename = "custom")]
    Custom(CustomTool),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentToolset {
    pub default_config: ToolDefaults,
    pub configs: Vec<BuiltinToolConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ToolDefaults {
    pub enabled: bool,
    pub permission_policy: PermissionPolicy,
}

/// The eight built-in tools of `agent_toolset_20260401`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinToolName {
    Bash,
    Edit,
    Read,
    Write,
    Glob,
    Grep,
    WebFetch,
    WebSearch,
}

impl BuiltinToolName {
    pub const ALL: [BuiltinToolName; 8] = [
        BuiltinToolName::Bash,
        BuiltinToolName::Edit,
        BuiltinToolName::Read,
        BuiltinToolName::Write,
        BuiltinToolName::Glob,
        BuiltinToolName::Grep,
        BuiltinToolName::WebFetch,
        BuiltinToolName::WebSearch,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            BuiltinToolName::Bash => "bash",
            BuiltinToolName::Edit => "edit",
            BuiltinToolName::Read => "read",
            BuiltinToolName::Write => "write",
            BuiltinToolName::Glob => "glob",
            BuiltinToolName::Grep => "grep",
            BuiltinToolName::WebFetch => "web_fetch",
            BuiltinToolName::WebSearch => "web_search",
        }
    }
}

/// A resolved built-in tool config. Serialised with the web settings only on the web tools,
/// exactly as the contract's `BashToolConfig` / `WebFetchToolConfig` / … shapes.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct BuiltinToolConfig {
    pub name: BuiltinToolName,
    pub enabled: bool,
    pub permission_policy: PermissionPolicy,
    #[serde(default)]
    pub url_sources: Option<UrlSources>,
    #[serde(default)]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    pub blocked_domains: Option<Vec<String>>,
    #[serde(default)]
    pub max_content_tokens: Option<u32>,
    #[serde(default)]
    pub user_location: Option<UserLocation>,
}

impl Serialize for BuiltinToolConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.name)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("enabled", &self.enabled)?;
        map.serialize_entry("permission_policy", &self.permission_policy)?;
        match self.name {
            BuiltinToolName::WebFetch => {
                map.serialize_entry("url_sources", &self.url_sources)?;
                map.serialize_entry("allowed_domains", &self.allowed_domains)?;
                map.serialize_entry("blocked_domains", &self.blocked_domains)?;
                map.serialize_entry("max_content_tokens", &self.max_content_tokens)?;
            }
            BuiltinToolName::WebSearch => {
                map.serialize_entry("allowed_domains", &self.allowed_domains)?;
                map.serialize_entry("blocked_domains", &self.blocked_domains)?;
                map.serialize_entry("user_location", &self.user_location)?;
            }
            _ => {}
        }
        map.end()
    }
}

/// Which sources may contribute URLs that `web_fetch` may fetch (response form: objects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UrlSources {
    pub client_tool_results: Option<UrlSource>,
    pub server_tool_results: Option<UrlSource>,
    pub user_input: Option<UrlSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum UrlSource {
    All,
    None,
    Only { tools: Vec<ToolReference> },
    Except { tools: Vec<ToolReference> },
}

literal_type!(
    /// `"tool_reference"`
    ToolReferenceType = "tool_reference"
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolReference {
    pub r#type: ToolReferenceType,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserLocation {
    pub r#type: ApproximateType,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct McpToolset {
    pub mcp_server_name: String,
    pub default_config: ToolDefaults,
    pub configs: Vec<McpToolConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct McpToolConfig {
    pub name: String,
    pub enabled: bool,
    pub permission_policy: PermissionPolicy,
}

/// A tool the API client executes (`agent.custom_tool_use` → `user.custom_tool_result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomTool {
    pub name: String,
    pub description: String,
    pub input_schema: InputSchema,
}

/// `{type: "object", properties?, required?}`; `additionalProperties` is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSchema {
    pub r#type: ObjectType,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub required: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    pub r#type: UrlType,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkillSource {
    Anthropic,
    Custom,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skill {
    pub r#type: SkillSource,
    pub skill_id: String,
    pub version: String,
}

// ---------------------------------------------------------------------------------------------
// Request params
// ---------------------------------------------------------------------------------------------

/// `model`: a bare id or `{id, effort?, inference_geo?, speed?}`.
pub type ModelParam = StringOr<ModelConfigParams>;

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfigParams {
    pub id: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub effort: Option<StringOr<Effort>>,
    #[serde(default)]
    pub inference_geo: Option<String>,
    #[serde(default)]
    pub speed: Option<Speed>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentCreateParams {
    pub name: String,
    #[schema(value_type = Object)]
    pub model: ModelParam,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub execution_identity: Option<ExecutionIdentity>,
    #[serde(default)]
    pub mcp_servers: Option<Vec<McpServer>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub multiagent: Option<serde_json::Value>,
    #[serde(default)]
    pub skills: Option<Vec<SkillParams>>,
    #[serde(default)]
    pub tools: Option<Vec<ToolParams>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdateParams {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub system: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<ExecutionIdentity>)]
    pub execution_identity: Patch<ExecutionIdentity>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<McpServer>>)]
    pub mcp_servers: Patch<Vec<McpServer>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Patch<MetadataPatch>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub model: Patch<ModelParam>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub multiagent: Patch<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<SkillParams>>)]
    pub skills: Patch<Vec<SkillParams>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ToolParams>>)]
    pub tools: Patch<Vec<ToolParams>>,
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillParams {
    pub r#type: SkillSource,
    pub skill_id: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// One entry of `tools` in a request.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum ToolParams {
    #[serde(rename = "agent_toolset_20260401")]
    AgentToolset(AgentToolsetParams),
    #[serde(rename = "mcp_toolset")]
    McpToolset(McpToolsetParams),
    #[serde(rename = "custom")]
    Custom(CustomTool),
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentToolsetParams {
    #[serde(default)]
    pub configs: Option<Vec<BuiltinToolConfigParams>>,
    #[serde(default)]
    pub default_config: Option<ToolDefaultsParams>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolDefaultsParams {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permission_policy: Option<PermissionPolicy>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuiltinToolConfigParams {
    pub name: BuiltinToolName,
    #[serde(default, rename = "type")]
    pub kind: Option<BuiltinToolName>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permission_policy: Option<PermissionPolicy>,
    #[serde(default)]
    pub url_sources: Option<UrlSourcesParams>,
    #[serde(default)]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    pub blocked_domains: Option<Vec<String>>,
    #[serde(default)]
    pub max_content_tokens: Option<u32>,
    #[serde(default)]
    pub user_location: Option<UserLocation>,
}

/// Request form of [`UrlSources`]: each entry may also be the bare string `"all"` / `"none"`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlSourcesParams {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub client_tool_results: Option<StringOr<UrlSource>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub server_tool_results: Option<StringOr<UrlSource>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub user_input: Option<StringOr<UrlSource>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McpToolsetParams {
    pub mcp_server_name: String,
    #[serde(default)]
    pub configs: Option<Vec<McpToolConfigParams>>,
    #[serde(default)]
    pub default_config: Option<ToolDefaultsParams>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McpToolConfigParams {
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permission_policy: Option<PermissionPolicy>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn parse<T: for<'de> Deserialize<'de>>(value: serde_json::Value) -> Result<T, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn tool_params_reject_unknown_fields_inside_tagged_variants() {
        let err =
            parse::<ToolParams>(json!({"type": "mcp_toolset", "mcp_server_name": "x", "bogus": 1}));
        assert!(err.unwrap_err().contains("bogus"));
        let err = parse::<ToolParams>(json!({"type": "bash"}));
        assert!(err.unwrap_err().contains("unknown variant `bash`"));
    }

    #[test]
    fn custom_tool_schema_refuses_additional_properties() {
        let err = parse::<ToolParams>(json!({
            "type": "custom", "name": "t", "description": "d",
            "input_schema": {"type": "object", "additionalProperties": false}
        }));
        assert!(err.unwrap_err().contains("additionalProperties"));
    }

    #[test]
    fn model_accepts_string_or_object() {
        let m: ModelParam = parse(json!("claude-x")).unwrap_or(StringOr::Str(String::new()));
        assert_eq!(m, StringOr::Str("claude-x".into()));
        let m: Result<ModelParam, _> = parse(json!({"id": "m", "effort": "low"}));
        assert!(matches!(
            m,
            Ok(StringOr::Obj(ModelConfigParams {
                effort: Some(StringOr::Str(_)),
                ..
            }))
        ));
        assert!(parse::<ModelParam>(json!(5)).is_err());
    }

    #[test]
    fn builtin_config_serialises_web_settings_only_on_web_tools() {
        let mut config = BuiltinToolConfig {
            name: BuiltinToolName::Bash,
            enabled: true,
            permission_policy: PermissionPolicy::AlwaysAsk,
            url_sources: None,
            allowed_domains: None,
            blocked_domains: None,
            max_content_tokens: None,
            user_location: None,
        };
        assert_eq!(
            serde_json::to_value(&config).ok(),
            Some(json!({"type": "bash", "name": "bash", "enabled": true,
                "permission_policy": {"type": "always_ask"}}))
        );
        config.name = BuiltinToolName::WebFetch;
        let value = serde_json::to_value(&config).unwrap_or_default();
        assert_eq!(value["max_content_tokens"], json!(null));
        assert!(value.get("user_location").is_none());
    }
}
