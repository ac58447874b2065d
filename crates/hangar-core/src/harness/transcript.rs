//! [`Transcript`]: the conversation as the model sees it, folded from the session log.
//!
//! The same fold serves a runner that starts (it replays the log in effective order) and a
//! runner at work (it applies each event as it is committed or processed), so the two can
//! never disagree. Tool uses are identified by their event id on both sides of the pair.

use hangar_protocol::content::{ContentBlock, DocumentSource, ImageSource, SearchResultText};
use hangar_protocol::event::EventBody;

use crate::event_store::StoredEvent;
use crate::model::{Block, MediaSource, Message, Role};

/// Event types that contribute to the conversation.
pub const CONVERSATION_TYPES: [&str; 9] = [
    "user.message",
    "system.message",
    "agent.thinking",
    "agent.message",
    "agent.tool_use",
    "agent.custom_tool_use",
    "agent.tool_result",
    "user.custom_tool_result",
    "user.tool_result",
];

/// Private data kept with an `agent.thinking` event so the reasoning can be replayed to
/// providers that need it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThinkingPrivate {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub redacted: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    entries: Vec<(Role, Block)>,
    /// `system.message` texts, appended to the agent's system prompt in order.
    system_additions: Vec<String>,
}

impl Transcript {
    /// Folds processed events into a transcript, in effective order (see
    /// [`StoredEvent::effective_order`]); queued client events are skipped.
    pub fn from_events(events: &[StoredEvent]) -> Transcript {
        let mut ordered: Vec<&StoredEvent> = events
            .iter()
            .filter(|e| e.processed_at.is_some() || !is_client(e))
            .collect();
        ordered.sort_by_key(|e| e.effective_order());
        let mut transcript = Transcript::default();
        for event in ordered {
            transcript.apply(event);
        }
        transcript
    }

