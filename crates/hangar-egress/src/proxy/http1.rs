//! The small part of HTTP/1.1 the proxy needs: reading a message head under a size cap,
//! parsing it (with `httparse`), deciding body framing, relaying a body verbatim (length,
//! chunked or until close) and writing heads back out without hop-by-hop headers. It knows
//! nothing about policy or destinations.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most header lines accepted in one message head.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (size, extensions, CRLF) or trailer line accepted.
pub const MAX_CHUNK_LINE_BYTES: usize = 4096;

/// Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1), plus the
/// non-standard `Proxy-Connection`. `Transfer-Encoding` and `Content-Length` are kept: the
/// proxy relays bodies with the framing they arrived in.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "upgrade",
    "proxy-connection",
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// The peer closed the connection before sending any byte of a new head.
    #[error("connection closed")]
    Closed,
    /// The head did not end within the size cap.
    #[error("message head larger than {0} bytes")]
    TooLarge(usize),
    /// The peer closed the connection in the middle of a head.
    #[error("connection closed in the middle of a message head")]
    Truncated,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads up to and including the blank line that ends a message head.
pub(crate) async fn read_head<R>(reader: &mut R, max_bytes: usize) -> Result<Vec<u8>, HeadError>
where
    R: AsyncBufRead + Unpin,
{
    let mut head = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Err(match head.is_empty() {
                true => HeadError::Closed,
                false => HeadError::Truncated,
            });
        }
        let scan_from = head.len().saturating_sub(3);
        head.extend_from_slice(available);
        let taken = available.len();
        if let Some(end) = find_head_end(&head[scan_from..]).map(|i| scan_from + i) {
            if end > max_bytes {
                return Err(HeadError::TooLarge(max_bytes));
            }
            let consumed = taken - (head.len() - end);
            reader.consume(consumed);
            head.truncate(end);
            return Ok(head);
        }
        reader.consume(taken);
        if head.len() > max_bytes {
            return Err(HeadError::TooLarge(max_bytes));
        }
    }
}

/// The index just past `\r\n\r\n` (or a bare `\n\n`, which clients rarely but legally send).
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub minor_version: u8,
    pub headers: Vec<Header>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<Header>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    #[error("malformed HTTP/1 message head")]
    Malformed,
}

impl From<httparse::Error> for ParseError {
    fn from(error: httparse::Error) -> Self {
        match error {
            httparse::Error::TooManyHeaders => ParseError::TooManyHeaders,
            _ => ParseError::Malformed,
        }
    }
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<Header> {
    headers
        .iter()
        .map(|h| Header {
            name: h.name.to_owned(),
            value: h.value.to_vec(),
        })
        .collect()
}

pub(crate) fn parse_request(head: &[u8]) -> Result<RequestHead, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head)? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(ParseError::Malformed),
    }
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(ParseError::Malformed);
    };
    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        minor_version: version,
        headers: owned_headers(request.headers),
    })
}

pub(crate) fn parse_response(head: &[u8]) -> Result<ResponseHead, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head)? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(ParseError::Malformed),
    }
    let Some(status) = response.code else {
        return Err(ParseError::Malformed);
    };
    Ok(ResponseHead {
        status,
        reason: response.reason.unwrap_or("").to_owned(),
        headers: owned_headers(response.headers),
    })
}

/// The values of every `name` header, as text (non-UTF-8 values are skipped).
pub(crate) fn header_values<'a>(
    headers: &'a [Header],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(&h.value).ok())
}

