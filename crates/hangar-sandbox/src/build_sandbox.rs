//! The sandbox one environment build runs in: an ordinary sandbox of the local backend (same
//! user namespace mapping, so every file it writes is owned by mapped ids) whose only
//! network is the build egress, driven through the `bash` tool one install step at a time.
//! Owns running a step and judging its outcome; which steps run is `packages`', and what
//! happens to the upper afterwards is `build`'s.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hangar_core::tool_runtime::ToolContext;
use hangar_protocol::environment::{
    CloudConfig, Environment, EnvironmentConfig, LimitedNetwork, Networking, Packages,
};
use hangar_protocol::time::Timestamp;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::client::CallOutcome;
use crate::egress::{EgressHandler, EgressProvider};
use crate::error::SandboxError;
use crate::packages::InstallStep;
use crate::runtime::LocalSandboxRuntime;

/// Printed after each step with its exit status; never part of an installer's output.
const STEP_STATUS_MARKER: &str = "hangar-build-step-status:";
/// Where the host's CA bundle is put inside the build sandbox: on its `/tmp` tmpfs, so it
/// never becomes part of the layer.
pub const CA_BUNDLE_IN_SANDBOX: &str = "/tmp/hangar-build-ca.pem";
/// Bytes of an installer's output kept in a failed step's error.
pub const ERROR_TAIL_BYTES: usize = 3000;
/// How much longer than a step's own timeout (enforced inside by the `bash` tool) the host
/// waits before giving up on the call.
const CALL_GRACE: Duration = Duration::from_secs(30);
/// Writing the CA bundle into the sandbox (the first call also starts the sandbox).
const SETUP_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Gives every build sandbox the build egress, whatever its context says.
pub(crate) struct BuildEgress(pub Arc<dyn EgressHandler>);

impl EgressProvider for BuildEgress {
    fn handler_for(&self, _ctx: &ToolContext) -> Option<Arc<dyn EgressHandler>> {
        Some(self.0.clone())
    }
}

/// The context of a build's calls. The runtime only reads its session id (the build's
/// directory); the environment is a stand-in describing what a build may do.
fn build_context(build_id: &str) -> ToolContext {
    let now = Timestamp::now();
    ToolContext {
        session_id: build_id.to_owned(),
        environment: Environment {
            r#type: Default::default(),
            id: format!("env_{build_id}"),
            name: "environment build".into(),
            description: None,
            scope: None,
            config: EnvironmentConfig::Cloud(CloudConfig {
                networking: Networking::Limited(LimitedNetwork {
                    allowed_hosts: Vec::new(),
                    allow_mcp_servers: false,
                    allow_package_managers: true,
                }),
                packages: Packages::default(),
            }),
            metadata: Default::default(),
            created_at: now,
            updated_at: now,
            archived_at: None,
        },
    }
}

pub(crate) struct BuildSandbox<'a> {
    runtime: &'a LocalSandboxRuntime,
    ctx: ToolContext,
    ca_bundle: bool,
}

impl<'a> BuildSandbox<'a> {
    pub(crate) fn new(runtime: &'a LocalSandboxRuntime, build_id: &str) -> Self {
        BuildSandbox {
            runtime,
            ctx: build_context(build_id),
            ca_bundle: false,
        }
    }

