//! Starting the init program and walking it through the setup handshake: uid/gid maps,
//! cgroup attach, PID 1 reported, `Ready`. Processes are spawned from one dedicated,
//! long-lived thread because `PR_SET_PDEATHSIG` fires when the *thread* that forked a child
//! exits: a tokio blocking thread would retire and kill sandboxes with it. When the
//! launcher (and so the runtime) is dropped, its thread ends and every sandbox dies.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::mpsc;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::process::Child;
use tokio::sync::oneshot;

use crate::cgroup::{CgroupLayout, CgroupLimits, SandboxCgroup};
use crate::client::{read_frame_async, write_frame_async};
use crate::config::{ID_RANGE, InitProgram};
use crate::error::SandboxError;
use crate::init::CONTROL_FD;
use crate::protocol::{HostMessage, InitMessage, PROTOCOL_VERSION, StartSpec};

/// What the init program's stdin/stdout are: nothing for sandboxes, ours for `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stdio {
    Null,
    Inherit,
}

struct SpawnJob {
    program: InitProgram,
    stdio: Stdio,
    control: OwnedFd,
    runtime: tokio::runtime::Handle,
    reply: oneshot::Sender<std::io::Result<Child>>,
}

/// Handle on the spawning thread; the thread ends when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct Launcher {
    jobs: mpsc::Sender<SpawnJob>,
}

impl Launcher {
    pub(crate) fn new() -> Result<Launcher, SandboxError> {
        let (jobs, receiver) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("hangar-sandbox-launcher".into())
            .spawn(move || {
                for job in receiver {
                    let _entered = job.runtime.enter();
                    let _ = job
                        .reply
                        .send(spawn_init(&job.program, job.control, job.stdio));
                }
            })
            .map_err(SandboxError::io("start the sandbox launcher thread"))?;
        Ok(Launcher { jobs })
    }

    async fn spawn(
        &self,
        program: &InitProgram,
        control: OwnedFd,
        stdio: Stdio,
    ) -> Result<Child, SandboxError> {
        let (reply, answer) = oneshot::channel();
        let job = SpawnJob {
            program: program.clone(),
            stdio,
            control,
            runtime: tokio::runtime::Handle::current(),
            reply,
        };
        self.jobs
            .send(job)
            .map_err(|_| SandboxError::setup("spawn init", "the launcher thread is gone"))?;
        answer
            .await
            .map_err(|_| SandboxError::setup("spawn init", "the launcher thread is gone"))?
            .map_err(|e| {
                SandboxError::setup("spawn init", format!("{}: {e}", program.path.display()))
            })
    }
}

