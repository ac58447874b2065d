//! The network of an environment build: the package registries and nothing else. A build
//! sandbox's proxy connections go to [`RegistryEgress`], which serves them through the
//! server's shared `hangar-egress` proxy under a `limited` policy with only
//! `allow_package_managers` (the registry list plus the apt mirrors read from `/etc/apt`).
//! Owns that policy; the proxy itself and its address checks belong to `hangar-egress`.

use std::sync::Arc;

use async_trait::async_trait;
use hangar_egress::{EgressPolicy, EgressProxy, PackageRegistries, SessionEgress};
use hangar_protocol::environment::{LimitedNetwork, Networking};

use crate::egress::EgressHandler;

/// The label of build connections in the proxy's logs and per-label connection limit.
pub const BUILD_EGRESS_LABEL: &str = "environment-build";

/// `limited` networking with no listed hosts and `allow_package_managers`: exactly the
/// registries.
pub fn registry_policy(registries: PackageRegistries) -> EgressPolicy {
    let networking = Networking::Limited(LimitedNetwork {
        allowed_hosts: Vec::new(),
        allow_mcp_servers: false,
        allow_package_managers: true,
    });
    EgressPolicy::for_networking(&networking)
        .package_registries(registries)
        .build()
}

/// Hands build sandboxes' connections to the shared proxy with [`registry_policy`].
pub struct RegistryEgress(SessionEgress);

impl RegistryEgress {
    /// The registries of [`PackageRegistries::discover`] (constant list + this machine's apt
    /// mirrors).
    pub fn new(proxy: Arc<EgressProxy>) -> RegistryEgress {
        RegistryEgress::with_registries(proxy, PackageRegistries::discover())
    }

    pub fn with_registries(proxy: Arc<EgressProxy>, registries: PackageRegistries) -> Self {
        let policy = Arc::new(registry_policy(registries));
        RegistryEgress(SessionEgress::new(proxy, policy, BUILD_EGRESS_LABEL))
    }

    pub fn policy(&self) -> &EgressPolicy {
        self.0.policy()
    }
}

#[async_trait]
impl EgressHandler for RegistryEgress {
    async fn handle(&self, stream: tokio::net::TcpStream) {
        self.0.serve(stream).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_egress::{Denial, Host};

    #[test]
    fn only_registry_hosts_pass() {
        let policy = registry_policy(PackageRegistries::from_hosts([
            "pypi.org".to_owned(),
            "mirror.example".to_owned(),
        ]));
        let host = |name: &str| Host::parse(name).unwrap();
        assert_eq!(policy.mode(), "limited");
        assert!(policy.check_host(&host("pypi.org")).is_ok());
        assert!(policy.check_host(&host("mirror.example")).is_ok());
        assert!(matches!(
            policy.check_host(&host("example.com")),
            Err(Denial::HostNotAllowed { .. })
        ));
    }
}
