//! The serde shapes of the Responses stream events the decoder reads. Every field is
//! optional or defaulted where servers differ (llama.cpp omits `output_index`, some servers
//! omit usage), and unknown event and item types deserialize to `Other`.

use serde::Deserialize;
use serde_json::Value;

/// Where an event points: the item id and/or its position in the output.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ItemRef {
    #[serde(default)]
    pub(crate) item_id: Option<String>,
    #[serde(default)]
    pub(crate) output_index: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum WireEvent {
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        #[serde(default)]
        output_index: Option<u64>,
        item: WireItem,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        #[serde(default)]
        output_index: Option<u64>,
        item: WireItem,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        #[serde(flatten)]
        at: ItemRef,
        #[serde(default)]
        content_index: Option<u64>,
        delta: String,
    },
    #[serde(rename = "response.refusal.delta")]
    RefusalDelta {
        #[serde(flatten)]
        at: ItemRef,
        #[serde(default)]
        content_index: Option<u64>,
        delta: String,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta {
        #[serde(flatten)]
        at: ItemRef,
        delta: String,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        #[serde(flatten)]
        at: ItemRef,
        arguments: String,
    },
    /// Summaries from OpenAI reasoning models; full reasoning text from llama.cpp.
    #[serde(
        rename = "response.reasoning_summary_text.delta",
        alias = "response.reasoning_text.delta"
    )]
    ReasoningDelta {
        #[serde(flatten)]
        at: ItemRef,
        #[serde(default)]
        summary_index: Option<u64>,
        delta: String,
    },
    #[serde(rename = "response.completed")]
    Completed { response: WireResponse },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: WireResponse },
    #[serde(rename = "response.failed")]
    Failed { response: Value },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireItem {
    Message {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        content: Vec<Value>,
    },
    FunctionCall {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        call_id: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        arguments: Option<String>,
    },
    Reasoning {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        summary: Vec<Value>,
        #[serde(default)]
        content: Option<Vec<Value>>,
    },
    #[serde(other)]
    Other,
}

impl WireItem {
    pub(crate) fn id(&self) -> Option<&str> {
        match self {
            WireItem::Message { id, .. }
            | WireItem::FunctionCall { id, .. }
            | WireItem::Reasoning { id, .. } => id.as_deref(),
            WireItem::Other => None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireResponse {
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
    #[serde(default)]
    pub(crate) incomplete_details: Option<IncompleteDetails>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) input_tokens: u64,
    #[serde(default)]
    pub(crate) output_tokens: u64,
    #[serde(default)]
    pub(crate) input_tokens_details: Option<InputTokensDetails>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InputTokensDetails {
    #[serde(default)]
    pub(crate) cached_tokens: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IncompleteDetails {
    #[serde(default)]
    pub(crate) reason: Option<String>,
}
