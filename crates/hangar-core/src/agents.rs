//! Agents: create, retrieve (any version), update with optimistic concurrency, list,
//! archive, list versions. `shared/spec/cma-api.md` §2.1, `cma-behaviour.md` B.

use hangar_protocol::agent::{
    Agent, AgentCreateParams, AgentDefinition, AgentType, AgentUpdateParams, ExecutionIdentity,
    McpServer, Metadata, ToolParams,
};
use hangar_protocol::error::ApiError;
use hangar_protocol::ids::IdKind;
use hangar_protocol::nullable::Patch;
use hangar_protocol::page::{Order, Page};
use hangar_protocol::time::Timestamp;

use crate::limits::*;
use crate::listing::{ListRequest, page};
use crate::resources::{CAS_ATTEMPTS, Resources, store_error};
use crate::store::StoreError;
use crate::{tools, validate};

const LIST: &str = "agents";
const VERSIONS_LIST: &str = "agent_versions";

pub(crate) fn agent_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Agent `{}` not found.",
        id.chars().take(128).collect::<String>()
    ))
}

fn check_optional_text(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| validate::text(field, v, 0, max))
}

fn check_identity(identity: &ExecutionIdentity) -> Result<(), ApiError> {
    match identity {
        ExecutionIdentity::ServiceAccount => Ok(()),
        ExecutionIdentity::AwsRole { role_arn } => validate::text(
            "execution_identity.role_arn",
            role_arn,
            1,
            MAX_ROLE_ARN_CHARS,
        ),
    }
}

fn refuse_multiagent(value: Option<&serde_json::Value>) -> Result<(), ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(_) => Err(ApiError::invalid(
            "multiagent: multiagent agents are not supported by this server yet",
        )),
    }
}

/// Resolves tools and MCP servers together (they reference each other).
pub(crate) fn resolve_tooling(
    tools: &[ToolParams],
    mcp_servers: &[McpServer],
) -> Result<(Vec<hangar_protocol::agent::Tool>, Vec<McpServer>), ApiError> {
    tools::check_mcp_servers("mcp_servers", mcp_servers)?;
    let tools = tools::resolve_tools("tools", tools)?;
    tools::check_mcp_references(&tools, mcp_servers)?;
    Ok((tools, mcp_servers.to_vec()))
}

impl Resources {
    pub async fn create_agent(&self, params: AgentCreateParams) -> Result<Agent, ApiError> {
        validate::text("name", &params.name, 1, MAX_NAME_CHARS)?;
        check_optional_text(
            "description",
            params.description.as_deref(),
            MAX_DESCRIPTION_CHARS,
        )?;
        check_optional_text("system", params.system.as_deref(), MAX_SYSTEM_CHARS)?;
        let metadata = params.metadata.unwrap_or_default();
        validate::metadata(&metadata)?;
        let execution_identity = params
            .execution_identity
            .unwrap_or(ExecutionIdentity::ServiceAccount);
        check_identity(&execution_identity)?;
        refuse_multiagent(params.multiagent.as_ref())?;
        let model = tools::resolve_model("model", &params.model, None)?;
        self.check_routable("model", &model.id)?;
        let (tools, mcp_servers) = resolve_tooling(
            params.tools.as_deref().unwrap_or_default(),
            params.mcp_servers.as_deref().unwrap_or_default(),
        )?;
        let skills = tools::resolve_skills("skills", params.skills.as_deref().unwrap_or_default())?;
        let now = Timestamp::now();
        let agent = Agent {
            r#type: AgentType,
            id: IdKind::Agent.mint(),
            version: 1,
            definition: AgentDefinition {
                name: params.name,
                description: params.description,
                system: params.system,
                model,
                execution_identity,
                tools,
                mcp_servers,
                skills,
                multiagent: None,
            },
            metadata,
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        self.store.insert_agent(&agent).await.map_err(store_error)?;
        Ok(agent)
    }

    /// The latest version, or version `version` (≥ 1).
    pub async fn agent(&self, id: &str, version: Option<i64>) -> Result<Agent, ApiError> {
        if version.is_some_and(|v| v < 1) {
            return Err(ApiError::invalid("version: must be a positive integer"));
        }
        if let Some(agent) = self.store.agent(id, version).await.map_err(store_error)? {
            return Ok(agent);
        }
        if version.is_some()
            && self
                .store
                .agent(id, None)
                .await
                .map_err(store_error)?
                .is_some()
        {
            return Err(ApiError::not_found("Agent version not found."));
        }
        Err(agent_not_found(id))
    }

    pub async fn update_agent(
        &self,
        id: &str,
        params: AgentUpdateParams,
    ) -> Result<Agent, ApiError> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.agent(id, None).await?;
            if current.archived_at.is_some() {
                return Err(ApiError::invalid("Cannot modify archived agent."));
            }
            if params.version.is_some_and(|v| v != current.version) {
                return Err(store_error(StoreError::Stale));
            }
            let (definition, metadata) = apply_update(&current, &params)?;
            if definition.model != current.definition.model {
                self.check_routable("model", &definition.model.id)?;
            }
            if definition == current.definition && metadata == current.metadata {
                return Ok(current);
            }
            let next = Agent {
                version: current.version + 1,
                definition,
                metadata,
                updated_at: Timestamp::now(),
                ..current.clone()
            };
            match self.store.update_agent(&next, current.version).await {
                Ok(()) => return Ok(next),
                // Someone else updated first: a guarded update fails, an unguarded one retries.
                Err(StoreError::Stale) if params.version.is_none() => continue,
                Err(err) => return Err(store_error(err)),
            }
        }
        Err(store_error(StoreError::Stale))
    }

    pub async fn list_agents(&self, request: &ListRequest) -> Result<Page<Agent>, ApiError> {
        let query = request.query(LIST, Order::Desc)?;
        let rows = self.store.list_agents(&query).await.map_err(store_error)?;
        Ok(page(LIST, &query, rows, |a| a.id.clone()))
    }

    pub async fn archive_agent(&self, id: &str) -> Result<Agent, ApiError> {
        if !self
            .store
            .archive_agent(id, Timestamp::now())
            .await
            .map_err(store_error)?
        {
            return Err(agent_not_found(id));
        }
        self.agent(id, None).await
    }

    /// Every version of an agent, newest first.
    pub async fn list_agent_versions(
        &self,
        id: &str,
        request: &ListRequest,
    ) -> Result<Page<Agent>, ApiError> {
        self.agent(id, None).await?;
        let query = request.query(VERSIONS_LIST, Order::Desc)?;
        if query
            .cursor
            .as_ref()
            .is_some_and(|c| c.key.parse::<i64>().is_err())
        {
            return Err(ApiError::invalid("invalid page cursor"));
        }
        let rows = self
            .store
            .list_agent_versions(id, &query)
            .await
            .map_err(store_error)?;
        Ok(page(VERSIONS_LIST, &query, rows, |a| a.version.to_string()))
    }
}

