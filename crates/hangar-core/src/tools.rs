//! Resolves an agent's request-side model, tools, MCP servers and skills into the fully
//! materialised response shapes, enforcing the contract's rules (`cma-behaviour.md` B.12–13).

use std::collections::BTreeSet;

use hangar_protocol::agent::{
    AgentToolset, BuiltinToolConfig, BuiltinToolConfigParams, BuiltinToolName, CustomTool, Effort,
    McpServer, McpToolConfig, McpToolset, McpToolsetParams, ModelConfig, ModelParam,
    PermissionPolicy, Skill, SkillParams, Speed, Tool, ToolDefaults, ToolDefaultsParams,
    ToolParams, UrlSource, UrlSources, UrlSourcesParams,
};
use hangar_protocol::error::ApiError;
use hangar_protocol::string_or::StringOr;

use crate::limits::*;
use crate::validate;

/// Resolves `model` (a bare id or an object). On update, `previous` supplies the stored effort
/// when the new object omits it; every other omitted key takes its default.
pub fn resolve_model(
    field: &str,
    param: &ModelParam,
    previous: Option<&ModelConfig>,
) -> Result<ModelConfig, ApiError> {
    let (id, effort, inference_geo, speed) = match param {
        StringOr::Str(id) => (id.as_str(), None, None, None),
        StringOr::Obj(obj) => (
            obj.id.as_str(),
            obj.effort.as_ref(),
            obj.inference_geo.clone(),
            obj.speed,
        ),
    };
    validate::text(&format!("{field}.id"), id, 1, MAX_MODEL_ID_CHARS)?;
    let effort = match effort {
        Some(StringOr::Obj(effort)) => Some(*effort),
        Some(StringOr::Str(text)) => Some(Effort::parse(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "{field}.effort: `{text}` is not a valid value; expected one of low, medium, \
                 high, xhigh, max"
            ))
        })?),
        None => previous
            .and_then(|p| p.effort)
            .or_else(|| default_effort(id)),
    };
    Ok(ModelConfig {
        id: id.to_owned(),
        effort,
        inference_geo,
        speed: speed.or(Some(Speed::Standard)),
    })
}

/// Claude models think with `high` effort unless told otherwise; other models have no effort.
fn default_effort(model_id: &str) -> Option<Effort> {
    model_id.starts_with("claude-").then_some(Effort::High)
}

/// Validates `mcp_servers`: at most 20, unique names, http(s) URLs.
pub fn check_mcp_servers(field: &str, servers: &[McpServer]) -> Result<(), ApiError> {
    validate::count(field, servers, MAX_MCP_SERVERS)?;
    let mut names = BTreeSet::new();
    for (i, server) in servers.iter().enumerate() {
        validate::text(
            &format!("{field}[{i}].name"),
            &server.name,
            1,
            MAX_MCP_SERVER_NAME_CHARS,
        )?;
        validate::text(&format!("{field}[{i}].url"), &server.url, 1, MAX_URL_CHARS)?;
        if !(server.url.starts_with("https://") || server.url.starts_with("http://")) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].url: must be an http:// or https:// URL"
            )));
        }
        if !names.insert(server.name.as_str()) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].name: duplicate MCP server name `{}`",
                server.name
            )));
        }
    }
    Ok(())
}

/// Every MCP server must be used by exactly one `mcp_toolset`, and every toolset must name a
/// declared server.
pub fn check_mcp_references(tools: &[Tool], servers: &[McpServer]) -> Result<(), ApiError> {
    let declared: BTreeSet<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let mut used = BTreeSet::new();
    for (i, tool) in tools.iter().enumerate() {
        if let Tool::McpToolset(set) = tool {
            if !declared.contains(set.mcp_server_name.as_str()) {
                return Err(ApiError::invalid(format!(
                    "tools[{i}].mcp_server_name: no MCP server named `{}` in mcp_servers",
                    set.mcp_server_name
                )));
            }
            if !used.insert(set.mcp_server_name.as_str()) {
                return Err(ApiError::invalid(format!(
                    "tools[{i}].mcp_server_name: MCP server `{}` already has a toolset",
                    set.mcp_server_name
                )));
            }
        }
    }
    if let Some(unused) = servers.iter().position(|s| !used.contains(s.name.as_str())) {
        return Err(ApiError::invalid(format!(
            "mcp_servers[{unused}]: MCP server `{}` is not referenced by any mcp_toolset tool",
            servers[unused].name
        )));
    }
    Ok(())
}

