//! Address classification: which IP addresses count as public destinations. Owns the table of
//! refused ranges (loopback, private, link-local, …); it does not decide policy (the caller
//! knows whether private destinations were opted into).
//!
//! Documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) are
//! deliberately *public* here: the local registry mirror of this project's machines answers on
//! 203.0.113.80 and must stay reachable.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of destination an address is. Everything but [`AddressClass::Public`] is refused
/// unless the policy allows private destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    Public,
    /// 127/8, ::1
    Loopback,
    /// 0.0.0.0, ::
    Unspecified,
    /// 0/8 other than 0.0.0.0 ("this network")
    ThisNetwork,
    /// 10/8, 172.16/12, 192.168/16, and the deprecated IPv6 site-local fec0::/10
    Private,
    /// 100.64/10 (carrier-grade NAT)
    SharedCgnat,
    /// 169.254/16, fe80::/10
    LinkLocal,
    /// fc00::/7
    UniqueLocal,
    /// 224/4, ff00::/8
    Multicast,
    /// 255.255.255.255
    Broadcast,
    /// 240/4 other than broadcast (never routable)
    Reserved,
}

impl AddressClass {
    pub fn is_public(self) -> bool {
        self == AddressClass::Public
    }

    /// A short name for messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Unspecified => "unspecified",
            AddressClass::ThisNetwork => "this-network (0.0.0.0/8)",
            AddressClass::Private => "private",
            AddressClass::SharedCgnat => "carrier-grade NAT (100.64.0.0/10)",
            AddressClass::LinkLocal => "link-local",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an address. IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`)
/// IPv6 addresses are classified by the IPv4 address they carry, because a kernel connects
/// them to that IPv4 address.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if a == 0 {
        AddressClass::ThisNetwork
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if a == 100 && (b & 0b1100_0000) == 64 {
        AddressClass::SharedCgnat
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if a >= 240 {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if (first & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if (first & 0xffc0) == 0xfec0 {
        AddressClass::Private
    } else if (first & 0xfe00) == 0xfc00 {
        AddressClass::UniqueLocal
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address inside an IPv4-mapped or IPv4-compatible IPv6 address. `::` and `::1`
/// are not treated as compatible addresses (they are the IPv6 unspecified and loopback).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    let segments = ip.segments();
    let compatible = segments[..6].iter().all(|s| *s == 0) && !ip.is_unspecified();
    if compatible && !ip.is_loopback() {
        return ip.to_ipv4();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_ranges_stay_public() {
        for ip in ["203.0.113.80", "192.0.2.1", "198.51.100.7", "2001:db8::1"] {
            assert_eq!(classify(ip.parse().unwrap()), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn mapped_loopback_is_loopback() {
        assert_eq!(
            classify("::ffff:127.0.0.1".parse().unwrap()),
            AddressClass::Loopback
        );
        assert_eq!(
            classify("::10.1.2.3".parse().unwrap()),
            AddressClass::Private
        );
    }
}
