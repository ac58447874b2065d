//! Hangar's HTTP API: the axum router, thin handlers, authentication, the beta gate, error
//! rendering and the OpenAPI document. Handlers parse input and call [`hangar_core::Resources`]
//! or [`hangar_core::engine::Engine`]; no rule of the API lives here.
//!
//! # Layout
//! - [`app`]: builds the router from an [`AppState`] (tests build it without a socket).
//! - [`error`]: error envelopes and request ids; [`extract`]: JSON body and query readers.
//! - [`auth`]: API keys; [`beta`]: the `anthropic-beta` gate.
//! - [`routes`]: handlers per resource, the event log and its SSE stream;
//!   [`openapi`]: the OpenAPI document.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::{ListenerExt, TapIo};
use axum::{Json, Router, middleware};
use hangar_core::Resources;
use hangar_core::engine::Engine;
use hangar_core::limits::MAX_BODY_BYTES;
use tokio::net::{TcpListener, TcpStream};
use tower_http::catch_panic::CatchPanicLayer;

pub mod auth;
pub mod beta;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;

use routes::{agents, environments, events, sessions, stream, threads};

/// Binds `addr` for [`app`]. Every accepted connection gets `TCP_NODELAY`: SSE frames and
/// small responses leave at once instead of waiting (Nagle's algorithm against the peer's
/// delayed ACK can hold a write for up to 40 ms).
pub async fn bind(
    addr: std::net::SocketAddr,
) -> std::io::Result<TapIo<TcpListener, fn(&mut TcpStream)>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(listener.tap_io(set_nodelay as fn(&mut TcpStream)))
}

fn set_nodelay(stream: &mut TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY");
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub resources: Resources,
    pub engine: Engine,
    pub keys: Arc<auth::ApiKeys>,
}

impl AppState {
    pub fn new(engine: Engine, keys: auth::ApiKeys) -> Self {
        AppState {
            resources: engine.resources().clone(),
            engine,
            keys: Arc::new(keys),
        }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let managed_agents = Router::new()
        .route("/v1/agents", post(agents::create).get(agents::list))
        .route(
            "/v1/agents/{agent_id}",
            get(agents::retrieve).post(agents::update),
        )
        .route("/v1/agents/{agent_id}/archive", post(agents::archive))
        .route("/v1/agents/{agent_id}/versions", get(agents::versions))
        .route(
            "/v1/environments",
            post(environments::create).get(environments::list),
        )
        .route(
            "/v1/environments/{environment_id}",
            get(environments::retrieve)
                .post(environments::update)
                .delete(environments::delete),
        )
        .route(
            "/v1/environments/{environment_id}/archive",
            post(environments::archive),
        )
        .route("/v1/sessions", post(sessions::create).get(sessions::list))
        .route(
            "/v1/sessions/{session_id}",
            get(sessions::retrieve)
                .post(sessions::update)
                .delete(sessions::delete),
        )
        .route("/v1/sessions/{session_id}/archive", post(sessions::archive))
        .route(
            "/v1/sessions/{session_id}/events",
            post(events::send).get(events::list),
        )
        .route(
            "/v1/sessions/{session_id}/events/stream",
            get(stream::stream),
        )
        .route("/v1/sessions/{session_id}/threads", get(threads::list))
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}",
            get(threads::retrieve),
        )
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}/archive",
            post(threads::archive),
        )
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}/events",
            get(threads::events),
        )
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}/stream",
            get(threads::stream),
        )
        .route_layer(middleware::from_fn(beta::require_managed_agents_beta))
        .route_layer(middleware::from_fn_with_state(
            state.keys.clone(),
            auth::require_api_key,
        ));

    Router::new()
        .merge(managed_agents)
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(error::render_errors))
}
