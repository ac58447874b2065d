//! [`ModelRouter`]: the [`ModelClient`] the harness uses. It picks a provider from the agent's
//! model id and passes the provider-local id on:
//!
//! 1. `NAME/model-id`, when NAME is a configured or built-in provider → NAME, `model-id`;
//! 2. a bare `claude-…` id → the `anthropic` provider;
//! 3. any other bare id (including `org/model` whose prefix is no provider) →
//!    `default_provider`;
//! 4. otherwise [`ModelClient::check_model`] explains what to configure.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use hangar_core::model::{ModelClient, ModelError, ModelRequest, ModelStream};

use crate::anthropic::AnthropicClient;
use crate::config::{ConfigError, ProviderKind, ProvidersConfig, resolve_providers};
use crate::openai_chat::OpenAiChatClient;
use crate::openai_responses::OpenAiResponsesClient;

/// The provider-local model id prefix that always goes to the `anthropic` provider.
const CLAUDE_PREFIX: &str = "claude-";

struct Route {
    client: Arc<dyn ModelClient>,
    max_tokens: Option<u32>,
}

pub struct ModelRouter {
    routes: BTreeMap<String, Route>,
    default_provider: Option<String>,
}

/// Where a model id goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedModel<'a> {
    pub provider: &'a str,
    pub model: &'a str,
}

impl ModelRouter {
    /// Builds every provider's client. `env` looks up environment variables (API keys, base
    /// URLs); it is called only here.
    pub fn new(
        config: &ProvidersConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ModelRouter, ConfigError> {
        let mut routes = BTreeMap::new();
        for (name, provider) in resolve_providers(config, &env)? {
            let settings = provider.settings;
            let client: Arc<dyn ModelClient> = match provider.kind {
                ProviderKind::Anthropic => {
                    Arc::new(AnthropicClient::new(settings).map_err(build_error)?)
                }
                ProviderKind::Openai => {
                    Arc::new(OpenAiResponsesClient::new(settings).map_err(build_error)?)
                }
                ProviderKind::OpenaiChat => {
                    Arc::new(OpenAiChatClient::new(settings).map_err(build_error)?)
                }
            };
            let max_tokens = provider.max_tokens;
            routes.insert(name, Route { client, max_tokens });
        }
        Ok(ModelRouter {
            routes,
            default_provider: config.default_provider.clone(),
        })
    }

    /// [`ModelRouter::new`] reading the process environment.
    pub fn from_process_env(config: &ProvidersConfig) -> Result<ModelRouter, ConfigError> {
        ModelRouter::new(config, |name| std::env::var(name).ok())
    }

    /// The provider names, built-in and configured.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// Applies the routing rules (see the module docs).
    pub fn route<'a>(&'a self, model: &'a str) -> Result<RoutedModel<'a>, String> {
        if let Some((prefix, rest)) = model.split_once('/')
            && let Some((provider, _)) = self.routes.get_key_value(prefix)
        {
            if rest.is_empty() {
                return Err(format!(
                    "model `{model}` names the provider `{prefix}` but no model id after the `/`"
                ));
            }
            return Ok(RoutedModel {
                provider,
                model: rest,
            });
        }
        if model.trim().is_empty() {
            return Err("the model id is empty".to_owned());
        }
        if model.starts_with(CLAUDE_PREFIX)
            && let Some((provider, _)) = self.routes.get_key_value("anthropic")
        {
            return Ok(RoutedModel { provider, model });
        }
        match &self.default_provider {
            Some(provider) => Ok(RoutedModel { provider, model }),
            None => Err(format!(
                "no model provider for `{model}`: write it as `PROVIDER/{model}` with one of the \
                 providers ({}), or set `default_provider` in the model providers configuration",
                self.providers().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

fn build_error(error: ModelError) -> ConfigError {
    ConfigError(error.to_string())
}

#[async_trait]
impl ModelClient for ModelRouter {
    async fn stream(&self, mut request: ModelRequest) -> Result<Box<dyn ModelStream>, ModelError> {
        let routed = self.route(&request.model).map_err(ModelError::Config)?;
        let Some(route) = self.routes.get(routed.provider) else {
            return Err(ModelError::Config(format!(
                "model provider `{}` is not configured",
                routed.provider
            )));
        };
        request.model = routed.model.to_owned();
        if let Some(cap) = route.max_tokens {
            request.max_tokens = request.max_tokens.min(cap);
        }
        route.client.stream(request).await
    }

    fn check_model(&self, model: &str) -> Result<(), String> {
        self.route(model).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(default_provider: Option<&str>) -> ModelRouter {
        let config = ProvidersConfig {
            default_provider: default_provider.map(str::to_owned),
            providers: serde_json::from_str(
                r#"{"local": {"kind": "openai-chat", "base_url": "http://127.0.0.1:9/v1"}}"#,
            )
            .unwrap(),
        };
        ModelRouter::new(&config, |_| None).unwrap()
    }

    fn routed<'a>(router: &'a ModelRouter, model: &'a str) -> Result<(&'a str, &'a str), String> {
        router.route(model).map(|r| (r.provider, r.model))
    }

    #[test]
    fn routes_by_prefix_claude_and_default() {
        let router = router(Some("local"));
        assert_eq!(routed(&router, "local/qwen"), Ok(("local", "qwen")));
        assert_eq!(routed(&router, "openai/gpt-5"), Ok(("openai", "gpt-5")));
        assert_eq!(
            routed(&router, "anthropic/claude-x"),
            Ok(("anthropic", "claude-x"))
        );
        assert_eq!(
            routed(&router, "claude-sonnet-4-6"),
            Ok(("anthropic", "claude-sonnet-4-6"))
        );
        assert_eq!(routed(&router, "qwen2.5"), Ok(("local", "qwen2.5")));
        // The prefix is no provider: the whole id is a bare id.
        assert_eq!(
            routed(&router, "meta-llama/Llama-3"),
            Ok(("local", "meta-llama/Llama-3"))
        );
    }

    #[test]
    fn unknown_bare_id_without_default_names_the_config_key() {
        let router = router(None);
        let error = router.check_model("gpt-5").unwrap_err();
        assert!(error.contains("default_provider"), "{error}");
        assert!(error.contains("openai-chat"), "{error}");
        assert!(router.check_model("local/").is_err());
        assert!(router.check_model("").is_err());
    }
}
