//! Hangar egress: everything that decides and performs outbound network access on behalf of a
//! session. Two consumers share it, which is why it is its own crate rather than part of
//! `hangar-sandbox` as `design.md` first sketched: the sandbox backend hands the connections it
//! accepts inside a sandbox's network namespace to [`EgressProxy`], and the server runs the
//! `web_fetch`/`web_search` tools through [`web::WebTools`]; both apply the same
//! [`EgressPolicy`] and the same address checks. This crate never creates sandboxes,
//! namespaces or listeners, and never depends on axum or sqlx.
//!
//! Layout:
//! - [`host`]: parsing and normalising destination names (`host[:port]`);
//! - [`address`]: which IP addresses are public (loopback/private/link-local/… are not);
//! - [`registries`]: the package-registry hosts behind `allow_package_managers`, including the
//!   apt mirrors read from `/etc/apt`;
//! - [`policy`]: [`EgressPolicy`] built from an environment's `networking`;
//! - [`resolve`]: resolving once, checking every address, connecting to a checked address;
//! - [`proxy`]: the HTTP/1.1 proxy (`CONNECT` and absolute-URI requests);
//! - [`web`]: the server-side `web_fetch` and `web_search` tools.

pub mod address;
pub mod host;
pub mod policy;
pub mod proxy;
pub mod registries;
pub mod resolve;
pub mod web;

pub use address::{AddressClass, classify};
pub use host::{Destination, Host, HostError};
pub use policy::{Denial, EgressPolicy, EgressPolicyBuilder};
pub use proxy::{EgressProxy, EgressStats, ProxyLimits, SessionEgress};
pub use registries::{PACKAGE_REGISTRY_HOSTS, PackageRegistries};
pub use resolve::{EgressError, Resolver};
