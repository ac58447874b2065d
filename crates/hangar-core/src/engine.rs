//! [`Engine`]: what the HTTP API calls for sessions at work — sending events, listing and
//! streaming the log, and the session lifecycle operations that touch the log or the
//! harness (create with `initial_events`, update with `session.updated`, delete). Resource
//! rules stay in [`Resources`]; turns run in the [`Scheduler`]'s runners.

use std::sync::Arc;

use hangar_protocol::environment::{Deleted, EnvironmentConfig};
use hangar_protocol::error::ApiError;
use hangar_protocol::event::{EventBody, FILTERABLE_EVENT_TYPES};
use hangar_protocol::event_params::{EventParams, SendEventsParams};
use hangar_protocol::ids::IdKind;
use hangar_protocol::page::{Order, Page};
use hangar_protocol::session::{Session, SessionCreateParams, SessionStatus, SessionUpdateParams};
use hangar_protocol::thread::{SessionThread, SessionThreadType};
use hangar_protocol::time::Timestamp;
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::bus::BusMessage;
use crate::event_log::{encode_event, server_event};
use crate::event_store::{Commit, StoredEvent};
use crate::harness::Harness;
use crate::harness::runner::primary_thread_id;
use crate::harness::state::RuntimeState;
use crate::limits::{DEFAULT_EVENTS_PAGE_LIMIT, MAX_EVENTS_PAGE_LIMIT, MAX_EVENTS_PER_REQUEST};
use crate::listing::{ListRequest, page};
use crate::resources::{Resources, store_error};
use crate::scheduler::Scheduler;
use crate::session_events::{SessionView, check_request};

const EVENTS_LIST: &str = "events";

#[derive(Clone)]
pub struct Engine {
    resources: Resources,
    scheduler: Scheduler,
}

/// A stored event in wire form, ready to embed in a response.
pub fn raw_event(event: &StoredEvent) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(event.wire_json())
        .map_err(|e| ApiError::internal(format!("stored event {} is not JSON: {e}", event.id)))
}

/// The ports an engine is assembled from.
pub struct EngineParts {
    pub store: Arc<dyn crate::store::Store>,
    pub events: Arc<dyn crate::event_store::EventStore>,
    pub bus: Arc<dyn crate::bus::EventBus>,
    pub model: Arc<dyn crate::model::ModelClient>,
    pub tools: Arc<dyn crate::tool_runtime::ToolRuntime>,
    pub config: crate::harness::HarnessConfig,
}

impl Engine {
    pub fn new(resources: Resources, scheduler: Scheduler) -> Self {
        Engine {
            resources,
            scheduler,
        }
    }

    /// Wires the resources rules, the event log, the harness and the scheduler together.
    /// Agent models are checked against `parts.model` at create and update.
    pub fn assemble(parts: EngineParts) -> Self {
        let log = crate::event_log::EventLog::new(parts.events.clone(), parts.bus);
        let harness = Arc::new(Harness {
            log,
            store: parts.store.clone(),
            events: parts.events,
            model: parts.model.clone(),
            tools: parts.tools,
            config: parts.config,
        });
        let resources = Resources::new(parts.store)
            .with_models(parts.model)
            .with_prices(harness.config.prices.clone());
        Engine::new(resources, Scheduler::new(harness))
    }

    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    fn harness(&self) -> &Arc<Harness> {
        self.scheduler.harness()
    }

