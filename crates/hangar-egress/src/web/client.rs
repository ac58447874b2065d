//! The HTTP clients of the web tools: reqwest with rustls on the ring provider (configured
//! here, so no process-wide default provider is installed), no automatic redirects (the fetch
//! loop follows them itself and re-checks every hop), no system proxy, and — for fetches — a
//! DNS resolver that applies the egress address checks, so the addresses that were checked
//! are exactly the addresses reqwest connects to.

use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

use crate::host::{Destination, Host};
use crate::policy::EgressPolicy;
use crate::resolve::{CONNECT_TIMEOUT, EgressError, Resolver, resolve_checked};

/// Errors building a client (TLS configuration, reqwest builder).
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client configuration failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// A rustls client config on the ring provider, verifying with the platform's roots, HTTP/1.1
/// only (the workspace builds reqwest without HTTP/2).
fn tls_config() -> Result<rustls::ClientConfig, ClientBuildError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn base_builder(
    user_agent: &str,
    timeout: Duration,
) -> Result<reqwest::ClientBuilder, ClientBuildError> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .user_agent(user_agent))
}

/// The client for `web_fetch`: every name it resolves goes through the policy's address
/// checks.
pub(crate) fn fetch_client(
    policy: Arc<EgressPolicy>,
    resolver: Resolver,
    user_agent: &str,
    timeout: Duration,
) -> Result<reqwest::Client, ClientBuildError> {
    let checking = CheckingResolver { policy, resolver };
    Ok(base_builder(user_agent, timeout)?
        .dns_resolver(checking)
        .build()?)
}

/// The client for the operator-configured search endpoint. That endpoint is trusted server
/// configuration (often a SearXNG on localhost), so no address checks apply to it.
pub(crate) fn search_client(
    user_agent: &str,
    timeout: Duration,
) -> Result<reqwest::Client, ClientBuildError> {
    Ok(base_builder(user_agent, timeout)?.build()?)
}

/// Resolves through the egress [`Resolver`] and refuses names whose addresses the policy
/// refuses.
#[derive(Debug, Clone)]
struct CheckingResolver {
    policy: Arc<EgressPolicy>,
    resolver: Resolver,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = Host::parse(name.as_str()).map_err(|e| -> BoxError { Box::new(e) })?;
            // Port 0: reqwest puts the URL's port on the addresses it gets back.
            let destination = Destination { host, port: 0 };
            let addrs = resolve_checked(&this.policy, &this.resolver, &destination)
                .await
                .map_err(|e| -> BoxError { Box::new(e) })?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The egress error somewhere in a reqwest error's source chain, if the failure was ours.
pub(crate) fn egress_error_in(error: &reqwest::Error) -> Option<&EgressError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(found) = current.downcast_ref::<EgressError>() {
            return Some(found);
        }
        source = current.source();
    }
    None
}
