//! A small incremental parser for `text/event-stream` bodies, shared by every adapter. It owns
//! framing only (lines, fields, blank-line dispatch); what an event means is each adapter's
//! business. It never re-sends anything, unlike generic EventSource clients.

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the server sent one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Feeds on raw body chunks (which may split lines, CRLF pairs or UTF-8 sequences anywhere)
/// and yields complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`; a `\n` that starts the next one belongs to it.
    skip_next_lf: bool,
    seen_first_line: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes `bytes` and returns the events completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.skip_next_lf {
                self.skip_next_lf = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.end_line(&mut events);
                    self.skip_next_lf = true;
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    /// The body ended. Unlike the browser algorithm, a last event without its closing blank
    /// line is still dispatched: some OpenAI-compatible servers end with a bare
    /// `data: [DONE]`. A truncated JSON payload then fails to parse, so nothing broken passes.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.dispatch(&mut events);
        events.pop()
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&raw).into_owned();
        if !self.seen_first_line {
            self.seen_first_line = true;
            if let Some(stripped) = line.strip_prefix('\u{feff}') {
                line = stripped.to_owned();
            }
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {} // `id`, `retry` and unknown fields mean nothing to a one-shot model stream
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            events.push(SseEvent { event, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn event(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: name.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(parser.push(chunk));
        }
        events.extend(parser.finish());
        events
    }

    #[test]
    fn parses_named_events_and_data() {
        let events = parse_all(&[b"event: ping\ndata: {\"type\":\"ping\"}\n\ndata: x\n\n"]);
        assert_eq!(
            events,
            vec![event(Some("ping"), "{\"type\":\"ping\"}"), event(None, "x")]
        );
    }

    #[test]
    fn reassembles_lines_split_across_chunks_at_every_byte() {
        let body = b"event: message_start\r\ndata: {\"a\":\r\n\r\n: keep-alive\n\ndata: two\rdata: lines\r\r";
        let whole = parse_all(&[body]);
        assert_eq!(
            whole,
            vec![
                event(Some("message_start"), "{\"a\":"),
                event(None, "two\nlines")
            ]
        );
        for split in 0..body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(parse_all(&[a, b]), whole, "split at {split}");
        }
    }

    #[test]
    fn keeps_multibyte_characters_split_across_chunks() {
        let body = "data: héllo ✓\n\n".as_bytes();
        for split in 0..body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(parse_all(&[a, b]), vec![event(None, "héllo ✓")]);
        }
    }

    #[test]
    fn ignores_comments_ids_and_empty_events() {
        let events = parse_all(&[b": comment\nid: 7\nretry: 10\n\nevent: lonely\n\ndata:\n\n"]);
        assert_eq!(events, vec![event(None, "")]);
    }

    #[test]
    fn value_without_space_and_field_without_colon() {
        let events = parse_all(&[b"data:tight\ndata\n\n"]);
        assert_eq!(events, vec![event(None, "tight\n")]);
    }

    #[test]
    fn dispatches_an_unterminated_last_event_at_end_of_body() {
        assert_eq!(parse_all(&[b"data: [DONE]"]), vec![event(None, "[DONE]")]);
        assert_eq!(parse_all(&[b"data: a\n"]), vec![event(None, "a")]);
    }

    #[test]
    fn strips_a_leading_byte_order_mark() {
        let events = parse_all(&["\u{feff}data: x\n\n".as_bytes()]);
        assert_eq!(events, vec![event(None, "x")]);
    }
}
