//! Absolute-URI forward requests (`GET http://host/path HTTP/1.1`). Each request on a
//! keep-alive client connection is checked on its own and gets its own destination connection
//! (sent with `Connection: close`), so a second request to another host can never ride on the
//! first one's approval. The request line is rewritten to origin-form, `Host` is set from the
//! URI, hop-by-hop and `Proxy-*` headers are dropped; bodies are relayed with their framing.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::activity::Tracked;
use super::http1::{
    self, BodyFraming, Header, RequestHead, ResponseHead, header_tokens, is_hop_by_hop, push_header,
};
use super::{
    Client, Connection, Decision, MAX_RESPONSE_HEADER_BYTES, Next, Outcome, error_status,
    plain_response,
};
use crate::host::Destination;
use crate::resolve::{connect_first, resolve_checked};

/// The port of `http://` URIs without one.
const DEFAULT_HTTP_PORT: u16 = 80;

/// A parsed absolute-form target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwardTarget {
    pub destination: Destination,
    /// The authority exactly as checked, for the `Host` header.
    pub authority: String,
    /// Path and query, never empty (`/` at least); fragments dropped.
    pub origin_form: String,
}

impl ForwardTarget {
    /// Parses `http://authority[/path][?query]`. Origin-form targets (`/path`) mean the client
    /// is not using us as a proxy; `https://` targets must use `CONNECT` instead.
    pub(crate) fn parse(target: &str) -> Result<ForwardTarget, String> {
        if target.starts_with('/') {
            return Err(
                "origin-form request: this is an HTTP proxy, send absolute URIs \
                        (http://host/path) or use CONNECT"
                    .to_owned(),
            );
        }
        let scheme_end = target
            .find("://")
            .ok_or("request target is not an absolute URI")?;
        let (scheme, rest) = (&target[..scheme_end], &target[scheme_end + 3..]);
        if scheme.eq_ignore_ascii_case("https") {
            return Err("https:// URIs must be tunnelled with CONNECT".to_owned());
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(format!(
                "unsupported scheme `{scheme}` (only http forwarding)"
            ));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let destination = Destination::parse_authority(authority, DEFAULT_HTTP_PORT)
            .map_err(|error| error.to_string())?;
        let tail = tail.split('#').next().unwrap_or("");
        let origin_form = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        Ok(ForwardTarget {
            destination,
            authority: authority.to_owned(),
            origin_form,
        })
    }
}

impl Connection<'_> {
    /// Handles one forward request; says whether the client connection may carry another.
    pub(crate) async fn forward<S>(&self, client: &mut Client<S>, request: &RequestHead) -> Next
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let target = match ForwardTarget::parse(&request.target) {
            Ok(target) => target,
            Err(message) => {
                self.refuse(client, 400, &message, "malformed").await;
                return Next::Close;
            }
        };
        let framing = match http1::request_framing(&request.headers) {
            Ok(framing) => framing,
            Err(error) => {
                self.refuse(client, 400, &error.to_string(), "malformed")
                    .await;
                return Next::Close;
            }
        };
        // A refused request with a body would leave the body in the stream; close instead
        // of reading it.
        let keep_alive = client_keeps_alive(request) && framing == BodyFraming::Empty;
        let destination = &target.destination;
        let host = destination.host.to_string();
        let opened = async {
            let addrs = resolve_checked(self.policy, &self.proxy.resolver, destination).await?;
            connect_first(destination, &addrs, self.proxy.limits.connect_timeout).await
        };
        let upstream = match opened.await {
            Ok((stream, _)) => stream,
            Err(error) => {
                let outcome = Outcome::from_error("forward", &host, destination.port, &error);
                self.proxy.record(self.label, outcome);
                let message = format!("{} {} refused: {error}", request.method, request.target);
                let reply = plain_response(error_status(&error), &message, !keep_alive);
                let sent = client.write_all(&reply).await.is_ok() && client.flush().await.is_ok();
                return if sent && keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                };
            }
        };
        let mut upstream = BufReader::new(Tracked::new(upstream, self.activity.clone()));
        let exchanged = self
            .exchange(client, &mut upstream, request, &target, framing)
            .await;
        let (next, bytes_up, bytes_down, reason) = match exchanged {
            Ok(done) => (done.next, done.bytes_up, done.bytes_down, "allowed"),
            Err(error) => {
                tracing::debug!(target: "egress", label = self.label, %error, "forward failed midway");
                (Next::Close, 0, 0, "allowed_then_broken")
            }
        };
        let outcome = Outcome {
            kind: "forward",
            host: &host,
            port: destination.port,
            decision: Decision::Allowed,
            reason,
            bytes_up,
            bytes_down,
        };
        self.proxy.record(self.label, outcome);
        next
    }

    /// Sends the rewritten request and its body, then relays the response.
    async fn exchange<S, U>(
        &self,
        client: &mut Client<S>,
        upstream: &mut BufReader<U>,
        request: &RequestHead,
        target: &ForwardTarget,
        framing: BodyFraming,
    ) -> Result<Exchanged, ExchangeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
        U: AsyncRead + AsyncWrite + Unpin + Send,
    {
        upstream
            .write_all(&rewrite_request(request, target))
            .await?;
        if expects_continue(&request.headers) {
            // `Expect` is not forwarded; answer it here so the client sends its body.
            client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            client.flush().await?;
        }
        let bytes_up = http1::relay_body(client, upstream, framing).await?;
        upstream.flush().await?;
        let response = loop {
            let head = match http1::read_head(upstream, MAX_RESPONSE_HEADER_BYTES).await {
                Ok(head) => head,
                Err(error) => return Err(self.bad_gateway(client, &error.to_string()).await),
            };
            let Ok(response) = http1::parse_response(&head) else {
                return Err(self.bad_gateway(client, "malformed response head").await);
            };
            if (100..200).contains(&response.status) && response.status != 101 {
                // Interim responses (103 Early Hints) pass through; the final one follows.
                client
                    .write_all(&rewrite_response(&response, false))
                    .await?;
                continue;
            }
            break response;
        };
        let response_framing =
            match http1::response_framing(&request.method, response.status, &response.headers) {
                Ok(framing) => framing,
                Err(error) => return Err(self.bad_gateway(client, &error.to_string()).await),
            };
        let keep_alive = client_keeps_alive(request)
            && response.status != 101
            && response_framing != BodyFraming::UntilClose;
        client
            .write_all(&rewrite_response(&response, !keep_alive))
            .await?;
        let bytes_down = http1::relay_body(upstream, client, response_framing).await?;
        client.flush().await?;
        Ok(Exchanged {
            next: if keep_alive {
                Next::KeepAlive
            } else {
                Next::Close
            },
            bytes_up,
            bytes_down,
        })
    }

    /// Answers 502 (before any response byte went to the client) and returns the error.
    async fn bad_gateway<W: AsyncWrite + Unpin>(&self, client: &mut W, why: &str) -> ExchangeError {
        let message = format!("bad response from destination: {why}");
        let _ = client.write_all(&plain_response(502, &message, true)).await;
        let _ = client.flush().await;
        ExchangeError::BadGateway(message)
    }
}

