//! What a client may send to `POST /v1/sessions/{id}/events` (`cma-api.md` §4.2). Every shape
//! rejects unknown fields; the rules that need the session's state live in `hangar-core`.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::content::ContentBlock;
use crate::event::Confirmation;

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEventsParams {
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<EventParams>,
}

/// One event a client sends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum EventParams {
    #[serde(rename = "user.message")]
    UserMessage(UserMessageParams),
    #[serde(rename = "user.interrupt")]
    UserInterrupt(UserInterruptParams),
    #[serde(rename = "user.tool_confirmation")]
    UserToolConfirmation(ToolConfirmationParams),
    #[serde(rename = "user.custom_tool_result")]
    UserCustomToolResult(CustomToolResultParams),
    #[serde(rename = "user.tool_result")]
    UserToolResult(ToolResultParams),
    #[serde(rename = "user.define_outcome")]
    UserDefineOutcome(DefineOutcomeParams),
    #[serde(rename = "system.message")]
    SystemMessage(SystemMessageParams),
}

impl EventParams {
    pub const fn type_name(&self) -> &'static str {
        match self {
            EventParams::UserMessage(_) => "user.message",
            EventParams::UserInterrupt(_) => "user.interrupt",
            EventParams::UserToolConfirmation(_) => "user.tool_confirmation",
            EventParams::UserCustomToolResult(_) => "user.custom_tool_result",
            EventParams::UserToolResult(_) => "user.tool_result",
            EventParams::UserDefineOutcome(_) => "user.define_outcome",
            EventParams::SystemMessage(_) => "system.message",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMessageParams {
    pub content: Vec<ContentBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInterruptParams {
    #[serde(default)]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolConfirmationParams {
    pub tool_use_id: String,
    pub result: Confirmation,
    #[serde(default)]
    pub deny_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomToolResultParams {
    pub custom_tool_use_id: String,
    #[serde(default)]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    pub is_error: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolResultParams {
    pub tool_use_id: String,
    #[serde(default)]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    pub is_error: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineOutcomeParams {
    pub description: String,
    pub rubric: serde_json::Value,
    #[serde(default)]
    pub max_iterations: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemMessageParams {
    pub content: Vec<ContentBlock>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_each_sendable_type() {
        let params: SendEventsParams = serde_json::from_value(json!({"events": [
            {"type": "user.message", "content": [{"type": "text", "text": "hi"}]},
            {"type": "user.interrupt"},
            {"type": "user.tool_confirmation", "tool_use_id": "sevt_1", "result": "deny", "deny_message": "no"},
            {"type": "user.custom_tool_result", "custom_tool_use_id": "sevt_2",
                "content": [{"type": "text", "text": "42"}], "is_error": false},
            {"type": "system.message", "content": [{"type": "text", "text": "be brief"}]},
        ]}))
        .expect("parse");
        let names: Vec<_> = params.events.iter().map(EventParams::type_name).collect();
        assert_eq!(
            names,
            [
                "user.message",
                "user.interrupt",
                "user.tool_confirmation",
                "user.custom_tool_result",
                "system.message"
            ]
        );
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        for value in [
            json!({"events": [{"type": "user.message", "content": [], "extra": true}]}),
            json!({"events": [{"type": "agent.message", "content": []}]}),
            json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": "x", "result": "maybe"}]}),
            json!({"events": [], "more": 1}),
        ] {
            assert!(
                serde_json::from_value::<SendEventsParams>(value.clone()).is_err(),
                "{value}"
            );
        }
    }
}
