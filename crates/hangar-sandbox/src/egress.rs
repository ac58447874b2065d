//! The egress hook: a sandbox's network namespace has only `lo`; when the server gives a
//! handler for a session, a TCP listener on `127.0.0.1:3128` *inside that namespace* hands
//! every connection to it, and the sandbox's proxy variables point there. The policy (which
//! hosts) lives in the handler (the server bridges it to `hangar-egress`); this module only
//! owns the listener and its accept loop.

use std::os::fd::AsFd;
use std::sync::Arc;

use async_trait::async_trait;
use hangar_core::tool_runtime::ToolContext;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::SandboxError;
use crate::sys;

/// Where the proxy listens inside every sandbox that has egress.
pub const PROXY_ADDR: &str = "127.0.0.1:3128";
/// The proxy URL set in the sandbox's environment.
pub const PROXY_URL: &str = "http://127.0.0.1:3128";
/// Connections one sandbox may have open through the proxy at once.
pub const MAX_PROXY_CONNECTIONS: usize = 256;

/// Handles one connection a sandbox made to its proxy address.
#[async_trait]
pub trait EgressHandler: Send + Sync {
    async fn handle(&self, stream: tokio::net::TcpStream);
}

/// Decides per session whether its sandbox gets egress, and through which handler. `None`
/// means no egress at all (only `lo`).
pub trait EgressProvider: Send + Sync {
    fn handler_for(&self, ctx: &ToolContext) -> Option<Arc<dyn EgressHandler>>;
}

/// The proxy variables a sandbox with egress gets.
pub fn proxy_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]
        .into_iter()
        .map(|name| (name.to_owned(), PROXY_URL.to_owned()))
        .collect();
    for name in ["NO_PROXY", "no_proxy"] {
        env.push((name.to_owned(), "localhost,127.0.0.1".to_owned()));
    }
    env
}

/// Binds the proxy listener inside the network namespace of `init_pid`. `setns` changes the
/// calling *thread*, so it happens on a short-lived thread of its own; the socket stays in
/// the sandbox's namespace after that thread ends.
pub(crate) fn bind_in_sandbox(init_pid: i32) -> Result<tokio::net::TcpListener, SandboxError> {
    let failed = |e: std::io::Error| SandboxError::setup("bind the egress proxy listener", e);
    let namespace = std::fs::File::open(format!("/proc/{init_pid}/ns/net")).map_err(failed)?;
    let listener = std::thread::Builder::new()
        .name("hangar-egress-bind".into())
        .spawn(move || -> std::io::Result<std::net::TcpListener> {
            sys::setns(namespace.as_fd(), libc::CLONE_NEWNET)?;
            let listener = std::net::TcpListener::bind(PROXY_ADDR)?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        })
        .map_err(failed)?
        .join()
        .map_err(|_| failed(std::io::Error::other("the binding thread panicked")))?
        .map_err(failed)?;
    tokio::net::TcpListener::from_std(listener).map_err(failed)
}

/// Accepts connections until `stop` fires, each handled on a task of this loop's own set
/// (so stopping the sandbox ends them too).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    handler: Arc<dyn EgressHandler>,
    stop: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if connections.len() < MAX_PROXY_CONNECTIONS => {
                    let handler = handler.clone();
                    connections.spawn(async move { handler.handle(stream).await });
                }
                Ok((stream, _)) => drop(stream),
                Err(error) => {
                    tracing::warn!(%error, "egress listener failed");
                    break;
                }
            },
        }
    }
    connections.shutdown().await;
}
