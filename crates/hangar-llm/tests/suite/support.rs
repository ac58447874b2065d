//! Helpers shared by the suites: client construction against a mock, stream collection and
//! request builders.

use std::time::Duration;

use hangar_core::model::{
    Block, Message, ModelClient, ModelError, ModelEvent, ModelRequest, Role, ToolSpec,
};
use hangar_llm::{
    AnthropicClient, ApiKey, HttpSettings, OpenAiChatClient, OpenAiResponsesClient,
    ProviderSettings,
};
use hangar_testkit::mock_model::MockModel;
use serde_json::json;

pub const TEST_KEY: &str = "sk-test-key";

/// The three wire formats, so behaviour shared by all adapters is tested on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Anthropic,
    Chat,
    Responses,
}

pub const ALL: [Flavor; 3] = [Flavor::Anthropic, Flavor::Chat, Flavor::Responses];

impl Flavor {
    pub fn base_url(self, mock: &MockModel) -> String {
        match self {
            Flavor::Anthropic => mock.anthropic_base_url(),
            Flavor::Chat | Flavor::Responses => mock.openai_base_url(),
        }
    }

    pub fn client(self, mock: &MockModel) -> Box<dyn ModelClient> {
        self.client_with(mock, ApiKey::Set(TEST_KEY.into()), HttpSettings::default())
    }

    pub fn client_with(
        self,
        mock: &MockModel,
        api_key: ApiKey,
        http: HttpSettings,
    ) -> Box<dyn ModelClient> {
        let settings = ProviderSettings {
            name: "mock".into(),
            base_url: self.base_url(mock),
            api_key,
            http,
        };
        build(self, settings)
    }
}

pub fn build(flavor: Flavor, settings: ProviderSettings) -> Box<dyn ModelClient> {
    let client: Result<Box<dyn ModelClient>, ModelError> = match flavor {
        Flavor::Anthropic => AnthropicClient::new(settings).map(|c| Box::new(c) as _),
        Flavor::Chat => OpenAiChatClient::new(settings).map(|c| Box::new(c) as _),
        Flavor::Responses => OpenAiResponsesClient::new(settings).map(|c| Box::new(c) as _),
    };
    client.expect("client builds")
}

pub fn idle(timeout: Duration) -> HttpSettings {
    HttpSettings {
        idle_timeout: timeout,
        ..HttpSettings::default()
    }
}

/// Sends `request` and collects the stream: every event, or the first error.
pub async fn run(
    client: &dyn ModelClient,
    request: ModelRequest,
) -> Result<Vec<ModelEvent>, ModelError> {
    let mut stream = client.stream(request).await?;
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event?);
    }
    Ok(events)
}

/// Like [`run`], but also returns the events that arrived before an error.
pub async fn run_until_error(
    client: &dyn ModelClient,
    request: ModelRequest,
) -> (Vec<ModelEvent>, Option<ModelError>) {
    let mut stream = match client.stream(request).await {
        Ok(stream) => stream,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(
                    stream.next().await.is_none(),
                    "a stream yields nothing after an error"
                );
                return (events, Some(error));
            }
        }
    }
    (events, None)
}

pub fn user_text(text: &str) -> Message {
    Message {
        role: Role::User,
        content: vec![Block::Text { text: text.into() }],
    }
}

pub fn request(messages: Vec<Message>) -> ModelRequest {
    ModelRequest {
        model: "test-model".into(),
        system: Some("You are terse.".into()),
        messages,
        tools: vec![weather_tool()],
        max_tokens: 256,
    }
}

pub fn hello() -> ModelRequest {
    request(vec![user_text("Hello")])
}

pub fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Get the current weather in a city".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        }),
    }
}

/// The streamed text of text block `index`.
pub fn text_of(events: &[ModelEvent], wanted: usize) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            ModelEvent::TextDelta { index, text } if *index == wanted => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

pub fn text_deltas(events: &[ModelEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ModelEvent::TextDelta { .. }))
        .count()
}

/// The single `Finished`, which must be the last event.
pub fn finished(
    events: &[ModelEvent],
) -> (
    hangar_core::model::StopReason,
    hangar_core::model::ModelUsage,
) {
    let count = events
        .iter()
        .filter(|e| matches!(e, ModelEvent::Finished { .. }))
        .count();
    assert_eq!(count, 1, "exactly one Finished in {events:?}");
    match events.last() {
        Some(ModelEvent::Finished { stop_reason, usage }) => (stop_reason.clone(), *usage),
        other => panic!("last event is not Finished: {other:?}"),
    }
}

pub fn tool_uses(events: &[ModelEvent]) -> Vec<(String, String, serde_json::Value)> {
    events
        .iter()
        .filter_map(|event| match event {
            ModelEvent::ToolUse { id, name, input } => {
                Some((id.clone(), name.clone(), input.clone()))
            }
            _ => None,
        })
        .collect()
}
