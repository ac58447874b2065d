//! Sessions: creation from an agent id, a pinned version or overrides; the embedded agent
//! snapshot; update, archive, delete and list filters (`cma-api.md` §2.4, §3.4;
//! `cma-behaviour.md` D).

use anyhow::Result;
use hangar_testkit::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{create_agent, create_environment, create_session, fetch, get, id, ids, post};

/// The fields of an agent that a session snapshot carries.
const SNAPSHOT_FIELDS: [&str; 12] = [
    "type",
    "id",
    "version",
    "name",
    "description",
    "system",
    "model",
    "execution_identity",
    "tools",
    "mcp_servers",
    "skills",
    "multiagent",
];

/// What a session's `agent` must be for agent version `agent`.
fn snapshot_of(agent: &Value) -> Value {
    Value::Object(
        SNAPSHOT_FIELDS
            .iter()
            .map(|k| ((*k).to_owned(), agent[*k].clone()))
            .collect(),
    )
}

/// A custom tool as responses show it: the schema's optional keys are always present.
fn resolved(custom: &Value) -> Value {
    let mut tool = custom.clone();
    for key in ["properties", "required"] {
        if tool["input_schema"].get(key).is_none() {
            tool["input_schema"][key] = Value::Null;
        }
    }
    tool
}

async fn setup(server: &TestServer) -> Result<(Value, String)> {
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "worker", "model": "claude-opus-4-6", "system": "be useful",
            "description": "does work", "metadata": {"owner": "me"},
            "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await?;
    let env = create_environment(server, "box").await?;
    Ok((agent, id(&env)))
}

#[tokio::test]
async fn create_by_agent_id_embeds_the_latest_snapshot() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let v2 = server
        .create(
            &format!("/v1/agents/{}", id(&agent)),
            json!({"system": "v2"}),
        )
        .await?;
    let session = create_session(&server, json!(id(&agent)), &env_id).await?;
    assert!(id(&session).starts_with("sesn_"), "{session}");
    assert_eq!(session["type"], "session");
    assert_eq!(session["status"], "idle");
    assert_eq!(session["environment_id"], json!(env_id));
    assert_eq!(session["agent"], snapshot_of(&v2));
    for (key, value) in [
        ("title", json!(null)),
        ("deployment_id", json!(null)),
        ("budget", json!(null)),
        ("archived_at", json!(null)),
        ("resources", json!([])),
        ("vault_ids", json!([])),
        ("outcome_evaluations", json!([])),
        ("metadata", json!({})),
    ] {
        assert_eq!(session.get(key), Some(&value), "{key}");
    }
    assert_eq!(
        session["usage"],
        json!({"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "list_cost": {"amount": "0", "currency": "USD"}, "active_seconds": 0.0})
    );
    assert!(
        session["stats"]["active_seconds"].is_number()
            && session["stats"]["duration_seconds"].is_number()
    );
    assert_eq!(session["created_at"], session["updated_at"]);
    Ok(())
}

#[tokio::test]
async fn create_with_a_pinned_version_uses_that_version() -> Result<()> {
    let server = TestServer::start().await?;
    let (v1, env_id) = setup(&server).await?;
    let agent_id = id(&v1);
    let v2 = server
        .create(
            &format!("/v1/agents/{agent_id}"),
            json!({"name": "renamed"}),
        )
        .await?;
    let pinned = create_session(
        &server,
        json!({"type": "agent", "id": agent_id, "version": 1}),
        &env_id,
    )
    .await?;
    assert_eq!(pinned["agent"], snapshot_of(&v1));
    let latest = create_session(&server, json!({"type": "agent", "id": agent_id}), &env_id).await?;
    assert_eq!(latest["agent"], snapshot_of(&v2));
    Ok(())
}

#[tokio::test]
async fn pinned_snapshot_survives_agent_updates() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let session = create_session(&server, json!(id(&agent)), &env_id).await?;
    server
        .create(
            &format!("/v1/agents/{}", id(&agent)),
            json!({"system": "changed", "tools": []}),
        )
        .await?;
    let reread = fetch(&server, &format!("/v1/sessions/{}", id(&session))).await?;
    assert_eq!(reread["agent"], snapshot_of(&agent));
    assert_eq!(reread["agent"]["version"], 1);
    Ok(())
}

