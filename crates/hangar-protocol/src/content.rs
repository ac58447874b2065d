//! Content blocks carried by events (`user.message`, `agent.message`, tool results):
//! `text`, `image`, `document`, `search_result` and `redacted` (`cma-api.md` §4.2, §4.8).
//! The same shapes serve requests and responses; request parsing rejects unknown fields.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

literal_type!(
    /// `"text/plain"`
    TextPlain = "text/plain"
);

/// One content block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text(TextBlock),
    Image(ImageBlock),
    Document(DocumentBlock),
    SearchResult(SearchResultBlock),
    /// Content withheld by policy; no fields.
    Redacted(RedactedBlock),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text(TextBlock { text: text.into() })
    }

    /// The wire name of this block's type.
    pub const fn kind(&self) -> &'static str {
        match self {
            ContentBlock::Text(_) => "text",
            ContentBlock::Image(_) => "image",
            ContentBlock::Document(_) => "document",
            ContentBlock::SearchResult(_) => "search_result",
            ContentBlock::Redacted(_) => "redacted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBlock {
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactedBlock {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageBlock {
    pub source: ImageSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
    File { file_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBlock {
    pub source: DocumentSource,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DocumentSource {
    Base64 { media_type: String, data: String },
    Text { media_type: TextPlain, data: String },
    Url { url: String },
    File { file_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchResultBlock {
    pub source: String,
    pub title: String,
    pub content: Vec<SearchResultText>,
    pub citations: Citations,
}

/// `{type: "text", text}` inside a search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SearchResultText {
    Text { text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Citations {
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_round_trip_in_wire_form() {
        for value in [
            json!({"type": "text", "text": "hi"}),
            json!({"type": "redacted"}),
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}),
            json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                "title": "t", "context": null}),
            json!({"type": "search_result", "source": "https://a.b", "title": "t",
                "content": [{"type": "text", "text": "x"}], "citations": {"enabled": true}}),
        ] {
            let block: ContentBlock =
                serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}"));
            let back = serde_json::to_value(&block).expect("serialise");
            let mut expected = value.clone();
            if block.kind() == "document" {
                expected["context"] = json!(null);
            }
            assert_eq!(back, expected);
        }
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        for value in [
            json!({"type": "text", "text": "hi", "extra": 1}),
            json!({"type": "video"}),
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png"}}),
        ] {
            assert!(
                serde_json::from_value::<ContentBlock>(value.clone()).is_err(),
                "{value}"
            );
        }
    }
}
