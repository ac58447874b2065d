//! Conversions both OpenAI wire formats share: how blocks without a native OpenAI form become
//! text (tool results, documents, images in tool output) and how media become URLs.

use hangar_core::model::{Block, MediaSource};

/// An image or file as the URL OpenAI accepts: the URL itself, or a `data:` URL.
pub(crate) fn media_url(source: &MediaSource, text_media_type: &str) -> String {
    match source {
        MediaSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        MediaSource::Url { url } => url.clone(),
        MediaSource::Text { data } => format!("data:{text_media_type},{data}"),
    }
}

/// A document as text for endpoints without file input: plain-text documents are inlined,
/// others are described so the model knows something was there.
pub(crate) fn document_text(source: &MediaSource, title: Option<&str>) -> String {
    let title = title.unwrap_or("untitled");
    match source {
        MediaSource::Text { data } => format!("Document \"{title}\":\n{data}"),
        MediaSource::Base64 { media_type, .. } => {
            format!(
                "[document \"{title}\" ({media_type}) omitted: this endpoint accepts text only]"
            )
        }
        MediaSource::Url { url } => format!("[document \"{title}\" at {url}]"),
    }
}

/// A tool result's content as the single text OpenAI tool outputs carry. Images cannot go
/// there, so they become a short note; an error result says so first, since OpenAI has no
/// `is_error` flag.
pub(crate) fn tool_result_text(content: &[Block], is_error: bool) -> String {
    let parts: Vec<String> = content
        .iter()
        .filter_map(|block| match block {
            Block::Text { text } => Some(text.clone()),
            Block::Image { source } => Some(image_note(source)),
            Block::Document { source, title } => Some(document_text(source, title.as_deref())),
            _ => None,
        })
        .collect();
    let text = parts.join("\n");
    if is_error {
        format!("Error: {text}")
    } else {
        text
    }
}

fn image_note(source: &MediaSource) -> String {
    match source {
        MediaSource::Base64 { media_type, .. } => {
            format!("[image ({media_type}) omitted: tool output can only be text here]")
        }
        MediaSource::Url { url } => format!("[image at {url}]"),
        MediaSource::Text { .. } => "[image omitted]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn tool_results_become_text_with_image_notes() {
        let content = vec![
            Block::Text {
                text: "no such file".into(),
            },
            Block::Image {
                source: MediaSource::Base64 {
                    media_type: "image/png".into(),
                    data: "AAAA".into(),
                },
            },
        ];
        assert_eq!(
            tool_result_text(&content, true),
            "Error: no such file\n[image (image/png) omitted: tool output can only be text here]"
        );
    }

    #[test]
    fn media_becomes_data_urls() {
        let png = MediaSource::Base64 {
            media_type: "image/png".into(),
            data: "AAAA".into(),
        };
        assert_eq!(media_url(&png, "text/plain"), "data:image/png;base64,AAAA");
    }
}
