//! Test fixtures: a proxy on a loopback listener (standing in for the sandbox's listener),
//! local origin servers, a raw HTTP/1 client, and policy/config builders.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use hangar_egress::proxy::ProxyLimits;
use hangar_egress::{EgressPolicy, EgressProxy, Resolver, SessionEgress};
use hangar_protocol::environment::{LimitedNetwork, Networking};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Names the tests use; all resolve to loopback through the override table.
pub const ORIGIN: &str = "origin.test";
pub const OTHER: &str = "other.test";
pub const INTERNAL: &str = "internal.test";

/// A `limited` networking setting with these allowed hosts.
pub fn limited(hosts: &[&str]) -> Networking {
    Networking::Limited(LimitedNetwork {
        allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        allow_mcp_servers: false,
        allow_package_managers: false,
    })
}

/// The resolver override table: every test name → 127.0.0.1 (port from the request).
pub fn test_resolver() -> Resolver {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Resolver::with_overrides(
        [ORIGIN, OTHER, INTERNAL, "a.wild.test", "wild.test"].map(|h| (h, vec![loopback])),
    )
}

/// A limited policy allowing `hosts`, where only `private_ok` may resolve to loopback.
pub fn policy(hosts: &[&str], private_ok: &[&str]) -> Arc<EgressPolicy> {
    Arc::new(
        EgressPolicy::for_networking(&limited(hosts))
            .allow_private_destinations_for(private_ok)
            .build(),
    )
}

/// A proxy served on a loopback listener; each accepted connection gets `policy`.
pub struct ProxyUnderTest {
    pub addr: SocketAddr,
    pub proxy: Arc<EgressProxy>,
    _tasks: JoinSet<()>,
}

pub async fn start_proxy(policy: Arc<EgressPolicy>) -> ProxyUnderTest {
    start_proxy_with(policy, ProxyLimits::default()).await
}

pub async fn start_proxy_with(policy: Arc<EgressPolicy>, limits: ProxyLimits) -> ProxyUnderTest {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = Arc::new(EgressProxy::with_limits(test_resolver(), limits));
    let mut tasks = JoinSet::new();
    // Stands in for the sandbox's egress hook: one `SessionEgress` per session.
    let session = SessionEgress::new(proxy.clone(), policy, "sesn_test");
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let session = session.clone();
            connections.spawn(async move { session.serve(stream).await });
        }
    });
    ProxyUnderTest {
        addr,
        proxy,
        _tasks: tasks,
    }
}

/// An axum app served on loopback for the duration of the test.
pub struct Served {
    pub port: u16,
    _task: JoinSet<()>,
}

pub async fn serve(app: Router) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut task = JoinSet::new();
    task.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served { port, _task: task }
}

/// An origin with `/hello`, `/headers` (echoes request headers), `/echo` (echoes the body)
/// and `/chunked` (a streamed, chunked response).
pub async fn start_origin() -> Served {
    let app = Router::new()
        .route("/hello", get(|| async { "hello from origin" }))
        .route(
            "/headers",
            get(|headers: axum::http::HeaderMap| async move {
                let mut lines: Vec<String> = headers
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("?")))
                    .collect();
                lines.sort();
                lines.join("\n")
            }),
        )
        .route(
            "/echo",
            post(|body: String| async move { format!("echo:{body}") }),
        );
    serve(app).await
}

/// A raw origin: for each connection, reads one request head (and a body of
/// `Content-Length` bytes), records head and body, and answers `response` verbatim, then
/// closes. Lets tests see exactly what the proxy sent and control the exact wire format.
pub struct RawOrigin {
    pub port: u16,
    pub requests: tokio::sync::mpsc::Receiver<String>,
    _task: JoinSet<()>,
}

pub async fn start_raw_origin(response: &'static [u8]) -> RawOrigin {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, requests) = tokio::sync::mpsc::channel(16);
    let mut task = JoinSet::new();
    task.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                request.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body).await;
            request.push_str(&String::from_utf8_lossy(&body));
            let _ = sender.send(request).await;
            let _ = reader.get_mut().write_all(response).await;
            let _ = reader.get_mut().shutdown().await;
        }
    });
    RawOrigin {
        port,
        requests,
        _task: task,
    }
}