#[tokio::test]
async fn overrides_change_the_snapshot_but_not_the_agent() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let agent_id = id(&agent);
    let custom = json!({"type": "custom", "name": "lookup", "description": "d", "input_schema": {"type": "object"}});
    let session = create_session(
        &server,
        json!({"type": "agent_with_overrides", "id": agent_id, "model": "claude-haiku-4-5", "system": "override",
            "tools": [custom]}),
        &env_id,
    )
    .await?;
    let snapshot = &session["agent"];
    assert_eq!(snapshot["id"], json!(agent_id));
    assert_eq!(snapshot["version"], 1);
    assert_eq!(snapshot["system"], "override");
    assert_eq!(
        snapshot["model"],
        json!({"id": "claude-haiku-4-5", "effort": {"type": "high"}, "inference_geo": null, "speed": "standard"})
    );
    assert_eq!(snapshot["tools"], json!([resolved(&custom)]));
    assert_eq!(
        snapshot["name"], agent["name"],
        "fields without an override are inherited"
    );
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{agent_id}")).await?,
        agent
    );

    let cleared = create_session(
        &server,
        json!({"type": "agent_with_overrides", "id": agent_id, "system": null, "tools": []}),
        &env_id,
    )
    .await?;
    assert_eq!(cleared["agent"]["system"], json!(null));
    assert_eq!(cleared["agent"]["tools"], json!([]));
    assert_eq!(cleared["agent"]["model"], agent["model"]);
    Ok(())
}

#[tokio::test]
async fn update_changes_title_and_patches_metadata() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let session = server
        .create(
            "/v1/sessions",
            json!({"agent": id(&agent), "environment_id": env_id, "title": "first",
            "metadata": {"a": "1", "b": "2"}}),
        )
        .await?;
    assert_eq!(session["title"], "first");
    let path = format!("/v1/sessions/{}", id(&session));
    let updated = server
        .create(
            &path,
            json!({"title": "second", "metadata": {"a": null, "c": "3"}}),
        )
        .await?;
    assert_eq!(updated["title"], "second");
    assert_eq!(updated["metadata"], json!({"b": "2", "c": "3"}));
    assert!(updated["updated_at"].as_str() > session["updated_at"].as_str());
    let cleared = server.create(&path, json!({"title": null})).await?;
    assert_eq!(cleared["title"], json!(null));
    assert_eq!(cleared["metadata"], json!({"b": "2", "c": "3"}));
    let reread = fetch(&server, &path).await?;
    assert_eq!(reread["title"], json!(null));
    assert_eq!(reread["agent"], session["agent"]);
    Ok(())
}

#[tokio::test]
async fn update_replaces_the_session_tools_only() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let session = create_session(&server, json!(id(&agent)), &env_id).await?;
    let custom = json!({"type": "custom", "name": "ping", "description": "d", "input_schema": {"type": "object"}});
    let updated = server
        .create(
            &format!("/v1/sessions/{}", id(&session)),
            json!({"agent": {"tools": [custom]}}),
        )
        .await?;
    assert_eq!(updated["agent"]["tools"], json!([resolved(&custom)]));
    assert_eq!(updated["agent"]["version"], 1);
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{}", id(&agent))).await?["tools"],
        agent["tools"]
    );
    Ok(())
}

#[tokio::test]
async fn archive_sets_archived_at_and_hides_the_session() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let kept = id(&create_session(&server, json!(id(&agent)), &env_id).await?);
    let session_id = id(&create_session(&server, json!(id(&agent)), &env_id).await?);
    let archived = server
        .create(&format!("/v1/sessions/{session_id}/archive"), json!({}))
        .await?;
    assert!(archived["archived_at"].is_string(), "{archived}");
    let again = server
        .create(&format!("/v1/sessions/{session_id}/archive"), json!({}))
        .await?;
    assert_eq!(again["archived_at"], archived["archived_at"]);
    assert_eq!(
        ids(&fetch(&server, "/v1/sessions").await?),
        vec![kept.clone()]
    );
    assert_eq!(
        ids(&fetch(&server, "/v1/sessions?include_archived=true").await?),
        vec![session_id.clone(), kept]
    );
    let reply = post(
        &server,
        &format!("/v1/sessions/{session_id}"),
        json!({"title": "x"}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "archived")?;
    Ok(())
}

