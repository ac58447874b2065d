//! `/v1/sessions`: create, retrieve, update, list, archive, delete.

use axum::Json;
use axum::extract::{Path, State};
use hangar_core::store::SessionFilter;
use hangar_protocol::environment::Deleted;
use hangar_protocol::error::{ApiError, ErrorEnvelope};
use hangar_protocol::page::BidirectionalPage;
use hangar_protocol::session::{Session, SessionCreateParams, SessionStatus, SessionUpdateParams};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, QueryParams};

#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = SessionCreateParams,
    responses((status = 200, body = Session), (status = "4XX", body = ErrorEnvelope)))]
pub async fn create(
    State(app): State<AppState>,
    ApiJson(params): ApiJson<SessionCreateParams>,
) -> ApiResult<Session> {
    Ok(Json(app.engine.create_session(params).await?))
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path)),
    responses((status = 200, body = Session), (status = "4XX", body = ErrorEnvelope)))]
pub async fn retrieve(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Session> {
    Ok(Json(app.resources.session(&id).await?))
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}", tag = "sessions", request_body = SessionUpdateParams,
    params(("session_id" = String, Path)),
    responses((status = 200, body = Session), (status = "4XX", body = ErrorEnvelope)))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(params): ApiJson<SessionUpdateParams>,
) -> ApiResult<Session> {
    Ok(Json(app.engine.update_session(&id, params).await?))
}

/// `statuses[]`: session (and thread) statuses.
pub(crate) fn statuses(query: &QueryParams) -> Result<Vec<SessionStatus>, ApiError> {
    query
        .list("statuses")
        .into_iter()
        .map(|s| {
            SessionStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "statuses: `{s}` is not a valid value; expected one of rescheduling, running, idle, terminated"
                ))
            })
        })
        .collect()
}

fn session_filter(query: &QueryParams) -> Result<SessionFilter, ApiError> {
    let statuses = statuses(query)?;
    Ok(SessionFilter {
        agent_id: query.one("agent_id").map(str::to_owned),
        agent_version: query.int("agent_version")?,
        statuses,
        deployment_id: query.one("deployment_id").map(str::to_owned),
        memory_store_id: query.one("memory_store_id").map(str::to_owned),
    })
}

#[utoipa::path(get, path = "/v1/sessions", tag = "sessions",
    params(("limit" = Option<i64>, Query), ("page" = Option<String>, Query),
        ("order" = Option<String>, Query), ("include_archived" = Option<bool>, Query),
        ("agent_id" = Option<String>, Query), ("agent_version" = Option<i64>, Query),
        ("statuses[]" = Option<Vec<String>>, Query), ("created_at[gt]" = Option<String>, Query),
        ("created_at[gte]" = Option<String>, Query), ("created_at[lt]" = Option<String>, Query),
        ("created_at[lte]" = Option<String>, Query)),
    responses((status = 200, body = BidirectionalPage<Session>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(
    State(app): State<AppState>,
    query: QueryParams,
) -> ApiResult<BidirectionalPage<Session>> {
    let request = query.list_request()?;
    Ok(Json(
        app.resources
            .list_sessions(&request, &session_filter(&query)?)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}/archive", tag = "sessions",
    params(("session_id" = String, Path)),
    responses((status = 200, body = Session), (status = "4XX", body = ErrorEnvelope)))]
pub async fn archive(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Session> {
    Ok(Json(app.resources.archive_session(&id).await?))
}

#[utoipa::path(delete, path = "/v1/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = "4XX", body = ErrorEnvelope)))]
pub async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Deleted> {
    Ok(Json(app.engine.delete_session(&id).await?))
}
