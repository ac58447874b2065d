//! The bad-request corpus: one table of malformed or forbidden requests, each of which must be
//! answered with the documented error envelope (never a 500).

use anyhow::Result;
use hangar_core::limits::MAX_BODY_BYTES;
use hangar_testkit::TestServer;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Body, create_agent, create_environment, create_session, fetch, id, send};

const BAD_REQUEST: &str = "invalid_request_error";
const NOT_FOUND: &str = "not_found_error";

/// One row: a request and the error it must produce.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    body: Body,
    status: u16,
    error_type: &'static str,
    message: String,
    error_code: Option<&'static str>,
}

fn case(
    what: &'static str,
    method: Method,
    path: &str,
    body: Body,
    status: u16,
    error_type: &'static str,
    message: &str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        body,
        status,
        error_type,
        message: message.to_owned(),
        error_code: None,
    }
}

/// A 400 for a JSON body posted to `path`.
fn bad(what: &'static str, path: &str, body: Value, message: &str) -> Case {
    case(
        what,
        Method::POST,
        path,
        Body::Json(body),
        400,
        BAD_REQUEST,
        message,
    )
}

/// A 400 for a GET of `path` (list query parameters).
fn bad_query(what: &'static str, path: &str, message: &str) -> Case {
    case(
        what,
        Method::GET,
        path,
        Body::Empty,
        400,
        BAD_REQUEST,
        message,
    )
}

impl Case {
    fn code(mut self, code: &'static str) -> Case {
        self.error_code = Some(code);
        self
    }
}

/// An agent create body with `extra` merged in.
fn agent_with(extra: Value) -> Value {
    let mut body = json!({"name": "corpus", "model": "claude-opus-4-6"});
    if let (Some(target), Value::Object(fields)) = (body.as_object_mut(), extra) {
        target.extend(fields);
    }
    body
}

fn custom_tool(name: &str) -> Value {
    json!({"type": "custom", "name": name, "description": "d", "input_schema": {"type": "object"}})
}

fn mcp_server(name: &str) -> Value {
    json!({"type": "url", "name": name, "url": format!("https://mcp.example.com/{name}")})
}

fn metadata_pairs(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i}"), json!("v"))).collect())
}

