//! The input shapes of the built-in tools (cma-api §4.6), parsed strictly: an unknown field
//! or a wrong type is a tool error that names the field. Owns parsing only.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Parses `value` into `T`, naming the offending field on failure.
pub fn parse<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            error.inner().to_string()
        } else {
            format!("field `{path}`: {}", error.inner())
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BashInput {
    pub command: Option<String>,
    #[serde(default)]
    pub restart: bool,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    pub file_path: String,
    /// `[start, end]`, 1-based inclusive; `end <= 0` means the end of the file.
    pub view_range: Option<[i64; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteInput {
    pub file_path: String,
    pub content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditInput {
    pub file_path: String,
    pub old_string: String,
    pub new_string: String,
    #[serde(default)]
    pub replace_all: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobInput {
    pub pattern: String,
    pub path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrepInput {
    pub pattern: String,
    pub path: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_field_is_named() {
        let error = parse::<ReadInput>(&json!({"file_path": "a", "limit": 3})).unwrap_err();
        assert!(error.contains("limit"), "{error}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let error = parse::<ReadInput>(&json!({"file_path": 5})).unwrap_err();
        assert!(error.contains("file_path"), "{error}");
    }

    #[test]
    fn missing_field_is_named() {
        let error = parse::<WriteInput>(&json!({"file_path": "a"})).unwrap_err();
        assert!(error.contains("content"), "{error}");
    }
}
