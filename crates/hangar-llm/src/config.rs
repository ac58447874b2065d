//! The model-providers part of Hangar's configuration ([`ProvidersConfig`], embedded in the
//! `hangar` binary's TOML) and its resolution against the environment into ready-to-use
//! provider settings. Environment variables are read once, through a lookup the caller
//! passes, so tests never depend on the process environment.
//!
//! ```toml
//! default_provider = "local"          # where bare model ids that are not `claude-…` go
//!
//! [providers.local]                   # used as `local/<model>` or through default_provider
//! kind = "openai-chat"                # "anthropic" | "openai" (Responses) | "openai-chat"
//! base_url = "http://127.0.0.1:8080/v1"
//! # api_key_env = "LOCAL_KEY"         # no key is sent when unset
//! max_tokens = 1024                   # caps each request's output budget
//! ```
//!
//! Built in, unless a provider of the same name is configured: `anthropic`
//! (`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`), `openai` (Responses API; `OPENAI_API_KEY`,
//! `OPENAI_BASE_URL`) and `openai-chat` (Chat Completions; same variables as `openai`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::anthropic::ANTHROPIC_DEFAULT_BASE_URL;
use crate::http::{ApiKey, HttpSettings, ProviderSettings};
use crate::openai_chat::OPENAI_DEFAULT_BASE_URL;

/// Model providers and the default one. Unknown keys are left to the embedding config (this
/// struct may be flattened into it); each provider table rejects unknown keys.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProvidersConfig {
    /// The provider for bare model ids other than `claude-…`.
    #[serde(default)]
    pub default_provider: Option<String>,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Defaults to the kind's `*_BASE_URL` variable, then its public endpoint.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The variable holding the key. Without `base_url` it defaults to the kind's standard
    /// variable; with a custom `base_url` no key is sent unless this is set, so a real key is
    /// never handed to a server it was not meant for.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Upper bound for each request's `max_tokens` (small local models need one).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub connect_timeout_secs: Option<u64>,
    /// Longest silence before headers or between chunks of a stream.
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
}

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses.
    Openai,
    /// OpenAI Chat Completions, also every OpenAI-compatible server.
    OpenaiChat,
}

impl ProviderKind {
    fn public_base_url(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => ANTHROPIC_DEFAULT_BASE_URL,
            ProviderKind::Openai | ProviderKind::OpenaiChat => OPENAI_DEFAULT_BASE_URL,
        }
    }

    fn base_url_env(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "ANTHROPIC_BASE_URL",
            ProviderKind::Openai | ProviderKind::OpenaiChat => "OPENAI_BASE_URL",
        }
    }

    fn api_key_env(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
            ProviderKind::Openai | ProviderKind::OpenaiChat => "OPENAI_API_KEY",
        }
    }
}

/// The providers configuration cannot be used; the message says which key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model providers configuration: {0}")]
pub struct ConfigError(pub String);

/// One provider, ready to build a client for.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedProvider {
    pub kind: ProviderKind,
    pub settings: ProviderSettings,
    pub max_tokens: Option<u32>,
}

