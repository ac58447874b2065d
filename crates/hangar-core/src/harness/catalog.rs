//! The tools of a session's agent, resolved once per runner: what the model is offered and,
//! for each name, how a call is handled (built-in with its config, or custom). MCP toolsets
//! are reported as unavailable (no MCP client in this server yet).

use std::collections::HashMap;

use hangar_protocol::agent::{AgentDefinition, BuiltinToolConfig, BuiltinToolName, Tool};

use super::builtin_tools;
use crate::model::ToolSpec;

/// How a tool name is handled.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolKind {
    Builtin(Box<BuiltinToolConfig>),
    Custom,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCatalog {
    /// What the model is offered, in agent order.
    pub specs: Vec<ToolSpec>,
    kinds: HashMap<String, ToolKind>,
    /// Names of MCP servers whose tools are not available.
    pub unavailable_mcp_servers: Vec<String>,
}

impl ToolCatalog {
    pub fn resolve(agent: &AgentDefinition) -> ToolCatalog {
        let mut catalog = ToolCatalog::default();
        for tool in &agent.tools {
            match tool {
                Tool::AgentToolset(toolset) => {
                    for name in BuiltinToolName::ALL {
                        let config = toolset
                            .configs
                            .iter()
                            .find(|c| c.name == name)
                            .cloned()
                            .unwrap_or(BuiltinToolConfig {
                                name,
                                enabled: toolset.default_config.enabled,
                                permission_policy: toolset.default_config.permission_policy,
                                url_sources: None,
                                allowed_domains: None,
                                blocked_domains: None,
                                max_content_tokens: None,
                                user_location: None,
                            });
                        if config.enabled {
                            catalog.specs.push(builtin_tools::spec(name));
                            catalog.kinds.insert(
                                name.as_str().to_owned(),
                                ToolKind::Builtin(Box::new(config)),
                            );
                        }
                    }
                }
                Tool::Custom(custom) => {
                    catalog.specs.push(ToolSpec {
                        name: custom.name.clone(),
                        description: custom.description.clone(),
                        input_schema: builtin_tools::custom_schema(&custom.input_schema),
                    });
                    catalog.kinds.insert(custom.name.clone(), ToolKind::Custom);
                }
                Tool::McpToolset(mcp) => {
                    catalog
                        .unavailable_mcp_servers
                        .push(mcp.mcp_server_name.clone());
                }
            }
        }
        catalog
    }

    pub fn kind(&self, name: &str) -> Option<&ToolKind> {
        self.kinds.get(name)
    }
}
