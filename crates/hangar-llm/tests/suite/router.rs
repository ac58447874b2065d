//! The router end to end: providers configured from TOML-shaped config and an env map, model
//! ids routed to the right endpoint of the mock with the provider-local id.

use std::collections::HashMap;

use hangar_core::model::{ModelClient, ModelError};
use hangar_llm::{ModelRouter, ProvidersConfig};
use hangar_testkit::mock_model::{MockModel, Script, Step};
use serde_json::json;

use super::support::{hello, run};

fn config(toml_text: &str) -> ProvidersConfig {
    toml::from_str(toml_text).expect("config parses")
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn with_model(model: &str) -> hangar_core::model::ModelRequest {
    let mut request = hello();
    request.model = model.into();
    request
}

#[tokio::test]
async fn routes_prefixed_claude_and_default_ids_to_their_endpoints() {
    let mock = MockModel::start(Script::new(
        (0..4).map(|i| Step::text(&format!("answer {i}"))),
    ))
    .await
    .expect("mock");
    let config = config(&format!(
        r#"
        default_provider = "local"
        [providers.local]
        kind = "openai-chat"
        base_url = "{openai}"
        max_tokens = 64
        "#,
        openai = mock.openai_base_url()
    ));
    let router = ModelRouter::new(
        &config,
        env(&[
            ("ANTHROPIC_BASE_URL", &mock.anthropic_base_url()),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("OPENAI_BASE_URL", &mock.openai_base_url()),
        ]),
    )
    .expect("router");
    run(&router, with_model("local/qwen2.5-coder"))
        .await
        .expect("local/");
    run(&router, with_model("claude-sonnet-4-6"))
        .await
        .expect("claude");
    run(&router, with_model("meta-llama/Llama-3.2"))
        .await
        .expect("default");
    run(&router, with_model("openai/gpt-5"))
        .await
        .expect("openai/");

    let seen: Vec<(String, serde_json::Value)> = mock
        .requests()
        .into_iter()
        .map(|r| (r.path, r.body["model"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("/v1/chat/completions".into(), json!("qwen2.5-coder")),
            ("/v1/messages".into(), json!("claude-sonnet-4-6")),
            ("/v1/chat/completions".into(), json!("meta-llama/Llama-3.2")),
            ("/v1/responses".into(), json!("gpt-5")),
        ]
    );
    let requests = mock.requests();
    // The provider's max_tokens caps the request's budget.
    assert_eq!(requests[0].body["max_tokens"], json!(64));
    assert_eq!(requests[1].header("x-api-key"), Some("sk-ant-test"));
    // A custom base URL without a key sends none.
    assert_eq!(requests[3].header("authorization"), None);
}

#[tokio::test]
async fn unknown_bare_model_without_default_points_at_default_provider() {
    let router = ModelRouter::new(&ProvidersConfig::default(), env(&[])).expect("router");
    let error = router.check_model("gpt-oss-20b").expect_err("unroutable");
    assert!(error.contains("default_provider"), "{error}");
    let streamed = run(&router, with_model("gpt-oss-20b"))
        .await
        .expect_err("unroutable");
    assert!(matches!(streamed, ModelError::Config(m) if m.contains("default_provider")));
    assert!(router.check_model("claude-opus-4").is_ok());
    assert!(router.check_model("openai-chat/gpt-4o").is_ok());
}

#[tokio::test]
async fn public_endpoint_without_key_fails_naming_the_variable() {
    let router = ModelRouter::new(&ProvidersConfig::default(), env(&[])).expect("router");
    let error = run(&router, with_model("claude-sonnet-4-6"))
        .await
        .expect_err("no key");
    assert!(
        matches!(&error, ModelError::Config(m) if m.contains("ANTHROPIC_API_KEY")),
        "{error:?}"
    );
    let error = run(&router, with_model("openai/gpt-5"))
        .await
        .expect_err("no key");
    assert!(
        matches!(&error, ModelError::Config(m) if m.contains("OPENAI_API_KEY")),
        "{error:?}"
    );
}

#[tokio::test]
async fn configured_provider_overrides_a_builtin_of_the_same_name() {
    let mock = MockModel::start(Script::new([Step::text("hi")]))
        .await
        .expect("mock");
    let config = config(&format!(
        r#"
        [providers.anthropic]
        kind = "openai-chat"
        base_url = "{}"
        "#,
        mock.openai_base_url()
    ));
    let router = ModelRouter::new(&config, env(&[])).expect("router");
    run(&router, with_model("claude-x")).await.expect("routed");
    assert_eq!(mock.requests()[0].path, "/v1/chat/completions");
}

#[test]
fn bad_config_is_rejected_with_the_key_to_fix() {
    let error = ModelRouter::new(&config(r#"default_provider = "nowhere""#), env(&[]))
        .err()
        .expect("rejected");
    assert!(error.to_string().contains("default_provider"), "{error}");
    let typo: Result<ProvidersConfig, _> = toml::from_str(
        r#"
        [providers.x]
        kind = "openai-chat"
        base_uri = "http://127.0.0.1:1/v1"
        "#,
    );
    assert!(typo.is_err());
    let bad_kind: Result<ProvidersConfig, _> = toml::from_str("[providers.x]\nkind = \"gemini\"\n");
    assert!(bad_kind.is_err());
}
