//! Sessions: create (resolving the agent snapshot), retrieve, update, list, archive, delete.
//! `shared/spec/cma-api.md` §2.4, `cma-behaviour.md` D.

use hangar_protocol::agent::{Agent, AgentDefinition, AgentType};
use hangar_protocol::environment::{Deleted, EnvironmentConfig};
use hangar_protocol::error::ApiError;
use hangar_protocol::ids::IdKind;
use hangar_protocol::nullable::Patch;
use hangar_protocol::page::{BidirectionalPage, Order};
use hangar_protocol::session::{
    AgentOverridesParams, AgentReferenceParams, BudgetLimit, Session, SessionAgent,
    SessionAgentParam, SessionCreateParams, SessionStats, SessionStatus, SessionType,
    SessionUpdateParams, SessionUsage,
};
use hangar_protocol::string_or::StringOr;
use hangar_protocol::time::Timestamp;

use crate::agents::{agent_not_found, apply_text, resolve_tooling};
use crate::environments::environment_archived;
use crate::limits::*;
use crate::listing::{ListRequest, bidirectional_page};
use crate::resources::{CAS_ATTEMPTS, Resources, store_error};
use crate::store::{SessionFilter, StoreError, Versioned};
use crate::{budget, tools, validate};

const LIST: &str = "sessions";

fn session_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Session `{}` not found.",
        id.chars().take(128).collect::<String>()
    ))
}

/// A turn is in flight (or waiting to retry): the session may not be archived, deleted or
/// have its tools changed.
fn is_busy(status: SessionStatus) -> bool {
    matches!(status, SessionStatus::Running | SessionStatus::Rescheduling)
}

/// Fills in the figures computed at read time.
fn present(mut session: Session) -> Session {
    let end = if session.status == SessionStatus::Terminated {
        session.updated_at
    } else {
        Timestamp::now()
    };
    session.stats = SessionStats {
        active_seconds: session.usage.active_seconds,
        duration_seconds: end.seconds_since(session.created_at).max(0.0),
    };
    session
}

