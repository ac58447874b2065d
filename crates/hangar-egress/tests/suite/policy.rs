//! The policy matching table: names, wildcards, case, trailing dots, IP literals, package
//! registries (constant list and apt-derived mirrors) and MCP server hosts.

use hangar_egress::policy::Denial;
use hangar_egress::{EgressPolicy, Host, PACKAGE_REGISTRY_HOSTS, PackageRegistries};
use hangar_protocol::environment::{LimitedNetwork, Networking};

fn limited(hosts: &[&str], package_managers: bool, mcp: bool) -> Networking {
    Networking::Limited(LimitedNetwork {
        allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        allow_mcp_servers: mcp,
        allow_package_managers: package_managers,
    })
}

fn allows(policy: &EgressPolicy, host: &str) -> bool {
    policy.check_host(&Host::parse(host).unwrap()).is_ok()
}

#[test]
fn host_matching_table() {
    let policy = EgressPolicy::for_networking(&limited(
        &[
            "example.com",
            "*.wild.test",
            "API.Upper.Test.",
            "203.0.113.7",
            "[2001:db8::1]",
        ],
        false,
        false,
    ))
    .build();
    let table = [
        ("example.com", true),
        ("EXAMPLE.COM", true),
        ("example.com.", true),
        ("www.example.com", false), // exact entries do not cover subdomains
        ("a.wild.test", true),
        ("a.b.wild.test", true),
        ("wild.test", false), // the wildcard does not match its apex
        ("badwild.test", false),
        ("api.upper.test", true),
        ("203.0.113.7", true), // listed literal
        ("203.0.113.8", false),
        ("2001:db8::1", true),
        ("not-listed.test", false),
    ];
    for (host, expected) in table {
        assert_eq!(allows(&policy, host), expected, "{host}");
    }
}

#[test]
fn denials_say_why() {
    let policy = EgressPolicy::for_networking(&limited(&["example.com"], false, false)).build();
    let by_name = policy
        .check_host(&Host::parse("other.test").unwrap())
        .unwrap_err();
    assert_eq!(by_name.code(), "host_not_allowed");
    assert!(by_name.to_string().contains("`other.test`"));
    let by_number = policy
        .check_host(&Host::parse("93.184.216.34").unwrap())
        .unwrap_err();
    assert!(matches!(by_number, Denial::IpLiteralNotAllowed { .. }));
    assert_eq!(
        EgressPolicy::deny_all().check_host(&Host::parse("x.test").unwrap()),
        Err(Denial::EgressDisabled)
    );
}

#[test]
fn unrestricted_allows_every_name_and_literal() {
    let policy = EgressPolicy::for_networking(&Networking::Unrestricted).build();
    assert!(allows(&policy, "anything.example"));
    assert!(allows(&policy, "198.51.100.1"));
    assert_eq!(policy.mode(), "unrestricted");
}

#[test]
fn package_managers_open_the_registries_and_the_apt_mirrors() {
    let apt = tempfile::tempdir().unwrap();
    std::fs::create_dir(apt.path().join("sources.list.d")).unwrap();
    std::fs::write(
        apt.path().join("sources.list.d/debian.sources"),
        "Types: deb\nURIs: http://Mirror.Local.Test/debian\nSuites: bookworm\n",
    )
    .unwrap();
    std::fs::write(
        apt.path().join("sources.list"),
        "deb http://security.local.test/debian-security bookworm-security main\n",
    )
    .unwrap();
    std::fs::write(
        apt.path().join("sources.list.d/ignored.list.disabled"),
        "deb http://disabled.local.test/ x main\n",
    )
    .unwrap();
    let registries = PackageRegistries::with_apt_config(apt.path());
    let with = EgressPolicy::for_networking(&limited(&[], true, false))
        .package_registries(registries.clone())
        .build();
    let without = EgressPolicy::for_networking(&limited(&[], false, false))
        .package_registries(registries)
        .build();
    for host in PACKAGE_REGISTRY_HOSTS
        .iter()
        .copied()
        .chain(["mirror.local.test", "security.local.test"])
    {
        assert!(allows(&with, host), "{host}");
        assert!(!allows(&without, host), "{host}");
    }
    assert!(!allows(&with, "disabled.local.test"));
    assert!(!allows(&with, "evil.test"));
}

#[test]
fn discovered_registries_include_this_machines_apt_mirror() {
    // Whatever apt is configured with here must be in the list, read at runtime.
    let expected = hangar_egress::registries::apt_mirror_hosts(std::path::Path::new("/etc/apt"));
    let discovered = PackageRegistries::discover();
    for host in expected {
        assert!(discovered.hosts().contains(&host), "{host}");
    }
}

#[test]
fn mcp_servers_open_only_with_allow_mcp_servers() {
    let urls = [
        "https://MCP.Example.org/sse",
        "http://10.0.0.5:8080/mcp",
        "not a url",
    ];
    let with = EgressPolicy::for_networking(&limited(&[], false, true))
        .mcp_server_urls(urls)
        .build();
    let without = EgressPolicy::for_networking(&limited(&[], false, false))
        .mcp_server_urls(urls)
        .build();
    assert!(allows(&with, "mcp.example.org"));
    assert!(allows(&with, "10.0.0.5"));
    assert!(!allows(&without, "mcp.example.org"));
    assert_eq!(with.ignored_entries(), ["not a url"]);
}

#[test]
fn extra_hosts_from_server_settings_join_the_list() {
    let policy = EgressPolicy::for_networking(&limited(&[], false, false))
        .extra_allowed_hosts(["telemetry.internal.test"])
        .build();
    assert!(allows(&policy, "telemetry.internal.test"));
}

#[test]
fn private_addresses_need_an_explicit_opt_in() {
    let loopback = "127.0.0.1".parse().unwrap();
    let origin = Host::parse("origin.test").unwrap();
    let other = Host::parse("other.test").unwrap();
    let closed = EgressPolicy::unrestricted().build();
    assert!(closed.check_address(&origin, loopback).is_err());
    let per_host = EgressPolicy::unrestricted()
        .allow_private_destinations_for(["origin.test"])
        .build();
    assert!(per_host.check_address(&origin, loopback).is_ok());
    assert!(per_host.check_address(&other, loopback).is_err());
    let everything = EgressPolicy::unrestricted()
        .allow_private_destinations(true)
        .build();
    assert!(everything.check_address(&other, loopback).is_ok());
    let public = "203.0.113.80".parse().unwrap();
    assert!(closed.check_address(&other, public).is_ok());
}
