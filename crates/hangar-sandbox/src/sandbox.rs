//! One running sandbox on the host side: starting it (session lock, disk image, cgroups,
//! init handshake, egress listener) and stopping it (kill PID 1 — the pid namespace takes
//! every process with it — reap, remove cgroups, release the lock). Owns the resources of
//! one sandbox; the registry of sandboxes is `runtime`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cgroup::{CgroupLayout, SandboxCgroup};
use crate::client::AgentClient;
use crate::config::SandboxConfig;
use crate::egress::{self, EgressHandler};
use crate::error::SandboxError;
use crate::launch::{self, CgroupRequest, Launcher, Prespawned, Process, Stdio};
use crate::protocol::{Rlimits, SandboxSpec, StartSpec, UpperStorage};
use crate::session::{SessionLock, SessionPaths};
use crate::{disk, sys};

/// How long stopping waits for the setup process to exit after PID 1 was killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The shell environment of every sandbox (proxy variables are added when egress is on).
pub fn base_env(hostname: &str) -> Vec<(String, String)> {
    [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", "/root"),
        ("USER", "root"),
        ("LOGNAME", "root"),
        ("SHELL", "/bin/bash"),
        ("LANG", "C.UTF-8"),
        // No terminal: keep tools from emitting colour and cursor codes.
        ("TERM", "dumb"),
        ("HOSTNAME", hostname),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// What a sandbox is started from.
pub(crate) struct StartRequest<'a> {
    pub session_id: &'a str,
    /// Environment layers, topmost first (the base goes below them).
    pub layers: Vec<PathBuf>,
    pub base: PathBuf,
    pub egress: Option<Arc<dyn EgressHandler>>,
    /// An init program started ahead of need (else one is spawned now).
    pub prespawned: Option<Prespawned>,
}

pub(crate) struct RunningSandbox {
    pub client: Arc<AgentClient>,
    stopped: bool,
    child: Child,
    init_pid: i32,
    cgroup: SandboxCgroup,
    paths: SessionPaths,
    egress_stop: CancellationToken,
    _lock: SessionLock,
}

impl RunningSandbox {
    pub(crate) async fn start(
        config: &SandboxConfig,
        launcher: &Launcher,
        cgroups: &CgroupLayout,
        tasks: &TaskTracker,
        request: StartRequest<'_>,
    ) -> Result<RunningSandbox, SandboxError> {
        let paths = SessionPaths::new(&config.data_dir, request.session_id)?;
        paths.create_dirs()?;
        let lock = paths.lock()?;
        let storage = prepare_storage(config, &paths, tasks).await?;
        let process = match request.prespawned {
            Some(ready) => Process::Ready(ready),
            None => Process::Spawn(Stdio::Null, Some(cgroup_request(config, cgroups))),
        };
        let spec = sandbox_spec(
            config,
            &paths,
            storage,
            request.layers,
            request.base,
            request.egress.is_some(),
        );
        let started = launch::start(
            launcher,
            &config.init_program,
            StartSpec::Sandbox(spec),
            config.id_base,
            process,
            config.start_timeout,
        )
        .await?;
        let init_pid = started.init_pid.unwrap_or_default();
        let sandbox = RunningSandbox {
            client: Arc::new(AgentClient::new(started.stream)),
            stopped: false,
            child: started.child,
            init_pid,
            cgroup: started.cgroup,
            paths,
            egress_stop: CancellationToken::new(),
            _lock: lock,
        };
        let _ = std::fs::write(sandbox.paths.init_pid_file(), init_pid.to_string());
        if let Some(handler) = request.egress {
            match egress::bind_in_sandbox(init_pid) {
                Ok(listener) => {
                    let stop = sandbox.egress_stop.clone();
                    tasks.spawn(egress::serve(listener, handler, stop));
                }
                Err(error) => {
                    sandbox.stop().await;
                    return Err(error);
                }
            }
        }
        Ok(sandbox)
    }

    pub(crate) fn init_pid(&self) -> i32 {
        self.init_pid
    }

    /// Kills every process of the sandbox and releases its resources. Files stay.
    pub(crate) async fn stop(mut self) {
        self.egress_stop.cancel();
        let killed_by_cgroup = self.cgroup.kill_all();
        // Only signal PID 1 while its parent (our child) is alive: until then its pid cannot
        // have been reused.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = sys::kill(self.init_pid, libc::SIGKILL);
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(
                    pid = self.init_pid,
                    killed_by_cgroup,
                    "sandbox did not exit in time; killing its setup process"
                );
                let _ = self.child.kill().await;
            }
        }
        let _ = std::fs::remove_file(self.paths.init_pid_file());
        let mut cgroup = std::mem::take(&mut self.cgroup);
        let _ = tokio::task::spawn_blocking(move || cgroup.remove()).await;
        self.stopped = true;
        // The session lock is released when `self` drops, after everything above.
    }
}

