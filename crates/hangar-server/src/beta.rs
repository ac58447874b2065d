//! The `anthropic-beta` gate. Each resource family has its own beta value (`cma-api.md` §1.3);
//! without it the hosted API answers 404, and so do we. The header is a comma-separated list.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hangar_protocol::MANAGED_AGENTS_BETA;
use hangar_protocol::error::ApiError;

use crate::error::HttpError;

/// True when the comma-separated `anthropic-beta` values include `wanted`.
pub fn has_beta(request: &Request, wanted: &str) -> bool {
    request
        .headers()
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == wanted)
}

/// Gate for agents, environments and sessions.
pub async fn require_managed_agents_beta(request: Request, next: Next) -> Response {
    if has_beta(&request, MANAGED_AGENTS_BETA) {
        next.run(request).await
    } else {
        HttpError(ApiError::not_found(format!(
            "Not found. This endpoint requires the `anthropic-beta: {MANAGED_AGENTS_BETA}` header."
        )))
        .into_response()
    }
}