/// Applies an update's tri-state fields to the current version.
fn apply_update(
    current: &Agent,
    params: &AgentUpdateParams,
) -> Result<(AgentDefinition, Metadata), ApiError> {
    let mut def = current.definition.clone();
    match &params.name {
        Patch::Keep => {}
        Patch::Clear => return Err(ApiError::invalid("name: cannot be cleared")),
        Patch::Set(name) => {
            validate::text("name", name, 1, MAX_NAME_CHARS)?;
            def.name = name.clone();
        }
    }
    apply_text(
        &mut def.description,
        &params.description,
        "description",
        MAX_DESCRIPTION_CHARS,
    )?;
    apply_text(&mut def.system, &params.system, "system", MAX_SYSTEM_CHARS)?;
    match &params.model {
        Patch::Keep => {}
        Patch::Clear => return Err(ApiError::invalid("model: cannot be cleared")),
        Patch::Set(model) => def.model = tools::resolve_model("model", model, Some(&def.model))?,
    }
    match &params.execution_identity {
        Patch::Keep => {}
        Patch::Clear => def.execution_identity = ExecutionIdentity::ServiceAccount,
        Patch::Set(identity) => {
            check_identity(identity)?;
            def.execution_identity = identity.clone();
        }
    }
    if let Patch::Set(value) = &params.multiagent {
        refuse_multiagent(Some(value))?;
    }
    if !(params.tools.is_keep() && params.mcp_servers.is_keep()) {
        let tool_params = match &params.tools {
            Patch::Keep => None,
            Patch::Clear => Some(&[][..]),
            Patch::Set(list) => Some(list.as_slice()),
        };
        let servers = match &params.mcp_servers {
            Patch::Keep => def.mcp_servers.clone(),
            Patch::Clear => Vec::new(),
            Patch::Set(list) => list.clone(),
        };
        tools::check_mcp_servers("mcp_servers", &servers)?;
        if let Some(tool_params) = tool_params {
            def.tools = tools::resolve_tools("tools", tool_params)?;
        }
        tools::check_mcp_references(&def.tools, &servers)?;
        def.mcp_servers = servers;
    }
    match &params.skills {
        Patch::Keep => {}
        Patch::Clear => def.skills.clear(),
        Patch::Set(list) => def.skills = tools::resolve_skills("skills", list)?,
    }
    let metadata = match &params.metadata {
        Patch::Set(patch) => validate::apply_metadata_patch(&current.metadata, patch, false)?,
        Patch::Keep | Patch::Clear => current.metadata.clone(),
    };
    Ok((def, metadata))
}

/// `description` / `system`: omit keeps, `null` or `""` clears, a value replaces.
pub(crate) fn apply_text(
    slot: &mut Option<String>,
    patch: &Patch<String>,
    field: &str,
    max: usize,
) -> Result<(), ApiError> {
    match patch {
        Patch::Keep => {}
        Patch::Clear => *slot = None,
        Patch::Set(text) if text.is_empty() => *slot = None,
        Patch::Set(text) => {
            validate::text(field, text, 0, max)?;
            *slot = Some(text.clone());
        }
    }
    Ok(())
}