fn spawn_init(program: &InitProgram, control: OwnedFd, stdio: Stdio) -> std::io::Result<Child> {
    let control_raw = control.as_raw_fd();
    let own_group = stdio == Stdio::Null;
    let mut command = tokio::process::Command::new(&program.path);
    command.args(&program.args).env_clear().kill_on_drop(true);
    if stdio == Stdio::Null {
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
    }
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // system calls (dup2, fcntl, prctl, setpgid) on integers.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(control_raw, CONTROL_FD) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 onto the same number keeps CLOEXEC; clear it so exec keeps the fd.
            let flags = libc::fcntl(CONTROL_FD, libc::F_GETFD);
            if flags == -1
                || libc::fcntl(CONTROL_FD, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // Its own process group, so a one-shot mode's helpers (tar, zstd) can be killed
            // together with it. Not with our stdio: a terminal's foreground job stays ours.
            if own_group && libc::setpgid(0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn();
    drop(control);
    child
}

/// A started init program whose handshake succeeded.
pub(crate) struct Started {
    pub child: Child,
    pub stream: UnixStream,
    /// Host pid of the sandbox's PID 1 (`None` for modes without one).
    pub init_pid: Option<i32>,
    /// The sandbox's cgroups, holding its processes (empty without a request).
    pub cgroup: SandboxCgroup,
}

/// The cgroups to create for a sandbox. They are created and joined on a blocking thread
/// while the setup process mounts its root: in v1, `mkdir` and joining each wait on RCU
/// (about 10 ms here), which would otherwise add up on the critical path.
pub(crate) struct CgroupRequest {
    pub layout: CgroupLayout,
    pub name: String,
    pub limits: CgroupLimits,
}

type CgroupJob = tokio::task::JoinHandle<std::io::Result<SandboxCgroup>>;

impl CgroupRequest {
    fn start(self, pid: u32) -> CgroupJob {
        tokio::task::spawn_blocking(move || {
            let mut group = self.layout.create(&self.name, &self.limits)?;
            if let Err(error) = group.attach(pid) {
                group.remove();
                return Err(error);
            }
            Ok(group)
        })
    }
}

/// A sandbox's cgroups during the handshake: the pending job, then the finished group.
#[derive(Default)]
struct CgroupSlots {
    job: Option<CgroupJob>,
    group: Option<SandboxCgroup>,
}

impl CgroupSlots {
    /// After a failed start: wait for a pending job and remove whatever group exists.
    async fn discard(self) {
        let mut groups: Vec<SandboxCgroup> = self.group.into_iter().collect();
        if let Some(job) = self.job
            && let Ok(Ok(group)) = job.await
        {
            groups.push(group);
        }
        for mut group in groups {
            group.kill_all();
            let _ = tokio::task::spawn_blocking(move || group.remove()).await;
        }
    }
}

/// Spawns the init program with its end of a fresh socketpair.
async fn spawn_with_socket(
    launcher: &Launcher,
    program: &InitProgram,
    stdio: Stdio,
) -> Result<(Child, UnixStream), SandboxError> {
    let (ours, theirs) = StdUnixStream::pair().map_err(SandboxError::io("create socketpair"))?;
    ours.set_nonblocking(true)
        .map_err(SandboxError::io("socketpair"))?;
    let stream = UnixStream::from_std(ours).map_err(SandboxError::io("socketpair"))?;
    let child = launcher
        .spawn(program, OwnedFd::from(theirs), stdio)
        .await?;
    Ok((child, stream))
}

/// Starts an init program ahead of need: exec'd, in its cgroups, waiting for `Start`.
pub(crate) async fn prespawn(
    launcher: &Launcher,
    program: &InitProgram,
    cgroup: Option<CgroupRequest>,
) -> Result<Prespawned, SandboxError> {
    let (mut child, stream) = spawn_with_socket(launcher, program, Stdio::Null).await?;
    let group = match (cgroup, child.id()) {
        (Some(request), Some(pid)) => match request.start(pid).await {
            Ok(Ok(group)) => group,
            Ok(Err(error)) => {
                let _ = child.kill().await;
                return Err(SandboxError::setup("join cgroups", error));
            }
            Err(error) => {
                let _ = child.kill().await;
                return Err(SandboxError::setup("join cgroups", error));
            }
        },
        _ => SandboxCgroup::default(),
    };
    Ok(Prespawned {
        parts: Some((child, stream, group)),
    })
}

/// An init program started ahead of need. Dropped unused, it is killed and its cgroups are
/// removed.
pub(crate) struct Prespawned {
    parts: Option<(Child, UnixStream, SandboxCgroup)>,
}

/// How long dropping an unused prespawned process waits for it to be reaped.
const PRESPAWNED_REAP_TIMEOUT: Duration = Duration::from_secs(1);

impl Drop for Prespawned {
    fn drop(&mut self) {
        let Some((mut child, _, mut group)) = self.parts.take() else {
            return;
        };
        let _ = child.start_kill();
        let deadline = std::time::Instant::now() + PRESPAWNED_REAP_TIMEOUT;
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        group.remove();
    }
}

/// How the process of a start is obtained.
pub(crate) enum Process {
    /// Spawn one now (with cgroups created meanwhile, when asked for).
    Spawn(Stdio, Option<CgroupRequest>),
    /// Use a prespawned one.
    Ready(Prespawned),
}

/// Starts the init program with `spec` and drives the handshake until `Ready` (sandbox) or
/// until the process exits (archive, join). Kills the process on any failure.
pub(crate) async fn start(
    launcher: &Launcher,
    program: &InitProgram,
    spec: StartSpec,
    id_base: u32,
    process: Process,
    timeout: Duration,
) -> Result<Started, SandboxError> {
    let mut slots = CgroupSlots::default();
    let (mut child, mut stream, cgroup) = match process {
        Process::Spawn(stdio, cgroup) => {
            let (child, stream) = spawn_with_socket(launcher, program, stdio).await?;
            (child, stream, cgroup)
        }
        Process::Ready(mut prespawned) => {
            let Some((child, stream, group)) = prespawned.parts.take() else {
                return Err(SandboxError::setup(
                    "spawn init",
                    "prespawned process already used",
                ));
            };
            slots.group = Some(group);
            (child, stream, None)
        }
    };
    let handshake = handshake(&mut child, &mut stream, spec, id_base, cgroup, &mut slots);
    let outcome = match tokio::time::timeout(timeout, handshake).await {
        Ok(outcome) => outcome,
        Err(_) => Err(SandboxError::setup(
            "handshake",
            format!("no answer within {timeout:?}"),
        )),
    };
    match outcome {
        Ok(init_pid) => Ok(Started {
            child,
            stream,
            init_pid,
            cgroup: slots.group.unwrap_or_default(),
        }),
        Err(error) => {
            let _ = child.kill().await;
            slots.discard().await;
            Err(error)
        }
    }
}

async fn expect(stream: &mut UnixStream) -> Result<InitMessage, SandboxError> {
    match read_frame_async::<InitMessage>(stream).await {
        Ok(Some(InitMessage::SetupFailed { step, error })) => Err(SandboxError::Setup {
            step,
            detail: error,
        }),
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(SandboxError::setup(
            "handshake",
            "the init program exited during setup",
        )),
        Err(error) => Err(SandboxError::setup("handshake", error)),
    }
}

async fn handshake(
    child: &mut Child,
    stream: &mut UnixStream,
    spec: StartSpec,
    id_base: u32,
    cgroup: Option<CgroupRequest>,
    slots: &mut CgroupSlots,
) -> Result<Option<i32>, SandboxError> {
    let is_sandbox = matches!(spec, StartSpec::Sandbox(_));
    write_frame_async(stream, &HostMessage::Start(Box::new(spec)))
        .await
        .map_err(|e| SandboxError::setup("send start", e))?;
    if !is_sandbox {
        return Ok(None);
    }
    let pid = child
        .id()
        .ok_or_else(|| SandboxError::setup("map ids", "the init program already exited"))?;
    slots.job = cgroup.map(|request| request.start(pid));
    match expect(stream).await? {
        InitMessage::UsernsReady => {}
        other => {
            return Err(SandboxError::Protocol(format!(
                "expected userns_ready, got {other:?}"
            )));
        }
    }
    let map = format!("0 {id_base} {ID_RANGE}\n");
    for file in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{pid}/{file}"), &map)
            .map_err(|e| SandboxError::setup(format!("write {file}"), e))?;
    }
    if let Some(pending) = slots.job.take() {
        let group = pending
            .await
            .map_err(|e| SandboxError::setup("join cgroups", e))?
            .map_err(|e| SandboxError::setup("join cgroups", e))?;
        slots.group = Some(group);
    }
    write_frame_async(stream, &HostMessage::Mapped)
        .await
        .map_err(|e| SandboxError::setup("send mapped", e))?;
    let init_pid = match expect(stream).await? {
        InitMessage::InitStarted { pid } => pid,
        other => {
            return Err(SandboxError::Protocol(format!(
                "expected init_started, got {other:?}"
            )));
        }
    };
    match expect(stream).await? {
        InitMessage::Ready { version } if version == PROTOCOL_VERSION => Ok(Some(init_pid)),
        InitMessage::Ready { version } => Err(SandboxError::Protocol(format!(
            "init agent speaks protocol {version}, this server {PROTOCOL_VERSION}"
        ))),
        other => Err(SandboxError::Protocol(format!(
            "expected ready, got {other:?}"
        ))),
    }
}
