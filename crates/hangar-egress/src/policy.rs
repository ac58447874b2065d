//! The egress policy: which destination hosts a session may reach, built from the
//! environment's `networking` plus the package registries, the agent's MCP servers and the
//! server's own extra hosts. It answers "may this host be contacted" and "may this resolved
//! address be contacted"; it never resolves names or opens sockets.
//!
//! Matching rules:
//! - names are compared lowercase with one trailing dot dropped;
//! - `example.com` matches exactly that name;
//! - `*.example.com` matches every name *below* `example.com` at any depth (`a.example.com`,
//!   `a.b.example.com`) but **not the apex** `example.com` itself — list both when both are
//!   wanted. This is the reading of a wildcard that TLS certificates and most allow-lists use,
//!   so an allow-list entry never opens more than it says;
//! - an IP literal destination only matches an IP literal entry (under `limited`); a hostname
//!   entry never lets a client reach an address by number;
//! - every resolved address must be public ([`crate::address`]) unless the policy opts into
//!   private destinations.

use std::collections::HashSet;
use std::net::IpAddr;

use hangar_protocol::environment::Networking;

use crate::address::{AddressClass, classify};
use crate::host::{Host, normalise_hostname};
use crate::registries::PackageRegistries;

/// Why a destination was refused. The `Display` text is what a client sees in the 403 body and
/// what the model sees in a `web_fetch` error, so it names the host and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The policy allows no egress at all.
    #[error("egress is disabled for this sandbox (networking: none)")]
    EgressDisabled,
    /// A `limited` policy whose lists do not contain the host.
    #[error("host `{host}` is not in this environment's allowed hosts (networking: limited)")]
    HostNotAllowed { host: String },
    /// A numeric destination under `limited` that no entry lists.
    #[error(
        "`{ip}` is an IP address; limited networking only allows the listed hostnames, so \
         connect by name"
    )]
    IpLiteralNotAllowed { ip: IpAddr },
    /// The name (or literal) resolves to loopback/private/link-local/… space.
    #[error(
        "`{host}` resolves to {addr}, a {class} address; the egress proxy only connects to \
         public addresses"
    )]
    NonPublicAddress {
        host: String,
        addr: IpAddr,
        class: AddressClass,
    },
}

impl Denial {
    /// A stable machine-readable reason for logs and counters.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::EgressDisabled => "egress_disabled",
            Denial::HostNotAllowed { .. } => "host_not_allowed",
            Denial::IpLiteralNotAllowed { .. } => "ip_literal_not_allowed",
            Denial::NonPublicAddress { .. } => "non_public_address",
        }
    }
}

/// What the session may reach, before address checks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    Nothing,
    AllPublic,
    Listed(AllowList),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AllowList {
    exact: HashSet<String>,
    /// Stored with the leading dot (`.example.com`) so a suffix test cannot match
    /// `badexample.com`.
    wildcard_suffixes: Vec<String>,
    ips: HashSet<IpAddr>,
}

impl AllowList {
    /// Adds one entry; returns false when the entry is not a hostname, wildcard or IP literal.
    fn add(&mut self, entry: &str) -> bool {
        let entry = entry.trim();
        if let Some(base) = entry.strip_prefix("*.") {
            return match normalise_hostname(base) {
                Ok(base) => {
                    self.wildcard_suffixes.push(format!(".{base}"));
                    true
                }
                Err(_) => false,
            };
        }
        match Host::parse(entry) {
            Ok(Host::Name(name)) => {
                self.exact.insert(name);
                true
            }
            Ok(Host::Ip(ip)) => {
                self.ips.insert(ip);
                true
            }
            Err(_) => false,
        }
    }

    fn allows(&self, host: &Host) -> bool {
        match host {
            Host::Ip(ip) => self.ips.contains(ip),
            Host::Name(name) => {
                self.exact.contains(name)
                    || self
                        .wildcard_suffixes
                        .iter()
                        .any(|suffix| name.ends_with(suffix.as_str()))
            }
        }
    }
}