struct Exchanged {
    next: Next,
    bytes_up: u64,
    bytes_down: u64,
}

#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    BadGateway(String),
}

fn client_keeps_alive(request: &RequestHead) -> bool {
    request.minor_version == 1
        && !header_tokens(&request.headers, "connection").contains(&"close".to_owned())
}

fn expects_continue(headers: &[Header]) -> bool {
    header_tokens(headers, "expect").contains(&"100-continue".to_owned())
}

/// The request as the destination sees it: origin-form, `Host` from the URI, end-to-end
/// headers only, `Connection: close`.
pub(crate) fn rewrite_request(request: &RequestHead, target: &ForwardTarget) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method, target.origin_form).into_bytes();
    push_header(&mut out, "Host", target.authority.as_bytes());
    let connection_tokens = header_tokens(&request.headers, "connection");
    for header in &request.headers {
        let name = header.name.as_str();
        let dropped = is_hop_by_hop(name, &connection_tokens)
            || name.eq_ignore_ascii_case("host")
            || name.eq_ignore_ascii_case("expect");
        if !dropped {
            push_header(&mut out, name, &header.value);
        }
    }
    push_header(&mut out, "Connection", b"close");
    out.extend_from_slice(b"\r\n");
    out
}

/// The response head as the client sees it: end-to-end headers, plus `Connection: close`
/// when the proxy will close the client connection after this response.
pub(crate) fn rewrite_response(response: &ResponseHead, close: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason).into_bytes();
    let connection_tokens = header_tokens(&response.headers, "connection");
    for header in &response.headers {
        if !is_hop_by_hop(&header.name, &connection_tokens) {
            push_header(&mut out, &header.name, &header.value);
        }
    }
    if close {
        push_header(&mut out, "Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;

    fn head(raw: &str) -> RequestHead {
        http1::parse_request(raw.as_bytes()).unwrap()
    }

    #[test]
    fn absolute_targets_become_origin_form() {
        let t = ForwardTarget::parse("http://Example.com:8080/a/b?c=d#frag").unwrap();
        assert_eq!(t.destination.host, Host::Name("example.com".into()));
        assert_eq!(t.destination.port, 8080);
        assert_eq!(t.authority, "Example.com:8080");
        assert_eq!(t.origin_form, "/a/b?c=d");
        assert_eq!(
            ForwardTarget::parse("http://x.org").unwrap().origin_form,
            "/"
        );
        assert_eq!(
            ForwardTarget::parse("HTTP://x.org?q").unwrap().origin_form,
            "/?q"
        );
    }

    #[test]
    fn non_proxy_targets_are_refused() {
        for bad in [
            "/index.html",
            "https://x.org/",
            "ftp://x.org/",
            "x.org:80",
            "http://u@x.org/",
        ] {
            assert!(ForwardTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rewritten_request_drops_hop_by_hop_and_proxy_headers() {
        let request = head(
            "GET http://a.test/p HTTP/1.1\r\nHost: evil.test\r\nProxy-Authorization: x\r\n\
             Proxy-Connection: keep-alive\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n\
             Accept: */*\r\nTE: trailers\r\n\r\n",
        );
        let target = ForwardTarget::parse(&request.target).unwrap();
        let text = String::from_utf8(rewrite_request(&request, &target)).unwrap();
        assert_eq!(
            text,
            "GET /p HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }
}
