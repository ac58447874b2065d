//! The in-process egress proxy. The sandbox backend accepts connections on the listener inside
//! a sandbox's network namespace and hands each stream to [`EgressProxy::serve_connection`]
//! with the session's policy. The proxy speaks the HTTP/1.1 proxy protocol (`CONNECT`
//! tunnels and absolute-URI forward requests), checks every request against the policy,
//! resolves names itself and connects only to the addresses it checked. It never binds
//! listeners or enters namespaces (the sandbox does that).
//!
//! Layout:
//! - `activity`: one idle timer per connection, fed by every stream of it;
//! - `http1`: head reading/parsing, body framing and relay;
//! - `tunnel`: `CONNECT`;
//! - `forward`: absolute-URI requests, one policy check per request on keep-alive connections.

mod activity;
mod forward;
mod http1;
mod tunnel;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use self::activity::{Activity, Tracked};
use self::http1::{HeadError, ParseError};
use crate::policy::EgressPolicy;
use crate::resolve::{CONNECT_TIMEOUT, EgressError, Resolver};

pub use self::http1::{MAX_CHUNK_LINE_BYTES, MAX_HEADERS};

/// A connection on which no byte moved for this long is closed (waiting for the next request
/// on a keep-alive connection included).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest request head (request line plus headers) accepted; larger → 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Largest response head accepted from a destination; larger → 502.
pub const MAX_RESPONSE_HEADER_BYTES: usize = 64 * 1024;
/// Connections one label (session) may have open through the proxy at once; more → 503.
pub const MAX_CONNECTIONS_PER_LABEL: usize = 64;

/// The proxy's limits. [`Default`] uses the named constants of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyLimits {
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections_per_label: usize,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        ProxyLimits {
            connect_timeout: CONNECT_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            max_header_bytes: MAX_HEADER_BYTES,
            max_connections_per_label: MAX_CONNECTIONS_PER_LABEL,
        }
    }
}

/// Counters of the proxy's decisions since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EgressStats {
    /// Tunnels and forward requests let through.
    pub allowed: u64,
    /// Refused by policy (403).
    pub denied: u64,
    /// Allowed but the destination could not be resolved or reached (502/504).
    pub failed: u64,
    /// Not a valid proxy request (400/431) or over the per-label limit (503).
    pub rejected: u64,
    pub bytes_to_destinations: u64,
    pub bytes_from_destinations: u64,
}

#[derive(Debug, Default)]
struct Counters {
    allowed: AtomicU64,
    denied: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// The outcome of one tunnel or forward request, for the log line and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Allowed,
    Denied,
    Failed,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Failed => "failed",
        }
    }
}

/// One log line's worth of facts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome<'a> {
    pub kind: &'static str,
    pub host: &'a str,
    pub port: u16,
    pub decision: Decision,
    pub reason: &'a str,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

impl Outcome<'_> {
    fn from_error<'a>(
        kind: &'static str,
        host: &'a str,
        port: u16,
        error: &EgressError,
    ) -> Outcome<'a> {
        Outcome {
            kind,
            host,
            port,
            decision: match error.is_denial() {
                true => Decision::Denied,
                false => Decision::Failed,
            },
            reason: error.code(),
            bytes_up: 0,
            bytes_down: 0,
        }
    }
}

/// The egress proxy shared by every sandbox of a server. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct EgressProxy {
    resolver: Resolver,
    limits: ProxyLimits,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    counters: Counters,
}

impl EgressProxy {
    pub fn new(resolver: Resolver) -> EgressProxy {
        EgressProxy::with_limits(resolver, ProxyLimits::default())
    }

    pub fn with_limits(resolver: Resolver, limits: ProxyLimits) -> EgressProxy {
        EgressProxy {
            resolver,
            limits,
            slots: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    pub fn limits(&self) -> ProxyLimits {
        self.limits
    }

    /// A snapshot of the decision counters.
    pub fn stats(&self) -> EgressStats {
        let c = &self.counters;
        EgressStats {
            allowed: c.allowed.load(Ordering::Relaxed),
            denied: c.denied.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            bytes_to_destinations: c.bytes_up.load(Ordering::Relaxed),
            bytes_from_destinations: c.bytes_down.load(Ordering::Relaxed),
        }
    }

    /// Serves one client connection until it closes, goes idle or is refused. `label` (the
    /// session id) appears in every log line and bounds concurrency per session.
    pub async fn serve_connection<S>(&self, stream: S, policy: Arc<EgressPolicy>, label: &str)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let Some(_slot) = self.admit(label) else {
            self.reject_over_limit(stream, label).await;
            return;
        };
        let activity = Activity::new();
        let client = BufReader::new(Tracked::new(stream, activity.clone()));
        let connection = Connection {
            proxy: self,
            policy: &policy,
            label,
            activity: activity.clone(),
        };
        tokio::select! {
            () = connection.run(client) => {}
            () = activity.idle_for(self.limits.idle_timeout) => {
                tracing::debug!(target: "egress", label, "closing idle egress connection");
            }
        }
    }

    async fn reject_over_limit<S>(&self, mut stream: S, label: &str)
    where
        S: AsyncWrite + Unpin,
    {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        let limit = self.limits.max_connections_per_label;
        tracing::warn!(target: "egress", label, limit, "too many concurrent egress connections");
        let body =
            format!("too many concurrent egress connections for this session (limit {limit})");
        let reply = plain_response(503, &body, true);
        let write = stream.write_all(&reply);
        // The client may be gone; a failed courtesy reply changes nothing.
        let _ = tokio::time::timeout(self.limits.connect_timeout, write).await;
    }

    /// Takes one of the label's connection slots, or `None` when all are in use.
    fn admit(&self, label: &str) -> Option<LabelSlot<'_>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let semaphore = slots
            .entry(label.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.max_connections_per_label)))
            .clone();
        let permit = semaphore.try_acquire_owned().ok()?;
        Some(LabelSlot {
            proxy: self,
            label: label.to_owned(),
            permit: Some(permit),
        })
    }

    pub(crate) fn record(&self, label: &str, outcome: Outcome<'_>) {
        let c = &self.counters;
        let counter = match outcome.decision {
            Decision::Allowed => &c.allowed,
            Decision::Denied => &c.denied,
            Decision::Failed => &c.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        c.bytes_up.fetch_add(outcome.bytes_up, Ordering::Relaxed);
        c.bytes_down
            .fetch_add(outcome.bytes_down, Ordering::Relaxed);
        tracing::info!(
            target: "egress",
            label,
            kind = outcome.kind,
            host = outcome.host,
            port = outcome.port,
            decision = outcome.decision.as_str(),
            reason = outcome.reason,
            bytes = outcome.bytes_up + outcome.bytes_down,
            bytes_up = outcome.bytes_up,
            bytes_down = outcome.bytes_down,
            "egress"
        );
    }

    fn record_rejected(&self, label: &str, reason: &str) {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: "egress", label, decision = "rejected", reason, "egress");
    }
}

