//! Authentication, the `anthropic-beta` gate and request ids (`cma-api.md` §1.2–1.4,
//! `cma-behaviour.md` A.1–A.3).

use anyhow::Result;
use hangar_testkit::{BETA, TEST_API_KEY, TestServer};

use super::Reply;

/// A GET with exactly the headers given (no defaults from the test kit).
async fn raw_get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    let mut request = server.http.get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(request.send().await?).await
}

fn bearer() -> String {
    format!("Bearer {TEST_API_KEY}")
}

#[tokio::test]
async fn missing_api_key_is_401_authentication_error() -> Result<()> {
    let server = TestServer::start().await?;
    let reply = raw_get(&server, "/v1/agents", &[("anthropic-beta", BETA)]).await?;
    reply.check_error(401, "authentication_error", "API key")?;
    let reply = raw_get(
        &server,
        "/v1/agents",
        &[("anthropic-beta", BETA), ("authorization", "Bearer ")],
    )
    .await?;
    reply.check_error(401, "authentication_error", "API key")?;
    Ok(())
}

#[tokio::test]
async fn wrong_api_key_is_401() -> Result<()> {
    let server = TestServer::start().await?;
    for headers in [
        [
            ("anthropic-beta", BETA),
            ("authorization", "Bearer sk-hangar-wrong"),
        ],
        [("anthropic-beta", BETA), ("x-api-key", "sk-hangar-wrong")],
        [
            ("anthropic-beta", BETA),
            ("authorization", "Basic c2staGFuZ2FyLXRlc3Qta2V5"),
        ],
    ] {
        let reply = raw_get(&server, "/v1/sessions", &headers).await?;
        reply.check_error(401, "authentication_error", "API key")?;
    }
    Ok(())
}

#[tokio::test]
async fn x_api_key_and_bearer_are_both_accepted() -> Result<()> {
    let server = TestServer::start().await?;
    let reply = raw_get(
        &server,
        "/v1/agents",
        &[("anthropic-beta", BETA), ("x-api-key", TEST_API_KEY)],
    )
    .await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = raw_get(
        &server,
        "/v1/agents",
        &[("anthropic-beta", BETA), ("authorization", &bearer())],
    )
    .await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lower = format!("bearer {TEST_API_KEY}");
    let reply = raw_get(
        &server,
        "/v1/environments",
        &[("anthropic-beta", BETA), ("authorization", &lower)],
    )
    .await?;
    assert_eq!(
        reply.status, 200,
        "the auth scheme is case-insensitive: {}",
        reply.body
    );
    Ok(())
}

#[tokio::test]
async fn missing_beta_header_is_404_not_found() -> Result<()> {
    let server = TestServer::start().await?;
    for path in ["/v1/agents", "/v1/environments", "/v1/sessions"] {
        let reply = raw_get(&server, path, &[("authorization", &bearer())]).await?;
        reply.check_error(404, "not_found_error", BETA)?;
        let reply = raw_get(
            &server,
            path,
            &[
                ("authorization", &bearer()),
                ("anthropic-beta", "managed-agents-2025-01-01"),
            ],
        )
        .await?;
        reply.check_error(404, "not_found_error", "")?;
    }
    Ok(())
}

#[tokio::test]
async fn beta_header_may_be_a_comma_joined_list() -> Result<()> {
    let server = TestServer::start().await?;
    for value in [
        format!("foo-2025-01-01,{BETA}"),
        format!("foo-2025-01-01, {BETA} ,bar"),
    ] {
        let reply = raw_get(
            &server,
            "/v1/agents",
            &[("authorization", &bearer()), ("anthropic-beta", &value)],
        )
        .await?;
        assert_eq!(reply.status, 200, "{value}: {}", reply.body);
        assert_eq!(reply.body["data"], serde_json::json!([]));
    }
    Ok(())
}

#[tokio::test]
async fn healthz_needs_no_auth() -> Result<()> {
    let server = TestServer::start().await?;
    let reply = raw_get(&server, "/healthz", &[]).await?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "ok");
    Ok(())
}

#[tokio::test]
async fn every_response_carries_a_fresh_request_id() -> Result<()> {
    let server = TestServer::start().await?;
    let first = raw_get(
        &server,
        "/v1/agents",
        &[("authorization", &bearer()), ("anthropic-beta", BETA)],
    )
    .await?;
    let second = raw_get(
        &server,
        "/v1/agents",
        &[("authorization", &bearer()), ("anthropic-beta", BETA)],
    )
    .await?;
    let health = raw_get(&server, "/healthz", &[]).await?;
    let ids: Vec<&str> = [&first, &second, &health]
        .iter()
        .filter_map(|r| r.header("request-id"))
        .collect();
    assert_eq!(ids.len(), 3, "a response lacks request-id");
    assert!(ids.iter().all(|id| id.starts_with("req_")), "{ids:?}");
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2],
        "request ids repeat: {ids:?}"
    );
    Ok(())
}
