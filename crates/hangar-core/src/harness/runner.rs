//! [`Runner`]: one session's loop. It folds the log into its view (conversation, queued input,
//! pending tool uses), then works until nothing is runnable: interrupts first, then a turn to
//! resume or a queued message to answer.
//!
//! Every change goes through [`Runner::commit`], which writes events (and the session row)
//! atomically with a lease check, then folds what the log now holds. The view is never updated
//! any other way, so a runner that starts from the log and one that has been running agree.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use hangar_protocol::environment::Environment;
use hangar_protocol::event::{Confirmation, EventBody, StopReason};
use hangar_protocol::session::{Session, SessionStatus};
use hangar_protocol::time::Timestamp;
use tokio_util::sync::CancellationToken;

use super::catalog::ToolCatalog;
use super::state::{PendingKind, RuntimeState};
use super::transcript::{Transcript, is_client};
use super::{Harness, RunnerError};
use crate::event_log::encode_event;
use crate::event_store::{Commit, EncodedEvent, SessionWrite, StoredEvent};
use crate::store::{StoreError, Versioned};

/// Events read per page while loading a log.
const LOAD_PAGE: usize = 1000;

/// Signals from the scheduler to a session's runner.
#[derive(Debug, Default)]
pub struct RunnerSignals {
    /// Cancelled by `user.interrupt` (and by shutdown): ends the current turn.
    turn: std::sync::Mutex<CancellationToken>,
    /// Cancelled when the server shuts down or the lease is lost.
    pub stop: CancellationToken,
    /// Notified by every wake-up, so a lingering runner resumes at once.
    pub woken: tokio::sync::Notify,
    /// An interrupt arrived and its event is not processed yet: a turn that starts now
    /// starts cancelled (the interrupt may have landed just before the turn's token existed).
    interrupt_requested: std::sync::atomic::AtomicBool,
}