/// One session's handle on the shared proxy: what a sandbox's egress hook calls for every
/// connection it accepts (`SessionEgress::serve(stream)`).
#[derive(Debug, Clone)]
pub struct SessionEgress {
    proxy: Arc<EgressProxy>,
    policy: Arc<EgressPolicy>,
    label: String,
}

impl SessionEgress {
    pub fn new(
        proxy: Arc<EgressProxy>,
        policy: Arc<EgressPolicy>,
        label: impl Into<String>,
    ) -> Self {
        SessionEgress {
            proxy,
            policy,
            label: label.into(),
        }
    }

    pub fn policy(&self) -> &Arc<EgressPolicy> {
        &self.policy
    }

    /// Serves one connection with this session's policy and label.
    pub async fn serve<S>(&self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        self.proxy
            .serve_connection(stream, self.policy.clone(), &self.label)
            .await;
    }
}

/// A held per-label connection slot; the label's entry is dropped with its last slot.
struct LabelSlot<'a> {
    proxy: &'a EgressProxy,
    label: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for LabelSlot<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut slots = self.proxy.slots.lock().unwrap_or_else(|p| p.into_inner());
        let unused = slots
            .get(&self.label)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1);
        if unused {
            slots.remove(&self.label);
        }
    }
}

/// The client side of one proxied connection, as the request handlers see it.
pub(crate) type Client<S> = BufReader<Tracked<S>>;

/// What happens after a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    KeepAlive,
    Close,
}

/// One client connection being served.
pub(crate) struct Connection<'a> {
    pub proxy: &'a EgressProxy,
    pub policy: &'a EgressPolicy,
    pub label: &'a str,
    pub activity: Activity,
}

impl Connection<'_> {
    /// Reads requests until the client closes or a request ends the connection.
    async fn run<S>(&self, mut client: Client<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        loop {
            let head = match http1::read_head(&mut client, self.proxy.limits.max_header_bytes).await
            {
                Ok(head) => head,
                Err(HeadError::Closed | HeadError::Io(_)) => return,
                Err(HeadError::TooLarge(max)) => {
                    let body = format!("request head larger than {max} bytes");
                    return self
                        .refuse(&mut client, 431, &body, "header_too_large")
                        .await;
                }
                Err(HeadError::Truncated) => {
                    return self
                        .refuse(&mut client, 400, "truncated request head", "malformed")
                        .await;
                }
            };
            let request = match http1::parse_request(&head) {
                Ok(request) => request,
                Err(ParseError::TooManyHeaders) => {
                    let body = format!("more than {MAX_HEADERS} header lines");
                    return self
                        .refuse(&mut client, 431, &body, "too_many_headers")
                        .await;
                }
                Err(ParseError::Malformed) => {
                    return self
                        .refuse(&mut client, 400, "malformed request", "malformed")
                        .await;
                }
            };
            if request.method.eq_ignore_ascii_case("CONNECT") {
                return self.tunnel(client, &request).await;
            }
            if self.forward(&mut client, &request).await == Next::Close {
                return;
            }
        }
    }

    /// Answers a request that is not a valid proxy request and closes the connection.
    pub(crate) async fn refuse<W>(&self, client: &mut W, status: u16, message: &str, reason: &str)
    where
        W: AsyncWrite + Unpin,
    {
        self.proxy.record_rejected(self.label, reason);
        // The connection closes either way; a client that is already gone needs no reply.
        let _ = client
            .write_all(&plain_response(status, message, true))
            .await;
        let _ = client.flush().await;
    }
}

/// A complete plain-text response from the proxy itself.
pub(crate) fn plain_response(status: u16, message: &str, close: bool) -> Vec<u8> {
    let body = format!("hangar egress proxy: {message}\n");
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).into_bytes();
    http1::push_header(&mut out, "Content-Type", b"text/plain; charset=utf-8");
    http1::push_header(
        &mut out,
        "Content-Length",
        body.len().to_string().as_bytes(),
    );
    if close {
        http1::push_header(&mut out, "Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// The status the proxy answers for an unreachable or refused destination.
pub(crate) fn error_status(error: &EgressError) -> u16 {
    match error {
        EgressError::Denied(_) => 403,
        EgressError::ResolveTimeout { .. } | EgressError::ConnectTimeout { .. } => 504,
        _ => 502,
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}