/// The comma-separated tokens of every `name` header, lowercased.
pub(crate) fn header_tokens(headers: &[Header], name: &str) -> Vec<String> {
    header_values(headers, name)
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    /// Only for responses: the body ends when the destination closes the connection.
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FramingError {
    #[error("both Transfer-Encoding and Content-Length are present")]
    Ambiguous,
    #[error("unsupported Transfer-Encoding (only chunked is accepted)")]
    UnsupportedTransferEncoding,
    #[error("invalid Content-Length")]
    InvalidLength,
}

/// Request framing (RFC 9112 §6.3). Both headers together are refused rather than resolved,
/// because disagreeing parsers are how request smuggling works.
pub(crate) fn request_framing(headers: &[Header]) -> Result<BodyFraming, FramingError> {
    match message_framing(headers)? {
        Some(framing) => Ok(framing),
        None => Ok(BodyFraming::Empty),
    }
}

/// Response framing: no body for HEAD, 1xx, 204 and 304; otherwise as the headers say, or
/// until the destination closes.
pub(crate) fn response_framing(
    request_method: &str,
    status: u16,
    headers: &[Header],
) -> Result<BodyFraming, FramingError> {
    if request_method.eq_ignore_ascii_case("HEAD") || status < 200 || status == 204 || status == 304
    {
        return Ok(BodyFraming::Empty);
    }
    Ok(message_framing(headers)?.unwrap_or(BodyFraming::UntilClose))
}

fn message_framing(headers: &[Header]) -> Result<Option<BodyFraming>, FramingError> {
    let encodings = header_tokens(headers, "transfer-encoding");
    let lengths: Vec<&str> = header_values(headers, "content-length")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !encodings.is_empty() {
        if !lengths.is_empty() {
            return Err(FramingError::Ambiguous);
        }
        return match encodings.last().map(String::as_str) {
            Some("chunked") => Ok(Some(BodyFraming::Chunked)),
            _ => Err(FramingError::UnsupportedTransferEncoding),
        };
    }
    let Some(first) = lengths.first() else {
        return Ok(None);
    };
    if lengths.iter().any(|l| l != first) || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FramingError::InvalidLength);
    }
    let length = first
        .parse::<u64>()
        .map_err(|_| FramingError::InvalidLength)?;
    Ok(Some(match length {
        0 => BodyFraming::Empty,
        n => BodyFraming::Length(n),
    }))
}

/// Copies one body from `reader` to `writer` exactly as framed; returns the bytes copied.
pub(crate) async fn relay_body<R, W>(
    reader: &mut R,
    writer: &mut W,
    framing: BodyFraming,
) -> io::Result<u64>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match framing {
        BodyFraming::Empty => Ok(0),
        BodyFraming::Length(length) => {
            let copied = tokio::io::copy_buf(&mut (&mut *reader).take(length), writer).await?;
            if copied < length {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok(copied)
        }
        BodyFraming::Chunked => relay_chunked(reader, writer).await,
        BodyFraming::UntilClose => tokio::io::copy_buf(reader, writer).await,
    }
}

/// Relays a chunked body verbatim (sizes, extensions, data and trailers), parsing just enough
/// to know where it ends.
async fn relay_chunked<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut total = 0u64;
    loop {
        let line = read_line(reader).await?;
        writer.write_all(&line).await?;
        total += line.len() as u64;
        let size = chunk_size(&line)?;
        if size == 0 {
            // Trailer section: header lines up to an empty line.
            loop {
                let trailer = read_line(reader).await?;
                writer.write_all(&trailer).await?;
                total += trailer.len() as u64;
                if trailer == b"\r\n" || trailer == b"\n" {
                    return Ok(total);
                }
            }
        }
        let copied = tokio::io::copy_buf(&mut (&mut *reader).take(size), writer).await?;
        if copied < size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let end = read_line(reader).await?;
        if end != b"\r\n" && end != b"\n" {
            return Err(invalid_data("chunk data not followed by CRLF"));
        }
        writer.write_all(&end).await?;
        total += copied + end.len() as u64;
    }
}

fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let text = std::str::from_utf8(line).map_err(|_| invalid_data("chunk size is not text"))?;
    let digits = text.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(digits, 16).map_err(|_| invalid_data("invalid chunk size"))
}

/// One line including its `\n`, capped at [`MAX_CHUNK_LINE_BYTES`].
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let limit = u64::try_from(MAX_CHUNK_LINE_BYTES).unwrap_or(u64::MAX);
    (&mut *reader)
        .take(limit)
        .read_until(b'\n', &mut line)
        .await?;
    if line.last() != Some(&b'\n') {
        return Err(match line.len() >= MAX_CHUNK_LINE_BYTES {
            true => invalid_data("chunk line too long"),
            false => io::ErrorKind::UnexpectedEof.into(),
        });
    }
    Ok(line)
}

fn invalid_data(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// Whether a header is dropped when forwarding: hop-by-hop, any `Proxy-*`, or named by the
/// message's own `Connection` header.
pub(crate) fn is_hop_by_hop(name: &str, connection_tokens: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    HOP_BY_HOP.contains(&lower.as_str())
        || lower.starts_with("proxy-")
        || connection_tokens.contains(&lower)
}

/// Appends `name: value\r\n`.
pub(crate) fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
