//! `/v1/sessions/{id}/threads`: the session's threads — its primary thread, until multiagent
//! sub-threads exist — with the thread's events and stream (the session's own).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hangar_protocol::error::{ApiError, ErrorEnvelope};
use hangar_protocol::page::Page;
use hangar_protocol::thread::SessionThread;
use serde_json::value::RawValue;

use crate::AppState;
use crate::error::{ApiResult, HttpError};
use crate::extract::QueryParams;

#[utoipa::path(get, path = "/v1/sessions/{session_id}/threads", tag = "threads",
    params(("session_id" = String, Path), ("statuses[]" = Option<Vec<String>>, Query),
        ("limit" = Option<i64>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = Page<SessionThread>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Page<SessionThread>> {
    let statuses = super::sessions::statuses(&query)?;
    query.list_request()?;
    let thread = app.engine.primary_thread(&id).await?;
    let data = if statuses.is_empty() || statuses.contains(&thread.status) {
        vec![thread]
    } else {
        Vec::new()
    };
    Ok(Json(Page {
        data,
        next_page: None,
    }))
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/threads/{thread_id}", tag = "threads",
    params(("session_id" = String, Path), ("thread_id" = String, Path)),
    responses((status = 200, body = SessionThread), (status = "4XX", body = ErrorEnvelope)))]
pub async fn retrieve(
    State(app): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
) -> ApiResult<SessionThread> {
    Ok(Json(app.engine.thread(&id, &thread_id).await?))
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}/threads/{thread_id}/archive", tag = "threads",
    params(("session_id" = String, Path), ("thread_id" = String, Path)),
    responses((status = "4XX", body = ErrorEnvelope)))]
pub async fn archive(
    State(app): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
) -> ApiResult<SessionThread> {
    app.engine.thread(&id, &thread_id).await?;
    Err(ApiError::invalid(
        "The primary thread cannot be archived on its own; archive the session instead.",
    )
    .into())
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/threads/{thread_id}/events", tag = "threads",
    params(("session_id" = String, Path), ("thread_id" = String, Path),
        ("limit" = Option<i64>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = Page<Object>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn events(
    State(app): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
    query: QueryParams,
) -> ApiResult<Page<Box<RawValue>>> {
    app.engine.thread(&id, &thread_id).await?;
    let request = query.list_request()?;
    Ok(Json(app.engine.list_events(&id, &request, &[]).await?))
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/threads/{thread_id}/stream", tag = "threads",
    params(("session_id" = String, Path), ("thread_id" = String, Path),
        ("event_deltas[]" = Option<Vec<String>>, Query)),
    responses((status = 200, content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(app): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, HttpError> {
    app.engine.thread(&id, &thread_id).await?;
    super::stream::open(app, id, &headers, &query).await
}
