//! Durability: what the API acknowledged is still there after the server is stopped and a new
//! one is started on the same data directory.

use anyhow::Result;
use hangar_testkit::TestServer;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{create_environment, create_session, fetch, id};

#[tokio::test]
async fn resources_survive_a_restart_unchanged() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "durable", "model": "claude-opus-4-6", "metadata": {"k": "v"}}),
        )
        .await?;
    let agent_id = id(&agent);
    let v2 = server
        .create(
            &format!("/v1/agents/{agent_id}"),
            json!({"version": 1, "system": "two"}),
        )
        .await?;
    let env = create_environment(&server, "kept").await?;
    let env_id = id(&env);
    let session = create_session(
        &server,
        json!({"type": "agent", "id": agent_id, "version": 1}),
        &env_id,
    )
    .await?;
    let session_id = id(&session);
    let archived_env = create_environment(&server, "archived").await?;
    let archived_env = server
        .create(
            &format!("/v1/environments/{}/archive", id(&archived_env)),
            json!({}),
        )
        .await?;

    let server = server.restart().await?;

    assert_eq!(fetch(&server, &format!("/v1/agents/{agent_id}")).await?, v2);
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{agent_id}?version=1")).await?,
        agent
    );
    assert_eq!(
        fetch(&server, &format!("/v1/environments/{env_id}")).await?,
        env
    );
    assert_eq!(
        fetch(&server, &format!("/v1/environments/{}", id(&archived_env))).await?,
        archived_env
    );
    let reread = fetch(&server, &format!("/v1/sessions/{session_id}")).await?;
    // `stats.duration_seconds` is computed at read time; everything else is stored.
    let without_stats = |mut v: serde_json::Value| {
        v.as_object_mut().map(|o| o.remove("stats"));
        v
    };
    assert_eq!(without_stats(reread), without_stats(session));
    assert_eq!(reread_versions(&server, &agent_id).await?, vec![2, 1]);
    Ok(())
}

#[tokio::test]
async fn writes_after_a_restart_continue_the_version_history() -> Result<()> {
    let server = TestServer::start().await?;
    let agent_id = id(&server
        .create(
            "/v1/agents",
            json!({"name": "a", "model": "claude-opus-4-6"}),
        )
        .await?);
    let server = server.restart().await?;
    let (status, body) = server
        .post(
            &format!("/v1/agents/{agent_id}"),
            json!({"version": 1, "name": "b"}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    // A name taken before the restart is still taken after it.
    create_environment(&server, "unique").await?;
    let server = server.restart().await?;
    let (status, _) = server
        .post("/v1/environments", json!({"name": "unique"}))
        .await?;
    assert_eq!(status, 409);
    Ok(())
}

async fn reread_versions(server: &TestServer, agent_id: &str) -> Result<Vec<i64>> {
    let page = fetch(server, &format!("/v1/agents/{agent_id}/versions")).await?;
    Ok(page["data"]
        .as_array()
        .map(|items| items.iter().filter_map(|v| v["version"].as_i64()).collect())
        .unwrap_or_default())
}
