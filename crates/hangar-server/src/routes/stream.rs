//! `GET /v1/sessions/{id}/events/stream`: the session's events over SSE (`cma-api.md` §5).
//!
//! Every frame has `event: <type>`, stored events also `id: <event id>`, and `data: <json>`;
//! a comment keeps the connection alive every [`KEEP_ALIVE`]. The stream subscribes to the bus
//! *before* anything else, so nothing committed after the request is missed. By default it is
//! live only (as the contract says); a `Last-Event-ID` header replays every stored event after
//! that one first, then continues live without gap or duplicate. A subscriber that falls
//! behind the bus catches up from the store by `seq`.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hangar_core::bus::{BusItem, BusMessage};
use hangar_core::engine::Engine;
use hangar_core::event_store::StoredEvent;
use hangar_core::limits::MAX_EVENT_DELTAS;
use hangar_protocol::error::ApiError;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::error::HttpError;
use crate::extract::QueryParams;

/// Longest silence on an open stream; a comment line is sent after it.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Frames sent together at most when several are waiting.
const COALESCE_FRAMES: usize = 64;
/// Stored events read per query while replaying or catching up.
const CATCH_UP_PAGE: usize = 500;

#[utoipa::path(get, path = "/v1/sessions/{session_id}/events/stream", tag = "events",
    params(("session_id" = String, Path), ("event_deltas[]" = Option<Vec<String>>, Query)),
    responses((status = 200, content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, HttpError> {
    open(app, id, &headers, &query).await
}

/// Opens a session's event stream (also the primary thread's stream).
pub(crate) async fn open(
    app: AppState,
    id: String,
    headers: &HeaderMap,
    query: &QueryParams,
) -> Result<Response, HttpError> {
    let deltas = event_deltas(query)?;
    // Where the stream starts: after the `Last-Event-ID` event (replay), else after the last
    // event stored now (live only). It is read *before* subscribing, and the first catch-up
    // sends whatever was committed in between, so the hand-over to the bus has no gap.
    let start = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(last) => app
            .engine
            .event_seq(&id, last.trim())
            .await?
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "Last-Event-ID: event `{}` is not in this session",
                    last.chars().take(128).collect::<String>()
                ))
            })?,
        None => app.engine.last_seq(&id).await?,
    };
    let receiver = app.engine.subscribe(&id).await?;
    let state = StreamState {
        engine: app.engine.clone(),
        session_id: id,
        receiver,
        deltas,
        delivered: start,
        replaying: true,
        queued: VecDeque::new(),
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(state, next_chunk));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Which previews this connection wants (`event_deltas[]`).
fn event_deltas(query: &QueryParams) -> Result<Vec<&'static str>, ApiError> {
    let values = query.list("event_deltas");
    if values.len() > MAX_EVENT_DELTAS {
        return Err(ApiError::invalid(format!(
            "event_deltas: at most {MAX_EVENT_DELTAS} values"
        )));
    }
    values
        .into_iter()
        .map(|v| match v {
            "agent.message" => Ok("agent.message"),
            "agent.thinking" => Ok("agent.thinking"),
            other => Err(ApiError::invalid(format!(
                "event_deltas: `{}` is not a valid value; expected agent.message or agent.thinking",
                other.chars().take(64).collect::<String>()
            ))),
        })
        .collect()
}

struct StreamState {
    engine: Engine,
    session_id: String,
    receiver: Receiver<BusMessage>,
    deltas: Vec<&'static str>,
    /// The highest `seq` sent (or the starting point). The bus delivers a session's events in
    /// `seq` order, so a live event at or below it was already sent from the store.
    delivered: i64,
    /// Stored events after `delivered` are still to be read from the store.
    replaying: bool,
    queued: VecDeque<Bytes>,
    done: bool,
}

type Chunk = Result<Bytes, std::io::Error>;

