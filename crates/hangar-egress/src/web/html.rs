//! HTML → readable text for `web_fetch`: a forgiving single-pass tag stripper. Drops
//! scripts, styles and comments, keeps link text, turns block elements into line breaks and
//! headings into `#` lines, keeps `<pre>` whitespace, decodes common entities and collapses
//! the rest of the whitespace. It never fails: malformed markup degrades to plain text.

/// Elements whose content is never text for a reader.
const SKIPPED_ELEMENTS: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object", "canvas",
];
/// Elements that start a new paragraph (blank line).
const PARAGRAPH_ELEMENTS: &[&str] = &[
    "p",
    "table",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "section",
    "article",
    "header",
    "footer",
    "hr",
    "figure",
];
/// Elements that start a new line.
const LINE_ELEMENTS: &[&str] = &[
    "br",
    "div",
    "tr",
    "dt",
    "dd",
    "nav",
    "aside",
    "main",
    "form",
    "figcaption",
    "summary",
    "details",
    "address",
    "caption",
];

/// The readable text of a page and its `<title>`, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageText {
    pub title: Option<String>,
    pub text: String,
}

pub fn html_to_text(html: &str) -> PageText {
    let mut out = TextBuilder::default();
    let mut title = None;
    let mut pos = 0;
    while pos < html.len() {
        let rest = &html[pos..];
        let Some(lt) = rest.find('<') else {
            out.text(&decode_entities(rest));
            break;
        };
        out.text(&decode_entities(&rest[..lt]));
        pos += lt;
        pos = match Tag::parse(&html[pos..]) {
            Markup::Comment(len) | Markup::Declaration(len) => pos + len,
            Markup::NotATag => {
                out.text("<");
                pos + 1
            }
            Markup::Tag(tag) => {
                let after = pos + tag.len;
                match (tag.closing, tag.name.as_str()) {
                    (false, name) if SKIPPED_ELEMENTS.contains(&name) => {
                        skip_element(html, after, name)
                    }
                    (false, "title") => {
                        let end = skip_element(html, after, "title");
                        let inner = &html[after..end.min(html.len())];
                        let inner = inner.rfind("</").map_or(inner, |i| &inner[..i]);
                        title = Some(collapse_whitespace(&decode_entities(inner)));
                        end
                    }
                    (closing, name) => {
                        out.element(name, closing);
                        after
                    }
                }
            }
        };
    }
    PageText {
        title: title.filter(|t| !t.is_empty()),
        text: out.finish(),
    }
}

enum Markup {
    /// `<!-- … -->`, with its length.
    Comment(usize),
    /// `<!DOCTYPE …>`, `<?xml …?>`, `<![CDATA[…]]>`: skipped whole.
    Declaration(usize),
    Tag(Tag),
    /// A `<` that starts no markup (`a < b`).
    NotATag,
}

struct Tag {
    name: String,
    closing: bool,
    /// Bytes from `<` through `>`.
    len: usize,
}

impl Tag {
    /// Parses the markup at the start of `s` (which starts with `<`).
    fn parse(s: &str) -> Markup {
        if let Some(body) = s.strip_prefix("<!--") {
            let len = body.find("-->").map_or(s.len(), |i| 4 + i + 3);
            return Markup::Comment(len);
        }
        if s.starts_with("<!") || s.starts_with("<?") {
            return Markup::Declaration(s.find('>').map_or(s.len(), |i| i + 1));
        }
        let (closing, name_start) = match s.as_bytes().get(1) {
            Some(b'/') => (true, 2),
            _ => (false, 1),
        };
        let name: String = s[name_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Markup::NotATag;
        }
        Markup::Tag(Tag {
            name,
            closing,
            len: tag_end(s),
        })
    }
}

/// The length of a tag through its `>`, ignoring `>` inside quoted attribute values.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return i + 1,
            _ => {}
        }
    }
    s.len()
}

/// The position after `</name …>` at or after `from`, or the end of the document.
fn skip_element(html: &str, from: usize, name: &str) -> usize {
    let needle = format!("</{name}");
    let haystack = &html.as_bytes()[from..];
    let found = haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    match found {
        Some(i) => {
            let close = from + i;
            close + tag_end(&html[close..])
        }
        None => html.len(),
    }
}