impl RunnerSignals {
    /// Signals whose `stop` is `stop`.
    pub fn new(stop: CancellationToken) -> Self {
        RunnerSignals {
            turn: std::sync::Mutex::new(stop.child_token()),
            stop,
            woken: tokio::sync::Notify::new(),
            interrupt_requested: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A fresh token for a new turn (also cancelled by `stop`).
    pub fn new_turn(&self) -> CancellationToken {
        let token = self.stop.child_token();
        if let Ok(mut turn) = self.turn.lock() {
            *turn = token.clone();
        }
        if self
            .interrupt_requested
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            token.cancel();
        }
        token
    }

    /// Interrupts the current turn, if any, and the next one until the interrupt is
    /// processed.
    pub fn interrupt(&self) {
        self.interrupt_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(turn) = self.turn.lock() {
            turn.cancel();
        }
    }

    /// The interrupts sent so far are processed.
    pub fn interrupts_processed(&self) {
        self.interrupt_requested
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What the runner does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Work {
    /// A `user.interrupt` is queued.
    Interrupt,
    /// Some pending tool uses were answered, others still wait.
    Reannounce,
    /// Every pending tool use was answered: continue the turn.
    Resume,
    /// A message is queued and no turn is open: start one.
    StartTurn,
    /// The log says running but no turn is open and nothing is queued: settle to idle.
    Settle,
}

pub struct Runner {
    pub(super) h: Arc<Harness>,
    pub(super) session_id: String,
    pub(super) session: Versioned<Session>,
    pub(super) runtime: RuntimeState,
    pub(super) environment: Environment,
    pub(super) catalog: ToolCatalog,
    pub(super) transcript: Transcript,
    /// Queued client events (no `processed_at`), oldest first.
    pub(super) inbox: Vec<StoredEvent>,
    /// Confirmations processed but not yet acted on, by tool use id.
    pub(super) decisions: HashMap<String, (Confirmation, Option<String>)>,
    /// The last `span.model_request_start` without its end (a crash left it open).
    pub(super) open_span: Option<String>,
    /// The log position folded so far.
    cursor: i64,
    /// Events this runner appended and folded already, which a catch-up skips.
    folded_ahead: std::collections::HashSet<i64>,
    pub(super) signals: Arc<RunnerSignals>,
    pub(super) turn_started: Option<Instant>,
    /// Writes held back to travel with the next commit.
    pub(super) staged: Staged,
}

/// Writes that go with the next commit: a new turn's opening events and the messages it
/// takes travel with its first model request, one transaction instead of two.
#[derive(Debug, Default)]
pub(super) struct Staged {
    pub events: Vec<EncodedEvent>,
    pub processed: Vec<StoredEvent>,
    pub status: Option<SessionStatus>,
}

impl Runner {
    /// Loads the session and folds its whole log; `None` when the session does not exist.
    pub async fn load(
        h: Arc<Harness>,
        session_id: &str,
        signals: Arc<RunnerSignals>,
    ) -> Result<Option<Runner>, RunnerError> {
        let Some(record) = h.events.session_record(session_id).await? else {
            return Ok(None);
        };
        let session = record.session;
        let mut runtime = RuntimeState::decode(&record.runtime);
        // The environment is pinned the first time the session runs: later updates of the
        // environment affect new sessions only (`cma-behaviour.md` 16).
        let environment = match runtime.environment.clone() {
            Some(env) => env,
            None => match h.store.environment(&session.value.environment_id).await? {
                Some(env) => {
                    runtime.environment = Some(env.value.clone());
                    env.value
                }
                None => return Ok(None),
            },
        };
        let catalog = ToolCatalog::resolve(&session.value.agent.definition);
        let mut events = Vec::new();
        let mut cursor = 0;
        loop {
            let page = h.events.events_after(session_id, cursor, LOAD_PAGE).await?;
            let full = page.len() == LOAD_PAGE;
            if let Some(last) = page.last() {
                cursor = last.seq;
            }
            events.extend(page);
            if !full {
                break;
            }
        }
        let mut runner = Runner {
            h,
            session_id: session_id.to_owned(),
            runtime,
            session,
            environment,
            catalog,
            transcript: Transcript::from_events(&events),
            inbox: Vec::new(),
            decisions: HashMap::new(),
            open_span: None,
            cursor,
            folded_ahead: std::collections::HashSet::new(),
            signals,
            turn_started: None,
            staged: Staged::default(),
        };
        for event in &events {
            runner.observe(event);
        }
        Ok(Some(runner))
    }

    /// Works until nothing is runnable.
    pub async fn run(&mut self) -> Result<(), RunnerError> {
        if self.runtime.turn_open {
            self.recover().await?;
        }
        loop {
            self.stop_if_asked()?;
            self.catch_up().await?;
            let Some(work) = self.next_work() else {
                return Ok(());
            };
            tracing::debug!(session = %self.session_id, ?work, "runner");
            match work {
                Work::Interrupt => self.interrupt_while_waiting().await?,
                Work::Reannounce => self.reannounce().await?,
                Work::Resume => self.run_turn(false).await?,
                Work::StartTurn => self.run_turn(true).await?,
                Work::Settle => self.end_turn(StopReason::EndTurn).await?,
            }
        }
    }

    pub(super) fn next_work(&self) -> Option<Work> {
        if self.inbox.iter().any(|e| e.type_name == "user.interrupt") {
            return Some(Work::Interrupt);
        }
        if !self.runtime.pending.is_empty() {
            let answered = self
                .runtime
                .pending
                .iter()
                .filter(|p| self.is_answered(&p.event_id, p.kind))
                .count();
            return match answered {
                0 => None,
                n if n == self.runtime.pending.len() => Some(Work::Resume),
                _ => Some(Work::Reannounce),
            };
        }
        if self.inbox.iter().any(|e| e.type_name == "user.message") {
            return Some(Work::StartTurn);
        }
        let status = self.session.value.status;
        (status != SessionStatus::Idle && status != SessionStatus::Terminated)
            .then_some(Work::Settle)
    }

    fn is_answered(&self, tool_use_id: &str, kind: PendingKind) -> bool {
        match kind {
            PendingKind::Confirmation => {
                self.decisions.contains_key(tool_use_id)
                    || self.queued_confirmation(tool_use_id).is_some()
            }
            PendingKind::CustomResult | PendingKind::ClientResult => !self
                .transcript
                .unanswered_tool_uses()
                .iter()
                .any(|id| id == tool_use_id),
        }
    }

    fn queued_confirmation(&self, tool_use_id: &str) -> Option<&StoredEvent> {
        self.inbox.iter().find(|e| {
            e.type_name == "user.tool_confirmation"
                && matches!(serde_json::from_str::<EventBody>(&e.body),
                    Ok(EventBody::UserToolConfirmation { tool_use_id: id, .. }) if id == tool_use_id)
        })
    }

    /// Folds events appended since the cursor (by anyone, this runner included). A
    /// `session.updated` among them (title, budget, tools changed through the API) makes the
    /// runner re-read the session row.
    pub(super) async fn catch_up(&mut self) -> Result<(), RunnerError> {
        let mut updated = false;
        loop {
            let page = self
                .h
                .events
                .events_after(&self.session_id, self.cursor, LOAD_PAGE)
                .await?;
            let full = page.len() == LOAD_PAGE;
            for event in &page {
                self.cursor = event.seq;
                updated |= event.type_name == "session.updated";
                if !self.folded_ahead.remove(&event.seq) {
                    self.fold(event);
                }
            }
            if !full {
                if updated {
                    self.reload_session().await?;
                    self.catalog = ToolCatalog::resolve(&self.session.value.agent.definition);
                }
                return Ok(());
            }
        }
    }

    fn fold(&mut self, event: &StoredEvent) {
        if event.processed_at.is_some() || !is_client(event) {
            self.transcript.apply(event);
        }
        self.observe(event);
    }

    /// Updates the non-conversation parts of the view for one new event.
    fn observe(&mut self, event: &StoredEvent) {
        if event.processed_at.is_none() && is_client(event) {
            self.inbox.push(event.clone());
            return;
        }
        match event.type_name.as_str() {
            "span.model_request_start" => self.open_span = Some(event.id.clone()),
            "span.model_request_end" => self.open_span = None,
            "user.tool_confirmation" => self.record_decision(event),
            "agent.tool_result" => {
                if let Ok(EventBody::AgentToolResult { tool_use_id, .. }) =
                    serde_json::from_str(&event.body)
                {
                    self.decisions.remove(&tool_use_id);
                }
            }
            _ => {}
        }
    }

    fn record_decision(&mut self, event: &StoredEvent) {
        if let Ok(EventBody::UserToolConfirmation {
            tool_use_id,
            result,
            deny_message,
            ..
        }) = serde_json::from_str(&event.body)
            && self
                .transcript
                .unanswered_tool_uses()
                .contains(&tool_use_id)
        {
            self.decisions.insert(tool_use_id, (result, deny_message));
        }
    }

    /// Takes queued events matching `pick` out of the inbox (to be stamped processed).
    pub(super) fn take_queued(&mut self, pick: impl Fn(&StoredEvent) -> bool) -> Vec<StoredEvent> {
        let (taken, kept) = std::mem::take(&mut self.inbox)
            .into_iter()
            .partition(|e| pick(e));
        self.inbox = kept;
        taken
    }

    pub(super) fn stop_if_asked(&self) -> Result<(), RunnerError> {
        if self.signals.stop.is_cancelled() {
            Err(RunnerError::Shutdown)
        } else {
            Ok(())
        }
    }

    /// Writes `events` (appended in order), stamps `processed` queued events, and — when
    /// `change` is given — applies it to the session row (with the runtime state), all in one
    /// transaction fenced by the lease. Then folds what it wrote into the view; events others
    /// appended meanwhile are folded by the next [`Runner::catch_up`].
    pub(super) async fn commit(
        &mut self,
        events: Vec<EncodedEvent>,
        processed: Vec<StoredEvent>,
        change: Option<&(dyn Fn(&mut Session) + Sync)>,
    ) -> Result<(), RunnerError> {
        let Staged {
            events: mut all_events,
            processed: mut all_processed,
            status,
        } = std::mem::take(&mut self.staged);
        all_events.extend(events);
        all_processed.extend(processed);
        let (events, processed) = (all_events, all_processed);
        let writes_session = change.is_some() || status.is_some();
        loop {
            let session = if writes_session {
                let mut next = self.session.value.clone();
                if let Some(status) = status {
                    next.status = status;
                }
                if let Some(change) = change {
                    change(&mut next);
                }
                next.updated_at = Timestamp::now();
                Some(SessionWrite {
                    session: next,
                    runtime: self.runtime.encode()?,
                    expected_rev: self.session.rev,
                })
            } else {
                None
            };
            let commit = Commit {
                session_id: self.session_id.clone(),
                events: events.clone(),
                processed: processed.iter().map(|e| e.id.clone()).collect(),
                processed_at: Some(Timestamp::now()),
                session: session.clone(),
                lease_owner: Some(self.h.config.owner.clone()),
            };
            match self.h.log.commit(commit).await {
                Ok(committed) => {
                    if let Some(write) = session {
                        self.session = Versioned {
                            rev: self.session.rev + 1,
                            value: write.session,
                        };
                    }
                    for event in &committed.appended {
                        self.folded_ahead.insert(event.seq);
                        self.fold(event);
                    }
                    for event in &committed.processed {
                        self.inbox.retain(|e| e.id != event.id);
                        self.fold(event);
                    }
                    return Ok(());
                }
                // The API changed the session row (title, metadata): re-read and re-apply.
                Err(StoreError::Stale) => self.reload_session().await?,
                Err(StoreError::LeaseLost) => return Err(RunnerError::LeaseLost),
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn reload_session(&mut self) -> Result<(), RunnerError> {
        let record = self
            .h
            .events
            .session_record(&self.session_id)
            .await?
            .ok_or(RunnerError::SessionGone)?;
        self.session = record.session;
        Ok(())
    }

    /// A server event with no private data.
    pub(super) fn event(body: &EventBody) -> Result<EncodedEvent, RunnerError> {
        Ok(crate::event_log::server_event(body)?)
    }

    pub(super) fn event_with_id(
        id: String,
        body: &EventBody,
        private: Option<&serde_json::Value>,
    ) -> Result<EncodedEvent, RunnerError> {
        Ok(encode_event(id, body, Some(Timestamp::now()), private)?)
    }

    /// The thread events mirror the session's; the primary thread id is derived from the
    /// session id (one thread per session until multiagent exists).
    pub(super) fn thread_id(&self) -> String {
        primary_thread_id(&self.session_id)
    }

    pub(super) fn agent_name(&self) -> String {
        self.session.value.agent.definition.name.clone()
    }
}

/// The id of a session's primary thread: `sthr_` with the session id's body.
pub fn primary_thread_id(session_id: &str) -> String {
    format!(
        "sthr_{}",
        session_id.strip_prefix("sesn_").unwrap_or(session_id)
    )
}
