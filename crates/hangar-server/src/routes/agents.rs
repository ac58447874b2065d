//! `/v1/agents`: create, retrieve, update, list, archive, list versions.

use axum::Json;
use axum::extract::{Path, State};
use hangar_protocol::agent::{Agent, AgentCreateParams, AgentUpdateParams};
use hangar_protocol::error::ErrorEnvelope;
use hangar_protocol::page::Page;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, QueryParams};

#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = AgentCreateParams,
    responses((status = 200, body = Agent), (status = "4XX", body = ErrorEnvelope)))]
pub async fn create(
    State(app): State<AppState>,
    ApiJson(params): ApiJson<AgentCreateParams>,
) -> ApiResult<Agent> {
    Ok(Json(app.resources.create_agent(params).await?))
}

#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path), ("version" = Option<i64>, Query)),
    responses((status = 200, body = Agent), (status = "4XX", body = ErrorEnvelope)))]
pub async fn retrieve(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Agent> {
    Ok(Json(app.resources.agent(&id, query.int("version")?).await?))
}

#[utoipa::path(post, path = "/v1/agents/{agent_id}", tag = "agents", request_body = AgentUpdateParams,
    params(("agent_id" = String, Path)),
    responses((status = 200, body = Agent), (status = "4XX", body = ErrorEnvelope)))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(params): ApiJson<AgentUpdateParams>,
) -> ApiResult<Agent> {
    Ok(Json(app.resources.update_agent(&id, params).await?))
}

#[utoipa::path(get, path = "/v1/agents", tag = "agents",
    params(("limit" = Option<i64>, Query), ("page" = Option<String>, Query),
        ("include_archived" = Option<bool>, Query),
        ("created_at[gte]" = Option<String>, Query), ("created_at[lte]" = Option<String>, Query)),
    responses((status = 200, body = Page<Agent>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(State(app): State<AppState>, query: QueryParams) -> ApiResult<Page<Agent>> {
    Ok(Json(
        app.resources.list_agents(&query.list_request()?).await?,
    ))
}

#[utoipa::path(post, path = "/v1/agents/{agent_id}/archive", tag = "agents",
    params(("agent_id" = String, Path)),
    responses((status = 200, body = Agent), (status = "4XX", body = ErrorEnvelope)))]
pub async fn archive(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Agent> {
    Ok(Json(app.resources.archive_agent(&id).await?))
}

#[utoipa::path(get, path = "/v1/agents/{agent_id}/versions", tag = "agents",
    params(("agent_id" = String, Path), ("limit" = Option<i64>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = Page<Agent>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn versions(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Page<Agent>> {
    Ok(Json(
        app.resources
            .list_agent_versions(&id, &query.list_request()?)
            .await?,
    ))
}