    /// Appends the events a client sent, then wakes (or interrupts) the session's runner.
    pub async fn send_events(
        &self,
        session_id: &str,
        params: SendEventsParams,
    ) -> Result<Vec<Box<RawValue>>, ApiError> {
        let h = self.harness();
        let record = h
            .events
            .session_record(session_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| session_not_found(session_id))?;
        let session = &record.session.value;
        let runtime = RuntimeState::decode(&record.runtime);
        // Only a `user.tool_result` depends on the environment (self-hosted only): the pinned
        // copy when the session has run, else the environment as it is now.
        let self_hosted = if params
            .events
            .iter()
            .any(|e| matches!(e, EventParams::UserToolResult(_)))
        {
            let config = match &runtime.environment {
                Some(env) => env.config.clone(),
                None => {
                    self.resources
                        .environment(&session.environment_id)
                        .await?
                        .config
                }
            };
            matches!(config, EnvironmentConfig::SelfHosted)
        } else {
            false
        };
        let view = SessionView {
            session,
            runtime: &runtime,
            self_hosted,
            budget_reached: crate::budget::reached(session, &self.resources.prices),
        };
        let accepted: Vec<_> = check_request(params.events, &view)?
            .into_iter()
            .filter(|a| a.keep)
            .collect();
        if accepted.is_empty() {
            return Ok(Vec::new());
        }
        let now = Timestamp::now();
        let interrupt = accepted
            .iter()
            .any(|a| matches!(a.body, EventBody::UserInterrupt { .. }));
        let events = accepted
            .iter()
            .map(|a| {
                let at = a.processed_on_receipt.then_some(now);
                encode_event(IdKind::Event.mint(), &a.body, at, None)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?;
        let committed = h
            .log
            .commit(Commit {
                session_id: session_id.to_owned(),
                events,
                ..Commit::default()
            })
            .await
            .map_err(store_error)?;
        if interrupt {
            self.scheduler.interrupt(session_id);
        } else {
            self.scheduler.wake(session_id);
        }
        committed.appended.iter().map(raw_event).collect()
    }

    /// A page of the session's log, oldest first by default.
    pub async fn list_events(
        &self,
        session_id: &str,
        request: &ListRequest,
        types: &[String],
    ) -> Result<Page<Box<RawValue>>, ApiError> {
        self.resources.session(session_id).await?;
        for name in types {
            if !FILTERABLE_EVENT_TYPES.contains(&name.as_str()) {
                return Err(ApiError::invalid(format!(
                    "types: `{}` is not a valid event type",
                    name.chars().take(64).collect::<String>()
                )));
            }
        }
        let query = request.query_with_limits(
            EVENTS_LIST,
            Order::Asc,
            DEFAULT_EVENTS_PAGE_LIMIT,
            MAX_EVENTS_PAGE_LIMIT,
        )?;
        if let Some(cursor) = &query.cursor
            && cursor.key.parse::<i64>().is_err()
        {
            return Err(ApiError::invalid("invalid page cursor"));
        }
        let rows = self
            .harness()
            .events
            .list_events(session_id, &query, types)
            .await
            .map_err(store_error)?;
        let listed = page(EVENTS_LIST, &query, rows, |e| e.seq.to_string());
        Ok(Page {
            data: listed
                .data
                .iter()
                .map(raw_event)
                .collect::<Result<_, _>>()?,
            next_page: listed.next_page,
        })
    }

    /// The session's primary thread (the only thread until multiagent exists).
    pub async fn primary_thread(&self, session_id: &str) -> Result<SessionThread, ApiError> {
        let session = self.resources.session(session_id).await?;
        Ok(SessionThread {
            r#type: SessionThreadType,
            id: primary_thread_id(&session.id),
            session_id: session.id,
            agent: session.agent,
            status: session.status,
            parent_thread_id: None,
            workflow_run_id: None,
            stats: Some(session.stats),
            usage: Some(session.usage),
            created_at: session.created_at,
            updated_at: session.updated_at,
            archived_at: session.archived_at,
        })
    }

    /// Thread `thread_id` of the session (404 unless it is the primary thread).
    pub async fn thread(
        &self,
        session_id: &str,
        thread_id: &str,
    ) -> Result<SessionThread, ApiError> {
        let thread = self.primary_thread(session_id).await?;
        if thread.id != thread_id {
            return Err(ApiError::not_found(format!(
                "Thread `{}` not found in session `{session_id}`.",
                thread_id.chars().take(128).collect::<String>()
            )));
        }
        Ok(thread)
    }

    /// Subscribes to the session's live events (checking it exists).
    pub async fn subscribe(
        &self,
        session_id: &str,
    ) -> Result<broadcast::Receiver<BusMessage>, ApiError> {
        self.resources.session(session_id).await?;
        Ok(self.harness().log.bus().subscribe(session_id))
    }

    /// Stored events after `seq`, oldest first (stream replay and catch-up).
    pub async fn events_after(
        &self,
        session_id: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ApiError> {
        self.harness()
            .events
            .events_after(session_id, seq, limit)
            .await
            .map_err(store_error)
    }

    /// The `seq` of the session's latest event (0 when the log is empty).
    pub async fn last_seq(&self, session_id: &str) -> Result<i64, ApiError> {
        self.resources.session(session_id).await?;
        let query = crate::store::ListQuery {
            order: Order::Desc,
            cursor: None,
            limit: 1,
            include_archived: true,
            created_at: crate::store::TimeRange::default(),
        };
        let rows = self
            .harness()
            .events
            .list_events(session_id, &query, &[])
            .await
            .map_err(store_error)?;
        Ok(rows.items.first().map_or(0, |e| e.seq))
    }

    /// The `seq` of event `event_id` of this session, if it exists.
    pub async fn event_seq(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> Result<Option<i64>, ApiError> {
        let event = self
            .harness()
            .events
            .event(session_id, event_id)
            .await
            .map_err(store_error)?;
        Ok(event.map(|e| e.seq))
    }

    /// Creates a session; with `initial_events` it starts running them at once.
    pub async fn create_session(
        &self,
        mut params: SessionCreateParams,
    ) -> Result<Session, ApiError> {
        let initial = parse_initial_events(params.initial_events.take().unwrap_or_default())?;
        let status = if initial.is_empty() {
            SessionStatus::Idle
        } else {
            SessionStatus::Running
        };
        let session = self
            .resources
            .create_session_with_status(params, status)
            .await?;
        if initial.is_empty() {
            return Ok(session);
        }
        let events = initial
            .iter()
            .map(|body| encode_event(IdKind::Event.mint(), body, None, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?;
        let commit = Commit {
            session_id: session.id.clone(),
            events,
            ..Commit::default()
        };
        self.harness()
            .log
            .commit(commit)
            .await
            .map_err(store_error)?;
        self.scheduler.wake(&session.id);
        Ok(session)
    }

    /// Updates a session and records what changed as `session.updated`.
    pub async fn update_session(
        &self,
        session_id: &str,
        params: SessionUpdateParams,
    ) -> Result<Session, ApiError> {
        let before = self.resources.session(session_id).await?;
        let after = self.resources.update_session(session_id, params).await?;
        let mut changed = serde_json::Map::new();
        if before.title != after.title {
            changed.insert("title".into(), serde_json::json!(after.title));
        }
        if before.metadata != after.metadata {
            changed.insert("metadata".into(), serde_json::json!(after.metadata));
        }
        if before.agent != after.agent {
            changed.insert("agent".into(), serde_json::json!(after.agent));
        }
        if before.budget != after.budget {
            changed.insert("budget".into(), serde_json::json!(after.budget));
        }
        if !changed.is_empty() {
            let event = server_event(&EventBody::SessionUpdated(changed)).map_err(store_error)?;
            let commit = Commit {
                session_id: session_id.to_owned(),
                events: vec![event],
                ..Commit::default()
            };
            self.harness()
                .log
                .commit(commit)
                .await
                .map_err(store_error)?;
        }
        Ok(after)
    }

    /// Deletes a session with its log and files; open streams get `session.deleted`.
    pub async fn delete_session(&self, session_id: &str) -> Result<Deleted, ApiError> {
        let deleted = self.resources.delete_session(session_id).await?;
        self.harness().log.deleted(session_id);
        self.harness().tools.session_deleted(session_id).await;
        Ok(deleted)
    }
}

fn session_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Session `{}` not found.",
        id.chars().take(128).collect::<String>()
    ))
}

/// `initial_events`: up to [`MAX_EVENTS_PER_REQUEST`] `user.message` events, all valid or
/// none accepted.
fn parse_initial_events(values: Vec<serde_json::Value>) -> Result<Vec<EventBody>, ApiError> {
    if values.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "initial_events: at most {MAX_EVENTS_PER_REQUEST} events (got {})",
            values.len()
        )));
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let event: EventParams = serde_json::from_value(value)
                .map_err(|e| ApiError::invalid(format!("initial_events[{i}]: {e}")))?;
            match event {
                EventParams::UserMessage(p) => {
                    if p.content.is_empty() {
                        return Err(ApiError::invalid(format!(
                            "initial_events[{i}].content: must contain at least one block"
                        )));
                    }
                    Ok(EventBody::UserMessage { content: p.content })
                }
                EventParams::UserDefineOutcome(_) => Err(ApiError::invalid(format!(
                    "initial_events[{i}]: user.define_outcome is not supported by this server yet"
                ))),
                other => Err(ApiError::invalid(format!(
                    "initial_events[{i}].type: `{}` is not allowed; initial_events may only \
                     contain user.message and user.define_outcome",
                    other.type_name()
                ))),
            }
        })
        .collect()
}
