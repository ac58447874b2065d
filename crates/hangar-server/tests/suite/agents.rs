//! Agents: materialised defaults, versioned updates with optimistic concurrency, update
//! tri-state semantics, history, archive and list filters (`cma-api.md` §2.1, §3.1;
//! `cma-behaviour.md` B).

use anyhow::Result;
use hangar_testkit::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{create_agent, encode, fetch, get, id, ids, post};

const CONFLICT: &str =
    "Concurrent modification detected. Please fetch the latest version and retry.";

async fn update(server: &TestServer, agent_id: &str, body: Value) -> Result<Value> {
    server.create(&format!("/v1/agents/{agent_id}"), body).await
}

#[tokio::test]
async fn create_materialises_every_default() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create(
            "/v1/agents",
            json!({
                "name": "defaults",
                "model": "claude-opus-4-6",
                "tools": [{"type": "agent_toolset_20260401"}, {"type": "mcp_toolset", "mcp_server_name": "docs"}],
                "mcp_servers": [{"type": "url", "name": "docs", "url": "https://mcp.example.com/sse"}],
            }),
        )
        .await?;
    assert!(id(&agent).starts_with("agent_"), "{agent}");
    assert_eq!(agent["type"], "agent");
    assert_eq!(agent["version"], 1);
    assert_eq!(
        agent["model"],
        json!({"id": "claude-opus-4-6", "effort": {"type": "high"}, "inference_geo": null, "speed": "standard"})
    );
    assert_eq!(
        agent["execution_identity"],
        json!({"type": "service_account"})
    );
    assert_eq!(
        agent["tools"],
        json!([
            {"type": "agent_toolset_20260401",
             "default_config": {"enabled": true, "permission_policy": {"type": "always_allow"}},
             "configs": []},
            {"type": "mcp_toolset", "mcp_server_name": "docs",
             "default_config": {"enabled": true, "permission_policy": {"type": "always_ask"}},
             "configs": []},
        ])
    );
    for (key, value) in [
        ("description", json!(null)),
        ("system", json!(null)),
        ("multiagent", json!(null)),
        ("archived_at", json!(null)),
        ("skills", json!([])),
        ("metadata", json!({})),
    ] {
        assert_eq!(agent.get(key), Some(&value), "{key}");
    }
    assert_eq!(agent["created_at"], agent["updated_at"]);
    let created = agent["created_at"].as_str().unwrap_or_default();
    assert!(
        created.ends_with('Z') && created.len() == "2026-04-01T12:00:00.123456Z".len(),
        "{created}"
    );
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{}", id(&agent))).await?,
        agent
    );
    Ok(())
}

#[tokio::test]
async fn model_object_keeps_explicit_effort_and_speed() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "m", "model": {"id": "claude-sonnet-4-6", "effort": "low", "speed": "fast", "inference_geo": "us"}}),
        )
        .await?;
    assert_eq!(
        agent["model"],
        json!({"id": "claude-sonnet-4-6", "effort": {"type": "low"}, "inference_geo": "us", "speed": "fast"})
    );
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "n", "model": {"id": "claude-haiku-4-5", "effort": {"type": "max"}}}),
        )
        .await?;
    assert_eq!(agent["model"]["effort"], json!({"type": "max"}));
    assert_eq!(agent["model"]["speed"], "standard");
    Ok(())
}

#[tokio::test]
async fn update_with_the_current_version_bumps_it() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = create_agent(&server, "before").await?;
    let agent_id = id(&agent);
    let updated = update(&server, &agent_id, json!({"version": 1, "name": "after"})).await?;
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["name"], "after");
    assert_eq!(updated["id"], agent["id"]);
    assert_eq!(updated["created_at"], agent["created_at"]);
    assert!(
        updated["updated_at"].as_str() > agent["updated_at"].as_str(),
        "updated_at did not move"
    );
    let unguarded = update(&server, &agent_id, json!({"name": "again"})).await?;
    assert_eq!(unguarded["version"], 3);
    Ok(())
}