/// The built-in providers overlaid with the configured ones, resolved against `env`.
pub(crate) fn resolve_providers(
    config: &ProvidersConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, ResolvedProvider>, ConfigError> {
    let builtin = [
        ("anthropic", ProviderKind::Anthropic),
        ("openai", ProviderKind::Openai),
        ("openai-chat", ProviderKind::OpenaiChat),
    ];
    let mut providers = BTreeMap::new();
    for (name, kind) in builtin {
        let config = ProviderConfig {
            kind,
            base_url: None,
            api_key_env: None,
            max_tokens: None,
            connect_timeout_secs: None,
            idle_timeout_secs: None,
        };
        providers.insert(name.to_owned(), resolve(name, &config, env)?);
    }
    for (name, provider) in &config.providers {
        if name.is_empty() || name.contains('/') {
            return Err(ConfigError(format!(
                "provider name `{name}` must be non-empty and contain no `/` (it is the part \
                 before the slash in `NAME/model-id`)"
            )));
        }
        providers.insert(name.clone(), resolve(name, provider, env)?);
    }
    if let Some(default) = &config.default_provider
        && !providers.contains_key(default)
    {
        return Err(ConfigError(format!(
            "default_provider = \"{default}\" names no provider; known: {}",
            providers.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(providers)
}

fn resolve(
    name: &str,
    config: &ProviderConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedProvider, ConfigError> {
    let kind = config.kind;
    let lookup = |var: &str| env(var).filter(|value| !value.trim().is_empty());
    let base_url = match &config.base_url {
        Some(url) => url.clone(),
        None => lookup(kind.base_url_env()).unwrap_or_else(|| kind.public_base_url().to_owned()),
    };
    let base_url = base_url.trim_end_matches('/').to_owned();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError(format!(
            "providers.{name}.base_url = \"{base_url}\" is not an http:// or https:// URL"
        )));
    }
    let key_env = config.api_key_env.clone().or_else(|| {
        config
            .base_url
            .is_none()
            .then(|| kind.api_key_env().to_owned())
    });
    let key_required = base_url == kind.public_base_url();
    let api_key = match (key_env.as_deref().and_then(lookup), key_required) {
        (Some(key), _) => ApiKey::Set(key.trim().to_owned()),
        (None, true) => ApiKey::Missing {
            env_var: key_env.unwrap_or_else(|| kind.api_key_env().to_owned()),
        },
        (None, false) => ApiKey::NotRequired,
    };
    let defaults = HttpSettings::default();
    let http = HttpSettings {
        connect_timeout: config
            .connect_timeout_secs
            .map_or(defaults.connect_timeout, Duration::from_secs),
        idle_timeout: config
            .idle_timeout_secs
            .map_or(defaults.idle_timeout, Duration::from_secs),
    };
    Ok(ResolvedProvider {
        kind,
        settings: ProviderSettings {
            name: name.to_owned(),
            base_url,
            api_key,
            http,
        },
        max_tokens: config.max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn parses_the_documented_toml() {
        let config: ProvidersConfig = toml::from_str(
            r#"
            default_provider = "local"
            [providers.local]
            kind = "openai-chat"
            base_url = "http://127.0.0.1:8080/v1"
            max_tokens = 1024
            "#,
        )
        .unwrap();
        assert_eq!(config.default_provider.as_deref(), Some("local"));
        assert_eq!(config.providers["local"].kind, ProviderKind::OpenaiChat);
        assert_eq!(config.providers["local"].max_tokens, Some(1024));
    }

    fn from_json(json: &str) -> ProvidersConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn builtins_read_their_environment() {
        let providers = resolve_providers(
            &ProvidersConfig::default(),
            &env(&[
                ("ANTHROPIC_API_KEY", "sk-ant"),
                ("OPENAI_BASE_URL", "http://proxy:1/v1/"),
            ]),
        )
        .unwrap();
        let anthropic = &providers["anthropic"].settings;
        assert_eq!(anthropic.base_url, "https://api.anthropic.com");
        assert_eq!(anthropic.api_key, ApiKey::Set("sk-ant".into()));
        let openai = &providers["openai"].settings;
        assert_eq!(openai.base_url, "http://proxy:1/v1");
        // A custom base without a key sends none.
        assert_eq!(openai.api_key, ApiKey::NotRequired);
    }

    #[test]
    fn public_endpoint_without_key_is_missing_with_the_variable_name() {
        let providers = resolve_providers(&ProvidersConfig::default(), &env(&[])).unwrap();
        assert_eq!(
            providers["openai-chat"].settings.api_key,
            ApiKey::Missing {
                env_var: "OPENAI_API_KEY".into()
            }
        );
    }

    #[test]
    fn custom_base_url_never_picks_up_the_standard_key() {
        let mut config = ProvidersConfig::default();
        config.providers.insert(
            "local".into(),
            from_json(r#"{"providers": {"x": {"kind": "openai-chat", "base_url": "http://127.0.0.1:9/v1"}}}"#)
                .providers["x"]
                .clone(),
        );
        let providers = resolve_providers(&config, &env(&[("OPENAI_API_KEY", "sk-real")])).unwrap();
        assert_eq!(providers["local"].settings.api_key, ApiKey::NotRequired);
    }

    #[test]
    fn rejects_unknown_default_and_bad_urls_and_unknown_keys() {
        let config = from_json(r#"{"default_provider": "nope"}"#);
        let error = resolve_providers(&config, &env(&[])).unwrap_err();
        assert!(error.0.contains("default_provider"), "{error}");
        let config =
            from_json(r#"{"providers": {"x": {"kind": "openai", "base_url": "localhost:8080"}}}"#);
        let error = resolve_providers(&config, &env(&[])).unwrap_err();
        assert!(error.0.contains("providers.x.base_url"), "{error}");
        let typo = serde_json::from_str::<ProvidersConfig>(
            r#"{"providers": {"x": {"kind": "openai", "base_ulr": "http://a"}}}"#,
        );
        assert!(typo.is_err());
    }
}
