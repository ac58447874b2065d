//! The web tools' `allowed_domains` / `blocked_domains` (cma-behaviour 13): plain hostnames
//! that cover their subdomains. This is the agent's per-tool filter, separate from the
//! environment's egress policy (which does not govern the web tools).

use hangar_protocol::agent::BuiltinToolConfig;

use crate::host::{Host, normalise_hostname};

/// Which list refused a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainList {
    Allowed,
    Blocked,
}

impl DomainList {
    pub fn field_name(self) -> &'static str {
        match self {
            DomainList::Allowed => "allowed_domains",
            DomainList::Blocked => "blocked_domains",
        }
    }
}

/// A tool's domain filter. The API accepts only one of the two lists; if both ever arrive,
/// a host must be in the allowed list *and* not in the blocked one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainFilter {
    allowed: Option<Vec<String>>,
    blocked: Vec<String>,
}

impl DomainFilter {
    pub fn from_config(config: &BuiltinToolConfig) -> DomainFilter {
        DomainFilter::new(
            config.allowed_domains.as_deref(),
            config.blocked_domains.as_deref(),
        )
    }

    /// Entries are normalised like hostnames; a leading `*.` or `.` is tolerated and means
    /// the same as the bare domain. An empty allowed list counts as absent.
    pub fn new(allowed: Option<&[String]>, blocked: Option<&[String]>) -> DomainFilter {
        let normalise = |list: &[String]| -> Vec<String> {
            list.iter()
                .filter_map(|entry| {
                    let bare = entry.trim();
                    let bare = bare.strip_prefix("*.").unwrap_or(bare);
                    let bare = bare.strip_prefix('.').unwrap_or(bare);
                    normalise_hostname(bare).ok()
                })
                .collect()
        };
        DomainFilter {
            allowed: allowed.filter(|l| !l.is_empty()).map(normalise),
            blocked: blocked.map(normalise).unwrap_or_default(),
        }
    }

    /// `Err` names the list that refused `host`.
    pub fn check(&self, host: &Host) -> Result<(), DomainList> {
        if let Some(allowed) = &self.allowed
            && !allowed.iter().any(|domain| covers(domain, host))
        {
            return Err(DomainList::Allowed);
        }
        if self.blocked.iter().any(|domain| covers(domain, host)) {
            return Err(DomainList::Blocked);
        }
        Ok(())
    }

    pub fn allows(&self, host: &Host) -> bool {
        self.check(host).is_ok()
    }
}

/// `example.com` covers `example.com` and every name below it. IP literals are never
/// covered by a domain.
fn covers(domain: &str, host: &Host) -> bool {
    match host {
        Host::Ip(_) => false,
        Host::Name(name) => {
            name == domain
                || name
                    .strip_suffix(domain)
                    .is_some_and(|prefix| prefix.ends_with('.'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> Host {
        Host::parse(name).unwrap()
    }

    #[test]
    fn allowed_domains_cover_subdomains_only_on_label_boundaries() {
        let filter = DomainFilter::new(Some(&["Example.com.".to_owned()]), None);
        assert!(filter.allows(&host("example.com")));
        assert!(filter.allows(&host("docs.EXAMPLE.com")));
        assert_eq!(
            filter.check(&host("badexample.com")),
            Err(DomainList::Allowed)
        );
        assert_eq!(filter.check(&host("203.0.113.1")), Err(DomainList::Allowed));
    }

    #[test]
    fn blocked_domains_refuse_subdomains_and_allow_the_rest() {
        let filter = DomainFilter::new(None, Some(&["evil.test".to_owned()]));
        assert_eq!(filter.check(&host("a.evil.test")), Err(DomainList::Blocked));
        assert!(filter.allows(&host("good.test")));
    }

    #[test]
    fn no_lists_allow_everything() {
        assert!(DomainFilter::new(None, None).allows(&host("anything.test")));
        assert!(DomainFilter::new(Some(&[]), None).allows(&host("anything.test")));
    }
}