/// Which destinations may resolve to non-public addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PrivateAccess {
    Refused,
    /// Every destination (tests against local servers; operators who opt in).
    Allowed,
    /// Only these hosts (an operator's internal mirror, a test's local origin).
    AllowedFor(HashSet<Host>),
}

/// A session's egress rules. Cheap to share (`Arc<EgressPolicy>`); immutable once built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    access: Access,
    private: PrivateAccess,
    ignored_entries: Vec<String>,
}

impl EgressPolicy {
    /// No egress at all (the sandbox's default "none"; it normally has no listener, this is
    /// for callers that want a proxy that refuses everything).
    pub fn deny_all() -> EgressPolicy {
        EgressPolicy {
            access: Access::Nothing,
            private: PrivateAccess::Refused,
            ignored_entries: Vec::new(),
        }
    }

    /// Every public destination (`unrestricted`, and the server-side web tools).
    pub fn unrestricted() -> EgressPolicyBuilder {
        EgressPolicyBuilder::new(None)
    }

    /// Starts from an environment's networking setting.
    pub fn for_networking(networking: &Networking) -> EgressPolicyBuilder {
        match networking {
            Networking::Unrestricted => EgressPolicyBuilder::new(None),
            Networking::Limited(limited) => EgressPolicyBuilder::new(Some(LimitedSettings {
                allowed_hosts: limited.allowed_hosts.clone(),
                allow_package_managers: limited.allow_package_managers,
                allow_mcp_servers: limited.allow_mcp_servers,
            })),
        }
    }

    /// Checks the destination *name* (or literal) against the lists. Addresses are checked
    /// separately, after resolution, by [`EgressPolicy::check_address`].
    pub fn check_host(&self, host: &Host) -> Result<(), Denial> {
        match (&self.access, host) {
            (Access::Nothing, _) => Err(Denial::EgressDisabled),
            (Access::AllPublic, _) => Ok(()),
            (Access::Listed(list), _) if list.allows(host) => Ok(()),
            (Access::Listed(_), Host::Ip(ip)) => Err(Denial::IpLiteralNotAllowed { ip: *ip }),
            (Access::Listed(_), Host::Name(name)) => {
                Err(Denial::HostNotAllowed { host: name.clone() })
            }
        }
    }

    /// Checks one resolved address of `host`.
    pub fn check_address(&self, host: &Host, addr: IpAddr) -> Result<(), Denial> {
        let class = classify(addr);
        let private_allowed = match &self.private {
            PrivateAccess::Refused => false,
            PrivateAccess::Allowed => true,
            PrivateAccess::AllowedFor(hosts) => hosts.contains(host),
        };
        if class.is_public() || private_allowed {
            return Ok(());
        }
        Err(Denial::NonPublicAddress {
            host: host.to_string(),
            addr,
            class,
        })
    }

    /// Whether every destination may resolve to private addresses.
    pub fn allows_private_destinations(&self) -> bool {
        self.private == PrivateAccess::Allowed
    }

    /// `none`, `unrestricted` or `limited`, for logs.
    pub fn mode(&self) -> &'static str {
        match self.access {
            Access::Nothing => "none",
            Access::AllPublic => "unrestricted",
            Access::Listed(_) => "limited",
        }
    }

    /// Entries that were not hostnames, `*.` wildcards or IP literals and so were ignored
    /// (the caller may log them; the policy stays closed for them).
    pub fn ignored_entries(&self) -> &[String] {
        &self.ignored_entries
    }
}

#[derive(Debug, Clone)]
struct LimitedSettings {
    allowed_hosts: Vec<String>,
    allow_package_managers: bool,
    allow_mcp_servers: bool,
}

