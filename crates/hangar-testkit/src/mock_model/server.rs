//! The mock server's HTTP side: the axum router, request recording, the step queue, and a
//! response body that replays frames with scripted delays and can drop the connection
//! mid-stream. Wire formats are delegated to [`WireFormat`] implementations.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body::Frame;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Sleep;

use super::anthropic::Anthropic;
use super::openai_chat::OpenAiChat;
use super::openai_responses::OpenAiResponses;
use super::script::{BrokenStreamStep, ErrorStep, ResponseStep, Script, Step};
use super::wire::{RenderContext, WireFormat};

/// Request bodies larger than this are refused (a test never needs more).
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// One request as the mock received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body (`null` when it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Shared by the handlers and the in-process handle.
#[derive(Debug, Default)]
pub(crate) struct MockState {
    steps: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<RecordedRequest>>,
    responses: AtomicU64,
}

impl MockState {
    pub fn new(script: Script) -> MockState {
        MockState {
            steps: Mutex::new(script.steps.into()),
            ..MockState::default()
        }
    }

    pub fn push(&self, steps: impl IntoIterator<Item = Step>) {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(steps);
    }

    pub fn remaining(&self) -> usize {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, request: RecordedRequest) -> usize {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        requests.push(request);
        requests.len()
    }

    fn next_step(&self) -> Option<Step> {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// The mock's routes; built without a socket so tests could drive it directly.
pub(crate) fn app(state: Arc<MockState>) -> Router {
    type Shared = State<Arc<MockState>>;
    Router::new()
        .route(
            "/v1/messages",
            post(|State(state): Shared, request: Request| serve(&Anthropic, state, request)),
        )
        .route(
            "/v1/chat/completions",
            post(|State(state): Shared, request: Request| serve(&OpenAiChat, state, request)),
        )
        .route(
            "/v1/responses",
            post(|State(state): Shared, request: Request| serve(&OpenAiResponses, state, request)),
        )
        .route("/_mock/requests", get(list_requests))
        .route("/_mock/steps", post(push_steps))
        .with_state(state)
}

async fn list_requests(State(state): State<Arc<MockState>>) -> Json<Vec<RecordedRequest>> {
    Json(state.requests())
}

/// Accepts one step, an array of steps, or a script object.
async fn push_steps(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let steps = match serde_json::from_str::<Step>(&text) {
        Ok(step) => vec![step],
        Err(_) => match Script::from_json(&text) {
            Ok(script) => script.steps,
            Err(error) => {
                let message = format!("not a step, a list of steps or a script: {error}");
                return (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response();
            }
        },
    };
    let added = steps.len();
    state.push(steps);
    Json(json!({"added": added, "queued": state.remaining()})).into_response()
}

async fn serve(
    format: &'static dyn WireFormat,
    state: Arc<MockState>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let path = parts.uri.path().to_owned();
    let number = state.record(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    let Some(step) = state.next_step() else {
        let message = format!(
            "script exhausted: the mock model has no step left for request #{number} (POST {path})"
        );
        let body = format.error_body("api_error", &message);
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    };
    let ctx = RenderContext {
        model: body["model"].as_str().unwrap_or("mock-model").to_owned(),
        sequence: state.responses.fetch_add(1, Ordering::Relaxed) + 1,
        include_usage: body["stream_options"]["include_usage"] == Value::Bool(true),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    };
    let streaming = body["stream"] == Value::Bool(true);
    match step {
        Step::Error(error) => error_response(format, error).await,
        Step::Response(response) => respond(format, &response, &ctx, streaming).await,
        Step::BrokenStream(broken) => respond_broken(format, broken, &ctx, streaming).await,
    }
}

async fn error_response(format: &dyn WireFormat, error: ErrorStep) -> Response {
    sleep_ms(error.delay_ms).await;
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match error.body {
        Some(Value::String(text)) => (status, text).into_response(),
        Some(body) => (status, Json(body)).into_response(),
        None => (
            status,
            Json(format.error_body(&error.error_type, &error.message)),
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    let retry_after = error
        .retry_after
        .and_then(|v| HeaderValue::from_str(&v).ok());
    if let Some(value) = retry_after {
        headers.insert("retry-after", value);
    }
    if let Some(millis) = error.retry_after_ms {
        headers.insert("retry-after-ms", HeaderValue::from(millis));
    }
    response
}

async fn respond(
    format: &dyn WireFormat,
    response: &ResponseStep,
    ctx: &RenderContext,
    streaming: bool,
) -> Response {
    sleep_ms(response.delay_ms).await;
    if streaming {
        let frames = format.stream_frames(response, ctx);
        scripted(
            frames,
            response.event_delay_ms,
            BodyEnd::Close,
            "text/event-stream",
        )
    } else {
        Json(format.json_response(response, ctx)).into_response()
    }
}

/// The first `after_events` frames, then the error event if any, then a dropped connection
/// or a normal end. A non-streaming request gets the first half of its JSON body, then the
/// drop.
async fn respond_broken(
    format: &dyn WireFormat,
    broken: BrokenStreamStep,
    ctx: &RenderContext,
    streaming: bool,
) -> Response {
    let response = &broken.response;
    sleep_ms(response.delay_ms).await;
    if !streaming {
        let json = format.json_response(response, ctx).to_string();
        let half = Bytes::from(json.as_bytes()[..json.len() / 2].to_vec());
        return scripted(vec![half], 0, BodyEnd::Drop, "application/json");
    }
    let mut frames = format.stream_frames(response, ctx);
    frames.truncate(broken.after_events);
    if let Some(error) = &broken.error {
        frames.push(format.stream_error_frame(&error.error_type, &error.message));
    }
    let end = if broken.clean_close {
        BodyEnd::Close
    } else {
        BodyEnd::Drop
    };
    scripted(frames, response.event_delay_ms, end, "text/event-stream")
}

async fn sleep_ms(millis: u64) {
    if millis > 0 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

fn scripted(
    frames: Vec<Bytes>,
    delay_ms: u64,
    end: BodyEnd,
    content_type: &'static str,
) -> Response {
    let body = ScriptedBody {
        frames: frames.into(),
        delay: Duration::from_millis(delay_ms),
        sleep: None,
        end,
        flushed: false,
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::new(body),
    )
        .into_response()
}

#[derive(Debug, Clone, Copy)]
enum BodyEnd {
    /// The body ends normally.
    Close,
    /// The body fails, which makes the server abort the connection mid-response.
    Drop,
}

/// How long a body about to drop its connection pauses first, so the server flushes the
/// frames before it (otherwise the client may never see the response start).
const FLUSH_BEFORE_DROP: Duration = Duration::from_millis(50);

/// Yields frames one by one, waiting `delay` between them.
struct ScriptedBody {
    frames: VecDeque<Bytes>,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    end: BodyEnd,
    /// The pause before a drop has been taken.
    flushed: bool,
}

impl HttpBody for ScriptedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = this.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if let Some(frame) = this.frames.pop_front() {
                if !this.delay.is_zero() && !this.frames.is_empty() {
                    this.sleep = Some(Box::pin(tokio::time::sleep(this.delay)));
                }
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            match this.end {
                BodyEnd::Close => return Poll::Ready(None),
                BodyEnd::Drop if !this.flushed => {
                    this.flushed = true;
                    this.sleep = Some(Box::pin(tokio::time::sleep(FLUSH_BEFORE_DROP)));
                }
                BodyEnd::Drop => {
                    return Poll::Ready(Some(Err(io::Error::other(
                        "scripted broken stream: dropping the connection",
                    ))));
                }
            }
        }
    }
}