/// Resolves `tools`, materialising every default.
pub fn resolve_tools(field: &str, params: &[ToolParams]) -> Result<Vec<Tool>, ApiError> {
    validate::count(field, params, MAX_TOOLS)?;
    let mut seen_toolset = false;
    let mut custom_names = BTreeSet::new();
    let mut tools = Vec::with_capacity(params.len());
    for (i, param) in params.iter().enumerate() {
        let at = format!("{field}[{i}]");
        tools.push(match param {
            ToolParams::AgentToolset(set) => {
                if std::mem::replace(&mut seen_toolset, true) {
                    return Err(ApiError::invalid(format!(
                        "{at}: only one agent_toolset_20260401 is allowed per agent"
                    )));
                }
                let defaults = resolve_defaults(set.default_config, PermissionPolicy::AlwaysAllow);
                let configs = set.configs.as_deref().unwrap_or_default();
                Tool::AgentToolset(AgentToolset {
                    default_config: defaults,
                    configs: resolve_builtin_configs(&at, configs, defaults)?,
                })
            }
            ToolParams::McpToolset(set) => Tool::McpToolset(resolve_mcp_toolset(&at, set)?),
            ToolParams::Custom(tool) => {
                check_custom_tool(&at, tool)?;
                if !custom_names.insert(tool.name.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "{at}.name: duplicate custom tool name `{}`",
                        tool.name
                    )));
                }
                Tool::Custom(tool.clone())
            }
        });
    }
    Ok(tools)
}

fn resolve_defaults(params: Option<ToolDefaultsParams>, policy: PermissionPolicy) -> ToolDefaults {
    let params = params.unwrap_or_default();
    ToolDefaults {
        enabled: params.enabled.unwrap_or(true),
        permission_policy: params.permission_policy.unwrap_or(policy),
    }
}

fn resolve_builtin_configs(
    at: &str,
    configs: &[BuiltinToolConfigParams],
    defaults: ToolDefaults,
) -> Result<Vec<BuiltinToolConfig>, ApiError> {
    let mut seen = BTreeSet::new();
    configs
        .iter()
        .enumerate()
        .map(|(j, config)| {
            let at = format!("{at}.configs[{j}]");
            if config.kind.is_some_and(|kind| kind != config.name) {
                return Err(ApiError::invalid(format!("{at}.type: must equal `name`")));
            }
            if !seen.insert(config.name) {
                return Err(ApiError::invalid(format!(
                    "{at}.name: duplicate config for `{}`",
                    config.name.as_str()
                )));
            }
            check_web_settings(&at, config)?;
            Ok(BuiltinToolConfig {
                name: config.name,
                enabled: config.enabled.unwrap_or(defaults.enabled),
                permission_policy: config
                    .permission_policy
                    .unwrap_or(defaults.permission_policy),
                url_sources: config
                    .url_sources
                    .as_ref()
                    .map(|u| resolve_url_sources(&at, u))
                    .transpose()?,
                allowed_domains: config.allowed_domains.clone(),
                blocked_domains: config.blocked_domains.clone(),
                max_content_tokens: config.max_content_tokens,
                user_location: config.user_location.clone(),
            })
        })
        .collect()
}

fn check_web_settings(at: &str, config: &BuiltinToolConfigParams) -> Result<(), ApiError> {
    let is_fetch = config.name == BuiltinToolName::WebFetch;
    let is_web = is_fetch || config.name == BuiltinToolName::WebSearch;
    let only_on = |present: bool, key: &str, allowed: bool, tools: &str| {
        if present && !allowed {
            Err(ApiError::invalid(format!(
                "{at}.{key}: only allowed on {tools}"
            )))
        } else {
            Ok(())
        }
    };
    only_on(
        config.allowed_domains.is_some(),
        "allowed_domains",
        is_web,
        "web_fetch and web_search",
    )?;
    only_on(
        config.blocked_domains.is_some(),
        "blocked_domains",
        is_web,
        "web_fetch and web_search",
    )?;
    only_on(
        config.url_sources.is_some(),
        "url_sources",
        is_fetch,
        "web_fetch",
    )?;
    only_on(
        config.max_content_tokens.is_some(),
        "max_content_tokens",
        is_fetch,
        "web_fetch",
    )?;
    let is_search = config.name == BuiltinToolName::WebSearch;
    only_on(
        config.user_location.is_some(),
        "user_location",
        is_search,
        "web_search",
    )?;
    if config.allowed_domains.is_some() && config.blocked_domains.is_some() {
        return Err(ApiError::invalid(format!(
            "{at}: allowed_domains and blocked_domains are mutually exclusive"
        )));
    }
    for (key, list) in [
        ("allowed_domains", &config.allowed_domains),
        ("blocked_domains", &config.blocked_domains),
    ] {
        if let Some(list) = list {
            check_web_domains(&format!("{at}.{key}"), list)?;
        }
    }
    Ok(())
}

