//! Crash and restart: `hangar serve` is killed with SIGKILL in the middle of a turn and
//! started again on the same data dir. Nothing acknowledged is lost, and the session either
//! continues or ends in an explicit state.

use std::time::Duration;

use anyhow::{Result, bail};
use hangar_testkit::mock_model::{ContentItem, MockModel, ResponseStep, Script, Step};
use serde_json::{Value, json};

use super::ServeProcess;

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

async fn wait_for(
    server: &ServeProcess,
    session: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Result<Vec<Value>> {
    for _ in 0..800 {
        let events = server.events(session).await?;
        if done(&events) {
            return Ok(events);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!(
        "timed out; log:\n{}\nevents: {:#?}",
        server.log(),
        server.events(session).await?
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_turn_then_restart_finishes_the_turn_with_nothing_lost() -> Result<()> {
    // The first response streams for several seconds: the kill lands inside it.
    let slow = ResponseStep::new(vec![ContentItem::text("a long answer that never finishes")])
        .chunk_chars(1)
        .event_delay_ms(200);
    let model = MockModel::start(Script::new(vec![
        Step::Response(slow),
        Step::text("recovered answer"),
    ]))
    .await?;
    let dir = tempfile::tempdir()?;
    let env = vec![
        ("ANTHROPIC_BASE_URL".to_owned(), model.anthropic_base_url()),
        ("ANTHROPIC_API_KEY".to_owned(), "sk-test".to_owned()),
    ];
    let mut server = ServeProcess::start(dir.path(), env).await?;
    let agent = server
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6"}),
        )
        .await?;
    let envr = server
        .post("/v1/environments", json!({"name": "e"}))
        .await?;
    let session = server
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": envr["id"]}),
        )
        .await?;
    let session = session["id"].as_str().unwrap_or_default().to_owned();
    let sent = server.post(&format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "go"}]}]})).await?;
    let sent_id = sent["data"][0]["id"].clone();
    let before = wait_for(&server, &session, |e| {
        types(e).contains(&"span.model_request_start")
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.kill()?;
    let server = server.restart().await?;

    let after = wait_for(&server, &session, |e| {
        types(e).contains(&"session.status_idle")
    })
    .await?;
    for event in &before {
        assert!(after.iter().any(|e| e["id"] == event["id"]), "lost {event}");
    }
    let ids: Vec<&Value> = after.iter().map(|e| &e["id"]).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "no event is duplicated");
    assert!(
        after.iter().any(|e| e["id"] == sent_id),
        "the acknowledged message is kept"
    );
    let ends: Vec<&Value> = after
        .iter()
        .filter(|e| e["type"] == "span.model_request_end")
        .collect();
    assert_eq!(
        ends[0]["is_error"], true,
        "the request cut by the crash is closed as failed"
    );
    let messages: Vec<&Value> = after
        .iter()
        .filter(|e| e["type"] == "agent.message")
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["content"][0]["text"], "recovered answer");
    let idle = after
        .iter()
        .rev()
        .find(|e| e["type"] == "session.status_idle")
        .cloned()
        .unwrap_or_default();
    assert_eq!(idle["stop_reason"]["type"], "end_turn");
    let state = server.get(&format!("/v1/sessions/{session}")).await?;
    assert_eq!(state["status"], "idle");
    assert_eq!(
        model.requests().len(),
        2,
        "the turn continued with a new request"
    );
    Ok(())
}
