//! [`OpenAiChatClient`]: OpenAI Chat Completions (`POST {base}/chat/completions`, streamed),
//! the format every OpenAI-compatible server speaks (llama.cpp `llama-server`, Ollama, vLLM).

mod request;
mod stream;

use async_trait::async_trait;
use hangar_core::model::{ModelClient, ModelError, ModelRequest, ModelStream};
use reqwest::header::{AUTHORIZATION, HeaderMap};

use crate::http::{ApiKey, Endpoint, ProviderSettings, secret_header};
use crate::stream::DecodedStream;
use request::MaxTokensField;

/// The public endpoint; a key is required there.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAiChatClient {
    name: String,
    endpoint: Endpoint,
    api_key: ApiKey,
    max_tokens_field: MaxTokensField,
}

impl OpenAiChatClient {
    /// `settings.base_url` includes the version segment: `http://127.0.0.1:8080/v1`.
    pub fn new(settings: ProviderSettings) -> Result<OpenAiChatClient, ModelError> {
        // OpenAI itself rejects `max_tokens` for its newer models; compatible servers may not
        // know the newer name.
        let max_tokens_field = if settings.base_url.starts_with("https://api.openai.com") {
            MaxTokensField::MaxCompletionTokens
        } else {
            MaxTokensField::MaxTokens
        };
        Ok(OpenAiChatClient {
            endpoint: Endpoint::new(&settings, "/chat/completions")?,
            name: settings.name,
            api_key: settings.api_key,
            max_tokens_field,
        })
    }
}

/// `Authorization: Bearer …` when a key is configured; local servers get no header at all.
pub(crate) fn bearer_headers(provider: &str, api_key: &ApiKey) -> Result<HeaderMap, ModelError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = api_key.require(provider)? {
        headers.insert(
            AUTHORIZATION,
            secret_header(provider, &format!("Bearer {key}"))?,
        );
    }
    Ok(headers)
}

#[async_trait]
impl ModelClient for OpenAiChatClient {
    async fn stream(&self, request: ModelRequest) -> Result<Box<dyn ModelStream>, ModelError> {
        let headers = bearer_headers(&self.name, &self.api_key)?;
        let body = request::request_body(&request, self.max_tokens_field);
        let sse = self.endpoint.open_stream(headers, &body).await?;
        Ok(Box::new(DecodedStream::new(
            sse,
            stream::ChatDecoder::default(),
        )))
    }

    fn check_model(&self, _model: &str) -> Result<(), String> {
        Ok(())
    }
}
