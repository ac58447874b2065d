//! The tri-state of update fields: omitted (keep), `null` (clear) or a value (replace).

use serde::{Deserialize, Deserializer};

/// An update field. Use with `#[serde(default)]` so that an omitted key is [`Patch::Keep`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// The key was not sent: keep the stored value.
    #[default]
    Keep,
    /// The key was sent as `null`: clear (or reset to the default).
    Clear,
    /// The key was sent with a value: replace.
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// Borrowing view, for validation.
    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(value),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Patch::Clear,
            Some(value) => Patch::Set(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Update {
        #[serde(default)]
        name: Patch<String>,
    }

    #[test]
    fn distinguishes_omitted_null_and_value() {
        let parse = |s: &str| serde_json::from_str::<Update>(s).map(|u| u.name).ok();
        assert_eq!(parse("{}"), Some(Patch::Keep));
        assert_eq!(parse(r#"{"name":null}"#), Some(Patch::Clear));
        assert_eq!(parse(r#"{"name":"x"}"#), Some(Patch::Set("x".to_owned())));
    }
}
