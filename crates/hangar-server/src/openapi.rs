//! The OpenAPI document of the API, generated from the handlers' annotations and the wire
//! types. Served at `/openapi.json` and committed as `docs/openapi.json` (a test fails when
//! the committed copy is stale).

use utoipa::OpenApi;

use crate::routes::{agents, environments, events, sessions, stream, threads};

#[derive(OpenApi)]
#[openapi(
    info(title = "Hangar", description = "Self-hosted runtime for managed agents (Managed Agents API compatible)."),
    paths(
        agents::create, agents::retrieve, agents::update, agents::list, agents::archive, agents::versions,
        environments::create, environments::retrieve, environments::update, environments::list,
        environments::archive, environments::delete,
        sessions::create, sessions::retrieve, sessions::update, sessions::list, sessions::archive,
        sessions::delete,
        events::send, events::list, stream::stream,
        threads::list, threads::retrieve, threads::archive, threads::events, threads::stream,
    ),
    tags((name = "agents"), (name = "environments"), (name = "sessions"), (name = "events"),
        (name = "threads"))
)]
struct ApiDoc;

/// The document as JSON, with a stable version string.
pub fn document() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    serde_json::to_value(doc).unwrap_or_default()
}
