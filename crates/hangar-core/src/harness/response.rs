//! Assembly of one streamed model response into the items the log will hold, in the order the
//! model produced them: reasoning (`agent.thinking`), runs of text (`agent.message`) and tool
//! calls. Event ids are minted when an item opens, so previews (`event_start` /
//! `event_delta`) name the id the final event will carry.

use hangar_protocol::content::ContentBlock;
use hangar_protocol::event::{ContentDelta, Preview, PreviewTarget};
use hangar_protocol::ids::IdKind;

use crate::model::{ModelUsage, StopReason};

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Thinking {
        id: String,
        text: String,
        signature: Option<String>,
        redacted: Option<String>,
    },
    Message {
        id: String,
        /// Index in the model's numbering of text blocks of the first block here.
        first_index: usize,
        blocks: Vec<String>,
    },
    ToolCall {
        id: String,
        name: String,
        input: serde_json::Value,
    },
}

/// A complete response.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelResponse {
    pub items: Vec<Item>,
    pub stop_reason: StopReason,
    pub usage: ModelUsage,
}

#[derive(Debug, Default)]
pub struct ResponseBuilder {
    items: Vec<Item>,
    /// The id announced by `ThinkingStarted`, used by the next thinking block.
    open_thinking: Option<String>,
}

impl ResponseBuilder {
    /// A thinking block began: its id, and the preview to send.
    pub fn thinking_started(&mut self) -> Preview {
        let id = IdKind::Event.mint();
        self.open_thinking = Some(id.clone());
        Preview::Start {
            event: PreviewTarget {
                r#type: "agent.thinking",
                id,
            },
        }
    }

    pub fn thinking(&mut self, text: String, signature: Option<String>, redacted: Option<String>) {
        let id = self
            .open_thinking
            .take()
            .unwrap_or_else(|| IdKind::Event.mint());
        self.items.push(Item::Thinking {
            id,
            text,
            signature,
            redacted,
        });
    }

    /// Appends text to the model's text block `index`; returns the previews to send (an
    /// `event_start` when a new message opens, then the delta).
    pub fn text(&mut self, index: usize, text: &str) -> Vec<Preview> {
        let mut previews = Vec::new();
        let continues = matches!(self.items.last(), Some(Item::Message { first_index, .. })
            if index >= *first_index);
        if !continues {
            let id = IdKind::Event.mint();
            previews.push(Preview::Start {
                event: PreviewTarget {
                    r#type: "agent.message",
                    id: id.clone(),
                },
            });
            self.items.push(Item::Message {
                id,
                first_index: index,
                blocks: Vec::new(),
            });
        }
        if let Some(Item::Message {
            id,
            first_index,
            blocks,
        }) = self.items.last_mut()
        {
            let local = index - *first_index;
            while blocks.len() <= local {
                blocks.push(String::new());
            }
            blocks[local].push_str(text);
            previews.push(Preview::Delta {
                event_id: id.clone(),
                delta: ContentDelta {
                    r#type: "content_delta",
                    index: local,
                    content: ContentBlock::text(text),
                },
            });
        }
        previews
    }

    pub fn tool_call(&mut self, name: String, input: serde_json::Value) {
        self.items.push(Item::ToolCall {
            id: IdKind::Event.mint(),
            name,
            input,
        });
    }

    pub fn finish(self, stop_reason: StopReason, usage: ModelUsage) -> ModelResponse {
        ModelResponse {
            items: self.items,
            stop_reason,
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_after_a_tool_call_opens_a_new_message() {
        let mut builder = ResponseBuilder::default();
        let first = builder.text(0, "Hel");
        assert_eq!(first.len(), 2, "start + delta");
        assert_eq!(builder.text(0, "lo").len(), 1);
        builder.tool_call("bash".into(), serde_json::json!({"command": "ls"}));
        let later = builder.text(1, "done");
        assert!(matches!(&later[0], Preview::Start { .. }));
        let response = builder.finish(StopReason::EndTurn, ModelUsage::default());
        assert_eq!(response.items.len(), 3);
        assert!(matches!(&response.items[0], Item::Message { blocks, .. } if blocks == &["Hello"]));
        assert!(
            matches!(&response.items[2], Item::Message { blocks, first_index: 1, .. }
            if blocks == &["done"])
        );
    }

    #[test]
    fn thinking_keeps_the_id_its_preview_announced() {
        let mut builder = ResponseBuilder::default();
        let Preview::Start { event } = builder.thinking_started() else {
            panic!("not a start")
        };
        builder.thinking("hmm".into(), Some("sig".into()), None);
        let response = builder.finish(StopReason::EndTurn, ModelUsage::default());
        assert!(matches!(&response.items[0], Item::Thinking { id, .. } if *id == event.id));
    }
}
