//! The OpenAPI document: served at `/openapi.json`, committed as `docs/openapi.json`, and
//! covering every route. Run with `UPDATE_OPENAPI=1` to rewrite the committed copy.

use std::path::PathBuf;

use anyhow::{Context, Result};
use hangar_testkit::TestServer;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[tokio::test]
async fn committed_openapi_document_is_current() -> Result<()> {
    let server = TestServer::start().await?;
    let response = server.http.get(server.url("/openapi.json")).send().await?;
    assert_eq!(response.status(), 200, "/openapi.json needs no auth");
    let served: serde_json::Value = response.json().await?;
    let rendered = format!("{}\n", serde_json::to_string_pretty(&served)?);
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &rendered)?;
    }
    let committed = std::fs::read_to_string(&path)
        .with_context(|| format!("{} is missing; run with UPDATE_OPENAPI=1", path.display()))?;
    assert!(
        committed == rendered,
        "docs/openapi.json is stale; regenerate it with \
         `UPDATE_OPENAPI=1 cargo nextest run -p hangar-server openapi`"
    );
    Ok(())
}

#[tokio::test]
async fn openapi_document_lists_every_resource_route() -> Result<()> {
    let server = TestServer::start().await?;
    let doc: serde_json::Value = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let paths = doc["paths"].as_object().context("no paths")?;
    for (path, methods) in [
        ("/v1/agents", &["get", "post"][..]),
        ("/v1/agents/{agent_id}", &["get", "post"]),
        ("/v1/agents/{agent_id}/archive", &["post"]),
        ("/v1/agents/{agent_id}/versions", &["get"]),
        ("/v1/environments", &["get", "post"]),
        (
            "/v1/environments/{environment_id}",
            &["get", "post", "delete"],
        ),
        ("/v1/environments/{environment_id}/archive", &["post"]),
        ("/v1/sessions", &["get", "post"]),
        ("/v1/sessions/{session_id}", &["get", "post", "delete"]),
        ("/v1/sessions/{session_id}/archive", &["post"]),
    ] {
        let entry = paths
            .get(path)
            .with_context(|| format!("{path} is not documented"))?;
        for method in methods {
            assert!(
                entry.get(*method).is_some(),
                "{method} {path} is not documented"
            );
        }
    }
    Ok(())
}
