//! Environments: defaults, unique names, partial config updates, metadata patches, archive and
//! delete (`cma-api.md` §2.2, §3.2; `cma-behaviour.md` C).

use anyhow::Result;
use hangar_testkit::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{create_environment, fetch, get, id, ids, post};

fn empty_packages() -> Value {
    json!({"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": []})
}

async fn update(server: &TestServer, env_id: &str, body: Value) -> Result<Value> {
    server
        .create(&format!("/v1/environments/{env_id}"), body)
        .await
}

#[tokio::test]
async fn create_materialises_a_cloud_config_with_unrestricted_networking() -> Result<()> {
    let server = TestServer::start().await?;
    let env = create_environment(&server, "plain").await?;
    assert!(id(&env).starts_with("env_"), "{env}");
    assert_eq!(env["type"], "environment");
    assert_eq!(env["name"], "plain");
    assert_eq!(env["description"], json!(null));
    assert_eq!(env["scope"], "organization");
    assert_eq!(env["metadata"], json!({}));
    assert_eq!(env["archived_at"], json!(null));
    assert_eq!(
        env["config"],
        json!({"type": "cloud", "networking": {"type": "unrestricted"}, "packages": empty_packages()})
    );
    assert_eq!(env["created_at"], env["updated_at"]);
    assert_eq!(
        fetch(&server, &format!("/v1/environments/{}", id(&env))).await?,
        env
    );

    let limited = server
        .create("/v1/environments", json!({"name": "limited", "config": {"type": "cloud", "networking": {"type": "limited"}}}))
        .await?;
    assert_eq!(
        limited["config"]["networking"],
        json!({"type": "limited", "allowed_hosts": [], "allow_mcp_servers": false, "allow_package_managers": false})
    );
    let hosted = server
        .create(
            "/v1/environments",
            json!({"name": "hosted", "config": {"type": "self_hosted"}}),
        )
        .await?;
    assert_eq!(hosted["config"], json!({"type": "self_hosted"}));
    let wildcard = server
        .create(
            "/v1/environments",
            json!({"name": "wild", "config": {"type": "cloud", "networking":
            {"type": "limited", "allowed_hosts": ["*.example.com", "api.github.com"]}}}),
        )
        .await?;
    assert_eq!(
        wildcard["config"]["networking"]["allowed_hosts"],
        json!(["*.example.com", "api.github.com"])
    );
    Ok(())
}

#[tokio::test]
async fn environment_names_are_unique() -> Result<()> {
    let server = TestServer::start().await?;
    create_environment(&server, "taken").await?;
    let reply = post(&server, "/v1/environments", json!({"name": "taken"})).await?;
    reply.check_error(409, "conflict_error", "taken")?;
    assert_eq!(reply.header("x-should-retry"), Some("false"));
    Ok(())
}

#[tokio::test]
async fn renaming_to_an_existing_name_is_409() -> Result<()> {
    let server = TestServer::start().await?;
    create_environment(&server, "first").await?;
    let second = create_environment(&server, "second").await?;
    let reply = post(
        &server,
        &format!("/v1/environments/{}", id(&second)),
        json!({"name": "first"}),
    )
    .await?;
    reply.check_error(409, "conflict_error", "first")?;
    assert_eq!(
        fetch(&server, &format!("/v1/environments/{}", id(&second))).await?["name"],
        "second"
    );
    let renamed = update(&server, &id(&second), json!({"name": "third"})).await?;
    assert_eq!(renamed["name"], "third");
    create_environment(&server, "second").await?;
    Ok(())
}

