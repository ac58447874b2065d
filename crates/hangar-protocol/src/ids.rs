//! Prefixed opaque identifiers (`agent_…`, `env_…`, `sesn_…`) made from UUIDv7.
//!
//! The 128 bits are written in Crockford base32 (26 characters, fixed width), so ids sort
//! lexicographically in creation order and the store can page by id alone.

use uuid::Uuid;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters after the prefix in every id Hangar mints.
pub const ID_BODY_LEN: usize = 26;
/// Upper bound on any id accepted from a client (ours are far shorter).
pub const MAX_ID_LEN: usize = 128;

/// The kinds of object that carry a Hangar-minted id, with their wire prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Agent,
    Environment,
    Session,
    Vault,
    Event,
    Request,
    ApiKey,
}

impl IdKind {
    /// Wire prefix including the trailing underscore.
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Agent => "agent_",
            IdKind::Environment => "env_",
            IdKind::Session => "sesn_",
            IdKind::Vault => "vlt_",
            IdKind::Event => "sevt_",
            IdKind::Request => "req_",
            IdKind::ApiKey => "apikey_",
        }
    }

    /// Human name used in error messages ("agent", "environment", …).
    pub const fn noun(self) -> &'static str {
        match self {
            IdKind::Agent => "agent",
            IdKind::Environment => "environment",
            IdKind::Session => "session",
            IdKind::Vault => "vault",
            IdKind::Event => "event",
            IdKind::Request => "request",
            IdKind::ApiKey => "API key",
        }
    }

    /// Mints a new, time-ordered id of this kind.
    pub fn mint(self) -> String {
        let mut out = String::with_capacity(self.prefix().len() + ID_BODY_LEN);
        out.push_str(self.prefix());
        out.push_str(&encode_base32(Uuid::now_v7().as_u128()));
        out
    }

    /// True when `id` has this kind's prefix and a plausible body. Ids are opaque to clients,
    /// so this only guards against obviously wrong references (an `env_` where an agent goes).
    pub fn matches(self, id: &str) -> bool {
        id.len() <= MAX_ID_LEN
            && id.strip_prefix(self.prefix()).is_some_and(|body| {
                !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    }
}

fn encode_base32(mut value: u128) -> String {
    let mut buf = [b'0'; ID_BODY_LEN];
    for slot in buf.iter_mut().rev() {
        *slot = CROCKFORD[(value & 31) as usize];
        value >>= 5;
    }
    buf.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_have_prefix_fixed_width_and_sort_by_time() {
        let ids: Vec<String> = (0..200).map(|_| IdKind::Agent.mint()).collect();
        for id in &ids {
            assert!(id.starts_with("agent_"));
            assert_eq!(id.len(), "agent_".len() + ID_BODY_LEN);
            assert!(IdKind::Agent.matches(id));
            assert!(!IdKind::Session.matches(id));
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
    }

    #[test]
    fn matches_rejects_foreign_and_malformed_ids() {
        assert!(!IdKind::Environment.matches("env_"));
        assert!(!IdKind::Environment.matches("env_a/b"));
        assert!(!IdKind::Environment.matches("agent_123"));
        assert!(!IdKind::Environment.matches(&format!("env_{}", "a".repeat(200))));
        assert!(IdKind::Environment.matches("env_01J0000000000000000000"));
    }
}
