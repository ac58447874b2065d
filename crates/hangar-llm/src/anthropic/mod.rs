//! [`AnthropicClient`]: the Anthropic Messages API (`POST {base}/v1/messages`, streamed). Also
//! fits servers that imitate it, such as llama.cpp's `llama-server`.

mod request;
mod stream;

use async_trait::async_trait;
use hangar_core::model::{ModelClient, ModelError, ModelRequest, ModelStream};
use reqwest::header::{HeaderMap, HeaderValue};

use crate::http::{ApiKey, Endpoint, ProviderSettings, secret_header};
use crate::stream::DecodedStream;

/// The API version every request declares.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The public endpoint; a key is required there.
pub const ANTHROPIC_DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

pub struct AnthropicClient {
    name: String,
    endpoint: Endpoint,
    api_key: ApiKey,
}

impl AnthropicClient {
    pub fn new(settings: ProviderSettings) -> Result<AnthropicClient, ModelError> {
        Ok(AnthropicClient {
            endpoint: Endpoint::new(&settings, "/v1/messages")?,
            name: settings.name,
            api_key: settings.api_key,
        })
    }

    fn headers(&self) -> Result<HeaderMap, ModelError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(key) = self.api_key.require(&self.name)? {
            headers.insert("x-api-key", secret_header(&self.name, key)?);
        }
        Ok(headers)
    }
}

#[async_trait]
impl ModelClient for AnthropicClient {
    async fn stream(&self, request: ModelRequest) -> Result<Box<dyn ModelStream>, ModelError> {
        let headers = self.headers()?;
        let body = request::request_body(&request);
        let sse = self.endpoint.open_stream(headers, &body).await?;
        Ok(Box::new(DecodedStream::new(
            sse,
            stream::AnthropicDecoder::default(),
        )))
    }

    fn check_model(&self, _model: &str) -> Result<(), String> {
        Ok(())
    }
}