fn agent_cases() -> Vec<Case> {
    let path = "/v1/agents";
    let toolset =
        |configs: Value| json!({"tools": [{"type": "agent_toolset_20260401", "configs": configs}]});
    vec![
        case(
            "invalid JSON",
            Method::POST,
            path,
            Body::Raw(b"{not json".to_vec()),
            400,
            BAD_REQUEST,
            "request body is not valid JSON",
        ),
        case(
            "trailing garbage",
            Method::POST,
            path,
            Body::Raw(br#"{"name":"a","model":"m"} x"#.to_vec()),
            400,
            BAD_REQUEST,
            "not valid JSON",
        ),
        bad(
            "wrong type for a field",
            path,
            json!({"name": 5, "model": "m"}),
            "name: invalid type",
        ),
        bad(
            "model of the wrong type",
            path,
            json!({"name": "a", "model": 5}),
            "model",
        ),
        bad(
            "unknown top-level field",
            path,
            agent_with(json!({"bogus": 1})),
            "unknown field `bogus`",
        ),
        bad(
            "unknown field inside tools[0]",
            path,
            agent_with(
                json!({"tools": [{"type": "custom", "name": "t", "description": "d",
                "input_schema": {"type": "object"}, "x": 1}]}),
            ),
            "unknown field `x`",
        ),
        bad(
            "unknown field inside tools[0] names the tool",
            path,
            agent_with(
                json!({"tools": [{"type": "mcp_toolset", "mcp_server_name": "s", "bogus": true}]}),
            ),
            "tools[0]",
        ),
        bad(
            "missing required field",
            path,
            json!({"model": "claude-opus-4-6"}),
            "missing field `name`",
        ),
        bad(
            "missing model",
            path,
            json!({"name": "a"}),
            "missing field `model`",
        ),
        bad(
            "empty name",
            path,
            agent_with(json!({"name": ""})),
            "name: must not be empty",
        ),
        bad(
            "name over 256 chars",
            path,
            agent_with(json!({"name": "n".repeat(257)})),
            "name: must be at most 256 characters",
        ),
        bad(
            "description over 2048 chars",
            path,
            agent_with(json!({"description": "d".repeat(2049)})),
            "description: must be at most 2048 characters",
        ),
        bad(
            "system over 100000 chars",
            path,
            agent_with(json!({"system": "s".repeat(100_001)})),
            "system: must be at most 100000 characters",
        ),
        bad(
            "17 metadata pairs",
            path,
            agent_with(json!({"metadata": metadata_pairs(17)})),
            "at most 16",
        )
        .code("invalid_metadata"),
        bad(
            "65-char metadata key",
            path,
            agent_with(json!({"metadata": {"k".repeat(65): "v"}})),
            "metadata",
        )
        .code("invalid_metadata"),
        bad(
            "513-char metadata value",
            path,
            agent_with(json!({"metadata": {"k": "v".repeat(513)}})),
            "at most 512 characters",
        )
        .code("invalid_metadata"),
        bad(
            "129 tools",
            path,
            agent_with(
                json!({"tools": (0..129).map(|i| custom_tool(&format!("t{i}"))).collect::<Vec<_>>()}),
            ),
            "tools: at most 128 entries",
        ),
        bad(
            "21 mcp servers",
            path,
            agent_with(
                json!({"mcp_servers": (0..21).map(|i| mcp_server(&format!("s{i}"))).collect::<Vec<_>>()}),
            ),
            "mcp_servers: at most 20 entries",
        ),
        bad(
            "duplicate mcp server names",
            path,
            agent_with(
                json!({"mcp_servers": [mcp_server("docs"), mcp_server("docs")],
                "tools": [{"type": "mcp_toolset", "mcp_server_name": "docs"}]}),
            ),
            "duplicate MCP server name `docs`",
        ),
        bad(
            "mcp server not referenced by a toolset",
            path,
            agent_with(json!({"mcp_servers": [mcp_server("docs")]})),
            "not referenced by any mcp_toolset",
        ),
        bad(
            "toolset referencing an unknown server",
            path,
            agent_with(json!({"tools": [{"type": "mcp_toolset", "mcp_server_name": "ghost"}]})),
            "no MCP server named `ghost`",
        ),
        bad(
            "unknown builtin tool name in configs",
            path,
            agent_with(toolset(json!([{"name": "python"}]))),
            "python",
        ),
        bad(
            "duplicate tool config",
            path,
            agent_with(toolset(json!([{"name": "read"}, {"name": "read"}]))),
            "duplicate config for `read`",
        ),
        bad(
            "two agent_toolset entries",
            path,
            agent_with(
                json!({"tools": [{"type": "agent_toolset_20260401"}, {"type": "agent_toolset_20260401"}]}),
            ),
            "only one agent_toolset_20260401",
        ),
        bad(
            "a builtin listed as a tool",
            path,
            agent_with(json!({"tools": [{"type": "bash"}]})),
            "bash",
        ),
        bad(
            "additionalProperties in a custom tool schema",
            path,
            agent_with(
                json!({"tools": [{"type": "custom", "name": "t", "description": "d",
                "input_schema": {"type": "object", "additionalProperties": false}}]}),
            ),
            "additionalProperties",
        ),
        bad(
            "bad custom tool name",
            path,
            agent_with(json!({"tools": [custom_tool("bad name!")]})),
            "tools[0].name: must be 1 to 128 characters",
        ),
        bad(
            "effort extreme",
            path,
            agent_with(json!({"model": {"id": "claude-opus-4-6", "effort": "extreme"}})),
            "`extreme` is not a valid value",
        ),
        bad(
            "skill not found",
            path,
            agent_with(json!({"skills": [{"type": "anthropic", "skill_id": "xlsx"}]})),
            "skill `xlsx` not found",
        ),
        bad(
            "multiagent set",
            path,
            agent_with(
                json!({"multiagent": {"type": "coordinator", "agents": [{"type": "self"}]}}),
            ),
            "multiagent",
        ),
    ]
}

fn environment_cases(env_id: &str) -> Vec<Case> {
    let path = "/v1/environments";
    let limited = |extra: Value| {
        let mut networking = json!({"type": "limited"});
        if let (Some(target), Value::Object(fields)) = (networking.as_object_mut(), extra) {
            target.extend(fields);
        }
        networking
    };
    vec![
        bad(
            "allowed host with a scheme",
            path,
            json!({"name": "e", "config": {"type": "cloud", "networking": limited(json!({"allowed_hosts": ["https://x.com"]}))}}),
            "config.networking.allowed_hosts[0]: `https://x.com` is not a valid hostname",
        ),
        bad(
            "allowed host with a port",
            path,
            json!({"name": "e", "config": {"type": "cloud",
                "networking": limited(json!({"allowed_hosts": ["ok.example.com", "x.com:443"]}))}}),
            "config.networking.allowed_hosts[1]: `x.com:443` is not a valid hostname",
        ),
        bad(
            "packages under limited networking without package managers",
            path,
            json!({"name": "e", "config": {"type": "cloud", "networking": limited(json!({})),
                "packages": {"pip": ["pandas"]}}}),
            "allow_package_managers",
        ),
        bad(
            "package spec that looks like an option",
            path,
            json!({"name": "e", "config": {"type": "cloud", "packages": {"pip": ["-e"]}}}),
            "config.packages.pip[0]",
        ),
        bad(
            "self_hosted with sub-fields",
            path,
            json!({"name": "e", "config": {"type": "self_hosted", "networking": {"type": "unrestricted"}}}),
            "networking",
        ),
        bad(
            "unknown config type",
            path,
            json!({"name": "e", "config": {"type": "docker"}}),
            "docker",
        ),
        bad(
            "empty environment name",
            path,
            json!({"name": ""}),
            "name: must not be empty",
        ),
        bad(
            "config type change on update",
            &format!("/v1/environments/{env_id}"),
            json!({"config": {"type": "self_hosted"}}),
            "config.type",
        )
        .code("invalid_config_type_change"),
    ]
}

/// Objects the session rows refer to.
struct Fixtures {
    agent: String,
    archived_agent: String,
    env: String,
    archived_env: String,
    session: String,
    sessions_cursor: String,
    agents_cursor: String,
}

async fn fixtures(server: &TestServer) -> Result<Fixtures> {
    let agent = id(&create_agent(server, "active").await?);
    let archived_agent = id(&create_agent(server, "archived").await?);
    server
        .create(&format!("/v1/agents/{archived_agent}/archive"), json!({}))
        .await?;
    create_agent(server, "third").await?;
    let env = id(&create_environment(server, "active").await?);
    let archived_env = id(&create_environment(server, "archived").await?);
    server
        .create(
            &format!("/v1/environments/{archived_env}/archive"),
            json!({}),
        )
        .await?;
    let session = id(&create_session(server, json!(agent), &env).await?);
    create_session(server, json!(agent), &env).await?;
    let cursor = |page: Value| page["next_page"].as_str().unwrap_or_default().to_owned();
    Ok(Fixtures {
        sessions_cursor: cursor(fetch(server, "/v1/sessions?limit=1").await?),
        agents_cursor: cursor(fetch(server, "/v1/agents?limit=1").await?),
        agent,
        archived_agent,
        env,
        archived_env,
        session,
    })
}

fn session_cases(f: &Fixtures) -> Vec<Case> {
    let path = "/v1/sessions";
    let with = |extra: Value| {
        let mut body = json!({"agent": f.agent, "environment_id": f.env});
        if let (Some(target), Value::Object(fields)) = (body.as_object_mut(), extra) {
            target.extend(fields);
        }
        body
    };
    vec![
        bad("environment id with the wrong prefix", path, with(json!({"environment_id": f.agent})),
            "environment_id: `agent_"),
        case("unknown environment", Method::POST, path,
            Body::Json(with(json!({"environment_id": "env_01J0000000000000000000"}))), 404, NOT_FOUND,
            "env_01J0000000000000000000")
            .code("environment_not_found"),
        case("unknown agent", Method::POST, path, Body::Json(with(json!({"agent": "agent_01J0000000000000000000"}))),
            404, NOT_FOUND, "agent_01J0000000000000000000"),
        case("agent version not found", Method::POST, path,
            Body::Json(with(json!({"agent": {"type": "agent", "id": f.agent, "version": 99}}))), 404, NOT_FOUND,
            "Agent version not found."),
        bad("archived agent", path, with(json!({"agent": f.archived_agent})), "is archived"),
        bad("archived environment", path, with(json!({"environment_id": f.archived_env})),
            &format!("Environment {} is archived.", f.archived_env))
            .code("environment_archived"),
        bad("budget", path,
            with(json!({"budget": {"type": "limit", "max_list_cost": {"amount": "2500", "currency": "USD"}}})),
            "budget")
            .code("model_not_budgetable"),
        bad("interrupt in initial events", path,
            with(json!({"initial_events": [{"type": "user.interrupt"}]})),
            "initial_events[0].type: `user.interrupt` is not allowed"),
        bad("empty initial message", path,
            with(json!({"initial_events": [{"type": "user.message", "content": []}]})),
            "initial_events[0].content: must contain at least one block"),
        bad("too many initial events", path,
            with(json!({"initial_events": vec![json!({"type": "user.message",
                "content": [{"type": "text", "text": "hi"}]}); 51]})),
            "initial_events: at most 50 events"),
        bad("file resource", path, with(json!({"resources": [{"type": "file", "file_id": "file_01"}]})),
            "resources[0].file_id"),
        bad("unknown top-level session field", path, with(json!({"agent_id": f.agent})), "unknown field `agent_id`"),
        bad("vault_ids in update", &format!("/v1/sessions/{}", f.session), json!({"vault_ids": ["vlt_01"]}),
            "vault_ids"),
        bad("overrides with model null", path,
            with(json!({"agent": {"type": "agent_with_overrides", "id": f.agent, "model": null}})), "model")
            .code("agent_model_required"),
    ]
}

fn list_cases(f: &Fixtures) -> Vec<Case> {
    vec![
        bad_query(
            "limit 0",
            "/v1/agents?limit=0",
            "limit: must be between 1 and 100",
        ),
        bad_query(
            "limit 101",
            "/v1/sessions?limit=101",
            "limit: must be between 1 and 100",
        ),
        bad_query(
            "limit abc",
            "/v1/environments?limit=abc",
            "limit: `abc` is not an integer",
        ),
        bad_query(
            "garbage cursor",
            "/v1/agents?page=garbage",
            "invalid page cursor",
        ),
        bad_query(
            "garbage cursor on versions",
            &format!("/v1/agents/{}/versions?page=garbage", f.agent),
            "invalid page cursor",
        ),
        bad_query(
            "desc cursor reused with order=asc",
            &format!("/v1/sessions?order=asc&page={}", f.sessions_cursor),
            "page token order does not match request",
        ),
        bad_query(
            "agents cursor on the environments list",
            &format!("/v1/environments?page={}", f.agents_cursor),
            "invalid page cursor",
        ),
        bad_query(
            "include_archived=maybe",
            "/v1/agents?include_archived=maybe",
            "include_archived: `maybe`",
        ),
        bad_query(
            "statuses[]=bogus",
            "/v1/sessions?statuses%5B%5D=bogus",
            "statuses: `bogus` is not a valid value",
        ),
        bad_query(
            "created_at[gte]=yesterday",
            "/v1/agents?created_at%5Bgte%5D=yesterday",
            "created_at[gte]: `yesterday` is not an RFC 3339 timestamp",
        ),
        bad_query(
            "order=sideways",
            "/v1/sessions?order=sideways",
            "order: `sideways`",
        ),
        bad_query(
            "agent_version without agent_id",
            "/v1/sessions?agent_version=1",
            "agent_version",
        ),
    ]
}

fn routing_cases() -> Vec<Case> {
    let mut too_large = br#"{"name":""#.to_vec();
    too_large.resize(MAX_BODY_BYTES + 16, b'a');
    too_large.extend_from_slice(br#"","model":"m"}"#);
    vec![
        case(
            "unknown route",
            Method::GET,
            "/v1/nope",
            Body::Empty,
            404,
            NOT_FOUND,
            "/v1/nope",
        ),
        case(
            "wrong method on a known route",
            Method::DELETE,
            "/v1/agents",
            Body::Empty,
            405,
            BAD_REQUEST,
            "DELETE",
        ),
        case(
            "body over 32 MiB",
            Method::POST,
            "/v1/agents",
            Body::Raw(too_large),
            413,
            "request_too_large",
            "exceeds",
        ),
    ]
}

#[tokio::test]
async fn every_bad_request_gets_the_documented_error_envelope() -> Result<()> {
    let server = TestServer::start().await?;
    let f = fixtures(&server).await?;
    let cases = agent_cases()
        .into_iter()
        .chain(environment_cases(&f.env))
        .chain(session_cases(&f))
        .chain(list_cases(&f))
        .chain(routing_cases());
    let mut failures = Vec::new();
    let mut count = 0;
    for c in cases {
        count += 1;
        let reply = send(&server, c.method.clone(), &c.path, c.body).await?;
        let checked = reply
            .check_error(c.status, c.error_type, &c.message)
            .and_then(|()| match c.error_code {
                Some(code) if reply.error_code() != Some(code) => {
                    anyhow::bail!("error_code {:?} (wanted {code})", reply.error_code())
                }
                _ => Ok(()),
            });
        if let Err(err) = checked {
            failures.push(format!(
                "{} ({} {}): {err:#}",
                c.what,
                c.method,
                c.path.chars().take(120).collect::<String>()
            ));
        }
    }
    assert!(count > 60, "the corpus shrank to {count} rows");
    assert!(
        failures.is_empty(),
        "{} of {count} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn body_less_posts_read_as_an_empty_object() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = id(&create_agent(&server, "a").await?);
    let archived = send(
        &server,
        Method::POST,
        &format!("/v1/agents/{agent}/archive"),
        Body::Empty,
    )
    .await?;
    assert_eq!(archived.status, 200, "{}", archived.body);
    assert!(archived.body["archived_at"].is_string());

    let env = id(&create_environment(&server, "e").await?);
    let updated = send(
        &server,
        Method::POST,
        &format!("/v1/environments/{env}"),
        Body::Raw(b"  \n".to_vec()),
    )
    .await?;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let deleted = send(
        &server,
        Method::DELETE,
        &format!("/v1/environments/{env}"),
        Body::Empty,
    )
    .await?;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    Ok(())
}

#[tokio::test]
async fn unknown_ids_are_404_on_every_resource() -> Result<()> {
    let server = TestServer::start().await?;
    for path in [
        "/v1/agents/agent_01J0000000000000000000",
        "/v1/agents/agent_01J0000000000000000000/versions",
        "/v1/environments/env_01J0000000000000000000",
        "/v1/sessions/sesn_01J0000000000000000000",
        "/v1/agents/not-even-an-id",
    ] {
        let reply = send(&server, Method::GET, path, Body::Empty).await?;
        reply
            .check_error(404, NOT_FOUND, "not found")
            .map_err(|e| e.context(path))?;
    }
    let reply = send(
        &server,
        Method::GET,
        "/v1/environments/env_01J0000000000000000000",
        Body::Empty,
    )
    .await?;
    reply.check_error_code(404, NOT_FOUND, "not found", "environment_not_found")?;
    for (method, path) in [
        (
            Method::POST,
            "/v1/agents/agent_01J0000000000000000000/archive",
        ),
        (
            Method::POST,
            "/v1/environments/env_01J0000000000000000000/archive",
        ),
        (
            Method::DELETE,
            "/v1/environments/env_01J0000000000000000000",
        ),
        (Method::POST, "/v1/sessions/sesn_01J0000000000000000000"),
        (
            Method::POST,
            "/v1/sessions/sesn_01J0000000000000000000/archive",
        ),
        (Method::DELETE, "/v1/sessions/sesn_01J0000000000000000000"),
    ] {
        let reply = send(&server, method.clone(), path, Body::Empty).await?;
        reply
            .check_error(404, NOT_FOUND, "not found")
            .map_err(|e| e.context(format!("{method} {path}")))?;
    }
    Ok(())
}