fn check_web_domains(field: &str, domains: &[String]) -> Result<(), ApiError> {
    if domains.is_empty() {
        return Err(ApiError::invalid(format!("{field}: must not be empty")));
    }
    validate::count(field, domains, MAX_WEB_DOMAINS)?;
    for (k, domain) in domains.iter().enumerate() {
        let at = format!("{field}[{k}]");
        validate::hostname(&at, domain, false)?;
        let lower = domain.to_ascii_lowercase();
        let internal = lower == "localhost"
            || [".local", ".internal", ".localhost"]
                .iter()
                .any(|s| lower.ends_with(s));
        let numeric = lower
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if !lower.contains('.') || internal || numeric {
            return Err(ApiError::invalid(format!(
                "{at}: `{domain}` is not allowed (no IP addresses, top-level domains, single \
                 labels or local names)"
            )));
        }
    }
    Ok(())
}

fn resolve_url_sources(at: &str, params: &UrlSourcesParams) -> Result<UrlSources, ApiError> {
    let one = |key: &str, p: &Option<StringOr<UrlSource>>, lists_ok: bool| {
        let field = format!("{at}.url_sources.{key}");
        let source = match p {
            None => return Ok(None),
            Some(StringOr::Str(s)) if s == "all" => UrlSource::All,
            Some(StringOr::Str(s)) if s == "none" => UrlSource::None,
            Some(StringOr::Str(s)) => {
                return Err(ApiError::invalid(format!(
                    "{field}: `{s}` is not a valid value; expected `all` or `none`"
                )));
            }
            Some(StringOr::Obj(source)) => source.clone(),
        };
        if let UrlSource::Only { tools } | UrlSource::Except { tools } = &source {
            if !lists_ok {
                return Err(ApiError::invalid(format!(
                    "{field}: must be `all` or `none`"
                )));
            }
            if tools.is_empty() || tools.len() > MAX_URL_SOURCE_TOOLS {
                return Err(ApiError::invalid(format!(
                    "{field}.tools: must hold 1 to {MAX_URL_SOURCE_TOOLS} tool references"
                )));
            }
            let distinct: BTreeSet<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            if distinct.len() != tools.len() {
                return Err(ApiError::invalid(format!(
                    "{field}.tools: names must be distinct"
                )));
            }
        }
        Ok(Some(source))
    };
    let sources = UrlSources {
        client_tool_results: one("client_tool_results", &params.client_tool_results, true)?,
        server_tool_results: one("server_tool_results", &params.server_tool_results, true)?,
        user_input: one("user_input", &params.user_input, false)?,
    };
    let none = Some(UrlSource::None);
    if sources.client_tool_results == none
        && sources.server_tool_results == none
        && sources.user_input == none
    {
        return Err(ApiError::invalid(format!(
            "{at}.url_sources: at least one source must not be `none`"
        )));
    }
    Ok(sources)
}

