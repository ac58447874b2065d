//! The hook for environment package layers: read-only directories stacked between the base
//! rootfs and a session's upper. Whoever builds environments implements [`LayerResolver`];
//! the sandbox only mounts what it is given. Owns the trait only.

use std::path::PathBuf;

use async_trait::async_trait;
use hangar_core::tool_runtime::ToolContext;

use crate::error::SandboxError;

#[async_trait]
pub trait LayerResolver: Send + Sync {
    /// The layers of the session's environment, topmost first (may build them first). An
    /// error fails the call as an environment build failure.
    async fn layers(&self, ctx: &ToolContext) -> Result<Vec<PathBuf>, SandboxError>;
}
