//! Test harness: a runtime on a temp data dir with small limits, helpers to call tools.

mod environment;
mod escape;
mod lifecycle;
mod template;
mod tools;

use std::path::PathBuf;
use std::time::Duration;

use hangar_core::tool_runtime::{ToolCall, ToolContext, ToolOutput, ToolRuntime, ToolRuntimeError};
use hangar_protocol::agent::{BuiltinToolConfig, BuiltinToolName, PermissionPolicy};
use hangar_sandbox::{InitProgram, LocalSandboxRuntime, SandboxConfig, SandboxLimits};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Where CI and developers keep the shared base (see scripts/ci-sandbox-prep.sh).
pub const DEFAULT_TEMPLATES_DIR: &str = "/var/cache/hangar-ci/templates";

pub fn templates_dir() -> PathBuf {
    std::env::var_os("HANGAR_TEMPLATE_DIR")
        .map_or_else(|| PathBuf::from(DEFAULT_TEMPLATES_DIR), PathBuf::from)
}

pub fn init_program() -> InitProgram {
    InitProgram {
        path: PathBuf::from(env!("CARGO_BIN_EXE_hangar-sandbox-init")),
        args: Vec::new(),
    }
}

/// Small limits so the bomb tests finish quickly.
pub fn test_limits() -> SandboxLimits {
    SandboxLimits {
        memory_bytes: Some(256 << 20),
        pids: Some(128),
        cpu_millicores: Some(1000),
        disk_bytes: Some(64 << 20),
        tmpfs_bytes: 32 << 20,
        nofile: 4096,
    }
}

pub fn test_config(data_dir: &std::path::Path) -> SandboxConfig {
    let mut config = SandboxConfig::new(data_dir, init_program());
    config.templates_dir = templates_dir();
    config.build_base_if_missing = false;
    config.limits = test_limits();
    config.idle_timeout = Duration::from_secs(3600);
    config
}

pub struct Harness {
    pub data: tempfile::TempDir,
    pub runtime: LocalSandboxRuntime,
}

impl Harness {
    pub fn new() -> Harness {
        Self::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut SandboxConfig)) -> Harness {
        let data = tempfile::Builder::new()
            .prefix("hangar-sbx-test-")
            .tempdir()
            .unwrap();
        let mut config = test_config(data.path());
        adjust(&mut config);
        let runtime = LocalSandboxRuntime::new(config).unwrap();
        Harness { data, runtime }
    }

    /// A fresh runtime on the same data dir (a server restart).
    pub fn restart(&mut self) {
        let config = self.runtime.config().clone();
        self.runtime = LocalSandboxRuntime::new(config).unwrap();
    }

    pub async fn call(
        &self,
        session: &str,
        tool: &str,
        input: Value,
    ) -> Result<ToolOutput, ToolRuntimeError> {
        self.runtime
            .run(&ctx(session), &call(tool, input), CancellationToken::new())
            .await
    }

    /// Runs a tool and returns its text, asserting it succeeded.
    pub async fn ok(&self, session: &str, tool: &str, input: Value) -> String {
        let output = self.call(session, tool, input).await.unwrap();
        let text = text(&output);
        assert!(!output.is_error, "{tool} failed: {text}");
        text
    }

    /// Runs a bash command and returns its output, whatever the exit code.
    pub async fn sh(&self, session: &str, command: &str) -> String {
        text(
            &self
                .call(session, "bash", json!({"command": command}))
                .await
                .unwrap(),
        )
    }

    /// Stops every sandbox so cgroups and mounts are gone before the temp dir is removed.
    pub async fn finish(self) {
        self.runtime.shutdown().await;
    }
}

pub fn text(output: &ToolOutput) -> String {
    output
        .content
        .iter()
        .map(|block| match block {
            hangar_core::model::Block::Text { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

pub fn unique_session(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn ctx(session: &str) -> ToolContext {
    let environment = serde_json::from_value(json!({
        "type": "environment", "id": "env_test", "name": "test", "description": null, "scope": null,
        "config": {"type": "cloud", "networking": {"type": "unrestricted"},
                   "packages": {"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": []}},
        "metadata": {}, "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z", "archived_at": null
    }))
    .expect("environment fixture");
    ToolContext {
        session_id: session.to_owned(),
        environment,
    }
}

pub fn call(tool: &str, input: Value) -> ToolCall {
    let name =
        serde_json::from_value::<BuiltinToolName>(json!(tool)).unwrap_or(BuiltinToolName::Bash);
    ToolCall {
        id: "sevt_test".into(),
        name: tool.into(),
        input,
        config: BuiltinToolConfig {
            name,
            enabled: true,
            permission_policy: PermissionPolicy::AlwaysAllow,
            url_sources: None,
            allowed_domains: None,
            blocked_domains: None,
            max_content_tokens: None,
            user_location: None,
        },
    }
}