fn resolve_mcp_toolset(at: &str, set: &McpToolsetParams) -> Result<McpToolset, ApiError> {
    validate::text(
        &format!("{at}.mcp_server_name"),
        &set.mcp_server_name,
        1,
        MAX_MCP_SERVER_NAME_CHARS,
    )?;
    let defaults = resolve_defaults(set.default_config, PermissionPolicy::AlwaysAsk);
    let mut seen = BTreeSet::new();
    let configs = set
        .configs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(j, config)| {
            validate::text(
                &format!("{at}.configs[{j}].name"),
                &config.name,
                1,
                MAX_TOOL_NAME_CHARS,
            )?;
            if !seen.insert(config.name.as_str()) {
                return Err(ApiError::invalid(format!(
                    "{at}.configs[{j}].name: duplicate config for `{}`",
                    config.name
                )));
            }
            Ok(McpToolConfig {
                name: config.name.clone(),
                enabled: config.enabled.unwrap_or(defaults.enabled),
                permission_policy: config
                    .permission_policy
                    .unwrap_or(defaults.permission_policy),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(McpToolset {
        mcp_server_name: set.mcp_server_name.clone(),
        default_config: defaults,
        configs,
    })
}

fn check_custom_tool(at: &str, tool: &CustomTool) -> Result<(), ApiError> {
    let name_ok = (1..=MAX_TOOL_NAME_CHARS).contains(&tool.name.len())
        && tool
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(ApiError::invalid(format!(
            "{at}.name: must be 1 to {MAX_TOOL_NAME_CHARS} characters of [A-Za-z0-9_-]"
        )));
    }
    validate::text(
        &format!("{at}.description"),
        &tool.description,
        1,
        MAX_TOOL_DESCRIPTION_CHARS,
    )
}

/// Resolves `skills`. No skill is installed on this server yet (there is no skills API), so
/// any reference is reported as not found rather than silently accepted.
pub fn resolve_skills(field: &str, params: &[SkillParams]) -> Result<Vec<Skill>, ApiError> {
    validate::count(field, params, MAX_SKILLS)?;
    match params.first() {
        None => Ok(Vec::new()),
        Some(skill) => Err(ApiError::invalid(format!(
            "{field}[0].skill_id: skill `{}` not found (no skills are installed on this server)",
            skill.skill_id.chars().take(80).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tools(value: serde_json::Value) -> Result<Vec<Tool>, String> {
        let params: Vec<ToolParams> = serde_json::from_value(value).map_err(|e| e.to_string())?;
        resolve_tools("tools", &params).map_err(|e| e.message)
    }

    #[test]
    fn toolset_materialises_defaults_and_listed_configs_only() {
        let resolved = tools(json!([{"type": "agent_toolset_20260401",
            "configs": [{"name": "bash", "permission_policy": {"type": "always_ask"}}]}]))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&resolved).unwrap(),
            json!([{"type": "agent_toolset_20260401",
                "default_config": {"enabled": true, "permission_policy": {"type": "always_allow"}},
                "configs": [{"type": "bash", "name": "bash", "enabled": true,
                    "permission_policy": {"type": "always_ask"}}]}])
        );
    }

    #[test]
    fn rejects_duplicates_second_toolset_and_misplaced_web_settings() {
        let err =
            tools(json!([{"type": "agent_toolset_20260401"}, {"type": "agent_toolset_20260401"}]));
        assert!(err.unwrap_err().starts_with("tools[1]"));
        let err = tools(json!([{"type": "agent_toolset_20260401",
            "configs": [{"name": "read"}, {"name": "read"}]}]));
        assert!(err.unwrap_err().contains("duplicate config"));
        let err = tools(json!([{"type": "agent_toolset_20260401",
            "configs": [{"name": "bash", "allowed_domains": ["a.com"]}]}]));
        assert!(
            err.unwrap_err()
                .contains("tools[0].configs[0].allowed_domains")
        );
        let err = tools(json!([{"type": "agent_toolset_20260401",
            "configs": [{"name": "web_fetch", "allowed_domains": ["localhost"]}]}]));
        assert!(err.unwrap_err().contains("allowed_domains[0]"));
    }

    #[test]
    fn mcp_servers_must_be_referenced_by_a_toolset() {
        let servers = vec![McpServer {
            r#type: Default::default(),
            name: "docs".into(),
            url: "https://m.example/sse".into(),
        }];
        assert!(
            check_mcp_references(&[], &servers)
                .unwrap_err()
                .message
                .contains("not referenced")
        );
        let with_set = tools(json!([{"type": "mcp_toolset", "mcp_server_name": "docs"}])).unwrap();
        assert!(check_mcp_references(&with_set, &servers).is_ok());
        assert!(check_mcp_references(&with_set, &[]).is_err());
    }

    #[test]
    fn model_string_resolves_to_full_config() {
        let model = resolve_model("model", &StringOr::Str("claude-opus-4-6".into()), None).unwrap();
        assert_eq!(
            serde_json::to_value(model).unwrap(),
            json!({"id": "claude-opus-4-6", "effort": {"type": "high"}, "inference_geo": null, "speed": "standard"})
        );
    }
}
