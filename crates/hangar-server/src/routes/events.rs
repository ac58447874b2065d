//! `/v1/sessions/{id}/events`: send events, list the log.

use axum::Json;
use axum::extract::{Path, State};
use hangar_protocol::error::ErrorEnvelope;
use hangar_protocol::event_params::SendEventsParams;
use hangar_protocol::page::Page;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, QueryParams};

/// `{"data": [echo, …]}`: each sent event as stored, with its new id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SentEvents {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Box<RawValue>>,
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}/events", tag = "events",
    request_body = SendEventsParams, params(("session_id" = String, Path)),
    responses((status = 200, body = SentEvents), (status = "4XX", body = ErrorEnvelope)))]
pub async fn send(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(params): ApiJson<SendEventsParams>,
) -> ApiResult<SentEvents> {
    let data = app.engine.send_events(&id, params).await?;
    Ok(Json(SentEvents { data }))
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/events", tag = "events",
    params(("session_id" = String, Path), ("limit" = Option<i64>, Query),
        ("page" = Option<String>, Query), ("order" = Option<String>, Query),
        ("types[]" = Option<Vec<String>>, Query), ("created_at[gt]" = Option<String>, Query),
        ("created_at[gte]" = Option<String>, Query), ("created_at[lt]" = Option<String>, Query),
        ("created_at[lte]" = Option<String>, Query)),
    responses((status = 200, body = Page<Object>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Page<Box<RawValue>>> {
    let request = query.list_request()?;
    let types: Vec<String> = query.list("types").into_iter().map(str::to_owned).collect();
    Ok(Json(app.engine.list_events(&id, &request, &types).await?))
}