fn check_create_extras(
    params: &SessionCreateParams,
    env_config: &EnvironmentConfig,
) -> Result<(), ApiError> {
    let self_hosted = matches!(env_config, EnvironmentConfig::SelfHosted);
    // No resource kind can be attached yet (no files API, memory stores or git checkout),
    // so the first one named is reported; none is silently dropped.
    if let Some(resource) = params.resources.as_deref().unwrap_or_default().first() {
        let i = 0;
        let kind = resource
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let id_of = |key: &str| {
            resource
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        return Err(ApiError::invalid(match kind {
            "file" | "github_repository" if self_hosted => format!(
                "Environment {} is a self-hosted environment. `resources` are not supported \
                 with self-hosted environments.",
                params.environment_id
            ),
            "file" => format!(
                "resources[{i}].file_id: file `{}` not found",
                id_of("file_id")
            ),
            "memory_store" => format!(
                "resources[{i}].memory_store_id: memory store `{}` not found",
                id_of("memory_store_id")
            ),
            "github_repository" => {
                format!(
                    "resources[{i}]: github_repository resources are not supported by this server yet"
                )
            }
            other => format!(
                "resources[{i}].type: `{other}` is not a valid value; expected one of \
                 github_repository, file, memory_store"
            ),
        }));
    }
    Ok(())
}

fn apply_overrides(agent: &Agent, o: &AgentOverridesParams) -> Result<AgentDefinition, ApiError> {
    let mut def = agent.definition.clone();
    match &o.model {
        Patch::Keep => {}
        Patch::Clear => {
            return Err(
                ApiError::invalid("agent.model: cannot be null").with_code("agent_model_required")
            );
        }
        Patch::Set(model) => {
            def.model = tools::resolve_model("agent.model", model, Some(&def.model))?
        }
    }
    apply_text(&mut def.system, &o.system, "agent.system", MAX_SYSTEM_CHARS)?;
    if !(o.tools.is_keep() && o.mcp_servers.is_keep()) {
        let servers = match &o.mcp_servers {
            Patch::Keep => def.mcp_servers.clone(),
            Patch::Clear => Vec::new(),
            Patch::Set(list) => list.clone(),
        };
        match &o.tools {
            Patch::Keep => {
                tools::check_mcp_servers("mcp_servers", &servers)?;
                tools::check_mcp_references(&def.tools, &servers)?;
                def.mcp_servers = servers;
            }
            Patch::Clear => (def.tools, def.mcp_servers) = resolve_tooling(&[], &servers)?,
            Patch::Set(list) => (def.tools, def.mcp_servers) = resolve_tooling(list, &servers)?,
        }
    }
    match &o.skills {
        Patch::Keep => {}
        Patch::Clear => def.skills.clear(),
        Patch::Set(list) => def.skills = tools::resolve_skills("agent.skills", list)?,
    }
    Ok(def)
}

impl Resources {
    /// A budget for a new session: its model must have a list price.
    fn initial_budget(
        &self,
        value: Option<&serde_json::Value>,
        model: &str,
    ) -> Result<Option<BudgetLimit>, ApiError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let limit = budget::parse(value)?;
        if self.prices.price(model).is_none() {
            return Err(ApiError::invalid(format!(
                "budget: model `{model}` has no list price on this server, so its cost cannot be \
                 measured (configure one under [prices] in the server config)"
            ))
            .with_code("model_not_budgetable"));
        }
        Ok(Some(limit))
    }

    /// A changed budget: only sessions created with one may change it, and only above what
    /// they have spent.
    fn raised_budget(
        &self,
        current: &Session,
        value: &serde_json::Value,
    ) -> Result<BudgetLimit, ApiError> {
        if current.budget.is_none() {
            return Err(ApiError::invalid(
                "budget: a budget can only be set when the session is created",
            )
            .with_code("budget_create_only"));
        }
        let limit = budget::parse(value)?;
        let spent = budget::spent_cents(current, &self.prices);
        if budget::cap_cents(&limit) <= spent {
            return Err(ApiError::invalid(format!(
                "budget.max_list_cost.amount: must be above the {spent} cents already spent"
            ))
            .with_code("budget_not_raised"));
        }
        Ok(limit)
    }

    async fn resolve_session_agent(
        &self,
        param: &SessionAgentParam,
    ) -> Result<SessionAgent, ApiError> {
        let (id, version, overrides) = match param {
            StringOr::Str(id) => (id.as_str(), None, None),
            StringOr::Obj(AgentReferenceParams::Agent(p)) => (p.id.as_str(), p.version, None),
            StringOr::Obj(AgentReferenceParams::WithOverrides(o)) => {
                (o.id.as_str(), o.version, Some(o))
            }
        };
        validate::id_ref("agent.id", id, IdKind::Agent).map_err(|_| agent_not_found(id))?;
        let agent = self.agent(id, version).await?;
        if self
            .store
            .agent(id, None)
            .await
            .map_err(store_error)?
            .is_some_and(|a| a.archived_at.is_some())
        {
            return Err(ApiError::invalid(format!("Agent {id} is archived.")));
        }
        let definition = match overrides {
            None => agent.definition.clone(),
            Some(o) => {
                let definition = apply_overrides(&agent, o)?;
                self.check_routable("agent.model", &definition.model.id)?;
                definition
            }
        };
        Ok(SessionAgent {
            r#type: AgentType,
            id: agent.id,
            version: agent.version,
            definition,
        })
    }

    pub async fn create_session(&self, params: SessionCreateParams) -> Result<Session, ApiError> {
        self.create_session_with_status(params, SessionStatus::Idle)
            .await
    }

    /// Creates a session in `status` (`running` when initial events are about to be
    /// appended; the engine handles those).
    pub(crate) async fn create_session_with_status(
        &self,
        params: SessionCreateParams,
        status: SessionStatus,
    ) -> Result<Session, ApiError> {
        validate::id_ref(
            "environment_id",
            &params.environment_id,
            IdKind::Environment,
        )?;
        let env = self.environment(&params.environment_id).await?;
        if env.archived_at.is_some() {
            return Err(environment_archived(&env.id));
        }
        let agent = self.resolve_session_agent(&params.agent).await?;
        check_create_extras(&params, &env.config)?;
        let budget = self.initial_budget(params.budget.as_ref(), &agent.definition.model.id)?;
        if let Some(title) = &params.title {
            validate::text("title", title, 0, MAX_TITLE_CHARS)?;
        }
        let metadata = params.metadata.clone().unwrap_or_default();
        validate::metadata(&metadata)?;
        let vault_ids = params.vault_ids.clone().unwrap_or_default();
        validate::count("vault_ids", &vault_ids, MAX_VAULT_IDS)?;
        for (i, id) in vault_ids.iter().enumerate() {
            validate::id_ref(&format!("vault_ids[{i}]"), id, IdKind::Vault)?;
        }
        let now = Timestamp::now();
        let session = Session {
            r#type: SessionType,
            id: IdKind::Session.mint(),
            status,
            title: params.title,
            environment_id: env.id,
            deployment_id: None,
            agent,
            resources: Vec::new(),
            vault_ids,
            metadata,
            budget,
            outcome_evaluations: Vec::new(),
            stats: SessionStats::default(),
            usage: SessionUsage::zero(),
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        self.store
            .insert_session(&session)
            .await
            .map_err(store_error)?;
        Ok(present(session))
    }

    pub async fn session(&self, id: &str) -> Result<Session, ApiError> {
        let found = self.store.session(id).await.map_err(store_error)?;
        found
            .map(|v| present(v.value))
            .ok_or_else(|| session_not_found(id))
    }

    pub async fn update_session(
        &self,
        id: &str,
        params: SessionUpdateParams,
    ) -> Result<Session, ApiError> {
        if params.vault_ids.is_some() {
            return Err(ApiError::invalid(
                "vault_ids: updating vault_ids is not supported",
            ));
        }
        self.modify_session(id, |current| {
            if current.archived_at.is_some() {
                return Err(ApiError::invalid("Cannot modify archived session."));
            }
            let mut next = current.clone();
            match &params.title {
                Patch::Keep => {}
                Patch::Clear => next.title = None,
                Patch::Set(title) => {
                    validate::text("title", title, 0, MAX_TITLE_CHARS)?;
                    next.title = Some(title.clone());
                }
            }
            if let Patch::Set(patch) = &params.metadata {
                next.metadata = validate::apply_metadata_patch(&current.metadata, patch, false)?;
            }
            if let Some(agent) = &params.agent {
                if is_busy(current.status) {
                    return Err(ApiError::invalid(
                        "agent: the session's tools can only change while it is not running",
                    ));
                }
                let def = &mut next.agent.definition;
                let servers = agent
                    .mcp_servers
                    .clone()
                    .unwrap_or_else(|| def.mcp_servers.clone());
                match &agent.tools {
                    Some(tools) => (def.tools, def.mcp_servers) = resolve_tooling(tools, &servers)?,
                    None => {
                        tools::check_mcp_servers("agent.mcp_servers", &servers)?;
                        tools::check_mcp_references(&def.tools, &servers)?;
                        def.mcp_servers = servers;
                    }
                }
            }
            match &params.budget {
                Patch::Keep => {}
                Patch::Set(value) if value.is_null() => next.budget = None,
                Patch::Clear => next.budget = None,
                Patch::Set(value) => next.budget = Some(self.raised_budget(current, value)?),
            }
            Ok(next)
        })
        .await
    }

    pub async fn list_sessions(
        &self,
        request: &ListRequest,
        filter: &SessionFilter,
    ) -> Result<BidirectionalPage<Session>, ApiError> {
        if filter.agent_version.is_some() && filter.agent_id.is_none() {
            return Err(ApiError::invalid(
                "agent_version: only allowed together with agent_id",
            ));
        }
        let query = request.query(LIST, Order::Desc)?;
        let rows = self
            .store
            .list_sessions(&query, filter)
            .await
            .map_err(store_error)?;
        let mut page = bidirectional_page(LIST, &query, rows, |s| s.id.clone());
        page.data = page.data.into_iter().map(present).collect();
        Ok(page)
    }

    pub async fn archive_session(&self, id: &str) -> Result<Session, ApiError> {
        self.modify_session(id, |current| {
            if is_busy(current.status) {
                return Err(ApiError::invalid(
                    "Cannot archive session while it is running. Send an interrupt event or wait \
                     for the session to complete.",
                ));
            }
            let mut next = current.clone();
            next.archived_at = current.archived_at.or(Some(Timestamp::now()));
            Ok(next)
        })
        .await
    }

    pub async fn delete_session(&self, id: &str) -> Result<Deleted, ApiError> {
        let current = self.session(id).await?;
        if is_busy(current.status) {
            return Err(ApiError::invalid(
                "Cannot delete session while it is running. Send an interrupt event or wait for \
                 the session to complete.",
            ));
        }
        if !self.store.delete_session(id).await.map_err(store_error)? {
            return Err(session_not_found(id));
        }
        Ok(Deleted {
            id: id.to_owned(),
            r#type: "session_deleted".to_owned(),
        })
    }

    async fn modify_session(
        &self,
        id: &str,
        change: impl Fn(&Session) -> Result<Session, ApiError>,
    ) -> Result<Session, ApiError> {
        for _ in 0..CAS_ATTEMPTS {
            let Versioned {
                rev,
                value: current,
            } = self
                .store
                .session(id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| session_not_found(id))?;
            let mut next = change(&current)?;
            if next == current {
                return Ok(present(current));
            }
            next.updated_at = Timestamp::now();
            match self.store.update_session(&next, rev).await {
                Ok(()) => return Ok(present(next)),
                Err(StoreError::Stale) => continue,
                Err(err) => return Err(store_error(err)),
            }
        }
        Err(store_error(StoreError::Stale))
    }
}
