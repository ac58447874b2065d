//! [`Scheduler`]: which sessions have a runner on this node. `wake(session)` makes sure one
//! runs (or tells the running one to look again); a runner holds the session's lease while it
//! works, renews it, and gives it up when nothing is runnable. On start (and periodically) the
//! scheduler wakes every session with work in the store, which is how turns cut short by a
//! crash are resumed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_protocol::ids::IdKind;
use hangar_protocol::time::Timestamp;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::harness::runner::{Runner, RunnerSignals};
use crate::harness::{Harness, RunnerError};

/// Wait before a runner that failed on a store error tries the session again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// Consecutive failures after which a runner gives the session up (the periodic sweep picks
/// it up again).
const MAX_FAILURES: u32 = 5;
/// How long a runner with nothing to do keeps its session (lease and folded log) in case more
/// input comes: the next turn then starts without reloading the log.
pub const RUNNER_LINGER: Duration = Duration::from_secs(10);

struct Slot {
    /// Set by `wake` while a runner works: it looks for work once more before it exits.
    dirty: bool,
    signals: Arc<RunnerSignals>,
}

struct Inner {
    harness: Arc<Harness>,
    slots: Mutex<HashMap<String, Slot>>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl Scheduler {
    pub fn new(harness: Arc<Harness>) -> Self {
        Scheduler {
            inner: Arc::new(Inner {
                harness,
                slots: Mutex::new(HashMap::new()),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    pub fn harness(&self) -> &Arc<Harness> {
        &self.inner.harness
    }

    /// Makes sure a runner looks at `session_id` soon.
    pub fn wake(&self, session_id: &str) {
        if self.inner.shutdown.is_cancelled() {
            return;
        }
        let signals = {
            let Ok(mut slots) = self.inner.slots.lock() else {
                return;
            };
            if let Some(slot) = slots.get_mut(session_id) {
                slot.dirty = true;
                slot.signals.woken.notify_one();
                return;
            }
            let signals = Arc::new(RunnerSignals::new(self.inner.shutdown.child_token()));
            slots.insert(
                session_id.to_owned(),
                Slot {
                    dirty: false,
                    signals: signals.clone(),
                },
            );
            signals
        };
        let inner = self.inner.clone();
        let id = session_id.to_owned();
        self.inner
            .tasks
            .spawn(async move { drive(inner, id, signals).await });
    }

    /// Interrupts the session's current turn (if a runner has one) and wakes it.
    pub fn interrupt(&self, session_id: &str) {
        if let Ok(slots) = self.inner.slots.lock()
            && let Some(slot) = slots.get(session_id)
        {
            slot.signals.interrupt();
        }
        self.wake(session_id);
    }

    /// Wakes every session the store says has work (turns in flight, queued input).
    pub async fn wake_all(&self) -> Result<usize, crate::store::StoreError> {
        let ids = self.inner.harness.events.sessions_with_work().await?;
        for id in &ids {
            self.wake(id);
        }
        Ok(ids.len())
    }

    /// Wakes sessions with work now and then every lease period, until shutdown: resumes what
    /// a crash interrupted and what another node gave up.
    pub fn start_sweeper(&self) {
        let scheduler = self.clone();
        let period = self.inner.harness.config.lease_ttl;
        self.inner.tasks.spawn(async move {
            loop {
                match scheduler.wake_all().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(sessions = n, "woke sessions with work"),
                    Err(err) => tracing::warn!(%err, "cannot list sessions with work"),
                }
                tokio::select! {
                    () = tokio::time::sleep(period) => {}
                    () = scheduler.inner.shutdown.cancelled() => return,
                }
            }
        });
    }

    /// Stops every runner (turns in flight resume on the next start) and waits for them.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("runners did not stop within {grace:?}");
        }
    }

    /// Whether a runner is working on `session_id` on this node.
    pub fn is_active(&self, session_id: &str) -> bool {
        self.inner
            .slots
            .lock()
            .map(|s| s.contains_key(session_id))
            .unwrap_or(false)
    }
}

/// Holds the lease and runs the session until nothing is runnable. The slot is removed in the
/// same critical section that finds no further wake-up, so no wake is ever lost.
async fn drive(inner: Arc<Inner>, session_id: String, signals: Arc<RunnerSignals>) {
    let h = inner.harness.clone();
    // The lease owner is this node (fencing, and reclaiming its own leases after a restart);
    // the token tells this runner's lease from a successor's on the same node.
    let token = IdKind::Request.mint();
    if !acquire(&h, &session_id, &token).await {
        tracing::debug!(session = %session_id, "lease held by another node");
        remove_slot(&inner, &session_id);
        return;
    }
    let heartbeat = spawn_heartbeat(&inner, &session_id, &token, &signals);
    work(&inner, &session_id, &signals).await;
    heartbeat.cancel();
    if let Err(err) = h
        .events
        .release_lease(&session_id, &h.config.owner, &token)
        .await
    {
        tracing::warn!(session = %session_id, %err, "cannot release lease");
    }
}

fn remove_slot(inner: &Inner, session_id: &str) {
    if let Ok(mut slots) = inner.slots.lock() {
        slots.remove(session_id);
    }
}

/// Clears a pending wake-up; `true` when there was one. Without one, `remove` also drops
/// the slot in the same critical section (so no wake-up is lost between the two).
fn take_dirty_or(inner: &Inner, session_id: &str, remove: bool) -> bool {
    let Ok(mut slots) = inner.slots.lock() else {
        return false;
    };
    match slots.get_mut(session_id) {
        Some(slot) if slot.dirty => {
            slot.dirty = false;
            true
        }
        _ => {
            if remove {
                slots.remove(session_id);
            }
            false
        }
    }
}

/// Clears a pending wake-up; `true` when there was one.
fn take_dirty(inner: &Inner, session_id: &str) -> bool {
    take_dirty_or(inner, session_id, false)
}

/// Removes the slot unless a wake arrived meanwhile; `true` when the runner should look again.
fn look_again(inner: &Inner, session_id: &str) -> bool {
    take_dirty_or(inner, session_id, true)
}

async fn acquire(h: &Harness, session_id: &str, token: &str) -> bool {
    let now = Timestamp::now();
    let until = Timestamp::from_micros(now.as_micros() + h.config.lease_ttl.as_micros() as i64);
    match h
        .events
        .acquire_lease(session_id, &h.config.owner, token, now, until)
        .await
    {
        Ok(held) => held,
        Err(err) => {
            tracing::warn!(session = %session_id, %err, "cannot take lease");
            false
        }
    }
}

/// Renews the lease every third of its lifetime; stops the runner if it is lost.
fn spawn_heartbeat(
    inner: &Arc<Inner>,
    session_id: &str,
    token: &str,
    signals: &Arc<RunnerSignals>,
) -> CancellationToken {
    let done = CancellationToken::new();
    let h = inner.harness.clone();
    let (id, token, signals, stop) = (
        session_id.to_owned(),
        token.to_owned(),
        signals.clone(),
        done.clone(),
    );
    inner.tasks.spawn(async move {
        let period = h.config.lease_ttl / 3;
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = stop.cancelled() => return,
            }
            if !acquire(&h, &id, &token).await {
                tracing::warn!(session = %id, "lease lost; stopping the runner");
                signals.stop.cancel();
                return;
            }
        }
    });
    done
}