#[tokio::test]
async fn stale_version_update_is_rejected_with_409() -> Result<()> {
    let server = TestServer::start().await?;
    let agent_id = id(&create_agent(&server, "a").await?);
    update(&server, &agent_id, json!({"version": 1, "name": "b"})).await?;
    let reply = post(
        &server,
        &format!("/v1/agents/{agent_id}"),
        json!({"version": 1, "name": "c"}),
    )
    .await?;
    reply.check_error(409, "conflict_error", CONFLICT)?;
    assert_eq!(reply.body["error"]["message"], CONFLICT);
    assert_eq!(reply.header("x-should-retry"), Some("false"));
    let reply = post(
        &server,
        &format!("/v1/agents/{agent_id}"),
        json!({"version": 7}),
    )
    .await?;
    reply.check_error(409, "conflict_error", CONFLICT)?;
    let current = fetch(&server, &format!("/v1/agents/{agent_id}")).await?;
    assert_eq!(
        (current["version"].clone(), current["name"].clone()),
        (json!(2), json!("b")),
        "a rejected update consumed a version"
    );
    Ok(())
}

#[tokio::test]
async fn no_op_update_keeps_the_version() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create("/v1/agents", json!({"name": "same", "model": "claude-opus-4-6", "metadata": {"k": "v"}, "system": "s"}))
        .await?;
    let agent_id = id(&agent);
    for body in [
        json!({}),
        json!({"name": "same", "system": "s"}),
        json!({"version": 1, "metadata": {"k": "v"}}),
        json!({"metadata": null}),
        json!({"model": "claude-opus-4-6"}),
    ] {
        let same = update(&server, &agent_id, body.clone()).await?;
        assert_eq!(same, agent, "{body} changed the agent");
    }
    Ok(())
}

#[tokio::test]
async fn retrieve_with_version_returns_the_old_snapshot() -> Result<()> {
    let server = TestServer::start().await?;
    let v1 = create_agent(&server, "first").await?;
    let agent_id = id(&v1);
    let v2 = update(
        &server,
        &agent_id,
        json!({"name": "second", "system": "new"}),
    )
    .await?;
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{agent_id}?version=1")).await?,
        v1
    );
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{agent_id}?version=2")).await?,
        v2
    );
    assert_eq!(fetch(&server, &format!("/v1/agents/{agent_id}")).await?, v2);
    let missing = get(&server, &format!("/v1/agents/{agent_id}?version=3")).await?;
    missing.check_error(404, "not_found_error", "Agent version not found.")?;
    let zero = get(&server, &format!("/v1/agents/{agent_id}?version=0")).await?;
    zero.check_error(400, "invalid_request_error", "version")?;
    Ok(())
}

#[tokio::test]
async fn versions_list_newest_first_and_paginates() -> Result<()> {
    let server = TestServer::start().await?;
    let agent_id = id(&create_agent(&server, "v").await?);
    for i in 2..=25 {
        let updated = update(
            &server,
            &agent_id,
            json!({"metadata": {"step": i.to_string()}}),
        )
        .await?;
        assert_eq!(updated["version"], i);
    }
    let versions = |page: &Value| -> Vec<i64> {
        page["data"]
            .as_array()
            .map(|d| d.iter().filter_map(|a| a["version"].as_i64()).collect())
            .unwrap_or_default()
    };
    let mut path = format!("/v1/agents/{agent_id}/versions?limit=10");
    let mut pages = Vec::new();
    loop {
        let page = fetch(&server, &path).await?;
        assert!(
            page.get("prev_page").is_none(),
            "agent versions are a forward-only page: {page}"
        );
        pages.push(versions(&page));
        match page["next_page"].as_str() {
            Some(next) => path = format!("/v1/agents/{agent_id}/versions?limit=10&page={next}"),
            None => break,
        }
        assert!(pages.len() < 5, "pagination does not end");
    }
    assert_eq!(
        pages,
        vec![
            (16..=25).rev().collect::<Vec<_>>(),
            (6..=15).rev().collect(),
            (1..=5).rev().collect()
        ]
    );

    let default = fetch(&server, &format!("/v1/agents/{agent_id}/versions")).await?;
    assert_eq!(
        versions(&default),
        (6..=25).rev().collect::<Vec<_>>(),
        "default limit is 20"
    );
    let oldest = &fetch(
        &server,
        &format!("/v1/agents/{agent_id}/versions?limit=100"),
    )
    .await?["data"][24];
    assert_eq!(oldest["version"], 1);
    assert_eq!(oldest["metadata"], json!({}));
    Ok(())
}

