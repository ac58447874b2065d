//! API key authentication: `Authorization: Bearer <key>` (what the SDK sends) or
//! `x-api-key: <key>`. Only SHA-256 hashes of keys are kept, in memory and in the store.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hangar_protocol::error::{ApiError, ErrorKind};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::error::HttpError;

/// Prefix of keys Hangar generates.
pub const KEY_PREFIX: &str = "sk-hangar-";

/// The set of accepted keys, by hash.
#[derive(Debug, Default, Clone)]
pub struct ApiKeys {
    hashes: HashSet<String>,
}

impl ApiKeys {
    pub fn new(hashes: impl IntoIterator<Item = String>) -> Self {
        ApiKeys {
            hashes: hashes.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn accepts(&self, key: &str) -> bool {
        self.hashes.contains(&hash_key(key))
    }
}

/// Hex SHA-256 of a key.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random key: the prefix and 40 alphanumeric characters (~238 bits).
pub fn generate_key() -> String {
    let suffix: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{KEY_PREFIX}{suffix}")
}

fn presented_key(request: &Request) -> Option<&str> {
    let headers = request.headers();
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Rejects requests without an accepted key with 401.
pub async fn require_api_key(
    State(keys): State<Arc<ApiKeys>>,
    request: Request,
    next: Next,
) -> Response {
    match presented_key(&request) {
        None | Some("") => HttpError(ApiError::new(
            ErrorKind::Authentication,
            "Missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`.",
        ))
        .into_response(),
        Some(key) if keys.accepts(key) => next.run(request).await,
        Some(_) => {
            HttpError(ApiError::new(ErrorKind::Authentication, "Invalid API key.")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_accepted_only_by_their_hash() {
        let key = generate_key();
        assert!(key.starts_with(KEY_PREFIX) && key.len() == KEY_PREFIX.len() + 40);
        let keys = ApiKeys::new([hash_key(&key)]);
        assert!(keys.accepts(&key));
        assert!(!keys.accepts(&generate_key()));
    }
}