/// Collects the inputs of an [`EgressPolicy`]. Inputs that the networking mode does not use
/// (registries without `allow_package_managers`, MCP URLs without `allow_mcp_servers`) are
/// accepted and ignored, so callers can always pass everything they have.
#[derive(Debug, Clone)]
pub struct EgressPolicyBuilder {
    limited: Option<LimitedSettings>,
    registries: PackageRegistries,
    mcp_server_urls: Vec<String>,
    extra_allowed_hosts: Vec<String>,
    allow_private_destinations: bool,
    private_destination_hosts: Vec<String>,
}

impl EgressPolicyBuilder {
    fn new(limited: Option<LimitedSettings>) -> Self {
        EgressPolicyBuilder {
            limited,
            registries: PackageRegistries::default(),
            mcp_server_urls: Vec::new(),
            extra_allowed_hosts: Vec::new(),
            allow_private_destinations: false,
            private_destination_hosts: Vec::new(),
        }
    }

    /// The registry hosts opened by `allow_package_managers` (usually
    /// [`PackageRegistries::discover`]).
    pub fn package_registries(mut self, registries: PackageRegistries) -> Self {
        self.registries = registries;
        self
    }

    /// The agent's MCP server URLs; their hosts are opened by `allow_mcp_servers`.
    pub fn mcp_server_urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.mcp_server_urls = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        self
    }

    /// Hosts the server's own settings always allow under `limited` (same syntax as
    /// `allowed_hosts`; IP literals allowed here).
    pub fn extra_allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.extra_allowed_hosts = hosts.into_iter().map(|h| h.as_ref().to_owned()).collect();
        self
    }

    /// Lets resolved addresses be loopback/private/…: for tests against local servers and for
    /// operators who opt in. Off by default.
    pub fn allow_private_destinations(mut self, allow: bool) -> Self {
        self.allow_private_destinations = allow;
        self
    }

    /// Lets only these hosts (exact names or IP literals) resolve to non-public addresses:
    /// an operator's internal mirror, or a test's local origin while every other name stays
    /// under the address checks. The hosts still need to pass the allow-list.
    pub fn allow_private_destinations_for<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.private_destination_hosts = hosts.into_iter().map(|h| h.as_ref().to_owned()).collect();
        self
    }

    pub fn build(self) -> EgressPolicy {
        let mut ignored_entries = Vec::new();
        let access = match &self.limited {
            None => Access::AllPublic,
            Some(limited) => Access::Listed(self.allow_list(limited, &mut ignored_entries)),
        };
        let private = match self.allow_private_destinations {
            true => PrivateAccess::Allowed,
            false if self.private_destination_hosts.is_empty() => PrivateAccess::Refused,
            false => {
                let hosts = self.private_destination_hosts.iter().filter_map(|entry| {
                    let parsed = Host::parse(entry).ok();
                    if parsed.is_none() {
                        ignored_entries.push(entry.clone());
                    }
                    parsed
                });
                PrivateAccess::AllowedFor(hosts.collect())
            }
        };
        if !ignored_entries.is_empty() {
            tracing::warn!(target: "egress", ?ignored_entries, "ignored invalid allow-list entries");
        }
        EgressPolicy {
            access,
            private,
            ignored_entries,
        }
    }

    fn allow_list(&self, limited: &LimitedSettings, ignored: &mut Vec<String>) -> AllowList {
        let mut list = AllowList::default();
        let mut add = |entry: &str| {
            if !list.add(entry) {
                ignored.push(entry.to_owned());
            }
        };
        limited.allowed_hosts.iter().for_each(|h| add(h));
        self.extra_allowed_hosts.iter().for_each(|h| add(h));
        if limited.allow_package_managers {
            self.registries.hosts().iter().for_each(|h| add(h));
        }
        if limited.allow_mcp_servers {
            for url in &self.mcp_server_urls {
                // An unparsable URL is recorded as the entry itself, so the log shows it.
                let host = url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned));
                add(host.as_deref().unwrap_or(url));
            }
        }
        list
    }
}