#[tokio::test]
async fn archive_is_idempotent_and_hides_the_agent_from_lists() -> Result<()> {
    let server = TestServer::start().await?;
    let kept = id(&create_agent(&server, "kept").await?);
    let agent_id = id(&create_agent(&server, "gone").await?);
    let archived = server
        .create(&format!("/v1/agents/{agent_id}/archive"), json!({}))
        .await?;
    assert!(archived["archived_at"].is_string(), "{archived}");
    assert_eq!(archived["version"], 1, "archiving is not a new version");
    let again = server
        .create(&format!("/v1/agents/{agent_id}/archive"), json!({}))
        .await?;
    assert_eq!(again, archived);
    assert_eq!(
        fetch(&server, &format!("/v1/agents/{agent_id}")).await?,
        archived
    );

    assert_eq!(
        ids(&fetch(&server, "/v1/agents").await?),
        vec![kept.clone()]
    );
    assert_eq!(
        ids(&fetch(&server, "/v1/agents?include_archived=false").await?),
        vec![kept.clone()]
    );
    let all = ids(&fetch(&server, "/v1/agents?include_archived=true").await?);
    assert!(all.contains(&agent_id) && all.contains(&kept), "{all:?}");

    let reply = post(
        &server,
        &format!("/v1/agents/{agent_id}"),
        json!({"name": "x"}),
    )
    .await?;
    reply.check_error(
        400,
        "invalid_request_error",
        "Cannot modify archived agent.",
    )?;
    let history = fetch(&server, &format!("/v1/agents/{agent_id}/versions")).await?;
    assert_eq!(history["data"][0]["archived_at"], archived["archived_at"]);
    Ok(())
}

#[tokio::test]
async fn metadata_update_is_a_patch() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "m", "model": "claude-opus-4-6", "metadata": {"a": "1", "b": "2"}}),
        )
        .await?;
    let agent_id = id(&agent);
    let updated = update(
        &server,
        &agent_id,
        json!({"metadata": {"a": null, "c": "3", "b": "two"}}),
    )
    .await?;
    assert_eq!(updated["metadata"], json!({"b": "two", "c": "3"}));
    assert_eq!(updated["version"], 2);
    let updated = update(&server, &agent_id, json!({"metadata": {"missing": null}})).await?;
    assert_eq!(updated["metadata"], json!({"b": "two", "c": "3"}));
    assert_eq!(
        updated["version"], 2,
        "deleting an absent key changes nothing"
    );
    let sixteen: serde_json::Map<String, Value> =
        (0..14).map(|i| (format!("k{i}"), json!("v"))).collect();
    let updated = update(&server, &agent_id, json!({"metadata": sixteen})).await?;
    assert_eq!(updated["metadata"].as_object().map(|m| m.len()), Some(16));
    let reply = post(
        &server,
        &format!("/v1/agents/{agent_id}"),
        json!({"metadata": {"one_more": "v"}}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "at most 16")?;
    assert_eq!(reply.error_code(), Some("invalid_metadata"));
    Ok(())
}

#[tokio::test]
async fn null_and_empty_strings_clear_system_and_description() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create("/v1/agents", json!({"name": "t", "model": "claude-opus-4-6", "system": "sys", "description": "desc"}))
        .await?;
    let agent_id = id(&agent);
    let kept = update(&server, &agent_id, json!({"name": "t2"})).await?;
    assert_eq!(
        (kept["system"].clone(), kept["description"].clone()),
        (json!("sys"), json!("desc"))
    );
    let cleared = update(
        &server,
        &agent_id,
        json!({"system": null, "description": ""}),
    )
    .await?;
    assert_eq!(cleared["system"], json!(null));
    assert_eq!(cleared["description"], json!(null));
    let set = update(
        &server,
        &agent_id,
        json!({"system": "again", "description": "d"}),
    )
    .await?;
    let cleared = update(
        &server,
        &agent_id,
        json!({"system": "", "description": null}),
    )
    .await?;
    assert_eq!(
        (cleared["system"].clone(), cleared["description"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(
        cleared["version"].as_i64(),
        set["version"].as_i64().map(|v| v + 1)
    );

    for (body, message) in [
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name: must not be empty"),
        (json!({"model": null}), "model"),
    ] {
        let reply = post(&server, &format!("/v1/agents/{agent_id}"), body).await?;
        reply.check_error(400, "invalid_request_error", message)?;
    }
    Ok(())
}

#[tokio::test]
async fn model_update_replaces_the_object_but_keeps_stored_effort() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create("/v1/agents", json!({"name": "m", "model": {"id": "claude-opus-4-6", "effort": "low", "inference_geo": "eu"}}))
        .await?;
    let updated = update(
        &server,
        &id(&agent),
        json!({"model": {"id": "claude-sonnet-4-6"}}),
    )
    .await?;
    assert_eq!(
        updated["model"],
        json!({"id": "claude-sonnet-4-6", "effort": {"type": "low"}, "inference_geo": null, "speed": "standard"})
    );
    Ok(())
}

#[tokio::test]
async fn execution_identity_null_restores_the_service_account() -> Result<()> {
    let server = TestServer::start().await?;
    let arn = "arn:aws:iam::123456789012:role/agent";
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "i", "model": "claude-opus-4-6",
            "execution_identity": {"type": "aws_role", "role_arn": arn}}),
        )
        .await?;
    assert_eq!(
        agent["execution_identity"],
        json!({"type": "aws_role", "role_arn": arn})
    );
    let updated = update(&server, &id(&agent), json!({"execution_identity": null})).await?;
    assert_eq!(
        updated["execution_identity"],
        json!({"type": "service_account"})
    );
    Ok(())
}

