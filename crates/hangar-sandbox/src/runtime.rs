//! [`LocalSandboxRuntime`]: the `ToolRuntime` of the embedded default. Keeps one sandbox per
//! active session, starts it lazily on the first call, stops it after `idle_timeout` without
//! calls (files stay in the session's upper), and dispatches `bash`, `read`, `write`,
//! `edit`, `glob` and `grep` to its init agent. Owns the registry and the idle sweeper;
//! the sandbox's own resources are in `sandbox`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hangar_core::model::Block;
use hangar_core::tool_runtime::{ToolCall, ToolContext, ToolOutput, ToolRuntime, ToolRuntimeError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cgroup::CgroupLayout;
use crate::client::{AgentClient, CallOutcome};
use crate::config::SandboxConfig;
use crate::egress::EgressProvider;
use crate::error::SandboxError;
use crate::launch::{self, Launcher, Prespawned};
use crate::sandbox::{RunningSandbox, StartRequest, cgroup_request};
use crate::session::SessionPaths;
use crate::{layers::LayerResolver, rootfs, sys};

/// Bounds of the idle sweeper's period (a quarter of the idle timeout, within these).
const SWEEP_MIN: Duration = Duration::from_millis(50);
const SWEEP_MAX: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Activity {
    last_used: Option<Instant>,
    in_flight: usize,
}

#[derive(Default)]
struct Slot {
    sandbox: tokio::sync::Mutex<Option<RunningSandbox>>,
    activity: Mutex<Activity>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Marks a call in flight for as long as it lives.
struct InFlight(Arc<Slot>);

impl InFlight {
    fn begin(slot: Arc<Slot>) -> InFlight {
        {
            let mut activity = lock(&slot.activity);
            activity.in_flight += 1;
            activity.last_used = Some(Instant::now());
        }
        InFlight(slot)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut activity = lock(&self.0.activity);
        activity.in_flight -= 1;
        activity.last_used = Some(Instant::now());
    }
}

struct Inner {
    config: SandboxConfig,
    launcher: Launcher,
    cgroups: CgroupLayout,
    base: tokio::sync::OnceCell<PathBuf>,
    sessions: Mutex<HashMap<String, Arc<Slot>>>,
    egress: Option<Arc<dyn EgressProvider>>,
    layers: Option<Arc<dyn LayerResolver>>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    /// An init program started ahead of need (see `SandboxConfig::prestart_init`).
    warm: Mutex<Option<Prespawned>>,
    refilling: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The local Linux sandbox backend. Cheap to clone; all clones share the sandboxes. When the
/// last clone is dropped, every sandbox it started is killed (see `launch`).
#[derive(Clone)]
pub struct LocalSandboxRuntime {
    inner: Arc<Inner>,
}

impl LocalSandboxRuntime {
    /// Validates `config`, detects cgroups, makes this process a child subreaper and starts
    /// the idle sweeper. Must be called inside a tokio runtime.
    pub fn new(config: SandboxConfig) -> Result<LocalSandboxRuntime, SandboxError> {
        Self::with_hooks(config, None, None)
    }

    /// Like [`new`](Self::new), with the egress hook and the environment layer resolver.
    pub fn with_hooks(
        config: SandboxConfig,
        egress: Option<Arc<dyn EgressProvider>>,
        layers: Option<Arc<dyn LayerResolver>>,
    ) -> Result<LocalSandboxRuntime, SandboxError> {
        config.validate()?;
        // Orphans of our children (e.g. a setup process whose parent thread raced) come to us.
        sys::set_child_subreaper().map_err(SandboxError::io("set child subreaper"))?;
        let cgroups = CgroupLayout::detect();
        cgroups.sweep_stale();
        tracing::info!(?cgroups, "sandbox cgroup layout");
        let inner = Arc::new(Inner {
            config,
            launcher: Launcher::new()?,
            cgroups,
            base: tokio::sync::OnceCell::new(),
            sessions: Mutex::default(),
            egress,
            layers,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            warm: Mutex::new(None),
            refilling: AtomicBool::new(false),
        });
        let sweep = (inner.config.idle_timeout / 4).clamp(SWEEP_MIN, SWEEP_MAX);
        inner.tasks.spawn(sweep_idle(
            Arc::downgrade(&inner),
            sweep,
            inner.shutdown.clone(),
        ));
        Ok(LocalSandboxRuntime { inner })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// The base template's rootfs, built first if missing and allowed.
    pub async fn ensure_base(&self) -> Result<PathBuf, SandboxError> {
        let config = &self.inner.config;
        self.inner
            .base
            .get_or_try_init(|| {
                rootfs::ensure_base(
                    &config.templates_dir,
                    &config.base,
                    config.id_base,
                    config.build_base_if_missing,
                )
            })
            .await
            .cloned()
    }

    fn slot(&self, session_id: &str) -> Result<Arc<Slot>, SandboxError> {
        SessionPaths::new(&self.inner.config.data_dir, session_id)?;
        Ok(lock(&self.inner.sessions)
            .entry(session_id.to_owned())
            .or_default()
            .clone())
    }

    /// The session's agent, starting its sandbox when none runs (or the last one died). The
    /// hooks (egress, layers) are asked only when there is a `ctx`.
    async fn agent(
        &self,
        session_id: &str,
        ctx: Option<&ToolContext>,
        slot: &Slot,
    ) -> Result<Arc<AgentClient>, SandboxError> {
        let mut state = slot.sandbox.lock().await;
        if let Some(sandbox) = state.take_if(|s| s.client.is_closed()) {
            tracing::info!(session = %session_id, "sandbox had died; restarting it");
            sandbox.stop().await;
        }
        if let Some(sandbox) = state.as_ref() {
            return Ok(sandbox.client.clone());
        }
        let base = self.ensure_base().await?;
        let layers = match (&self.inner.layers, ctx) {
            (Some(resolver), Some(ctx)) => resolver.layers(ctx).await?,
            _ => Vec::new(),
        };
        let inner = &self.inner;
        let request = StartRequest {
            session_id,
            layers,
            base,
            egress: inner
                .egress
                .as_ref()
                .zip(ctx)
                .and_then(|(p, ctx)| p.handler_for(ctx)),
            prespawned: lock(&inner.warm).take(),
        };
        let started = Instant::now();
        let sandbox = RunningSandbox::start(
            &inner.config,
            &inner.launcher,
            &inner.cgroups,
            &inner.tasks,
            request,
        )
        .await?;
        tracing::debug!(session = %session_id, ms = started.elapsed().as_secs_f64() * 1e3, "sandbox started");
        let client = sandbox.client.clone();
        *state = Some(sandbox);
        self.refill_warm();
        Ok(client)
    }

    /// Starts an init program ahead of need in the background, unless one waits already.
    fn refill_warm(&self) {
        let inner = &self.inner;
        if !inner.config.prestart_init || inner.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        // The task holds no strong reference to the runtime: dropping the runtime must kill its
        // sandboxes at once, not after this task.
        let weak = Arc::downgrade(inner);
        let launcher = inner.launcher.clone();
        let program = inner.config.init_program.clone();
        let request = cgroup_request(&inner.config, &inner.cgroups);
        inner.tasks.spawn(async move {
            let spawned = launch::prespawn(&launcher, &program, Some(request)).await;
            let Some(inner) = weak.upgrade() else {
                // Dropping the unused process kills it and removes its cgroups.
                return;
            };
            match spawned {
                Ok(ready) => {
                    let previous = lock(&inner.warm).replace(ready);
                    drop(previous);
                }
                Err(error) => tracing::warn!(%error, "cannot start an init program ahead of need"),
            }
            inner.refilling.store(false, Ordering::Release);
        });
    }

    /// Runs a tool in the session's sandbox; errors are the sandbox's own failures.
    pub async fn call(
        &self,
        ctx: &ToolContext,
        tool: &str,
        input: &serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<CallOutcome, SandboxError> {
        self.call_with(&ctx.session_id, Some(ctx), tool, input, cancel)
            .await
    }

    /// Runs a tool for a session without an environment at hand (operator CLI, benchmarks):
    /// the egress and layer hooks are not consulted, so the sandbox has no network and only
    /// the base below the session's files.
    pub async fn call_in_session(
        &self,
        session_id: &str,
        tool: &str,
        input: &serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<CallOutcome, SandboxError> {
        self.call_with(session_id, None, tool, input, cancel).await
    }

    async fn call_with(
        &self,
        session_id: &str,
        ctx: Option<&ToolContext>,
        tool: &str,
        input: &serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<CallOutcome, SandboxError> {
        let slot = self.slot(session_id)?;
        let _in_flight = InFlight::begin(slot.clone());
        let agent = tokio::select! {
            agent = self.agent(session_id, ctx, &slot) => agent?,
            () = cancel.cancelled() => return Ok(CallOutcome::Cancelled),
        };
        let outcome = agent.call(tool, input, cancel).await;
        if outcome.is_err() {
            // The agent is gone: drop the sandbox now so the next call starts a fresh one.
            self.stop(session_id).await;
        }
        outcome
    }

    /// Stops the session's sandbox if it runs (its files stay).
    pub async fn stop(&self, session_id: &str) {
        let slot = lock(&self.inner.sessions).get(session_id).cloned();
        if let Some(slot) = slot
            && let Some(sandbox) = slot.sandbox.lock().await.take()
        {
            sandbox.stop().await;
        }
    }

    /// Stops every running sandbox (files stay). The runtime stays usable.
    pub async fn shutdown(&self) {
        let warm = lock(&self.inner.warm).take();
        if let Some(warm) = warm {
            let _ = tokio::task::spawn_blocking(move || drop(warm)).await;
        }
        let ids: Vec<String> = lock(&self.inner.sessions).keys().cloned().collect();
        for id in ids {
            self.stop(&id).await;
        }
    }

    /// Host pid of the session's sandbox PID 1, when one runs.
    pub async fn init_pid(&self, session_id: &str) -> Option<i32> {
        let slot = lock(&self.inner.sessions).get(session_id).cloned()?;
        let state = slot.sandbox.lock().await;
        state.as_ref().map(RunningSandbox::init_pid)
    }

    /// Number of sandboxes running now.
    pub async fn running(&self) -> usize {
        let slots: Vec<_> = lock(&self.inner.sessions).values().cloned().collect();
        let mut count = 0;
        for slot in slots {
            count += usize::from(slot.sandbox.lock().await.is_some());
        }
        count
    }

    /// Writes the session's file system (its upper) to `archive` as tar+zstd. The sandbox
    /// is stopped first so the snapshot is consistent.
    pub async fn snapshot(&self, session_id: &str, archive: &Path) -> Result<(), SandboxError> {
        self.archive(session_id, archive, false).await
    }

    /// Replaces the session's file system with the one in `archive`. On failure the files
    /// are unchanged.
    pub async fn restore(&self, session_id: &str, archive: &Path) -> Result<(), SandboxError> {
        self.archive(session_id, archive, true).await
    }

    async fn archive(
        &self,
        session_id: &str,
        archive: &Path,
        extract: bool,
    ) -> Result<(), SandboxError> {
        self.stop(session_id).await;
        crate::snapshot::run(
            &self.inner.config,
            &self.inner.launcher,
            session_id,
            archive,
            extract,
        )
        .await
    }
}

fn to_runtime_error(error: SandboxError) -> ToolRuntimeError {
    match error {
        SandboxError::TemplateBuild { .. } | SandboxError::TemplateMissing(_) => {
            ToolRuntimeError::EnvironmentBuild(error.to_string())
        }
        other => ToolRuntimeError::Sandbox(other.to_string()),
    }
}

#[async_trait]
impl ToolRuntime for LocalSandboxRuntime {
    async fn run(
        &self,
        ctx: &ToolContext,
        call: &ToolCall,
        cancel: CancellationToken,
    ) -> Result<ToolOutput, ToolRuntimeError> {
        if !hangar_tools::TOOL_NAMES.contains(&call.name.as_str()) {
            return Ok(ToolOutput::error(format!(
                "The `{}` tool does not run in the sandbox; the sandbox runs: {}.",
                call.name,
                hangar_tools::TOOL_NAMES.join(", ")
            )));
        }
        match self.call(ctx, &call.name, &call.input, &cancel).await {
            Ok(CallOutcome::Done { text, is_error }) => Ok(ToolOutput {
                content: vec![Block::Text { text }],
                is_error,
            }),
            Ok(CallOutcome::Cancelled) => Ok(ToolOutput::error(format!(
                "The `{}` call was cancelled before it finished.",
                call.name
            ))),
            Err(error) => Err(to_runtime_error(error)),
        }
    }

    async fn session_idle(&self, session_id: &str) {
        if !self.inner.config.stop_on_session_idle {
            return;
        }
        let busy = lock(&self.inner.sessions)
            .get(session_id)
            .is_some_and(|slot| lock(&slot.activity).in_flight > 0);
        if !busy {
            self.stop(session_id).await;
        }
    }

    async fn session_deleted(&self, session_id: &str) {
        self.stop(session_id).await;
        lock(&self.inner.sessions).remove(session_id);
        let Ok(paths) = SessionPaths::new(&self.inner.config.data_dir, session_id) else {
            return;
        };
        let removed =
            tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&paths.root)).await;
        if let Ok(Err(error)) = removed
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(session = session_id, %error, "cannot delete the session's files");
        }
    }
}

/// Stops sandboxes that had no call for `idle_timeout`. Holds only a weak reference, so it
/// never keeps a dropped runtime alive; ends on shutdown.
async fn sweep_idle(inner: Weak<Inner>, period: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let idle_timeout = inner.config.idle_timeout;
        let slots: Vec<(String, Arc<Slot>)> = lock(&inner.sessions)
            .iter()
            .map(|(id, slot)| (id.clone(), slot.clone()))
            .collect();
        drop(inner);
        for (session_id, slot) in slots {
            let idle = {
                let activity = lock(&slot.activity);
                activity.in_flight == 0
                    && activity
                        .last_used
                        .is_some_and(|t| t.elapsed() >= idle_timeout)
            };
            if !idle {
                continue;
            }
            let Ok(mut state) = slot.sandbox.try_lock() else {
                continue;
            };
            if let Some(sandbox) = state.take() {
                tracing::debug!(session = %session_id, "stopping idle sandbox");
                sandbox.stop().await;
            }
        }
    }
}
