//! Name resolution and checked connection: resolve a destination once, check the policy on the
//! name and on *every* resolved address, then connect only to those checked addresses (no
//! second lookup, so a DNS answer cannot change between the check and the connection).
//! Owns the resolver override table used by tests; it does not speak HTTP.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::host::{Destination, Host, normalise_hostname};
use crate::policy::{Denial, EgressPolicy};

/// Longest wait for one DNS answer.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a TCP connection to a destination (all its addresses together).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves destination names: first an override table (`host → addresses`; a port of 0 in
/// an override means "the requested port"), then the system resolver.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    overrides: Arc<HashMap<String, Vec<SocketAddr>>>,
}

impl Resolver {
    /// The system resolver only.
    pub fn system() -> Resolver {
        Resolver::default()
    }

    /// The system resolver behind an override table. Invalid hostnames in the table are
    /// skipped.
    pub fn with_overrides<I, S>(overrides: I) -> Resolver
    where
        I: IntoIterator<Item = (S, Vec<SocketAddr>)>,
        S: AsRef<str>,
    {
        let table = overrides
            .into_iter()
            .filter_map(|(host, addrs)| Some((normalise_hostname(host.as_ref()).ok()?, addrs)))
            .collect();
        Resolver {
            overrides: Arc::new(table),
        }
    }

    /// All addresses of `host` with `port` applied. IP literals resolve to themselves.
    pub async fn resolve(&self, host: &Host, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let name = match host {
            Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, port)]),
            Host::Name(name) => name,
        };
        if let Some(addrs) = self.overrides.get(name) {
            return Ok(addrs
                .iter()
                .map(|addr| match addr.port() {
                    0 => SocketAddr::new(addr.ip(), port),
                    _ => *addr,
                })
                .collect());
        }
        let lookup = tokio::net::lookup_host((name.as_str(), port));
        let addrs: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| EgressError::ResolveTimeout { host: name.clone() })?
            .map_err(|source| EgressError::Resolve {
                host: name.clone(),
                source: Arc::new(source),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(EgressError::NoAddresses { host: name.clone() });
        }
        Ok(addrs)
    }
}

/// Checks the name, resolves it, and checks every address. A name with *any* non-public
/// address is refused as a whole: a resolver that mixes public and private answers is how
/// rebinding attacks look.
pub async fn resolve_checked(
    policy: &EgressPolicy,
    resolver: &Resolver,
    destination: &Destination,
) -> Result<Vec<SocketAddr>, EgressError> {
    policy.check_host(&destination.host)?;
    let addrs = resolver
        .resolve(&destination.host, destination.port)
        .await?;
    for addr in &addrs {
        policy.check_address(&destination.host, addr.ip())?;
    }
    Ok(addrs)
}

/// Connects to the first reachable address of `addrs` (already checked), within
/// `connect_timeout` overall.
pub async fn connect_first(
    destination: &Destination,
    addrs: &[SocketAddr],
    connect_timeout: Duration,
) -> Result<(TcpStream, SocketAddr), EgressError> {
    let attempt = async {
        let mut last_error = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok((stream, *addr)),
                Err(error) => last_error = Some(error),
            }
        }
        Err(EgressError::Connect {
            destination: destination.to_string(),
            source: Arc::new(
                last_error.unwrap_or_else(|| io::Error::other("no address to connect to")),
            ),
        })
    };
    tokio::time::timeout(connect_timeout, attempt)
        .await
        .map_err(|_| EgressError::ConnectTimeout {
            destination: destination.to_string(),
        })?
}

/// Why a destination could not be reached: refused by policy, or unreachable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    /// The policy refused it; the proxy answers 403, `web_fetch` reports it to the model.
    #[error(transparent)]
    Denied(#[from] Denial),
    /// DNS failed; the proxy answers 502.
    #[error("could not resolve `{host}`: {source}")]
    Resolve {
        host: String,
        #[source]
        source: Arc<io::Error>,
    },
    /// DNS gave no answer within [`RESOLVE_TIMEOUT`]; the proxy answers 504.
    #[error("resolving `{host}` timed out")]
    ResolveTimeout { host: String },
    /// DNS answered with no address; the proxy answers 502.
    #[error("`{host}` has no addresses")]
    NoAddresses { host: String },
    /// Every address refused the connection; the proxy answers 502.
    #[error("could not connect to {destination}: {source}")]
    Connect {
        destination: String,
        #[source]
        source: Arc<io::Error>,
    },
    /// No address answered within the connect timeout; the proxy answers 504.
    #[error("connecting to {destination} timed out")]
    ConnectTimeout { destination: String },
}

impl EgressError {
    /// A stable reason for logs and counters.
    pub fn code(&self) -> &'static str {
        match self {
            EgressError::Denied(denial) => denial.code(),
            EgressError::Resolve { .. } | EgressError::NoAddresses { .. } => "dns_failure",
            EgressError::ResolveTimeout { .. } => "dns_timeout",
            EgressError::Connect { .. } => "connect_failed",
            EgressError::ConnectTimeout { .. } => "connect_timeout",
        }
    }

    pub fn is_denial(&self) -> bool {
        matches!(self, EgressError::Denied(_))
    }
}
