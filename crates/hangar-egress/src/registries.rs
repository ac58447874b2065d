//! Package-registry hosts for `allow_package_managers`: one documented constant list for the
//! language registries plus the Debian/Ubuntu mirrors read from apt's own configuration at
//! runtime (never hard-coded, so a machine pointed at a local mirror keeps working). Reads
//! files only; it never resolves or contacts a host.

use std::path::Path;

use crate::host::normalise_hostname;

/// Registry hosts that `allow_package_managers` opens, besides the apt mirrors found in
/// `/etc/apt`. One entry per host the ordinary clients contact for a plain install:
/// - pip: `pypi.org` (index), `files.pythonhosted.org` (files)
/// - npm: `registry.npmjs.org`
/// - cargo: `crates.io`, `index.crates.io` (sparse index), `static.crates.io` (crate files)
/// - gem: `rubygems.org`, `index.rubygems.org` (compact index)
/// - go: `proxy.golang.org` (modules), `sum.golang.org` (checksum database)
pub const PACKAGE_REGISTRY_HOSTS: &[&str] = &[
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "crates.io",
    "index.crates.io",
    "static.crates.io",
    "rubygems.org",
    "index.rubygems.org",
    "proxy.golang.org",
    "sum.golang.org",
];

/// Where apt keeps its source lists on a standard system.
pub const APT_CONFIG_DIR: &str = "/etc/apt";

/// The full set of registry hosts `allow_package_managers` allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageRegistries {
    hosts: Vec<String>,
}

impl PackageRegistries {
    /// [`PACKAGE_REGISTRY_HOSTS`] plus the apt mirrors configured on this machine.
    pub fn discover() -> PackageRegistries {
        PackageRegistries::with_apt_config(Path::new(APT_CONFIG_DIR))
    }

    /// [`PACKAGE_REGISTRY_HOSTS`] plus the apt mirrors under `apt_dir` (a directory laid out
    /// like `/etc/apt`). Unreadable files are skipped: a missing apt config only means no
    /// mirror is added.
    pub fn with_apt_config(apt_dir: &Path) -> PackageRegistries {
        let mut hosts: Vec<String> = PACKAGE_REGISTRY_HOSTS
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        hosts.extend(apt_mirror_hosts(apt_dir));
        PackageRegistries::from_hosts(hosts)
    }

    /// Exactly these hosts (for tests and for operators who manage the list themselves).
    pub fn from_hosts(hosts: impl IntoIterator<Item = String>) -> PackageRegistries {
        let mut hosts: Vec<String> = hosts
            .into_iter()
            .filter_map(|h| normalise_hostname(&h).ok())
            .collect();
        hosts.sort();
        hosts.dedup();
        PackageRegistries { hosts }
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
}

/// The hosts of the http(s) URIs in `sources.list`, `sources.list.d/*.list` (one-line format)
/// and `sources.list.d/*.sources` (deb822 format, honouring `Enabled: no`).
pub fn apt_mirror_hosts(apt_dir: &Path) -> Vec<String> {
    let mut uris = Vec::new();
    if let Ok(text) = std::fs::read_to_string(apt_dir.join("sources.list")) {
        uris.extend(one_line_format_uris(&text));
    }
    let mut entries: Vec<_> = std::fs::read_dir(apt_dir.join("sources.list.d"))
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("list") => uris.extend(one_line_format_uris(&text)),
            Some("sources") => uris.extend(deb822_uris(&text)),
            _ => {}
        }
    }
    let mut hosts: Vec<String> = uris.iter().filter_map(|uri| uri_host(uri)).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// `deb [options] URI suite [components…]` lines; comments and blank lines skipped.
fn one_line_format_uris(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb-src ")
            .or_else(|| line.strip_prefix("deb "))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(options) => options.split_once(']').map_or("", |(_, after)| after),
            None => rest,
        };
        if let Some(uri) = rest.split_whitespace().next() {
            uris.push(uri.to_owned());
        }
    }
    uris
}

/// The `URIs:` values of every enabled stanza of a deb822 `.sources` file.
fn deb822_uris(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for stanza in text.split("\n\n") {
        let fields = deb822_fields(stanza);
        let enabled = fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Enabled"))
            .is_none_or(|(_, value)| !value.trim().eq_ignore_ascii_case("no"));
        if !enabled {
            continue;
        }
        for (_, value) in fields
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("URIs"))
        {
            uris.extend(value.split_whitespace().map(str::to_owned));
        }
    }
    uris
}

/// `Name: value` pairs of one stanza; continuation lines (leading whitespace) append.
fn deb822_fields(stanza: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in stanza.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

/// The host of an `http://` or `https://` apt URI; other transports (`file:`, `cdrom:`,
/// `mirror+file:`) name no host the proxy could allow.
fn uri_host(uri: &str) -> Option<String> {
    let parsed = url::Url::parse(uri).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    normalise_hostname(parsed.host_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources_skip_comments_and_options() {
        let text = "# deb http://commented.example/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://Mirror.Example.org/debian bookworm main\n\
                    deb-src https://src.example.net/debian bookworm main\n\
                    deb file:/srv/local ./\n";
        let hosts: Vec<_> = one_line_format_uris(text)
            .iter()
            .filter_map(|u| uri_host(u))
            .collect();
        assert_eq!(hosts, ["mirror.example.org", "src.example.net"]);
    }

    #[test]
    fn deb822_stanzas_honour_enabled_no_and_continuations() {
        let text = "Types: deb\nURIs: http://a.example/debian\n  http://b.example/debian\n\
                    Suites: bookworm\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/x\n";
        assert_eq!(
            deb822_uris(text),
            ["http://a.example/debian", "http://b.example/debian"]
        );
    }

    #[test]
    fn constant_registry_hosts_are_normalised_already() {
        for host in PACKAGE_REGISTRY_HOSTS {
            assert_eq!(normalise_hostname(host).unwrap(), *host);
        }
    }
}
