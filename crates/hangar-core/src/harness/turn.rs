//! A turn from start to end: announce running, take queued input, alternate model requests
//! and tool calls, steer messages that arrive mid-turn into it, and end with
//! `session.status_idle` — `end_turn`, `requires_action` (paused for the client),
//! `retries_exhausted`, or `end_turn` after an interrupt. Also the transitions of a paused
//! turn (answers arriving, interrupts) and recovery of a turn a dead runner left open.

use std::time::Instant;

use hangar_protocol::event::{
    Confirmation, EventBody, RetryStatus, SessionErrorObject, SessionErrorType, StopReason,
};
use hangar_protocol::session::SessionStatus;
use tokio_util::sync::CancellationToken;

use super::RunnerError;
use super::builtin_tools::runs_in_sandbox;
use super::catalog::ToolKind;
use super::model_step::Step;
use super::runner::Runner;
use super::state::{PendingAction, PendingKind};
use super::tool_calls::{Action, CallsOutcome, PlannedCall, result_event};
use crate::model::StopReason as ModelStop;
use crate::tool_runtime::ToolOutput;

const INTERRUPTED: &str = "The tool call was interrupted by the user before it finished.";
const RESTARTED: &str = "The tool call was interrupted because the Hangar runtime restarted; \
    it may or may not have completed.";

fn is_message(type_name: &str) -> bool {
    type_name == "user.message" || type_name == "system.message"
}

impl Runner {
    /// Runs a turn: a new one for queued messages (`start`), or a paused one whose pending
    /// tool uses are all answered.
    pub(super) async fn run_turn(&mut self, start: bool) -> Result<(), RunnerError> {
        let cancel = self.signals.new_turn();
        self.turn_started = Some(Instant::now());
        let taken = if start {
            self.take_queued(|e| is_message(&e.type_name))
        } else {
            self.take_queued(|e| e.type_name == "user.tool_confirmation")
        };
        let mut events = vec![
            Self::event(&EventBody::StatusRunning {})?,
            Self::event(&EventBody::ThreadStatusRunning {
                session_thread_id: self.thread_id(),
                agent_name: self.agent_name(),
            })?,
        ];
        if start {
            events.extend(self.mcp_unavailable_errors()?);
            self.runtime.turn_requests = 0;
        }
        self.runtime.turn_open = true;
        self.runtime.pending.clear();
        if start {
            // The opening goes out with the first model request (see `Staged`).
            self.staged.events.extend(events);
            self.staged.processed.extend(taken);
            self.staged.status = Some(SessionStatus::Running);
        } else {
            // A resumed turn may run tools first: say it is running before they start.
            self.commit(events, taken, Some(&|s| s.status = SessionStatus::Running))
                .await?;
        }
        if !start {
            let waiting = self.settle_answers(&cancel).await?;
            if !waiting.is_empty() {
                return self.pause(waiting).await;
            }
        }
        // A new turn starts right after the runner caught up with the log.
        self.turn_loop(&cancel, start).await
    }

    fn mcp_unavailable_errors(&self) -> Result<Vec<crate::event_store::EncodedEvent>, RunnerError> {
        self.catalog
            .unavailable_mcp_servers
            .iter()
            .map(|name| {
                Self::event(&EventBody::SessionError {
                    error: SessionErrorObject {
                        r#type: SessionErrorType::McpConnectionFailedError,
                        message: format!(
                            "MCP server `{name}` cannot be used: this Hangar server has no MCP \
                             client yet; the turn continues without its tools."
                        ),
                        retry_status: RetryStatus::Retrying,
                        mcp_server_name: Some(name.clone()),
                    },
                })
            })
            .collect()
    }

