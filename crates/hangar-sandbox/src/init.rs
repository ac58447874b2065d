//! The entry point of the init program (`hangar sandbox-init`, or this crate's
//! `hangar-sandbox-init` binary): the process the server starts for every sandbox. It reads
//! its orders from fd 3 (a socketpair end) and becomes, in turn, the setup process (real
//! root), then forks PID 1 of the sandbox, which serves tool calls. Owns the order of the
//! life cycle; the steps themselves live in `setup`, `harden` and `agent`.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use crate::protocol::{self, HostMessage, InitMessage, JoinSpec, SandboxSpec, StartSpec};
use crate::setup::{self, StepFailed};
use crate::{agent, archive, harden, sys};

/// The fd on which the server hands the init program its end of the socketpair.
pub const CONTROL_FD: i32 = 3;

/// Runs the init program and returns its exit code. Call it from `main` of a binary that
/// has done nothing else yet (one thread, no runtime): it forks.
pub fn run() -> i32 {
    // SAFETY: fd 3 is the socketpair end the server placed there for us; nothing else in
    // this fresh process owns it.
    let mut stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(CONTROL_FD) });
    let spec = match protocol::read_frame::<HostMessage>(&mut stream) {
        Ok(Some(HostMessage::Start(spec))) => *spec,
        _ => {
            return report(
                &mut stream,
                "read start message",
                std::io::Error::other("bad first frame"),
            );
        }
    };
    match spec {
        StartSpec::Sandbox(spec) => run_sandbox(stream, &spec),
        StartSpec::Join(spec) => run_join(stream, &spec),
        StartSpec::Archive(spec) => match archive::run(&spec) {
            Ok(()) => 0,
            Err(failed) => report(&mut stream, &failed.step, failed.error),
        },
    }
}

fn report(stream: &mut UnixStream, step: &str, error: std::io::Error) -> i32 {
    let message = InitMessage::SetupFailed {
        step: step.to_owned(),
        error: error.to_string(),
    };
    let _ = protocol::write_frame(stream, &message);
    1
}

fn run_sandbox(mut stream: UnixStream, spec: &SandboxSpec) -> i32 {
    let staged =
        setup::mount_session_root(spec).and_then(|()| setup::enter_sandbox_namespaces(&mut stream));
    if let Err(failed) = staged {
        return report(&mut stream, &failed.step, failed.error);
    }
    let (release_reader, release_writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(error) => return report(&mut stream, "create release pipe", error),
    };
    match sys::fork() {
        Err(error) => report(&mut stream, "fork init", error),
        Ok(sys::Fork::Parent(pid)) => {
            // Announce PID 1 before it may speak, so our frames never interleave.
            let _ = protocol::write_frame(&mut stream, &InitMessage::InitStarted { pid });
            drop(release_writer);
            drop(stream);
            sys::wait_exit_code(pid).unwrap_or(1)
        }
        Ok(sys::Fork::Child) => {
            drop(release_writer);
            let mut release_reader = release_reader;
            let _ = std::io::Read::read(&mut release_reader, &mut [0u8; 1]);
            run_pid1(stream, spec)
        }
    }
}

fn run_pid1(mut stream: UnixStream, spec: &SandboxSpec) -> i32 {
    let prepared = sys::set_parent_death_signal(libc::SIGKILL)
        .map_err(|error| StepFailed {
            step: "set parent death signal".into(),
            error,
        })
        .and_then(|()| setup::build_root(spec))
        .and_then(|()| {
            harden::apply(&spec.rlimits).map_err(|(step, error)| StepFailed {
                step: step.into(),
                error,
            })
        })
        .and_then(|()| {
            sys::set_not_dumpable().map_err(|error| StepFailed {
                step: "set not dumpable".into(),
                error,
            })
        });
    if let Err(failed) = prepared {
        return report(&mut stream, &failed.step, failed.error);
    }
    agent::serve(stream, spec.env.clone())
}

/// `sandbox exec` into a running sandbox: join its namespaces, apply the same restrictions,
/// run the command with our stdio, and exit with its code.
fn run_join(mut stream: UnixStream, spec: &JoinSpec) -> i32 {
    // Still in the host's cgroup namespace: the sandbox's groups are visible by path.
    if let Err(error) = crate::cgroup::join_groups_of(spec.init_pid) {
        return report(&mut stream, "join the sandbox's cgroups", error);
    }
    if let Err(failed) = join_namespaces(spec.init_pid) {
        return report(&mut stream, &failed.step, failed.error);
    }
    match sys::fork() {
        Err(error) => report(&mut stream, "fork", error),
        Ok(sys::Fork::Parent(pid)) => {
            drop(stream);
            sys::wait_exit_code(pid).unwrap_or(1)
        }
        Ok(sys::Fork::Child) => {
            let prepared = sys::set_parent_death_signal(libc::SIGKILL)
                .and_then(|()| std::env::set_current_dir("/workspace"))
                .map_err(|error| ("enter /workspace", error))
                .and_then(|()| harden::apply(&spec.rlimits));
            if let Err((step, error)) = prepared {
                return report(&mut stream, step, error);
            }
            drop(stream);
            let error = sys::exec(&spec.command, &spec.env);
            eprintln!(
                "hangar sandbox exec: cannot run {:?}: {error}",
                spec.command.first()
            );
            127
        }
    }
}

fn join_namespaces(pid: i32) -> Result<(), StepFailed> {
    use crate::setup::Step;
    // The user namespace first: joining it gives the capabilities the others need. The
    // mount namespace comes last but before `pid` matters (it applies to our children).
    let order = [
        ("user", libc::CLONE_NEWUSER),
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        ("mnt", libc::CLONE_NEWNS),
    ];
    let files: Vec<_> = order
        .iter()
        .map(|(name, _)| std::fs::File::open(format!("/proc/{pid}/ns/{name}")))
        .collect::<Result<_, _>>()
        .step("open the sandbox's namespaces")?;
    for ((name, kind), file) in order.iter().zip(&files) {
        sys::setns(std::os::fd::AsFd::as_fd(file), *kind)
            .step(&format!("join {name} namespace"))?;
    }
    sys::become_root().step("become root in the sandbox")
}
