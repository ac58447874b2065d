//! Small validators shared by the resource rules. Each returns an [`ApiError`] whose message
//! names the offending field by its JSON path (`tools[2].name`).

use hangar_protocol::agent::{Metadata, MetadataPatch};
use hangar_protocol::error::ApiError;

use crate::limits::{MAX_METADATA_KEY_CHARS, MAX_METADATA_PAIRS, MAX_METADATA_VALUE_CHARS};

/// `value` must have between `min` and `max` characters.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min {
        return Err(if min == 1 {
            ApiError::invalid(format!("{field}: must not be empty"))
        } else {
            ApiError::invalid(format!("{field}: must be at least {min} characters"))
        });
    }
    if len > max {
        return Err(ApiError::invalid(format!(
            "{field}: must be at most {max} characters (got {len})"
        )));
    }
    if value.chars().any(|c| c == '\0') {
        return Err(ApiError::invalid(format!(
            "{field}: must not contain NUL characters"
        )));
    }
    Ok(())
}

/// A list must have at most `max` entries.
pub fn count<T>(field: &str, list: &[T], max: usize) -> Result<(), ApiError> {
    if list.len() > max {
        return Err(ApiError::invalid(format!(
            "{field}: at most {max} entries are allowed (got {})",
            list.len()
        )));
    }
    Ok(())
}

fn metadata_pair(key: &str, value: Option<&str>) -> Result<(), ApiError> {
    let invalid = |msg: String| ApiError::invalid(msg).with_code("invalid_metadata");
    let key_len = key.chars().count();
    if key_len == 0 || key_len > MAX_METADATA_KEY_CHARS {
        return Err(invalid(format!(
            "metadata: keys must be 1 to {MAX_METADATA_KEY_CHARS} characters (got `{}`)",
            key.chars().take(80).collect::<String>()
        )));
    }
    if let Some(value) = value
        && value.chars().count() > MAX_METADATA_VALUE_CHARS
    {
        return Err(invalid(format!(
            "metadata.{key}: values must be at most {MAX_METADATA_VALUE_CHARS} characters"
        )));
    }
    Ok(())
}

fn metadata_size(len: usize) -> Result<(), ApiError> {
    if len > MAX_METADATA_PAIRS {
        return Err(ApiError::invalid(format!(
            "metadata: at most {MAX_METADATA_PAIRS} key-value pairs are allowed (got {len})"
        ))
        .with_code("invalid_metadata"));
    }
    Ok(())
}

/// Validates a full metadata map (create).
pub fn metadata(map: &Metadata) -> Result<(), ApiError> {
    metadata_size(map.len())?;
    map.iter().try_for_each(|(k, v)| metadata_pair(k, Some(v)))
}

/// Applies a metadata patch: a string upserts, `null` (or, where `empty_deletes`, `""`)
/// deletes. The merged result is validated.
pub fn apply_metadata_patch(
    stored: &Metadata,
    patch: &MetadataPatch,
    empty_deletes: bool,
) -> Result<Metadata, ApiError> {
    let mut merged = stored.clone();
    for (key, value) in patch {
        metadata_pair(key, value.as_deref())?;
        match value {
            Some(v) if !(empty_deletes && v.is_empty()) => {
                merged.insert(key.clone(), v.clone());
            }
            _ => {
                merged.remove(key);
            }
        }
    }
    metadata_size(merged.len())?;
    Ok(merged)
}

/// An id sent in a body must carry the expected prefix.
pub fn id_ref(field: &str, id: &str, kind: hangar_protocol::ids::IdKind) -> Result<(), ApiError> {
    if kind.matches(id) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field}: `{}` is not a valid {} id (expected the prefix `{}`)",
            id.chars().take(80).collect::<String>(),
            kind.noun(),
            kind.prefix()
        )))
    }
}

/// A DNS hostname, optionally with a leading `*.` wildcard when `allow_wildcard`.
pub fn hostname(field: &str, host: &str, allow_wildcard: bool) -> Result<(), ApiError> {
    let bare = if allow_wildcard {
        host.strip_prefix("*.").unwrap_or(host)
    } else {
        host
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.len() > crate::limits::MAX_HOSTNAME_CHARS
        || bare.is_empty()
        || !bare.split('.').all(label_ok)
    {
        return Err(ApiError::invalid(format!(
            "{field}: `{}` is not a valid hostname (hostnames only: no scheme, port or path{})",
            host.chars().take(80).collect::<String>(),
            if allow_wildcard {
                "; `*.` wildcards allowed"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_patch_upserts_deletes_and_checks_size() {
        let stored: Metadata = [("a".to_owned(), "1".to_owned())].into();
        let patch: MetadataPatch = [
            ("a".to_owned(), None),
            ("b".to_owned(), Some("2".to_owned())),
        ]
        .into();
        let merged = apply_metadata_patch(&stored, &patch, false).unwrap();
        assert_eq!(merged, [("b".to_owned(), "2".to_owned())].into());

        let patch: MetadataPatch = [("b".to_owned(), Some(String::new()))].into();
        assert!(
            apply_metadata_patch(&merged, &patch, true)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            apply_metadata_patch(&merged, &patch, false).unwrap()["b"],
            ""
        );

        let big: MetadataPatch = (0..17)
            .map(|i| (format!("k{i}"), Some("v".into())))
            .collect();
        let err = apply_metadata_patch(&Metadata::new(), &big, false).unwrap_err();
        assert_eq!(err.error_code, Some("invalid_metadata"));
    }

    #[test]
    fn hostnames_are_plain_dns_names() {
        assert!(hostname("h", "api.github.com", true).is_ok());
        assert!(hostname("h", "*.example.com", true).is_ok());
        assert!(hostname("h", "*.example.com", false).is_err());
        for bad in [
            "https://x.com",
            "x.com:443",
            "x.com/p",
            "",
            "a..b",
            "-a.com",
            "a b",
        ] {
            assert!(hostname("h", bad, true).is_err(), "{bad}");
        }
    }
}