#[tokio::test]
async fn tools_update_is_a_full_replacement() -> Result<()> {
    let server = TestServer::start().await?;
    let custom = |name: &str| {
        json!({"type": "custom", "name": name, "description": "d",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}})
    };
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "t", "model": "claude-opus-4-6", "tools": [
            {"type": "agent_toolset_20260401", "configs": [{"name": "bash", "enabled": false}]},
            {"type": "mcp_toolset", "mcp_server_name": "docs"},
            custom("one"),
        ], "mcp_servers": [{"type": "url", "name": "docs", "url": "https://mcp.example.com/sse"}]}),
        )
        .await?;
    assert_eq!(agent["tools"].as_array().map(Vec::len), Some(3));
    assert_eq!(agent["tools"][2], custom("one"));
    let agent_id = id(&agent);

    let reply = post(
        &server,
        &format!("/v1/agents/{agent_id}"),
        json!({"tools": [custom("two")]}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "not referenced")?;

    let updated = update(
        &server,
        &agent_id,
        json!({"tools": [custom("two")], "mcp_servers": []}),
    )
    .await?;
    assert_eq!(updated["tools"], json!([custom("two")]));
    assert_eq!(updated["mcp_servers"], json!([]));
    let cleared = update(&server, &agent_id, json!({"tools": null})).await?;
    assert_eq!(cleared["tools"], json!([]));
    let again = update(&server, &agent_id, json!({"tools": [custom("three")]})).await?;
    let emptied = update(&server, &agent_id, json!({"tools": []})).await?;
    assert_eq!(again["tools"], json!([custom("three")]));
    assert_eq!(emptied["tools"], json!([]));
    assert_eq!(emptied["version"], 5);
    Ok(())
}

#[tokio::test]
async fn created_at_filters_are_inclusive() -> Result<()> {
    let server = TestServer::start().await?;
    let first = create_agent(&server, "first").await?;
    let second = create_agent(&server, "second").await?;
    let third = create_agent(&server, "third").await?;
    let at = |agent: &Value| agent["created_at"].as_str().unwrap_or_default().to_owned();

    let page = fetch(
        &server,
        &format!("/v1/agents?created_at%5Bgte%5D={}", encode(&at(&second))),
    )
    .await?;
    let mut found = ids(&page);
    found.sort();
    assert_eq!(found, vec![id(&second), id(&third)]);

    let offset = at(&second).replace('Z', "+00:00");
    let page = fetch(
        &server,
        &format!("/v1/agents?created_at%5Blte%5D={}", encode(&offset)),
    )
    .await?;
    let mut found = ids(&page);
    found.sort();
    assert_eq!(found, vec![id(&first), id(&second)]);

    let page = fetch(
        &server,
        &format!(
            "/v1/agents?created_at%5Bgte%5D={}&created_at%5Blte%5D={}",
            encode(&at(&second)),
            encode(&at(&second))
        ),
    )
    .await?;
    assert_eq!(ids(&page), vec![id(&second)]);
    assert_eq!(page["next_page"], json!(null));
    Ok(())
}

#[tokio::test]
async fn agents_list_pages_without_repeats() -> Result<()> {
    let server = TestServer::start().await?;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(id(&create_agent(&server, &format!("a{i}")).await?));
    }
    let mut seen = Vec::new();
    let mut path = "/v1/agents?limit=2".to_owned();
    loop {
        let page = fetch(&server, &path).await?;
        assert!(
            page.get("prev_page").is_none(),
            "agents list has no prev_page: {page}"
        );
        seen.extend(ids(&page));
        match page["next_page"].as_str() {
            Some(next) => path = format!("/v1/agents?limit=2&page={next}"),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(
        seen, created,
        "agents list is newest first, every agent once"
    );
    Ok(())
}
