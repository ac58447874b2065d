//! The address classification table (IPv4, IPv6, IPv4-mapped and -compatible forms).

use hangar_egress::{AddressClass, classify};

#[test]
fn classification_table() {
    use AddressClass::*;
    let table = [
        ("8.8.8.8", Public),
        ("203.0.113.80", Public), // the local registry mirror (TEST-NET-3) must stay public
        ("192.0.2.10", Public),
        ("198.51.100.10", Public),
        ("127.0.0.1", Loopback),
        ("127.255.0.9", Loopback),
        ("0.0.0.0", Unspecified),
        ("0.1.2.3", ThisNetwork),
        ("10.0.0.1", Private),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("172.32.0.1", Public),
        ("192.168.1.1", Private),
        ("100.64.0.1", SharedCgnat),
        ("100.127.255.255", SharedCgnat),
        ("100.128.0.1", Public),
        ("169.254.169.254", LinkLocal), // cloud metadata endpoint
        ("224.0.0.1", Multicast),
        ("239.255.255.250", Multicast),
        ("255.255.255.255", Broadcast),
        ("240.0.0.1", Reserved),
        ("2606:4700::1111", Public),
        ("2001:db8::1", Public),
        ("::1", Loopback),
        ("::", Unspecified),
        ("fe80::1", LinkLocal),
        ("febf::1", LinkLocal),
        ("fc00::1", UniqueLocal),
        ("fd12:3456::1", UniqueLocal),
        ("fec0::1", Private),
        ("ff02::1", Multicast),
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:10.1.1.1", Private),
        ("::ffff:169.254.169.254", LinkLocal),
        ("::ffff:8.8.8.8", Public),
        ("::127.0.0.1", Loopback), // IPv4-compatible
        ("::192.168.0.1", Private),
        ("::ffff:0.0.0.0", Unspecified),
    ];
    for (ip, expected) in table {
        assert_eq!(classify(ip.parse().unwrap()), expected, "{ip}");
    }
}
