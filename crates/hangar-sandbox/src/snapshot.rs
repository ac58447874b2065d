//! Host side of snapshot, restore and `sandbox exec`: runs the init program in its
//! `archive` or `join` mode and waits for it. Owns locking around archives and the
//! reporting of their failures; the tar/zstd work itself is in `archive`.

use std::path::Path;
use std::time::Duration;

use crate::client::read_frame_async;
use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::launch::{self, Launcher, Process, Stdio};
use crate::protocol::{ArchiveSpec, InitMessage, JoinSpec, Rlimits, StartSpec, UpperStorage};
use crate::session::SessionPaths;
use crate::{disk, sandbox, sys};

/// A snapshot or restore must finish within this (a 65 MB upper took 0.2 s).
pub const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `sandbox exec` into a running sandbox ends after this (an operator command, not a shell).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub(crate) async fn run(
    config: &SandboxConfig,
    launcher: &Launcher,
    session_id: &str,
    archive: &Path,
    extract: bool,
) -> Result<(), SandboxError> {
    let paths = SessionPaths::new(&config.data_dir, session_id)?;
    if !extract && !paths.root.exists() {
        return Err(SandboxError::Snapshot(format!(
            "session {session_id} has no files"
        )));
    }
    if !archive.is_absolute() {
        return Err(SandboxError::Snapshot(format!(
            "{} is not an absolute path",
            archive.display()
        )));
    }
    paths.create_dirs()?;
    let _lock = paths.lock()?;
    let storage = paths.storage(config.limits.disk_bytes);
    if let (UpperStorage::Image { image, .. }, Some(bytes)) = (&storage, config.limits.disk_bytes)
        && !image.exists()
    {
        disk::create_image(&config.templates_dir, image, bytes)
            .await
            .map_err(SandboxError::Snapshot)?;
    }
    let spec = StartSpec::Archive(ArchiveSpec {
        storage,
        archive: archive.to_path_buf(),
        extract,
    });
    match run_to_exit(launcher, config, spec, Stdio::Null, ARCHIVE_TIMEOUT).await {
        Ok(0) => Ok(()),
        Ok(code) => Err(SandboxError::Snapshot(format!(
            "the archive step exited with {code}"
        ))),
        Err(error) => Err(SandboxError::Snapshot(error.to_string())),
    }
}

/// Starts the init program in a one-shot mode and returns its exit code, or the setup step
/// it reported as failed. After `limit` its whole process group (tar, zstd, a joined
/// command) is killed.
async fn run_to_exit(
    launcher: &Launcher,
    config: &SandboxConfig,
    spec: StartSpec,
    stdio: Stdio,
    limit: Duration,
) -> Result<i32, SandboxError> {
    let mut started = launch::start(
        launcher,
        &config.init_program,
        spec,
        config.id_base,
        Process::Spawn(stdio, None),
        config.start_timeout,
    )
    .await?;
    let group = started.child.id();
    let finished = tokio::time::timeout(limit, async {
        if let Ok(Some(InitMessage::SetupFailed { step, error })) =
            read_frame_async::<InitMessage>(&mut started.stream).await
        {
            let _ = started.child.wait().await;
            return Err(SandboxError::Setup {
                step,
                detail: error,
            });
        }
        let status = started
            .child
            .wait()
            .await
            .map_err(SandboxError::io("wait for the init program"))?;
        Ok(status.code().unwrap_or(128))
    })
    .await;
    match finished {
        Ok(outcome) => outcome,
        Err(_) => {
            if let Some(group) = group {
                let _ = sys::kill(-(group as i32), libc::SIGKILL);
            }
            let _ = started.child.wait().await;
            Err(SandboxError::Lost(format!(
                "not finished within {limit:?}; killed"
            )))
        }
    }
}

/// Runs `command` inside the *running* sandbox of `session_id` (joining its namespaces,
/// under the same restrictions as tool calls), with this process's stdio; returns its exit
/// code. Fails with `Lost` when no sandbox runs for the session.
pub async fn exec_in_running(
    config: &SandboxConfig,
    session_id: &str,
    command: Vec<String>,
) -> Result<i32, SandboxError> {
    let paths = SessionPaths::new(&config.data_dir, session_id)?;
    let pid_text = std::fs::read_to_string(paths.init_pid_file())
        .map_err(|_| SandboxError::Lost(format!("no sandbox runs for session {session_id}")))?;
    let init_pid = pid_text.trim().parse().map_err(|_| {
        SandboxError::Protocol(format!("bad pid file {}", paths.init_pid_file().display()))
    })?;
    let spec = StartSpec::Join(JoinSpec {
        init_pid,
        command,
        env: sandbox::base_env(&config.hostname),
        rlimits: Rlimits {
            nofile: config.limits.nofile,
            fsize: config.limits.disk_bytes,
        },
    });
    let launcher = Launcher::new()?;
    run_to_exit(&launcher, config, spec, Stdio::Inherit, EXEC_TIMEOUT).await
}