    /// Acts on the answers of a paused turn: allowed calls run (or, in a self-hosted
    /// environment, wait for the worker's result), denied ones get the deny message.
    async fn settle_answers(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Vec<PendingAction>, RunnerError> {
        let mut waiting = Vec::new();
        for id in self.transcript.unanswered_tool_uses() {
            let Some((decision, message)) = self.decisions.get(&id).cloned() else {
                continue;
            };
            let Some((name, input)) = self.transcript.tool_use(&id) else {
                continue;
            };
            let config = match self.catalog.kind(&name) {
                Some(ToolKind::Builtin(config)) => (**config).clone(),
                _ => continue,
            };
            if decision == Confirmation::Deny {
                let text = match message {
                    Some(message) => format!("The user denied this tool call: {message}"),
                    None => "The user denied this tool call.".to_owned(),
                };
                let event = result_event(&id, &ToolOutput::error(text))?;
                self.commit(vec![event], Vec::new(), None).await?;
            } else if matches!(
                self.environment.config,
                hangar_protocol::environment::EnvironmentConfig::SelfHosted
            ) && runs_in_sandbox(config.name)
            {
                waiting.push(PendingAction {
                    event_id: id,
                    name,
                    kind: PendingKind::ClientResult,
                });
            } else {
                let call = PlannedCall {
                    id,
                    name,
                    input,
                    action: Action::Run(Box::new(config.clone())),
                };
                if !self.run_one(&call, config, cancel).await? {
                    waiting.clear();
                    self.end_turn(StopReason::RetriesExhausted).await?;
                    return Ok(waiting);
                }
            }
        }
        Ok(waiting)
    }

    /// Model requests and tool calls until the turn ends or pauses. `caught_up`: the log was
    /// just folded, so the first round need not read it again.
    async fn turn_loop(
        &mut self,
        cancel: &CancellationToken,
        mut caught_up: bool,
    ) -> Result<(), RunnerError> {
        loop {
            self.stop_if_asked()?;
            if cancel.is_cancelled() {
                return self.end_interrupted().await;
            }
            if self.runtime.turn_requests >= self.h.config.max_requests_per_turn {
                return self.tool_round_limit().await;
            }
            // Checked before each request; the request that crosses the cap completes.
            if crate::budget::reached(&self.session.value, &self.h.config.prices) {
                return self.end_interrupted_with(StopReason::BudgetReached).await;
            }
            // Messages that arrived since the last request join the conversation now: after
            // the tool results they waited for, before the next model request.
            if !std::mem::take(&mut caught_up) {
                self.catch_up().await?;
            }
            let steered = self.take_queued(|e| is_message(&e.type_name));
            if !steered.is_empty() {
                self.commit(Vec::new(), steered, None).await?;
            }
            let (response, plan) = match self.model_step(cancel).await? {
                Step::Response(response, plan) => (response, plan),
                Step::Interrupted => return self.end_interrupted().await,
                Step::Failed => return self.end_turn(StopReason::RetriesExhausted).await,
            };
            let waiting = match self.run_calls(&plan, cancel).await? {
                CallsOutcome::Done(waiting) => waiting,
                CallsOutcome::RuntimeFailed => {
                    self.close_unanswered(INTERRUPTED).await?;
                    return self.end_turn(StopReason::RetriesExhausted).await;
                }
            };
            self.stop_if_asked()?;
            self.catch_up().await?;
            if cancel.is_cancelled() || self.inbox.iter().any(|e| e.type_name == "user.interrupt") {
                return self.end_interrupted().await;
            }
            if !waiting.is_empty() {
                return self.pause(waiting).await;
            }
            let more_input = self.inbox.iter().any(|e| is_message(&e.type_name));
            if plan.is_empty() && !more_input {
                let reason = match response.stop_reason {
                    ModelStop::Refusal => StopReason::Refusal,
                    _ => StopReason::EndTurn,
                };
                return self.end_turn(reason).await;
            }
        }
    }

    async fn tool_round_limit(&mut self) -> Result<(), RunnerError> {
        let limit = self.h.config.max_requests_per_turn;
        let error = Self::event(&EventBody::SessionError {
            error: SessionErrorObject {
                r#type: SessionErrorType::ToolUseLimitReachedError,
                message: format!("The turn reached the limit of {limit} model requests."),
                retry_status: RetryStatus::Exhausted,
                mcp_server_name: None,
            },
        })?;
        self.commit(vec![error], Vec::new(), None).await?;
        self.end_turn(StopReason::RetriesExhausted).await
    }

    /// Ends the turn: the primary thread's idle, the usage snapshot, the session's idle.
    /// Queued interrupts are marked processed with it.
    pub(super) async fn end_turn(&mut self, reason: StopReason) -> Result<(), RunnerError> {
        let interrupts = self.take_queued(|e| e.type_name == "user.interrupt");
        let elapsed = self
            .turn_started
            .take()
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        let mut usage = self.session.value.usage.clone();
        usage.active_seconds += elapsed;
        let usage = EventBody::SessionUsage {
            usage,
            budget: self.session.value.budget.clone(),
        };
        let events = self.idle_events(reason, Some(usage))?;
        self.runtime.turn_open = false;
        self.runtime.pending.clear();
        self.runtime.turn_requests = 0;
        self.commit(
            events,
            interrupts,
            Some(&move |s| {
                s.status = SessionStatus::Idle;
                s.usage.active_seconds += elapsed;
            }),
        )
        .await?;
        self.signals.interrupts_processed();
        self.h.tools.session_idle(&self.session_id).await;
        Ok(())
    }

    async fn end_interrupted(&mut self) -> Result<(), RunnerError> {
        self.end_interrupted_with(StopReason::EndTurn).await
    }

    /// Ends the turn early: calls still without a result get one, then idle with `reason`.
    async fn end_interrupted_with(&mut self, reason: StopReason) -> Result<(), RunnerError> {
        self.close_unanswered(INTERRUPTED).await?;
        self.end_turn(reason).await
    }

    /// Pauses the turn until the client answers `waiting`.
    pub(super) async fn pause(&mut self, waiting: Vec<PendingAction>) -> Result<(), RunnerError> {
        let ids: Vec<String> = waiting.iter().map(|p| p.event_id.clone()).collect();
        self.runtime.turn_open = false;
        self.runtime.pending = waiting;
        self.announce_idle(StopReason::RequiresAction { event_ids: ids }, Vec::new())
            .await
    }

    async fn announce_idle(
        &mut self,
        reason: StopReason,
        processed: Vec<crate::event_store::StoredEvent>,
    ) -> Result<(), RunnerError> {
        let events = self.idle_events(reason, None)?;
        self.commit(events, processed, Some(&|s| s.status = SessionStatus::Idle))
            .await
    }

    /// The primary thread's idle, the usage snapshot (at a turn's end), the session's idle.
    fn idle_events(
        &self,
        reason: StopReason,
        usage: Option<EventBody>,
    ) -> Result<Vec<crate::event_store::EncodedEvent>, RunnerError> {
        let mut events = vec![Self::event(&EventBody::ThreadStatusIdle {
            session_thread_id: self.thread_id(),
            agent_name: self.agent_name(),
            stop_reason: reason.clone(),
            stop_details: None,
        })?];
        if let Some(usage) = usage {
            events.push(Self::event(&usage)?);
        }
        events.push(Self::event(&EventBody::StatusIdle {
            stop_reason: reason,
            stop_details: None,
        })?);
        Ok(events)
    }

    /// Some pending tool uses were answered: say which still wait.
    pub(super) async fn reannounce(&mut self) -> Result<(), RunnerError> {
        let confirmations = self.take_queued(|e| e.type_name == "user.tool_confirmation");
        // Stamping the confirmations folds them into `decisions` before the rest is computed.
        self.commit(Vec::new(), confirmations, None).await?;
        let still: Vec<PendingAction> = std::mem::take(&mut self.runtime.pending)
            .into_iter()
            .filter(|p| !self.answered_now(p))
            .collect();
        let ids = still.iter().map(|p| p.event_id.clone()).collect();
        self.runtime.pending = still;
        self.announce_idle(StopReason::RequiresAction { event_ids: ids }, Vec::new())
            .await
    }

    fn answered_now(&self, pending: &PendingAction) -> bool {
        match pending.kind {
            PendingKind::Confirmation => self.decisions.contains_key(&pending.event_id),
            _ => !self
                .transcript
                .unanswered_tool_uses()
                .contains(&pending.event_id),
        }
    }

    /// A queued interrupt while no turn runs: a paused turn ends (its pending calls get
    /// error results); otherwise the interrupt is a no-op.
    pub(super) async fn interrupt_while_waiting(&mut self) -> Result<(), RunnerError> {
        if self.runtime.pending.is_empty() && !self.runtime.turn_open {
            let interrupts = self.take_queued(|e| e.type_name == "user.interrupt");
            self.commit(Vec::new(), interrupts, None).await?;
            self.signals.interrupts_processed();
            return Ok(());
        }
        self.close_unanswered(INTERRUPTED).await?;
        self.end_turn(StopReason::EndTurn).await
    }

    /// A runner died mid-turn: close its open model request and any tool call it had
    /// started, then carry the turn on.
    pub(super) async fn recover(&mut self) -> Result<(), RunnerError> {
        tracing::info!(session = %self.session_id, "recovering a turn left open by a previous runner");
        if let Some(start_id) = self.open_span.clone() {
            self.close_span(&start_id).await?;
        }
        let pending: Vec<String> = self
            .runtime
            .pending
            .iter()
            .map(|p| p.event_id.clone())
            .collect();
        let orphans: Vec<String> = self
            .transcript
            .unanswered_tool_uses()
            .into_iter()
            .filter(|id| !pending.contains(id) && !self.decisions.contains_key(id))
            .collect();
        let events = orphans
            .iter()
            .map(|id| result_event(id, &ToolOutput::error(RESTARTED)))
            .collect::<Result<Vec<_>, _>>()?;
        if !events.is_empty() {
            self.commit(events, Vec::new(), None).await?;
        }
        let cancel = self.signals.new_turn();
        self.turn_started = Some(Instant::now());
        if self.session.value.status != SessionStatus::Running {
            self.announce_running().await?;
        }
        self.turn_loop(&cancel, false).await
    }
}
