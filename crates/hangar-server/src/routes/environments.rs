//! `/v1/environments`: create, retrieve, update, list, archive, delete.

use axum::Json;
use axum::extract::{Path, State};
use hangar_protocol::environment::{
    Deleted, Environment, EnvironmentCreateParams, EnvironmentUpdateParams,
};
use hangar_protocol::error::ErrorEnvelope;
use hangar_protocol::page::Page;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, QueryParams};

#[utoipa::path(post, path = "/v1/environments", tag = "environments", request_body = EnvironmentCreateParams,
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
pub async fn create(
    State(app): State<AppState>,
    ApiJson(params): ApiJson<EnvironmentCreateParams>,
) -> ApiResult<Environment> {
    Ok(Json(app.resources.create_environment(params).await?))
}

#[utoipa::path(get, path = "/v1/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
pub async fn retrieve(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Environment> {
    Ok(Json(app.resources.environment(&id).await?))
}

#[utoipa::path(post, path = "/v1/environments/{environment_id}", tag = "environments",
    request_body = EnvironmentUpdateParams, params(("environment_id" = String, Path)),
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(params): ApiJson<EnvironmentUpdateParams>,
) -> ApiResult<Environment> {
    Ok(Json(app.resources.update_environment(&id, params).await?))
}

#[utoipa::path(get, path = "/v1/environments", tag = "environments",
    params(("limit" = Option<i64>, Query), ("page" = Option<String>, Query),
        ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = Page<Environment>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(State(app): State<AppState>, query: QueryParams) -> ApiResult<Page<Environment>> {
    Ok(Json(
        app.resources
            .list_environments(&query.list_request()?)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/environments/{environment_id}/archive", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Environment), (status = "4XX", body = ErrorEnvelope)))]
pub async fn archive(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Environment> {
    Ok(Json(app.resources.archive_environment(&id).await?))
}

#[utoipa::path(delete, path = "/v1/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = "4XX", body = ErrorEnvelope)))]
pub async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Deleted> {
    Ok(Json(app.resources.delete_environment(&id).await?))
}
