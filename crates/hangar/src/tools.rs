//! The tool runtime of `hangar serve`: `bash`, `read`, `write`, `edit`, `glob` and `grep` run
//! in each session's local sandbox (over its environment's package layer, built on first use
//! and cached), whose only way out is the in-process egress proxy enforcing the environment's
//! networking; `web_fetch` and `web_search` run in the server
//! under the web tools' own rules. When the local sandbox cannot work on this host, sessions
//! get an explicit error result for sandbox tools, never a fake success.

use std::sync::Arc;

use async_trait::async_trait;
use hangar_core::tool_runtime::{
    NoSandbox, ToolCall, ToolContext, ToolOutput, ToolRuntime, ToolRuntimeError,
};
use hangar_egress::web::{WebTools, WebToolsConfig};
use hangar_egress::{EgressPolicy, EgressProxy, PackageRegistries, Resolver, SessionEgress};
use hangar_protocol::environment::EnvironmentConfig;
use hangar_sandbox::{
    EgressHandler, EgressProvider, EnvironmentBuilder, InitProgram, LayerResolver,
    LocalSandboxRuntime, RegistryEgress, SandboxConfig,
};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;

/// Routes each built-in tool to where it runs.
pub struct ServerTools {
    sandbox: Arc<dyn ToolRuntime>,
    web: WebTools,
}

impl ServerTools {
    /// The local sandbox (falling back to [`NoSandbox`] with a loud warning when it cannot
    /// start here) and the web tools. The base template is prepared in the background so the
    /// first tool call rarely waits for it.
    pub fn build(config: &ServeConfig) -> anyhow::Result<ServerTools> {
        let web = WebTools::new(WebToolsConfig {
            search_endpoint: config.web_search_endpoint.clone(),
            resolver: Resolver::system(),
            allow_private_destinations: false,
            private_destination_hosts: Vec::new(),
        })
        .map_err(|e| anyhow::anyhow!("cannot build the web tools: {e}"))?;
        let sandbox: Arc<dyn ToolRuntime> = match local_sandbox(config) {
            Ok(sandbox) => sandbox,
            Err(err) => {
                tracing::warn!(
                    %err,
                    "the local sandbox is not available on this host; built-in sandbox tools \
                     will answer with an error (run as root on Linux with user namespaces)"
                );
                Arc::new(NoSandbox)
            }
        };
        Ok(ServerTools { sandbox, web })
    }
}

fn local_sandbox(config: &ServeConfig) -> anyhow::Result<Arc<dyn ToolRuntime>> {
    if !config.sandbox {
        anyhow::bail!("disabled in the configuration (`sandbox = false`)");
    }
    let sandbox_config = SandboxConfig::new(&config.data_dir, InitProgram::current_exe()?);
    let proxy = Arc::new(EgressProxy::new(Resolver::system()));
    let egress = Arc::new(SessionPolicies {
        proxy: proxy.clone(),
        registries: PackageRegistries::discover(),
    });
    // Environment packages become a cached layer, built once in a sandbox that reaches only
    // the package registries.
    let builder = EnvironmentBuilder::new(&sandbox_config, Arc::new(RegistryEgress::new(proxy)))?;
    let layers: Option<Arc<dyn LayerResolver>> = Some(Arc::new(builder));
    let runtime = Arc::new(LocalSandboxRuntime::with_hooks(
        sandbox_config,
        Some(egress),
        layers,
    )?);
    let warm = runtime.clone();
    tokio::spawn(async move {
        match warm.ensure_base().await {
            Ok(path) => tracing::info!(base = %path.display(), "sandbox base template ready"),
            Err(err) => tracing::error!(%err, "cannot prepare the sandbox base template"),
        }
    });
    Ok(runtime)
}

#[async_trait]
impl ToolRuntime for ServerTools {
    async fn run(
        &self,
        ctx: &ToolContext,
        call: &ToolCall,
        cancel: CancellationToken,
    ) -> Result<ToolOutput, ToolRuntimeError> {
        if WebTools::handles(&call.name) {
            return Ok(self.web.run(call, cancel).await);
        }
        self.sandbox.run(ctx, call, cancel).await
    }

    async fn session_idle(&self, session_id: &str) {
        self.sandbox.session_idle(session_id).await;
    }

    async fn session_deleted(&self, session_id: &str) {
        self.sandbox.session_deleted(session_id).await;
    }
}

/// Gives each session's sandbox a way out through the proxy, under its environment's
/// networking (`limited` allow-lists, `allow_package_managers`, or `unrestricted`; private
/// and loopback destinations are always refused).
struct SessionPolicies {
    proxy: Arc<EgressProxy>,
    registries: PackageRegistries,
}

impl EgressProvider for SessionPolicies {
    fn handler_for(&self, ctx: &ToolContext) -> Option<Arc<dyn EgressHandler>> {
        let EnvironmentConfig::Cloud(cloud) = &ctx.environment.config else {
            return None;
        };
        let policy = EgressPolicy::for_networking(&cloud.networking)
            .package_registries(self.registries.clone())
            .build();
        Some(Arc::new(ProxiedSession(SessionEgress::new(
            self.proxy.clone(),
            Arc::new(policy),
            ctx.session_id.clone(),
        ))))
    }
}

struct ProxiedSession(SessionEgress);

#[async_trait]
impl EgressHandler for ProxiedSession {
    async fn handle(&self, stream: TcpStream) {
        self.0.serve(stream).await;
    }
}