    /// Starts the sandbox and, when `ca_bundle` is readable, puts it where the installers'
    /// TLS settings will point (a private mirror's CA then works inside, as on the host).
    pub(crate) async fn start(&mut self, ca_bundle: Option<&Path>) -> Result<(), SandboxError> {
        let pem = ca_bundle.and_then(|path| match std::fs::read_to_string(path) {
            Ok(pem) => Some(pem),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "no CA bundle for the build; installers use the image's own");
                None
            }
        });
        let input = match &pem {
            Some(pem) => json!({"file_path": CA_BUNDLE_IN_SANDBOX, "content": pem}),
            None => json!({"command": "true"}),
        };
        let tool = if pem.is_some() { "write" } else { "bash" };
        match self.call(tool, &input, SETUP_CALL_TIMEOUT).await? {
            CallOutcome::Done {
                is_error: false, ..
            } => {
                self.ca_bundle = pem.is_some();
                Ok(())
            }
            CallOutcome::Done { text, .. } => Err(failed("start the build sandbox", text)),
            CallOutcome::Cancelled => Err(failed("start the build sandbox", "cancelled")),
        }
    }

    /// Runs one step; an error names the step, its packages, and ends with the installer's
    /// last output.
    pub(crate) async fn run(&self, step: &InstallStep) -> Result<(), SandboxError> {
        let input = json!({
            "command": self.command(step),
            "timeout_ms": u64::try_from(step.timeout.as_millis()).unwrap_or(u64::MAX),
        });
        let outcome = self
            .call("bash", &input, step.timeout + CALL_GRACE)
            .await
            .map_err(|error| failed(&step.action, error))?;
        match outcome {
            CallOutcome::Done { text, .. } => step_outcome(step, &text),
            CallOutcome::Cancelled => Err(failed(&step.action, "cancelled")),
        }
    }

    async fn call(
        &self,
        tool: &str,
        input: &serde_json::Value,
        timeout: Duration,
    ) -> Result<CallOutcome, SandboxError> {
        let cancel = CancellationToken::new();
        let call = self.runtime.call(&self.ctx, tool, input, &cancel);
        match tokio::time::timeout(timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(failed(
                tool,
                format!("no answer from the build sandbox within {timeout:?}"),
            )),
        }
    }

    fn command(&self, step: &InstallStep) -> String {
        let mut command = String::from("export DEBIAN_FRONTEND=noninteractive\n");
        if self.ca_bundle {
            command.push_str("export");
            for name in [
                "SSL_CERT_FILE",
                "PIP_CERT",
                "REQUESTS_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
                "CARGO_HTTP_CAINFO",
                "GIT_SSL_CAINFO",
                "CURL_CA_BUNDLE",
            ] {
                command.push_str(&format!(" {name}={CA_BUNDLE_IN_SANDBOX}"));
            }
            command.push('\n');
        }
        // A subshell, so `set -e` stops the step at its first failure without ending the
        // persistent shell.
        command.push_str(&format!(
            "cd /\n( set -e\n{}\n) </dev/null 2>&1\nstatus=$?\nprintf '\\n%s%d\\n' '{STEP_STATUS_MARKER}' \"$status\"",
            step.script
        ));
        command
    }
}

fn failed(step: &str, detail: impl ToString) -> SandboxError {
    SandboxError::TemplateBuild {
        step: step.to_owned(),
        detail: detail.to_string(),
    }
}

/// Reads the status line the step's command printed last. A missing line means the `bash`
/// tool stopped the command (timeout) before it could print one.
fn step_outcome(step: &InstallStep, text: &str) -> Result<(), SandboxError> {
    let (output, status) = match text.rfind(STEP_STATUS_MARKER) {
        Some(at) => {
            let status = text[at + STEP_STATUS_MARKER.len()..].trim();
            (text[..at].trim_end(), status.parse::<i32>().ok())
        }
        None => (text.trim_end(), None),
    };
    if status == Some(0) {
        return Ok(());
    }
    let ending = match status {
        Some(code) => format!("exit status {code}"),
        None => format!("did not finish within {:?}", step.timeout),
    };
    let packages = match step.packages.is_empty() {
        true => String::new(),
        false => format!(" ({})", step.packages.join(", ")),
    };
    Err(failed(
        &step.action,
        format!(
            "{}{packages} failed: {ending}; last output:\n{}",
            step.manager.name(),
            tail(output, ERROR_TAIL_BYTES)
        ),
    ))
}

/// The last `bytes` of `text` (at a character boundary).
fn tail(text: &str, bytes: usize) -> &str {
    let start = text.len().saturating_sub(bytes);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::Manager;

    fn apt_install() -> InstallStep {
        InstallStep {
            manager: Manager::Apt,
            action: "apt-get install nosuchpkg".into(),
            packages: vec!["nosuchpkg".into()],
            script: "apt-get install -y nosuchpkg".into(),
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn status_zero_is_success() {
        let text = format!("Setting up jq\n\n{STEP_STATUS_MARKER}0\n");
        assert!(step_outcome(&apt_install(), &text).is_ok());
    }

    #[test]
    fn a_failure_names_the_manager_packages_and_the_installers_last_words() {
        let text = format!(
            "Reading package lists...\nE: Unable to locate package nosuchpkg\n\n{STEP_STATUS_MARKER}100\n"
        );
        let error = step_outcome(&apt_install(), &text).unwrap_err().to_string();
        assert!(error.contains("apt-get install nosuchpkg"), "{error}");
        assert!(
            error.contains("apt (nosuchpkg) failed: exit status 100"),
            "{error}"
        );
        assert!(
            error.ends_with("E: Unable to locate package nosuchpkg"),
            "{error}"
        );
    }

    #[test]
    fn a_killed_step_reports_its_timeout() {
        let text = "Get:1 ...\n[The command timed out after 60000 ms and was killed.]";
        let error = step_outcome(&apt_install(), text).unwrap_err().to_string();
        assert!(error.contains("did not finish within 60s"), "{error}");
        assert!(error.contains("timed out"), "{error}");
    }

    #[test]
    fn tail_keeps_the_end_at_a_character_boundary() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
        assert_eq!(tail("aé", 1), "");
    }
}