#[tokio::test]
async fn update_preserves_omitted_networking_and_packages() -> Result<()> {
    let server = TestServer::start().await?;
    let networking = json!({"type": "limited", "allowed_hosts": ["api.github.com"], "allow_mcp_servers": true,
        "allow_package_managers": true});
    let env = server
        .create(
            "/v1/environments",
            json!({"name": "py", "config": {"type": "cloud", "networking": networking,
            "packages": {"pip": ["pandas==2.2.0"], "apt": ["curl"]}}}),
        )
        .await?;
    let env_id = id(&env);

    let described = update(&server, &env_id, json!({"description": "data work"})).await?;
    assert_eq!(described["config"], env["config"]);
    assert_eq!(described["description"], "data work");

    let repackaged = update(
        &server,
        &env_id,
        json!({"config": {"type": "cloud", "packages": {"pip": ["numpy"]}}}),
    )
    .await?;
    assert_eq!(repackaged["config"]["networking"], networking);
    let mut packages = empty_packages();
    packages["pip"] = json!(["numpy"]);
    assert_eq!(
        repackaged["config"]["packages"], packages,
        "packages are replaced as a whole"
    );

    let opened = update(
        &server,
        &env_id,
        json!({"config": {"type": "cloud", "networking": {"type": "unrestricted"}}}),
    )
    .await?;
    assert_eq!(
        opened["config"]["networking"],
        json!({"type": "unrestricted"})
    );
    assert_eq!(opened["config"]["packages"], packages);

    let reply = post(
        &server,
        &format!("/v1/environments/{env_id}"),
        json!({"config": {"type": "cloud", "networking": {"type": "limited"}}}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "allow_package_managers")?;
    Ok(())
}

#[tokio::test]
async fn metadata_null_or_empty_string_deletes_a_key() -> Result<()> {
    let server = TestServer::start().await?;
    let env = server
        .create(
            "/v1/environments",
            json!({"name": "m", "metadata": {"a": "1", "b": "2", "c": "3"}}),
        )
        .await?;
    let updated = update(
        &server,
        &id(&env),
        json!({"metadata": {"a": "", "b": null, "d": "4"}}),
    )
    .await?;
    assert_eq!(updated["metadata"], json!({"c": "3", "d": "4"}));
    let kept = update(&server, &id(&env), json!({"name": "renamed"})).await?;
    assert_eq!(kept["metadata"], json!({"c": "3", "d": "4"}));
    Ok(())
}

#[tokio::test]
async fn description_null_clears_and_empty_string_is_stored() -> Result<()> {
    let server = TestServer::start().await?;
    let env = server
        .create("/v1/environments", json!({"name": "d", "description": "x"}))
        .await?;
    let empty = update(&server, &id(&env), json!({"description": ""})).await?;
    assert_eq!(empty["description"], "");
    let cleared = update(&server, &id(&env), json!({"description": null})).await?;
    assert_eq!(cleared["description"], json!(null));
    Ok(())
}

#[tokio::test]
async fn no_op_update_keeps_updated_at() -> Result<()> {
    let server = TestServer::start().await?;
    let env = server
        .create(
            "/v1/environments",
            json!({"name": "same", "metadata": {"k": "v"}}),
        )
        .await?;
    for body in [
        json!({}),
        json!({"name": "same"}),
        json!({"config": {"type": "cloud"}}),
        json!({"metadata": {"k": "v"}}),
    ] {
        assert_eq!(
            update(&server, &id(&env), body.clone()).await?,
            env,
            "{body}"
        );
    }
    let changed = update(&server, &id(&env), json!({"name": "other"})).await?;
    assert!(changed["updated_at"].as_str() > env["updated_at"].as_str());
    Ok(())
}

#[tokio::test]
async fn archive_is_idempotent_and_blocks_updates() -> Result<()> {
    let server = TestServer::start().await?;
    let kept = id(&create_environment(&server, "kept").await?);
    let env_id = id(&create_environment(&server, "old").await?);
    let archived = server
        .create(&format!("/v1/environments/{env_id}/archive"), json!({}))
        .await?;
    assert!(archived["archived_at"].is_string(), "{archived}");
    assert_eq!(
        server
            .create(&format!("/v1/environments/{env_id}/archive"), json!({}))
            .await?,
        archived
    );
    assert_eq!(
        fetch(&server, &format!("/v1/environments/{env_id}")).await?,
        archived
    );

    assert_eq!(
        ids(&fetch(&server, "/v1/environments").await?),
        vec![kept.clone()]
    );
    let all = ids(&fetch(&server, "/v1/environments?include_archived=true").await?);
    assert_eq!(all.len(), 2, "{all:?}");

    let reply = post(
        &server,
        &format!("/v1/environments/{env_id}"),
        json!({"description": "x"}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "archived")?;
    assert_eq!(reply.error_code(), Some("environment_archived"));
    Ok(())
}

#[tokio::test]
async fn delete_returns_a_confirmation_and_then_404() -> Result<()> {
    let server = TestServer::start().await?;
    let env_id = id(&create_environment(&server, "doomed").await?);
    let (status, body) = server.delete(&format!("/v1/environments/{env_id}")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"id": env_id, "type": "environment_deleted"}));
    let reply = get(&server, &format!("/v1/environments/{env_id}")).await?;
    reply.check_error(404, "not_found_error", &env_id)?;
    assert_eq!(reply.error_code(), Some("environment_not_found"));
    let (status, _) = server.delete(&format!("/v1/environments/{env_id}")).await?;
    assert_eq!(status, 404);
    assert_eq!(
        fetch(&server, "/v1/environments?include_archived=true").await?["data"],
        json!([])
    );
    create_environment(&server, "doomed").await?;
    Ok(())
}

#[tokio::test]
async fn environments_list_pages_without_repeats() -> Result<()> {
    let server = TestServer::start().await?;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(id(&create_environment(&server, &format!("e{i}")).await?));
    }
    let first = fetch(&server, "/v1/environments?limit=3").await?;
    assert!(first.get("prev_page").is_none(), "{first}");
    let next = first["next_page"].as_str().unwrap_or_default().to_owned();
    let second = fetch(&server, &format!("/v1/environments?limit=3&page={next}")).await?;
    assert_eq!(second["next_page"], json!(null));
    let mut seen = ids(&first);
    seen.extend(ids(&second));
    seen.sort();
    created.sort();
    assert_eq!(seen, created);
    Ok(())
}