async fn next_chunk(mut state: StreamState) -> Option<(Chunk, StreamState)> {
    loop {
        if !state.queued.is_empty() {
            return Some((Ok(state.take_queued()), state));
        }
        if state.done {
            return None;
        }
        if state.replaying {
            if let Err(err) = state.catch_up().await {
                return Some((
                    Ok(error_frame(&err)),
                    StreamState {
                        done: true,
                        ..state
                    },
                ));
            }
            continue;
        }
        let received = tokio::time::timeout(KEEP_ALIVE, state.receiver.recv()).await;
        match received {
            Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), state)),
            Ok(Ok(message)) => {
                state.accept(&message);
                // Whatever else is already waiting leaves in the same write.
                while let Ok(more) = state.receiver.try_recv() {
                    state.accept(&more);
                    if state.queued.len() >= COALESCE_FRAMES {
                        break;
                    }
                }
            }
            Ok(Err(RecvError::Lagged(missed))) => {
                tracing::debug!(session = %state.session_id, missed, "stream lagged; catching up");
                state.replaying = true;
            }
            Ok(Err(RecvError::Closed)) => return None,
        }
    }
}

impl StreamState {
    /// The queued frames as one chunk (one frame needs no copy).
    fn take_queued(&mut self) -> Bytes {
        if self.queued.len() == 1 {
            return self.queued.pop_front().unwrap_or_default();
        }
        let size = self.queued.iter().map(Bytes::len).sum();
        let mut chunk = Vec::with_capacity(size);
        for frame in self.queued.drain(..) {
            chunk.extend_from_slice(&frame);
        }
        Bytes::from(chunk)
    }

    fn accept(&mut self, message: &BusMessage) {
        match message.as_ref() {
            BusItem::Event {
                seq, reprocessed, ..
            } => {
                if *reprocessed || *seq > self.delivered {
                    if !*reprocessed {
                        self.delivered = *seq;
                    }
                    self.queued.push_back(frame_of(message));
                }
            }
            BusItem::Preview { previewed, .. } => {
                if self.deltas.contains(previewed) {
                    self.queued.push_back(frame_of(message));
                }
            }
            BusItem::Deleted { .. } => {
                self.queued.push_back(frame_of(message));
                self.done = true;
            }
        }
    }

    /// Sends stored events after `delivered` until the store has no more.
    async fn catch_up(&mut self) -> Result<(), ApiError> {
        let events = self
            .engine
            .events_after(&self.session_id, self.delivered, CATCH_UP_PAGE)
            .await?;
        if events.len() < CATCH_UP_PAGE {
            self.replaying = false;
        }
        for event in &events {
            self.delivered = event.seq;
            self.queued.push_back(stored_frame(event));
        }
        Ok(())
    }
}

fn render(type_name: &str, id: Option<&str>, json: &str) -> Bytes {
    let mut frame = String::with_capacity(json.len() + type_name.len() + 48);
    frame.push_str("event: ");
    frame.push_str(type_name);
    if let Some(id) = id {
        frame.push_str("\nid: ");
        frame.push_str(id);
    }
    frame.push_str("\ndata: ");
    frame.push_str(json);
    frame.push_str("\n\n");
    Bytes::from(frame)
}

/// The SSE frame of a bus item, rendered once and shared by every stream.
fn frame_of(message: &BusMessage) -> Bytes {
    match message.as_ref() {
        BusItem::Event {
            type_name,
            id,
            json,
            frame,
            ..
        } => frame
            .get_or_init(|| render(type_name, Some(id), json))
            .clone(),
        BusItem::Preview {
            type_name,
            json,
            frame,
            ..
        } => frame.get_or_init(|| render(type_name, None, json)).clone(),
        BusItem::Deleted { id, json, frame } => frame
            .get_or_init(|| render("session.deleted", Some(id), json))
            .clone(),
    }
}

fn stored_frame(event: &StoredEvent) -> Bytes {
    render(&event.type_name, Some(&event.id), &event.wire_json())
}

/// `event: error` with the error envelope (the SDK raises it).
fn error_frame(err: &ApiError) -> Bytes {
    let json = serde_json::to_string(&err.envelope(None)).unwrap_or_default();
    render("error", None, &json)
}