    /// Applies one event; events that are not part of the conversation are ignored.
    pub fn apply(&mut self, event: &StoredEvent) {
        let Ok(body) = serde_json::from_str::<EventBody>(&event.body) else {
            return;
        };
        match body {
            EventBody::UserMessage { content } => self.push_all(Role::User, &content),
            EventBody::SystemMessage { content } => {
                let text = content.iter().filter_map(text_of).collect::<Vec<_>>();
                self.system_additions.push(text.join("\n"));
            }
            EventBody::AgentThinking {} => {
                let private = event
                    .private
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<ThinkingPrivate>(p).ok());
                match private {
                    Some(ThinkingPrivate {
                        redacted: Some(data),
                        ..
                    }) => {
                        self.entries
                            .push((Role::Assistant, Block::RedactedThinking { data }));
                    }
                    Some(p) if p.signature.is_some() => self.entries.push((
                        Role::Assistant,
                        Block::Thinking {
                            text: p.text,
                            signature: p.signature,
                        },
                    )),
                    // Unsigned reasoning cannot be replayed to any provider; it is a progress
                    // signal only.
                    _ => {}
                }
            }
            EventBody::AgentMessage { content } => self.push_all(Role::Assistant, &content),
            EventBody::AgentToolUse { name, input, .. }
            | EventBody::AgentCustomToolUse { name, input } => self.entries.push((
                Role::Assistant,
                Block::ToolUse {
                    id: event.id.clone(),
                    name,
                    input,
                },
            )),
            EventBody::AgentToolResult {
                tool_use_id,
                content,
                is_error,
            }
            | EventBody::UserToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            }
            | EventBody::UserCustomToolResult {
                custom_tool_use_id: tool_use_id,
                content,
                is_error,
                ..
            } => self.push_result(tool_use_id, content.unwrap_or_default(), is_error),
            _ => {}
        }
    }

    fn push_all(&mut self, role: Role, content: &[ContentBlock]) {
        for block in content {
            if let Some(block) = model_block(block) {
                self.entries.push((role, block));
            }
        }
    }

    fn push_result(
        &mut self,
        tool_use_id: String,
        content: Vec<ContentBlock>,
        is_error: Option<bool>,
    ) {
        let mut blocks: Vec<Block> = content.iter().filter_map(model_block).collect();
        if blocks.is_empty() {
            // The SDK's own runner sends "(no output)" for an empty result; models handle an
            // explicit text better than an empty list.
            blocks.push(Block::Text {
                text: "(no output)".to_owned(),
            });
        }
        self.entries.push((
            Role::User,
            Block::ToolResult {
                tool_use_id,
                content: blocks,
                is_error: is_error.unwrap_or(false),
            },
        ));
    }

    /// The agent's system prompt with every `system.message` appended.
    pub fn system_prompt(&self, base: Option<&str>) -> Option<String> {
        let parts: Vec<&str> = base
            .into_iter()
            .chain(self.system_additions.iter().map(String::as_str))
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    /// The name and input of the tool use with event id `id`.
    pub fn tool_use(&self, id: &str) -> Option<(String, serde_json::Value)> {
        self.entries.iter().find_map(|(_, b)| match b {
            Block::ToolUse {
                id: use_id,
                name,
                input,
            } if use_id == id => Some((name.clone(), input.clone())),
            _ => None,
        })
    }

    /// Tool use ids (event ids) that have no result yet, in order.
    pub fn unanswered_tool_uses(&self) -> Vec<String> {
        let answered: std::collections::HashSet<&str> = self
            .entries
            .iter()
            .filter_map(|(_, b)| match b {
                Block::ToolResult { tool_use_id, .. } => Some(tool_use_id.as_str()),
                _ => None,
            })
            .collect();
        self.entries
            .iter()
            .filter_map(|(_, b)| match b {
                Block::ToolUse { id, .. } if !answered.contains(id.as_str()) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The conversation as alternating messages: consecutive blocks of one role form one
    /// message, and in a user message tool results come first (providers require results
    /// right after the calls; a message steered in mid-turn follows them).
    pub fn messages(&self) -> Vec<Message> {
        let mut messages: Vec<Message> = Vec::new();
        for (role, block) in &self.entries {
            match messages.last_mut() {
                Some(last) if last.role == *role => last.content.push(block.clone()),
                _ => messages.push(Message {
                    role: *role,
                    content: vec![block.clone()],
                }),
            }
        }
        for message in &mut messages {
            if message.role == Role::User {
                message
                    .content
                    .sort_by_key(|b| !matches!(b, Block::ToolResult { .. }));
            }
        }
        // Providers require the user to speak first; a log that opens with the agent (a turn
        // resumed from a custom tool call) gets a neutral opener rather than losing a call.
        if messages.first().is_some_and(|m| m.role == Role::Assistant) {
            messages.insert(
                0,
                Message {
                    role: Role::User,
                    content: vec![Block::Text {
                        text: "(session start)".to_owned(),
                    }],
                },
            );
        }
        messages
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Client events (`user.*`, `system.message`) may be queued (no `processed_at`).
pub fn is_client(event: &StoredEvent) -> bool {
    event.type_name.starts_with("user.") || event.type_name == "system.message"
}

fn text_of(block: &ContentBlock) -> Option<String> {
    match block {
        ContentBlock::Text(t) => Some(t.text.clone()),
        _ => None,
    }
}

/// The model form of a wire content block; `redacted` blocks carry nothing to send.
fn model_block(block: &ContentBlock) -> Option<Block> {
    Some(match block {
        ContentBlock::Text(t) => Block::Text {
            text: t.text.clone(),
        },
        ContentBlock::Image(image) => match &image.source {
            ImageSource::Base64 { media_type, data } => Block::Image {
                source: MediaSource::Base64 {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
            },
            ImageSource::Url { url } => Block::Image {
                source: MediaSource::Url { url: url.clone() },
            },
            ImageSource::File { file_id } => Block::Text {
                text: format!("[image file {file_id}: files are not available on this server]"),
            },
        },
        ContentBlock::Document(doc) => {
            let source = match &doc.source {
                DocumentSource::Base64 { media_type, data } => MediaSource::Base64 {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
                DocumentSource::Text { data, .. } => MediaSource::Text { data: data.clone() },
                DocumentSource::Url { url } => MediaSource::Url { url: url.clone() },
                DocumentSource::File { file_id } => {
                    return Some(Block::Text {
                        text: format!(
                            "[document file {file_id}: files are not available on this server]"
                        ),
                    });
                }
            };
            Block::Document {
                source,
                title: doc.title.clone(),
            }
        }
        ContentBlock::SearchResult(result) => {
            let body: Vec<&str> = result
                .content
                .iter()
                .map(|SearchResultText::Text { text }| text.as_str())
                .collect();
            Block::Text {
                text: format!("{} ({})\n{}", result.title, result.source, body.join("\n")),
            }
        }
        ContentBlock::Redacted(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(seq: i64, id: &str, body: serde_json::Value) -> StoredEvent {
        StoredEvent {
            seq,
            id: id.into(),
            type_name: body["type"].as_str().unwrap_or_default().into(),
            processed_at: Some(hangar_protocol::time::Timestamp::from_micros(seq)),
            body: body.to_string(),
            private: None,
            effective_seq: None,
        }
    }

    #[test]
    fn tool_results_lead_the_user_message_and_pair_with_their_calls() {
        let events = [
            stored(
                1,
                "e1",
                json!({"type": "user.message", "content": [{"type": "text", "text": "list"}]}),
            ),
            stored(
                2,
                "e2",
                json!({"type": "agent.message", "content": [{"type": "text", "text": "ok"}]}),
            ),
            stored(
                3,
                "e3",
                json!({"type": "agent.tool_use", "name": "bash", "input": {"command": "ls"},
                "evaluated_permission": "allow", "evaluation": {"type": "always_allow"}}),
            ),
            // A message steered in mid-turn, processed after the result.
            stored(
                4,
                "e4",
                json!({"type": "agent.tool_result", "tool_use_id": "e3",
                "content": [{"type": "text", "text": "a.txt"}], "is_error": false}),
            ),
            stored(
                5,
                "e5",
                json!({"type": "user.message", "content": [{"type": "text", "text": "and more"}]}),
            ),
        ];
        let transcript = Transcript::from_events(&events);
        let messages = transcript.messages();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1].role, Role::Assistant);
        assert!(matches!(&messages[1].content[1], Block::ToolUse { id, .. } if id == "e3"));
        assert!(
            matches!(&messages[2].content[0], Block::ToolResult { tool_use_id, .. } if tool_use_id == "e3")
        );
        assert!(matches!(&messages[2].content[1], Block::Text { text } if text == "and more"));
        assert!(transcript.unanswered_tool_uses().is_empty());
    }

    #[test]
    fn a_rebuilt_conversation_puts_a_steered_message_where_it_was_processed() {
        let mut steered = stored(
            2,
            "e2",
            json!({"type": "user.message", "content": [{"type": "text", "text": "B"}]}),
        );
        // Appended during the model's answer (seq 2), processed after it (seq 3).
        steered.effective_seq = Some(3);
        let events = [
            stored(
                1,
                "e1",
                json!({"type": "user.message", "content": [{"type": "text", "text": "A"}]}),
            ),
            steered,
            stored(
                3,
                "e3",
                json!({"type": "agent.message", "content": [{"type": "text", "text": "reply"}]}),
            ),
        ];
        let messages = Transcript::from_events(&events).messages();
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
        assert_eq!(messages[2].content, vec![Block::Text { text: "B".into() }]);
    }

    #[test]
    fn system_messages_extend_the_system_prompt_and_empty_results_say_so() {
        let events = [
            stored(
                1,
                "e1",
                json!({"type": "system.message", "content": [{"type": "text", "text": "be brief"}]}),
            ),
            stored(
                2,
                "e2",
                json!({"type": "agent.custom_tool_use", "name": "f", "input": {}}),
            ),
            stored(
                3,
                "e3",
                json!({"type": "user.custom_tool_result", "custom_tool_use_id": "e2"}),
            ),
        ];
        let transcript = Transcript::from_events(&events);
        assert_eq!(
            transcript.system_prompt(Some("base")).as_deref(),
            Some("base\n\nbe brief")
        );
        let messages = transcript.messages();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(
            messages[0].role,
            Role::User,
            "the user opens the conversation"
        );
        assert!(
            matches!(&messages[2].content[0], Block::ToolResult { content, .. }
            if content == &vec![Block::Text { text: "(no output)".into() }])
        );
    }
}
