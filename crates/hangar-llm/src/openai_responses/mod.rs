//! [`OpenAiResponsesClient`]: the OpenAI Responses API (`POST {base}/responses`, streamed),
//! OpenAI's current format; llama.cpp's `llama-server` speaks it too.

mod request;
mod stream;
mod wire;

use async_trait::async_trait;
use hangar_core::model::{ModelClient, ModelError, ModelRequest, ModelStream};

use crate::http::{ApiKey, Endpoint, ProviderSettings};
use crate::openai_chat::bearer_headers;
use crate::stream::DecodedStream;

pub struct OpenAiResponsesClient {
    name: String,
    endpoint: Endpoint,
    api_key: ApiKey,
}

impl OpenAiResponsesClient {
    /// `settings.base_url` includes the version segment: `https://api.openai.com/v1`.
    pub fn new(settings: ProviderSettings) -> Result<OpenAiResponsesClient, ModelError> {
        Ok(OpenAiResponsesClient {
            endpoint: Endpoint::new(&settings, "/responses")?,
            name: settings.name,
            api_key: settings.api_key,
        })
    }
}

#[async_trait]
impl ModelClient for OpenAiResponsesClient {
    async fn stream(&self, request: ModelRequest) -> Result<Box<dyn ModelStream>, ModelError> {
        let headers = bearer_headers(&self.name, &self.api_key)?;
        let body = request::request_body(&request);
        let sse = self.endpoint.open_stream(headers, &body).await?;
        Ok(Box::new(DecodedStream::new(
            sse,
            stream::ResponsesDecoder::default(),
        )))
    }

    fn check_model(&self, _model: &str) -> Result<(), String> {
        Ok(())
    }
}