/// Accumulates text with collapsed whitespace and at most one blank line in a row.
#[derive(Default)]
struct TextBuilder {
    out: String,
    pre_depth: usize,
}

impl TextBuilder {
    fn text(&mut self, text: &str) {
        if self.pre_depth > 0 {
            self.out.push_str(text);
            return;
        }
        for c in text.chars() {
            if c.is_whitespace() {
                if !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
                    self.out.push(' ');
                }
            } else {
                self.out.push(c);
            }
        }
    }

    fn element(&mut self, name: &str, closing: bool) {
        if name == "pre" {
            self.pre_depth = match closing {
                true => self.pre_depth.saturating_sub(1),
                false => self.pre_depth + 1,
            };
        }
        if let Some(level) = heading_level(name) {
            self.breaks(2);
            if !closing {
                self.out.push_str(&"#".repeat(level));
                self.out.push(' ');
            }
        } else if name == "li" {
            self.breaks(1);
            if !closing {
                self.out.push_str("- ");
            }
        } else if PARAGRAPH_ELEMENTS.contains(&name) {
            self.breaks(2);
        } else if LINE_ELEMENTS.contains(&name) {
            self.breaks(1);
        } else if matches!(name, "td" | "th") && !closing {
            self.text(" ");
        }
    }

    /// Ends the current line and makes sure `count` line breaks separate it from what comes.
    fn breaks(&mut self, count: usize) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        if self.out.is_empty() {
            return;
        }
        let existing = self.out.len() - self.out.trim_end_matches('\n').len();
        for _ in existing..count {
            self.out.push('\n');
        }
    }

    fn finish(self) -> String {
        let lines: Vec<&str> = self.out.lines().map(str::trim_end).collect();
        let mut text = String::with_capacity(self.out.len());
        let mut blank_run = 0;
        for line in lines {
            blank_run = if line.is_empty() { blank_run + 1 } else { 0 };
            if blank_run < 2 {
                text.push_str(line);
                text.push('\n');
            }
        }
        text.trim().to_owned()
    }
}

fn heading_level(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'h', d @ b'1'..=b'6'] => Some(usize::from(d - b'0')),
        _ => None,
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes named (common ones) and numeric character references; unknown ones stay as
/// written.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest
            .get(1..rest.len().min(12))
            .and_then(|window| window.find(';'))
            .and_then(|semi| Some((entity_char(&rest[1..=semi])?, semi + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity_char(name: &str) -> Option<char> {
    if let Some(numeric) = name.strip_prefix('#') {
        let code = match numeric.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => numeric.parse::<u32>().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "times" => '×',
        "euro" => '€',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_decode_and_unknown_ones_survive() {
        assert_eq!(
            decode_entities("a &amp; b &lt;c&gt; &#65;&#x42; &bogus; & x"),
            "a & b <c> AB &bogus; & x"
        );
        assert_eq!(decode_entities("&#0; &#xZZ;"), "&#0; &#xZZ;");
    }

    #[test]
    fn scripts_styles_and_comments_vanish() {
        let page = html_to_text(
            "<html><head><title> My  Page </title><style>p{}</style></head><body>\
             <script>var x = '</p>';</script><!-- hidden --><p>Hello <b>world</b></p>\
             <SCRIPT type=x>alert(1)</SCRIPT>after</body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("My Page"));
        assert_eq!(page.text, "Hello world\n\nafter");
    }

    #[test]
    fn structure_becomes_lines() {
        let page = html_to_text(
            "<h1>Title</h1><p>One\n   two</p><ul><li>a</li><li><a href=\"/x\">link text</a></li></ul>\
             <pre>  keep\n    this</pre><div>x &lt; y</div>a < b",
        );
        assert_eq!(
            page.text,
            "# Title\n\nOne two\n\n- a\n- link text\n\n  keep\n    this\n\nx < y\na < b"
        );
    }

    #[test]
    fn quoted_angle_brackets_do_not_end_tags() {
        let page = html_to_text("<a title=\"a > b\" href='x'>text</a>");
        assert_eq!(page.text, "text");
    }
}