/// Dropped without `stop` (the runtime itself is being dropped, or a task was aborted):
/// kill everything synchronously and make sure PID 1, which may be reparented to us (we are
/// a child subreaper) when the setup process dies first, does not stay a zombie.
impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.cgroup.kill_all();
        let setup_alive = matches!(self.child.try_wait(), Ok(None));
        if setup_alive {
            let _ = sys::kill(self.init_pid, libc::SIGKILL);
        }
        let _ = self.child.start_kill();
        let deadline = std::time::Instant::now() + DROP_REAP_TIMEOUT;
        while std::time::Instant::now() < deadline {
            let setup_gone = !matches!(self.child.try_wait(), Ok(None));
            match sys::reap(self.init_pid) {
                sys::Reaped::Yes => break,
                sys::Reaped::NotOurChild if setup_gone => break,
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        let _ = std::fs::remove_file(self.paths.init_pid_file());
        self.cgroup.remove();
    }
}

/// How long dropping a sandbox waits for its processes to be reaped.
const DROP_REAP_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the session's upper lives; a new session with a disk cap gets its image here
/// (and a spare for the next new session is prepared in the background).
async fn prepare_storage(
    config: &SandboxConfig,
    paths: &SessionPaths,
    tasks: &TaskTracker,
) -> Result<UpperStorage, SandboxError> {
    let storage = paths.storage(config.limits.disk_bytes);
    if let (UpperStorage::Image { image, .. }, Some(bytes)) = (&storage, config.limits.disk_bytes)
        && !image.exists()
    {
        let spare_dir = spare_dir(config);
        disk::take_image(&config.templates_dir, &spare_dir, image, bytes)
            .await
            .map_err(|detail| SandboxError::setup("create disk image", detail))?;
        let templates = config.templates_dir.clone();
        tasks.spawn(async move {
            if let Err(error) = disk::refill_spares(&templates, &spare_dir, bytes).await {
                tracing::warn!(%error, "cannot prepare a spare disk image");
            }
        });
    }
    Ok(storage)
}

fn sandbox_spec(
    config: &SandboxConfig,
    paths: &SessionPaths,
    storage: UpperStorage,
    mut lower_layers: Vec<PathBuf>,
    base: PathBuf,
    with_egress: bool,
) -> SandboxSpec {
    let mut env = base_env(&config.hostname);
    if with_egress {
        env.extend(egress::proxy_env());
    }
    lower_layers.push(base);
    SandboxSpec {
        lower_layers,
        storage,
        merged: paths.merged(),
        hostname: config.hostname.clone(),
        id_base: config.id_base,
        env,
        rlimits: rlimits(config),
        tmpfs_bytes: config.limits.tmpfs_bytes,
    }
}

/// Where spare disk images wait (under the data dir, so taking one is a rename).
fn spare_dir(config: &SandboxConfig) -> PathBuf {
    config.data_dir.join("spare-disks")
}

fn rlimits(config: &SandboxConfig) -> Rlimits {
    Rlimits {
        nofile: config.limits.nofile,
        fsize: config.limits.disk_bytes,
    }
}

/// The cgroups of one sandbox, named uniquely within this process.
pub(crate) fn cgroup_request(config: &SandboxConfig, cgroups: &CgroupLayout) -> CgroupRequest {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    CgroupRequest {
        layout: cgroups.clone(),
        name: COUNTER.fetch_add(1, Ordering::Relaxed).to_string(),
        limits: config.limits.cgroup(),
    }
}
