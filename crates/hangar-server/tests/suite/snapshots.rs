//! Snapshot tests of whole response bodies (ids, timestamps and request ids redacted), so any
//! change to the wire shape shows up as a reviewed diff.

use anyhow::Result;
use hangar_testkit::TestServer;
use insta::assert_json_snapshot;
use serde_json::json;

use super::{create_environment, get, id, post};

#[tokio::test]
async fn agent_with_toolset_and_custom_tool() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "snap", "model": "claude-sonnet-4-6",
            "tools": [{"type": "agent_toolset_20260401", "configs": [{"name": "bash",
                "permission_policy": {"type": "always_ask"}}]},
                {"type": "custom", "name": "lookup", "description": "Look up a record.",
                 "input_schema": {"type": "object", "properties": {"key": {"type": "string"}}}}]}),
        )
        .await?;
    assert_json_snapshot!("agent_created", agent, {".id" => "[agent_id]", ".created_at" => "[time]", ".updated_at" => "[time]"});
    Ok(())
}

#[tokio::test]
async fn environment_with_limited_networking() -> Result<()> {
    let server = TestServer::start().await?;
    let env = server
        .create(
            "/v1/environments",
            json!({"name": "snap-env", "config": {"type": "cloud",
            "networking": {"type": "limited", "allowed_hosts": ["pypi.org", "*.example.com"]}}}),
        )
        .await?;
    assert_json_snapshot!("environment_created", env, {".id" => "[env_id]", ".created_at" => "[time]", ".updated_at" => "[time]"});
    Ok(())
}

#[tokio::test]
async fn error_envelopes() -> Result<()> {
    let server = TestServer::start().await?;
    let env_id = id(&create_environment(&server, "e").await?);
    let redact = |mut v: serde_json::Value| {
        v["request_id"] = json!("[request_id]");
        v
    };
    let missing = get(&server, "/v1/sessions/sesn_01J0000000000000000000").await?;
    assert_json_snapshot!("error_not_found", redact(missing.body));
    let bad_type = post(
        &server,
        "/v1/agents",
        json!({"name": 5, "model": "claude-opus-4-6"}),
    )
    .await?;
    assert_json_snapshot!("error_wrong_type", redact(bad_type.body));
    let unknown = post(
        &server,
        "/v1/environments",
        json!({"name": "x", "colour": "red"}),
    )
    .await?;
    assert_json_snapshot!("error_unknown_field", redact(unknown.body));
    let duplicate = post(&server, "/v1/environments", json!({"name": "e"})).await?;
    assert_json_snapshot!("error_duplicate_name", redact(duplicate.body));
    let stale = post(
        &server,
        &format!("/v1/environments/{env_id}"),
        json!({"config": {"type": "self_hosted"}}),
    )
    .await?;
    assert_json_snapshot!("error_config_type_change", redact(stale.body));
    Ok(())
}
