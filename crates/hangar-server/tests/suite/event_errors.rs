//! Bad input to the event endpoints: each request gets the documented error envelope with a
//! message that names the field, and nothing is written.

use anyhow::Result;
use hangar_testkit::TestServer;
use serde_json::{Value, json};

use super::{create_agent, create_environment, create_session, fetch, get, id, post};

fn message(text: &str) -> Value {
    json!({"type": "user.message", "content": [{"type": "text", "text": text}]})
}

#[tokio::test]
async fn bad_events_are_refused_and_nothing_is_written() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = id(&create_agent(&server, "a").await?);
    let env = id(&create_environment(&server, "e").await?);
    let session = id(&create_session(&server, json!(agent), &env).await?);
    let path = format!("/v1/sessions/{session}/events");
    let huge = "x".repeat(1_000_001);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no events",
            json!({"events": []}),
            "events: must contain at least one event",
        ),
        ("missing events", json!({}), "missing field `events`"),
        (
            "51 events",
            json!({"events": vec![message("hi"); 51]}),
            "at most 50 events",
        ),
        (
            "agent event",
            json!({"events": [{"type": "agent.message", "content": []}]}),
            "events[0]",
        ),
        (
            "unknown field",
            json!({"events": [{"type": "user.interrupt", "why": 1}]}),
            "unknown field `why`",
        ),
        (
            "empty content",
            json!({"events": [{"type": "user.message", "content": []}]}),
            "events[0].content: must contain at least one block",
        ),
        (
            "empty text",
            json!({"events": [message("")]}),
            "events[0].content[0].text: must not be empty",
        ),
        (
            "huge text",
            json!({"events": [message(&huge)]}),
            "at most 1000000 characters",
        ),
        (
            "search result in a message",
            json!({"events": [{"type": "user.message", "content": [
            {"type": "search_result", "source": "s", "title": "t", "content": [], "citations": {"enabled": false}}]}]}),
            "`search_result` is not allowed here",
        ),
        (
            "image from a file",
            json!({"events": [{"type": "user.message", "content": [
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]}),
            "file `file_1` not found",
        ),
        (
            "confirmation of nothing",
            json!({"events": [{"type": "user.tool_confirmation",
            "tool_use_id": "sevt_01J0000000000000000000", "result": "allow"}]}),
            "is not a tool use awaiting a user.tool_confirmation",
        ),
        (
            "bad confirmation result",
            json!({"events": [{"type": "user.tool_confirmation",
            "tool_use_id": "sevt_1", "result": "maybe"}]}),
            "events[0]",
        ),
        (
            "custom result for nothing",
            json!({"events": [{"type": "user.custom_tool_result",
            "custom_tool_use_id": "sevt_01J0000000000000000000"}]}),
            "custom_tool_use_id",
        ),
        (
            "tool result in a cloud env",
            json!({"events": [{"type": "user.tool_result",
            "tool_use_id": "sevt_1"}]}),
            "only accepted for sessions in self_hosted environments",
        ),
        (
            "define outcome",
            json!({"events": [{"type": "user.define_outcome", "description": "d",
            "rubric": {"type": "text", "content": "c"}}]}),
            "not supported",
        ),
        (
            "system message first",
            json!({"events": [{"type": "system.message",
            "content": [{"type": "text", "text": "s"}]}, message("hi")]}),
            "must be the last event",
        ),
        (
            "two system messages",
            json!({"events": [message("hi"),
            {"type": "system.message", "content": [{"type": "text", "text": "a"}]},
            {"type": "system.message", "content": [{"type": "text", "text": "b"}]}]}),
            "at most one system.message",
        ),
        (
            "system message with an image",
            json!({"events": [message("hi"), {"type": "system.message",
            "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]}),
            "`image` is not allowed here",
        ),
        (
            "interrupt for another thread",
            json!({"events": [{"type": "user.interrupt",
            "session_thread_id": "sthr_other"}]}),
            "does not belong to this session",
        ),
    ];
    let mut failures = Vec::new();
    for (what, body, message) in &cases {
        let reply = post(&server, &path, body.clone()).await?;
        if let Err(err) = reply.check_error(400, "invalid_request_error", message) {
            failures.push(format!("{what}: {err:#}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let log = fetch(&server, &path).await?;
    assert_eq!(log["data"], json!([]), "a refused request writes nothing");

    let missing = post(
        &server,
        "/v1/sessions/sesn_01J0000000000000000000/events",
        json!({"events": [message("hi")]}),
    )
    .await?;
    missing.check_error(404, "not_found_error", "not found")?;
    Ok(())
}

#[tokio::test]
async fn archived_sessions_take_no_events() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = id(&create_agent(&server, "a").await?);
    let env = id(&create_environment(&server, "e").await?);
    let session = id(&create_session(&server, json!(agent), &env).await?);
    server
        .create(&format!("/v1/sessions/{session}/archive"), json!({}))
        .await?;
    let reply = post(
        &server,
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [message("hi")]}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "archived")?;
    Ok(())
}

#[tokio::test]
async fn events_list_validates_its_query() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = id(&create_agent(&server, "a").await?);
    let env = id(&create_environment(&server, "e").await?);
    let session = id(&create_session(&server, json!(agent), &env).await?);
    let path = format!("/v1/sessions/{session}/events");
    for (query, message) in [
        ("limit=1001", "limit: must be between 1 and 1000"),
        ("limit=0", "limit"),
        (
            "types[]=agent.bogus",
            "`agent.bogus` is not a valid event type",
        ),
        ("types[]=session.deleted", "not a valid event type"),
        ("page=garbage", "invalid page cursor"),
        ("order=sideways", "order"),
        ("created_at[gt]=yesterday", "created_at[gt]"),
    ] {
        let reply = get(&server, &format!("{path}?{query}")).await?;
        reply
            .check_error(400, "invalid_request_error", message)
            .map_err(|e| e.context(query))?;
    }
    let ok = fetch(&server, &format!("{path}?limit=1000")).await?;
    assert_eq!(ok["next_page"], Value::Null);
    Ok(())
}

#[tokio::test]
async fn events_list_pages_filters_and_orders() -> Result<()> {
    let server = TestServer::start().await?;
    let agent = id(&create_agent(&server, "a").await?);
    let env = id(&create_environment(&server, "e").await?);
    let session = id(&create_session(&server, json!(agent), &env).await?);
    let path = format!("/v1/sessions/{session}/events");
    // Interrupts on an idle session are stored and settle as no-ops; messages queue.
    for i in 0..7 {
        let event = if i % 2 == 0 {
            json!({"type": "user.interrupt"})
        } else {
            message(&format!("m{i}"))
        };
        let reply = post(&server, &path, json!({"events": [event]})).await?;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let all = fetch(
        &server,
        &format!("{path}?types[]=user.interrupt&types[]=user.message&limit=1000"),
    )
    .await?;
    let ids: Vec<Value> = all["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids.len(), 7);
    let mut walked = Vec::new();
    let mut next = format!("{path}?limit=3&types[]=user.interrupt&types[]=user.message");
    loop {
        let page = fetch(&server, &next).await?;
        walked.extend(
            page["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["next_page"].as_str() {
            Some(cursor) => {
                next = format!(
                    "{path}?limit=3&types[]=user.interrupt&types[]=user.message&page={cursor}"
                )
            }
            None => break,
        }
    }
    assert_eq!(walked, ids, "pages walk the log once, in order");
    let desc = fetch(&server, &format!("{path}?order=desc&types[]=user.message")).await?;
    let texts: Vec<Value> = desc["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| e["content"][0]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("m5"), json!("m3"), json!("m1")]);
    let interrupts = fetch(&server, &format!("{path}?types[]=user.interrupt")).await?;
    assert_eq!(interrupts["data"].as_array().map(Vec::len), Some(4));
    Ok(())
}
