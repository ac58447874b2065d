//! Hangar's built-in toolset: `bash`, `read`, `write`, `edit`, `glob` and `grep`, executed
//! *inside* a sandbox by its init agent. Nothing here knows about namespaces or the host; the
//! code only sees the file system it runs in, and it must never be pointed at a sandbox's files
//! from the host (that would follow the sandbox's symlinks with host privileges).
//!
//! # Layout
//! - [`Toolbox`]: one per sandbox; dispatches a call by name and owns the persistent shell.
//! - [`input`]: the input shapes of cma-api §4.6, parsed strictly (unknown fields rejected).
//! - [`bash`]: the persistent shell with timeouts, cancellation and capped output.
//! - [`files`]: `read`, `write`, `edit`. [`search`]: `glob`, `grep`.
//! - [`limits`]: every cap and timeout as a named constant.

pub mod bash;
pub mod files;
pub mod input;
pub mod limits;
pub mod search;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

/// The names of the tools this crate executes.
pub const TOOL_NAMES: [&str; 6] = ["bash", "read", "write", "edit", "glob", "grep"];

/// What a tool call produced, as the model will see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    pub text: String,
    pub is_error: bool,
}

impl ToolResult {
    pub fn ok(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            is_error: true,
        }
    }
}

/// Everything a sandbox's tools share: the working directory, the shell's environment and the
/// persistent shell itself. Calls may come from several threads; `bash` calls are serialised
/// by the shell's lock, file tools run concurrently.
pub struct Toolbox {
    workdir: PathBuf,
    shell_env: Vec<(String, String)>,
    shell: Mutex<bash::ShellSlot>,
}

impl Toolbox {
    /// `workdir` is where relative paths resolve and where the shell starts; `shell_env` is
    /// the complete environment of the shell (nothing is inherited from this process).
    pub fn new(workdir: impl Into<PathBuf>, shell_env: Vec<(String, String)>) -> Self {
        let workdir = workdir.into();
        Toolbox {
            shell: Mutex::new(bash::ShellSlot::new(workdir.clone())),
            workdir,
            shell_env,
        }
    }

    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Runs one call. `cancel` is polled by long-running tools (`bash`); once it is set the
    /// call stops promptly and says it was cancelled.
    pub fn run(&self, name: &str, input: &serde_json::Value, cancel: &AtomicBool) -> ToolResult {
        let outcome = match name {
            "bash" => input::parse(input).map(|i| self.bash(i, cancel)),
            "read" => input::parse(input).map(|i| files::read(&self.workdir, i)),
            "write" => input::parse(input).map(|i| files::write(&self.workdir, i)),
            "edit" => input::parse(input).map(|i| files::edit(&self.workdir, i)),
            "glob" => input::parse(input).map(|i| search::glob(&self.workdir, i)),
            "grep" => input::parse(input).map(|i| search::grep(&self.workdir, i)),
            other => Ok(ToolResult::error(format!(
                "Unknown tool `{other}`; this sandbox runs: {}.",
                TOOL_NAMES.join(", ")
            ))),
        };
        outcome.unwrap_or_else(|message| {
            ToolResult::error(format!("Invalid input for `{name}`: {message}"))
        })
    }

    /// Starts the persistent shell now, so the first `bash` call does not pay for it. A call
    /// that arrives meanwhile waits for the start to finish.
    pub fn warm_up(&self) {
        let mut slot = match self.shell.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A failure is reported by the first call, which tries again.
        let _ = slot.ensure_started(&self.shell_env);
    }

    fn bash(&self, input: input::BashInput, cancel: &AtomicBool) -> ToolResult {
        let mut slot = match self.shell.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        slot.run(input, &self.shell_env, cancel)
    }
}

/// Resolves a tool's path argument: absolute paths are used as given, relative ones are
/// joined to the working directory.
pub(crate) fn resolve(workdir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        workdir.join(path)
    }
}
