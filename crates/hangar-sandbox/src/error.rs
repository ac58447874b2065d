//! `SandboxError`: everything that can stop the sandbox itself from working (as opposed to a
//! tool failing inside it, which is a normal tool result). Owns messages, not recovery.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration is unusable (bad path, bad id range). Reported at construction; the
    /// server refuses to start the sandbox backend.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    /// The session id cannot name a directory safely. The call gets a runtime error.
    #[error("invalid session id {0:?}: use letters, digits, `_` and `-` (at most 128)")]
    InvalidSessionId(String),
    /// Another sandbox (in this or another process) has this session's file system mounted.
    /// The call fails; nothing is mounted twice.
    #[error("session {0} is already mounted by another sandbox (lock {1} is held)")]
    SessionBusy(String, PathBuf),
    /// The base rootfs template is missing and may not be built here (tests, read-only
    /// template dirs). The message says how to build it.
    #[error("base template missing: {0}")]
    TemplateMissing(String),
    /// Building a template failed at `step`; nothing half-made is left behind and the next
    /// request builds again. `detail` holds the tool's stderr.
    #[error("template build failed at step `{step}`: {detail}")]
    TemplateBuild { step: String, detail: String },
    /// Starting the sandbox failed at `step` (namespace, mount, cgroup, handshake). The
    /// sandbox's processes are killed and its cgroups removed.
    #[error("sandbox setup failed at step `{step}`: {detail}")]
    Setup { step: String, detail: String },
    /// The sandbox's init agent went away (killed, OOM, crashed) while a call was running.
    /// The session's sandbox is dropped and restarted on the next call.
    #[error("the sandbox was lost: {0}")]
    Lost(String),
    /// The init agent spoke a protocol this server does not understand. Treated like `Lost`.
    #[error("sandbox protocol error: {0}")]
    Protocol(String),
    /// A snapshot or restore failed; the session's files are unchanged on a failed restore.
    #[error("snapshot failed: {0}")]
    Snapshot(String),
    /// An I/O error on the host side (data dir, cgroupfs), with what was being done.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
        let what = what.into();
        move |source| SandboxError::Io { what, source }
    }

    pub(crate) fn setup(step: impl Into<String>, detail: impl ToString) -> SandboxError {
        SandboxError::Setup {
            step: step.into(),
            detail: detail.to_string(),
        }
    }
}