/// A TCP server that answers every chunk it reads with `echo:` + the chunk, until EOF.
pub async fn start_echo_server() -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut task = JoinSet::new();
    task.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut reply = b"echo:".to_vec();
                    reply.extend_from_slice(&buf[..n]);
                    if stream.write_all(&reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Served { port, _task: task }
}

/// A parsed response as a client sees it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// A client connection to the proxy that reads responses framed by `Content-Length` or
/// chunked encoding (decoded), or until close.
pub struct Client {
    pub stream: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(proxy: &ProxyUnderTest) -> Client {
        Client {
            stream: BufReader::new(TcpStream::connect(proxy.addr).await.unwrap()),
        }
    }

    pub async fn send(&mut self, raw: &str) {
        self.stream
            .get_mut()
            .write_all(raw.as_bytes())
            .await
            .unwrap();
    }

    pub async fn request(&mut self, raw: &str) -> Response {
        self.send(raw).await;
        self.read_response().await
    }

    pub async fn read_response(&mut self) -> Response {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = self.stream.read_line(&mut line).await.unwrap();
            assert!(
                n > 0,
                "connection closed before a full response head: {head:?}"
            );
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head[9..12].parse().unwrap();
        let mut response = Response {
            status,
            head,
            body: String::new(),
        };
        let mut body = Vec::new();
        if status == 204 || status == 304 {
            // No body by definition.
        } else if let Some(length) = response.header("content-length") {
            body.resize(length.parse().unwrap(), 0);
            self.stream.read_exact(&mut body).await.unwrap();
        } else if response.header("transfer-encoding").as_deref() == Some("chunked") {
            body = self.read_chunked().await;
        } else if status != 200 || response.header("connection").as_deref() == Some("close") {
            self.stream.read_to_end(&mut body).await.unwrap();
        }
        response.body = String::from_utf8(body).unwrap();
        response
    }

    async fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.unwrap();
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap();
            if size == 0 {
                let mut trailer = String::new();
                while trailer != "\r\n" {
                    trailer.clear();
                    self.stream.read_line(&mut trailer).await.unwrap();
                }
                return body;
            }
            let mut chunk = vec![0u8; size + 2];
            self.stream.read_exact(&mut chunk).await.unwrap();
            body.extend_from_slice(&chunk[..size]);
        }
    }

    /// True when the proxy closed the connection (EOF on read).
    pub async fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.read(&mut buf).await, Ok(0) | Err(_))
    }
}

/// `GET http://host:port/path HTTP/1.1` with a Host header.
pub fn proxy_get(host: &str, port: u16, path: &str) -> String {
    format!("GET http://{host}:{port}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n")
}

/// A tool call with the given name, input and domain lists.
pub fn tool_call(
    name: &str,
    input: serde_json::Value,
    allowed: Option<&[&str]>,
    blocked: Option<&[&str]>,
    max_content_tokens: Option<u32>,
) -> hangar_core::tool_runtime::ToolCall {
    use hangar_protocol::agent::{BuiltinToolConfig, BuiltinToolName, PermissionPolicy};
    let tool = match name {
        "web_search" => BuiltinToolName::WebSearch,
        _ => BuiltinToolName::WebFetch,
    };
    let list = |l: Option<&[&str]>| l.map(|l| l.iter().map(|d| (*d).to_owned()).collect());
    hangar_core::tool_runtime::ToolCall {
        id: "sevt_test".to_owned(),
        name: name.to_owned(),
        input,
        config: BuiltinToolConfig {
            name: tool,
            enabled: true,
            permission_policy: PermissionPolicy::AlwaysAllow,
            url_sources: None,
            allowed_domains: list(allowed),
            blocked_domains: list(blocked),
            max_content_tokens,
            user_location: None,
        },
    }
}

/// The single text block of a tool output.
pub fn output_text(output: &hangar_core::tool_runtime::ToolOutput) -> String {
    match output.content.as_slice() {
        [hangar_core::model::Block::Text { text }] => text.clone(),
        other => panic!("expected one text block, got {other:?}"),
    }
}
