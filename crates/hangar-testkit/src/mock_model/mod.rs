//! A scripted model server speaking the real provider wire formats, so model adapters (and
//! everything above them) run their real HTTP code in tests. It never invents output: it
//! replays a script and records every request.
//!
//! Endpoints:
//! - `POST /v1/messages` — Anthropic Messages (SSE with `ping`s, or JSON when `stream` is off);
//! - `POST /v1/chat/completions` — OpenAI Chat Completions (SSE chunks + `[DONE]`, or JSON);
//! - `POST /v1/responses` — OpenAI Responses (SSE events, or JSON);
//! - `GET /_mock/requests` — every request so far: `[{method, path, headers, body}]`;
//! - `POST /_mock/steps` — queue more steps (one step, an array, or a script object).
//!
//! All model endpoints take the next step from one shared queue. When the queue is empty they
//! answer HTTP 500 with the endpoint's error envelope and the message "script exhausted".
//!
//! # Script format
//!
//! ```json
//! {"steps": [
//!   {"type": "response",
//!    "content": [
//!      {"type": "thinking", "thinking": "Let me look.", "signature": "sig-1"},
//!      {"type": "text", "text": "Listing files."},
//!      {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}}
//!    ],
//!    "stop_reason": "tool_use",
//!    "usage": {"input_tokens": 12, "output_tokens": 7,
//!              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4},
//!    "chunk_chars": 4, "delay_ms": 0, "event_delay_ms": 0},
//!   {"type": "error", "status": 429, "error_type": "rate_limit_error",
//!    "message": "slow down", "retry_after": "2"},
//!   {"type": "broken_stream", "after_events": 3,
//!    "error": {"type": "overloaded_error", "message": "Overloaded"},
//!    "response": {"content": [{"type": "text", "text": "never finished"}]}}
//! ]}
//! ```
//!
//! - `response`: `content` items are `text`, `thinking` (+ optional `signature`),
//!   `redacted_thinking {data}` and `tool_use {id?, name, input}`; ids are minted per format
//!   when absent. `stop_reason` uses Anthropic names and defaults to `tool_use` when there is
//!   a tool call, else `end_turn`; the OpenAI formats get the matching `finish_reason` /
//!   status. `usage.input_tokens` excludes cached tokens (the OpenAI formats report the sum
//!   and the cached part). Text, thinking and tool arguments stream in pieces of
//!   `chunk_chars` (default 6). `delay_ms` waits before the headers, `event_delay_ms`
//!   between events.
//! - `error`: HTTP `status` with the endpoint's envelope around `error_type` and `message`,
//!   or a raw `body` (JSON, or a string sent as text); optional `retry_after` (verbatim) and
//!   `retry_after_ms` headers; optional `delay_ms`.
//! - `broken_stream`: the first `after_events` SSE events of `response`, then the in-stream
//!   `error` event if given, then a dropped connection — or a normal end of the body with
//!   `"clean_close": true` (a truncated but well-framed stream).
//!
//! A file may also hold just the array of steps. From the command line:
//! `hangar-mock-model --listen 127.0.0.1:0 --script script.json` prints the bound address.

mod anthropic;
mod openai_chat;
mod openai_responses;
mod script;
mod server;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use script::{
    BrokenStreamStep, ContentItem, ErrorStep, ResponseStep, Script, Step, StreamError, Usage,
};
use server::MockState;
pub use server::RecordedRequest;

/// How long [`MockModel::stop`] waits for open streams before abandoning them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running mock model server. Dropping it stops the server.
pub struct MockModel {
    pub addr: SocketAddr,
    state: Arc<MockState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockModel {
    /// Starts on a free loopback port.
    pub async fn start(script: Script) -> anyhow::Result<MockModel> {
        MockModel::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), script).await
    }

    /// Starts on `addr` (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr, script: Script) -> anyhow::Result<MockModel> {
        let state = Arc::new(MockState::new(script));
        // TCP_NODELAY like the server: the scripted events leave as they are written.
        let listener = hangar_server::bind(addr).await?;
        let addr = axum::serve::Listener::local_addr(&listener)?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockModel {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Base URL for Anthropic clients: `http://ADDR` (they append `/v1/messages`).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL for OpenAI clients: `http://ADDR/v1`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues another step after the current ones.
    pub fn push(&self, step: Step) {
        self.state.push([step]);
    }

    /// Steps not yet used.
    pub fn remaining_steps(&self) -> usize {
        self.state.remaining()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Stops the server, waiting briefly for open streams.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(STOP_GRACE, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Nobody can await the server any more; a scripted slow stream must not outlive it.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