async fn work(inner: &Arc<Inner>, session_id: &str, signals: &Arc<RunnerSignals>) {
    let h = inner.harness.clone();
    let mut failures = 0;
    let mut runner: Option<Runner> = None;
    loop {
        let result = match runner.as_mut() {
            Some(runner) => runner.run().await,
            None => match Runner::load(h.clone(), session_id, signals.clone()).await {
                Ok(Some(loaded)) => runner.insert(loaded).run().await,
                Ok(None) => Err(RunnerError::SessionGone),
                Err(err) => Err(err),
            },
        };
        match result {
            Ok(()) => failures = 0,
            Err(RunnerError::Shutdown | RunnerError::LeaseLost | RunnerError::SessionGone) => {
                remove_slot(inner, session_id);
                return;
            }
            Err(RunnerError::Store(err)) => {
                failures += 1;
                tracing::error!(session = %session_id, %err, failures, "runner failed");
                // The view may be stale after a failed write: reload from the log.
                runner = None;
                let stopped = tokio::select! {
                    () = tokio::time::sleep(RETRY_AFTER_FAILURE) => false,
                    () = signals.stop.cancelled() => true,
                };
                if stopped || failures >= MAX_FAILURES {
                    remove_slot(inner, session_id);
                    return;
                }
                continue;
            }
        }
        if take_dirty(inner, session_id) {
            continue;
        }
        let woken = tokio::select! {
            () = signals.woken.notified() => true,
            () = tokio::time::sleep(RUNNER_LINGER) => false,
            () = signals.stop.cancelled() => {
                remove_slot(inner, session_id);
                return;
            }
        };
        if woken {
            take_dirty(inner, session_id);
            continue;
        }
        if !look_again(inner, session_id) {
            return;
        }
    }
}
