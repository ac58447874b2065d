//! Destination names: parsing `host[:port]` authorities and normalising hostnames (lowercase,
//! one trailing dot dropped, IP literals recognised). Pure functions; no resolution here.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// Longest hostname accepted (RFC 1035 limit for the presentation form without trailing dot).
pub const MAX_HOSTNAME_LEN: usize = 253;

/// A destination host: a normalised DNS name or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// Lowercase, no trailing dot, ASCII letters/digits/`-`/`_`/`.` only.
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// Parses a bare host (no port). IPv6 literals may be bracketed or not.
    pub fn parse(raw: &str) -> Result<Host, HostError> {
        let unbracketed = raw
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'));
        if let Some(inner) = unbracketed {
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| Host::Ip(IpAddr::V6(ip)))
                .map_err(|_| HostError::Invalid(raw.to_owned()));
        }
        if let Ok(ip) = raw.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        normalise_hostname(raw).map(Host::Name)
    }

    /// The form used in messages and logs (`example.com`, `203.0.113.9`, `::1`).
    pub fn as_display(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A host plus port, as in a `CONNECT` target or an absolute URI's authority.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub host: Host,
    pub port: u16,
}

impl Destination {
    /// Parses `host:port`, `[v6]:port`, or a bare host (then `default_port` applies).
    /// Userinfo (`user@host`) is refused: credentials never belong in a proxy target.
    pub fn parse_authority(authority: &str, default_port: u16) -> Result<Destination, HostError> {
        if authority.is_empty() || authority.contains('@') {
            return Err(HostError::Invalid(authority.to_owned()));
        }
        let (host_part, port_part) = split_host_port(authority)?;
        let port = match port_part {
            None => default_port,
            Some(digits) => digits
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| HostError::InvalidPort(authority.to_owned()))?,
        };
        Ok(Destination {
            host: Host::parse(host_part)?,
            port,
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), HostError> {
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| HostError::Invalid(authority.to_owned()))?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => rest
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or_else(|| HostError::Invalid(authority.to_owned())),
        };
    }
    match authority.rsplit_once(':') {
        // More than one colon without brackets: an unbracketed IPv6 literal, no port.
        Some((host, _)) if host.contains(':') => Ok((authority, None)),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

/// Lowercases, drops one trailing dot and checks the characters and label lengths. Non-ASCII
/// names are refused: clients send IDNs in their punycode (`xn--`) form.
pub fn normalise_hostname(raw: &str) -> Result<String, HostError> {
    let trimmed = raw.strip_suffix('.').unwrap_or(raw);
    let valid_chars = trimmed
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    let valid_labels = trimmed
        .split('.')
        .all(|label| !label.is_empty() && label.len() <= 63);
    if trimmed.is_empty() || trimmed.len() > MAX_HOSTNAME_LEN || !valid_chars || !valid_labels {
        return Err(HostError::Invalid(raw.to_owned()));
    }
    let lower = trimmed.to_ascii_lowercase();
    if looks_numeric(&lower) {
        return Err(HostError::NumericName(raw.to_owned()));
    }
    Ok(lower)
}

/// Names like `127.1`, `2130706433` or `0x7f.1`: not valid DNS names (no top-level label is
/// numeric), but the C resolver reads them as IPv4 addresses in legacy notations. Refusing
/// them keeps "an IP literal only matches an IP literal entry" true for every spelling.
fn looks_numeric(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || last.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Not a hostname or IP literal we accept (empty, bad characters, userinfo, …).
    #[error("`{0}` is not a valid host")]
    Invalid(String),
    /// A name that the system resolver would read as an IPv4 address in a legacy notation.
    #[error("`{0}` is a numeric host name; write IP addresses in dotted-quad or IPv6 form")]
    NumericName(String),
    /// The port is missing its digits, out of range or zero.
    #[error("`{0}` has an invalid port")]
    InvalidPort(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn hostnames_are_lowercased_and_lose_one_trailing_dot() {
        assert_eq!(normalise_hostname("Example.COM.").unwrap(), "example.com");
        assert!(normalise_hostname("example.com..").is_err());
        assert!(normalise_hostname("exa mple.com").is_err());
        assert!(normalise_hostname("bücher.de").is_err());
        assert!(normalise_hostname("").is_err());
        assert!(normalise_hostname(".").is_err());
        assert!(normalise_hostname(&"a".repeat(64)).is_err());
    }

    #[test]
    fn legacy_numeric_spellings_of_addresses_are_not_names() {
        for numeric in [
            "127.1",
            "2130706433",
            "0x7f000001",
            "0x7f.0.0.1",
            "10.0.0.010",
        ] {
            assert!(
                matches!(Host::parse(numeric), Err(HostError::NumericName(_))),
                "{numeric}"
            );
        }
        assert!(Host::parse("1password.com").is_ok());
        assert!(Host::parse("x.0xgames").is_ok());
    }

    #[test]
    fn authorities_parse_with_and_without_ports() {
        let dest = Destination::parse_authority("Example.com:8443", 80).unwrap();
        assert_eq!(dest.host, Host::Name("example.com".into()));
        assert_eq!(dest.port, 8443);
        assert_eq!(
            Destination::parse_authority("example.com", 80)
                .unwrap()
                .port,
            80
        );
        let v6 = Destination::parse_authority("[::1]:443", 80).unwrap();
        assert_eq!(v6.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "[::1]:443");
        let v4 = Destination::parse_authority("10.0.0.1:80", 80).unwrap();
        assert_eq!(v4.host, Host::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    }

    #[test]
    fn bad_authorities_are_refused() {
        for bad in [
            "",
            "user@example.com",
            "example.com:",
            "example.com:0",
            "example.com:99999",
        ] {
            assert!(Destination::parse_authority(bad, 80).is_err(), "{bad}");
        }
        assert!(Destination::parse_authority("[::1", 80).is_err());
        assert!(Destination::parse_authority("[::1]x", 80).is_err());
    }
}