#[tokio::test]
async fn delete_returns_a_confirmation_and_then_404() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let session_id = id(&create_session(&server, json!(id(&agent)), &env_id).await?);
    let (status, body) = server.delete(&format!("/v1/sessions/{session_id}")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"id": session_id, "type": "session_deleted"}));
    let reply = get(&server, &format!("/v1/sessions/{session_id}")).await?;
    reply.check_error(404, "not_found_error", &session_id)?;
    let (status, _) = server.delete(&format!("/v1/sessions/{session_id}")).await?;
    assert_eq!(status, 404);
    assert_eq!(
        fetch(&server, "/v1/sessions?include_archived=true").await?["data"],
        json!([])
    );
    Ok(())
}

#[tokio::test]
async fn sessions_outlive_the_archive_of_their_agent_and_environment() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let session = create_session(&server, json!(id(&agent)), &env_id).await?;
    server
        .create(&format!("/v1/agents/{}/archive", id(&agent)), json!({}))
        .await?;
    server
        .create(&format!("/v1/environments/{env_id}/archive"), json!({}))
        .await?;
    let reread = fetch(&server, &format!("/v1/sessions/{}", id(&session))).await?;
    assert_eq!(reread["agent"], session["agent"]);
    assert_eq!(reread["status"], "idle");
    Ok(())
}

#[tokio::test]
async fn list_filters_by_agent_version_status_and_archive() -> Result<()> {
    let server = TestServer::start().await?;
    let (agent, env_id) = setup(&server).await?;
    let other = create_agent(&server, "other").await?;
    let agent_id = id(&agent);
    let on_v1 = id(&create_session(&server, json!(agent_id), &env_id).await?);
    server
        .create(&format!("/v1/agents/{agent_id}"), json!({"name": "v2"}))
        .await?;
    let on_v2 = id(&create_session(&server, json!(agent_id), &env_id).await?);
    let on_other = id(&create_session(&server, json!(id(&other)), &env_id).await?);

    let list = |query: String| {
        let server = &server;
        async move {
            Ok::<_, anyhow::Error>(ids(&fetch(server, &format!("/v1/sessions?{query}")).await?))
        }
    };
    assert_eq!(
        list(format!("agent_id={agent_id}")).await?,
        vec![on_v2.clone(), on_v1.clone()]
    );
    assert_eq!(
        list(format!("agent_id={agent_id}&agent_version=1")).await?,
        vec![on_v1.clone()]
    );
    assert_eq!(
        list(format!("agent_id={agent_id}&agent_version=2")).await?,
        vec![on_v2.clone()]
    );
    assert_eq!(
        list(format!("agent_id={}", id(&other))).await?,
        vec![on_other.clone()]
    );
    let everything = vec![on_other.clone(), on_v2.clone(), on_v1.clone()];
    assert_eq!(list("statuses%5B%5D=idle".to_owned()).await?, everything);
    assert_eq!(
        list("statuses=idle&statuses=running".to_owned()).await?,
        everything
    );
    assert_eq!(
        list("statuses%5B%5D=running&statuses%5B%5D=terminated".to_owned()).await?,
        Vec::<String>::new()
    );

    server
        .create(&format!("/v1/sessions/{on_v1}/archive"), json!({}))
        .await?;
    assert_eq!(
        list(format!("agent_id={agent_id}")).await?,
        vec![on_v2.clone()]
    );
    assert_eq!(
        list(format!("agent_id={agent_id}&include_archived=true")).await?,
        vec![on_v2, on_v1]
    );
    assert_eq!(
        list("memory_store_id=memstore_01".to_owned()).await?,
        Vec::<String>::new()
    );
    assert_eq!(
        list("beta=true".to_owned()).await?.len(),
        2,
        "unknown query parameters are ignored"
    );
    Ok(())
}
