//! Sessions at work: turns driven through the HTTP API, with the real model adapters talking
//! to the scripted model server (`hangar_testkit::mock_model`). Every test also checks the
//! protocol invariants of each request the model received.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use hangar_core::model::ModelClient;
use hangar_llm::{ModelRouter, ProvidersConfig};
use hangar_testkit::TestServer;
use hangar_testkit::mock_model::{ContentItem, MockModel, RecordedRequest, Script, Step};
use serde_json::{Value, json};

use super::{create_environment, fetch, id, post};

/// How long a test waits for a session to settle before failing.
const SETTLE: Duration = Duration::from_secs(20);

/// A mock model and a server whose `anthropic` provider points at it.
pub struct Rig {
    pub model: MockModel,
    pub server: TestServer,
}

impl Rig {
    pub async fn start(steps: Vec<Step>) -> Result<Rig> {
        let model = MockModel::start(Script::new(steps)).await?;
        let server = TestServer::builder()
            .model(router_for(&model)?)
            .start()
            .await?;
        Ok(Rig { model, server })
    }

    /// An agent (with `tools`) and a session on a fresh environment; returns the session id.
    pub async fn session(&self, tools: Value) -> Result<String> {
        let agent = self
            .server
            .create(
                "/v1/agents",
                json!({"name": "worker", "model": "claude-sonnet-4-6",
                "system": "You are a test agent.", "tools": tools}),
            )
            .await?;
        let env = create_environment(&self.server, &format!("env-{}", id(&agent))).await?;
        let session = self
            .server
            .create(
                "/v1/sessions",
                json!({"agent": id(&agent), "environment_id": id(&env)}),
            )
            .await?;
        Ok(id(&session))
    }

    pub async fn send(&self, session: &str, events: Value) -> Result<Value> {
        let reply = post(
            &self.server,
            &format!("/v1/sessions/{session}/events"),
            json!({"events": events}),
        )
        .await?;
        ensure!(
            reply.status == 200,
            "send answered {}: {}",
            reply.status,
            reply.body
        );
        Ok(reply.body)
    }

    pub async fn say(&self, session: &str, text: &str) -> Result<Value> {
        self.send(
            session,
            json!([{"type": "user.message",
            "content": [{"type": "text", "text": text}]}]),
        )
        .await
    }

    /// Every event of the session, oldest first.
    pub async fn events(&self, session: &str) -> Result<Vec<Value>> {
        let page = fetch(&self.server, &format!("/v1/sessions/{session}/events")).await?;
        Ok(page["data"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until the session has `count` `session.status_idle` events and no queued input;
    /// returns the whole log.
    pub async fn settle(&self, session: &str, count: usize) -> Result<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let events = self.events(session).await?;
            let idles = of_type(&events, "session.status_idle").len();
            if idles >= count {
                return Ok(events);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "session did not reach {count} idle events; log: {}",
                    serde_json::to_string_pretty(&events)?
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The model requests so far, each checked for the protocol invariants.
    pub fn model_requests(&self) -> Result<Vec<RecordedRequest>> {
        let requests = self.model.requests();
        for request in &requests {
            check_pairing(&request.body)?;
        }
        Ok(requests)
    }
}

/// A router whose built-in `anthropic` provider is the mock.
pub fn router_for(model: &MockModel) -> Result<Arc<dyn ModelClient>> {
    let base = model.anthropic_base_url();
    let openai = model.openai_base_url();
    let router = ModelRouter::new(&ProvidersConfig::default(), move |name| match name {
        "ANTHROPIC_BASE_URL" => Some(base.clone()),
        "OPENAI_BASE_URL" => Some(openai.clone()),
        "ANTHROPIC_API_KEY" | "OPENAI_API_KEY" => Some("sk-test".to_owned()),
        _ => None,
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(router))
}

pub fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Anthropic request invariants: every `tool_use` is answered by exactly one `tool_result`
/// in the next (user) message, and every `tool_result` answers a call of the message before.
pub fn check_pairing(body: &Value) -> Result<()> {
    let messages = body["messages"].as_array().context("no messages")?;
    ensure!(
        messages.first().is_some_and(|m| m["role"] == "user"),
        "first message is not user's"
    );
    for (i, message) in messages.iter().enumerate() {
        let blocks = message["content"].as_array().cloned().unwrap_or_default();
        let calls: Vec<&str> = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .filter_map(|b| b["id"].as_str())
            .collect();
        if i > 0 {
            let previous = messages[i - 1]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for result in blocks.iter().filter(|b| b["type"] == "tool_result") {
                let id = result["tool_use_id"].as_str().unwrap_or_default();
                ensure!(
                    previous
                        .iter()
                        .any(|b| b["type"] == "tool_use" && b["id"] == id),
                    "tool_result {id} answers no call of the previous message"
                );
            }
        }
        if calls.is_empty() {
            continue;
        }
        let next = messages
            .get(i + 1)
            .context("tool calls without a following message")?;
        let results: Vec<&str> = next["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "tool_result")
            .filter_map(|b| b["tool_use_id"].as_str())
            .collect();
        for call in &calls {
            ensure!(
                results.iter().filter(|r| *r == call).count() == 1,
                "tool_use {call} has {} results",
                results.iter().filter(|r| *r == call).count()
            );
        }
    }
    Ok(())
}

fn text_step(text: &str) -> Step {
    Step::text(text)
}

#[tokio::test]
async fn a_message_runs_one_turn_and_returns_to_idle() -> Result<()> {
    let rig = Rig::start(vec![text_step("Hello there.")]).await?;
    let session = rig.session(json!([])).await?;
    let echo = rig.say(&session, "Hi!").await?;
    let sent = &echo["data"][0];
    assert_eq!(sent["type"], "user.message");
    assert!(
        sent["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("sevt_"))
    );
    assert_eq!(sent["processed_at"], Value::Null, "queued until processed");

    let events = rig.settle(&session, 1).await?;
    assert_eq!(
        types(&events),
        [
            "user.message",
            "session.status_running",
            "session.thread_status_running",
            "span.model_request_start",
            "agent.message",
            "span.model_request_end",
            "session.thread_status_idle",
            "session.usage",
            "session.status_idle",
        ]
    );
    assert!(
        events[0]["processed_at"].is_string(),
        "processed once the turn took it"
    );
    assert_eq!(
        events[4]["content"],
        json!([{"type": "text", "text": "Hello there."}])
    );
    assert_eq!(events[5]["model_request_start_id"], events[3]["id"]);
    assert_eq!(events[5]["is_error"], false);
    assert_eq!(events[8]["stop_reason"], json!({"type": "end_turn"}));
    assert_eq!(events[2]["agent_name"], "worker");

    let requests = rig.model_requests()?;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body["system"], "You are a test agent.");
    assert_eq!(
        requests[0].body["messages"],
        json!([{"role": "user",
        "content": [{"type": "text", "text": "Hi!"}]}])
    );
    let session_now = fetch(&rig.server, &format!("/v1/sessions/{session}")).await?;
    assert_eq!(session_now["status"], "idle");
    Ok(())
}

#[tokio::test]
async fn custom_tool_round_trip_pauses_for_the_client_and_resumes() -> Result<()> {
    let rig = Rig::start(vec![
        Step::content(vec![ContentItem::tool_use(
            "toolu_a",
            "lookup",
            json!({"key": "k1"}),
        )]),
        text_step("The value is 42."),
    ])
    .await?;
    let session = rig
        .session(json!([{"type": "custom", "name": "lookup",
        "description": "Look a key up.", "input_schema": {"type": "object",
        "properties": {"key": {"type": "string"}}}}]))
        .await?;
    rig.say(&session, "Look up k1").await?;
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.custom_tool_use")[0].clone();
    assert_eq!(call["name"], "lookup");
    assert_eq!(call["input"], json!({"key": "k1"}));
    let idle = of_type(&events, "session.status_idle")[0];
    assert_eq!(
        idle["stop_reason"],
        json!({"type": "requires_action", "event_ids": [call["id"]]})
    );

    let echo = rig
        .send(
            &session,
            json!([{"type": "user.custom_tool_result",
        "custom_tool_use_id": call["id"], "content": [{"type": "text", "text": "42"}]}]),
        )
        .await?;
    assert!(
        echo["data"][0]["processed_at"].is_string(),
        "processed on receipt"
    );
    let events = rig.settle(&session, 2).await?;
    let last = of_type(&events, "session.status_idle")[1];
    assert_eq!(last["stop_reason"]["type"], "end_turn");
    let requests = rig.model_requests()?;
    assert_eq!(requests.len(), 2);
    let second = &requests[1].body["messages"];
    assert_eq!(second[2]["content"][0]["type"], "tool_result");
    assert_eq!(second[2]["content"][0]["tool_use_id"], call["id"]);
    assert_eq!(requests[0].body["tools"][0]["name"], "lookup");
    // Answering again is refused: nothing waits any more.
    let again = post(
        &rig.server,
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": call["id"]}]}),
    )
    .await?;
    again.check_error(400, "invalid_request_error", "is not a tool use awaiting")?;
    Ok(())
}

/// A toolset whose `bash` asks for confirmation.
fn asking_bash() -> Value {
    json!([{"type": "agent_toolset_20260401", "configs": [{"name": "bash",
        "permission_policy": {"type": "always_ask"}}]}])
}

#[tokio::test]
async fn always_ask_deny_sends_the_deny_message_to_the_model() -> Result<()> {
    let rig = Rig::start(vec![
        Step::content(vec![ContentItem::tool_use(
            "toolu_b",
            "bash",
            json!({"command": "rm -rf /"}),
        )]),
        text_step("Understood, I will not."),
    ])
    .await?;
    let session = rig.session(asking_bash()).await?;
    rig.say(&session, "clean up").await?;
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.tool_use")[0].clone();
    assert_eq!(call["evaluated_permission"], "ask");
    assert_eq!(call["evaluation"], json!({"type": "always_ask"}));
    assert_eq!(
        of_type(&events, "session.status_idle")[0]["stop_reason"]["event_ids"],
        json!([call["id"]])
    );

    rig.send(
        &session,
        json!([{"type": "user.tool_confirmation", "tool_use_id": call["id"],
        "result": "deny", "deny_message": "never delete everything"}]),
    )
    .await?;
    let events = rig.settle(&session, 2).await?;
    let result = of_type(&events, "agent.tool_result")[0];
    assert_eq!(result["tool_use_id"], call["id"]);
    assert_eq!(result["is_error"], true);
    let requests = rig.model_requests()?;
    let answer = &requests[1].body["messages"][2]["content"][0];
    assert_eq!(answer["is_error"], true);
    assert!(
        answer.to_string().contains("never delete everything"),
        "{answer}"
    );
    assert_eq!(
        of_type(&events, "session.status_idle")[1]["stop_reason"]["type"],
        "end_turn"
    );
    let confirmation = of_type(&events, "user.tool_confirmation")[0];
    assert!(confirmation["processed_at"].is_string());
    Ok(())
}

#[tokio::test]
async fn always_ask_allow_runs_the_tool_and_says_when_no_sandbox_exists() -> Result<()> {
    let rig = Rig::start(vec![
        Step::content(vec![ContentItem::tool_use(
            "toolu_c",
            "bash",
            json!({"command": "ls"}),
        )]),
        text_step("No sandbox, then."),
    ])
    .await?;
    let session = rig.session(asking_bash()).await?;
    rig.say(&session, "list files").await?;
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.tool_use")[0].clone();
    rig.send(
        &session,
        json!([{"type": "user.tool_confirmation", "tool_use_id": call["id"],
        "result": "allow"}]),
    )
    .await?;
    let events = rig.settle(&session, 2).await?;
    let result = of_type(&events, "agent.tool_result")[0];
    assert_eq!(
        result["is_error"], true,
        "no sandbox is configured: never a fake success"
    );
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("no sandbox backend")
    );
    rig.model_requests()?;
    Ok(())
}

#[tokio::test]
async fn interrupt_during_a_model_stream_ends_the_turn_visibly() -> Result<()> {
    let slow = hangar_testkit::mock_model::ResponseStep::new(vec![ContentItem::text(
        "This answer streams very slowly and will be cut off by the interrupt.",
    )])
    .chunk_chars(2)
    .event_delay_ms(100);
    let rig = Rig::start(vec![Step::Response(slow), text_step("Redirected.")]).await?;
    let session = rig.session(json!([])).await?;
    rig.say(&session, "talk slowly").await?;
    wait_for_type(&rig, &session, "span.model_request_start").await?;
    rig.send(
        &session,
        json!([{"type": "user.interrupt"},
        {"type": "user.message", "content": [{"type": "text", "text": "stop and do this"}]}]),
    )
    .await?;
    let events = rig.settle(&session, 2).await?;
    let ends = of_type(&events, "span.model_request_end");
    assert_eq!(
        ends[0]["is_error"], true,
        "the cancelled request is visible: {events:#?}"
    );
    let idles = of_type(&events, "session.status_idle");
    assert_eq!(idles[0]["stop_reason"]["type"], "end_turn");
    assert!(
        of_type(&events, "agent.message")
            .iter()
            .all(|m| m["content"][0]["text"] == "Redirected."),
        "no partial message is stored"
    );
    let interrupt = of_type(&events, "user.interrupt")[0];
    assert!(interrupt["processed_at"].is_string());
    let requests = rig.model_requests()?;
    assert_eq!(requests.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_message_sent_mid_turn_is_steered_into_it() -> Result<()> {
    let slow = hangar_testkit::mock_model::ResponseStep::new(vec![ContentItem::tool_use(
        "toolu_d",
        "lookup",
        json!({}),
    )])
    .delay_ms(400);
    let rig = Rig::start(vec![Step::Response(slow), text_step("done")]).await?;
    let tool = json!([{"type": "agent_toolset_20260401", "default_config": {"enabled": false}},
        {"type": "custom", "name": "lookup", "description": "d", "input_schema": {"type": "object"}}]);
    let session = rig.session(tool).await?;
    rig.say(&session, "first").await?;
    wait_for_type(&rig, &session, "span.model_request_start").await?;
    rig.say(&session, "also this").await?;
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.custom_tool_use")[0].clone();
    rig.send(
        &session,
        json!([{"type": "user.custom_tool_result", "custom_tool_use_id": call["id"],
        "content": [{"type": "text", "text": "ok"}]}]),
    )
    .await?;
    let events = rig.settle(&session, 2).await?;
    assert_eq!(
        of_type(&events, "session.status_running").len(),
        2,
        "one per resumption"
    );
    let requests = rig.model_requests()?;
    let messages = &requests[1].body["messages"];
    // The steered message follows the tool result in the same user turn.
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(
        messages[2]["content"][1],
        json!({"type": "text", "text": "also this"})
    );
    Ok(())
}

#[tokio::test]
async fn retryable_errors_reschedule_and_then_succeed() -> Result<()> {
    let rig = Rig::start(vec![
        Step::http_error(429, "rate_limit_error", "slow down").with_retry_after("0"),
        Step::broken(
            2,
            hangar_testkit::mock_model::ResponseStep::new(vec![ContentItem::text(
                "a response that breaks off",
            )]),
        ),
        text_step("finally"),
    ])
    .await?;
    let session = rig.session(json!([])).await?;
    rig.say(&session, "hi").await?;
    let events = rig.settle(&session, 1).await?;
    let errors = of_type(&events, "session.error");
    assert_eq!(errors.len(), 2, "{events:#?}");
    assert_eq!(errors[0]["error"]["type"], "model_rate_limited_error");
    assert_eq!(
        errors[0]["error"]["retry_status"],
        json!({"type": "retrying"})
    );
    assert_eq!(errors[1]["error"]["type"], "model_request_failed_error");
    assert_eq!(of_type(&events, "session.status_rescheduled").len(), 2);
    assert_eq!(
        of_type(&events, "session.thread_status_rescheduled").len(),
        2
    );
    let ends = of_type(&events, "span.model_request_end");
    assert_eq!(
        ends.iter()
            .map(|e| e["is_error"].clone())
            .collect::<Vec<_>>(),
        [json!(true), json!(true), json!(false)]
    );
    assert_eq!(
        of_type(&events, "session.status_idle")[0]["stop_reason"]["type"],
        "end_turn"
    );
    assert_eq!(
        of_type(&events, "agent.message")[0]["content"][0]["text"],
        "finally"
    );
    Ok(())
}

#[tokio::test]
async fn retries_run_out_and_auth_errors_are_not_retried() -> Result<()> {
    let rig = Rig::start(vec![
        Step::http_error(500, "api_error", "boom"),
        Step::http_error(503, "api_error", "boom"),
        Step::http_error(529, "overloaded_error", "busy"),
        Step::http_error(401, "authentication_error", "bad key"),
    ])
    .await?;
    let session = rig.session(json!([])).await?;
    rig.say(&session, "hi").await?;
    let events = rig.settle(&session, 1).await?;
    let errors = of_type(&events, "session.error");
    assert_eq!(errors.len(), 3, "{events:#?}");
    assert_eq!(errors[2]["error"]["type"], "model_overloaded_error");
    assert_eq!(
        errors[2]["error"]["retry_status"],
        json!({"type": "exhausted"})
    );
    assert_eq!(
        of_type(&events, "session.status_idle")[0]["stop_reason"]["type"],
        "retries_exhausted"
    );

    rig.say(&session, "again").await?;
    let events = rig.settle(&session, 2).await?;
    let errors = of_type(&events, "session.error");
    assert_eq!(errors.len(), 4);
    assert_eq!(errors[3]["error"]["type"], "model_request_failed_error");
    assert_eq!(
        errors[3]["error"]["retry_status"],
        json!({"type": "exhausted"})
    );
    assert!(
        errors[3]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("bad key")
    );
    assert_eq!(
        of_type(&events, "session.status_rescheduled").len(),
        2,
        "a 401 is not retried"
    );
    Ok(())
}

async fn wait_for_type(rig: &Rig, session: &str, kind: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        if !of_type(&rig.events(session).await?, kind).is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("no {kind} event appeared")
}

/// A tool runtime whose calls never finish (until cancelled): a call is in flight when the
/// server goes down.
struct HangingTools;

#[async_trait::async_trait]
impl hangar_core::tool_runtime::ToolRuntime for HangingTools {
    async fn run(
        &self,
        _ctx: &hangar_core::tool_runtime::ToolContext,
        _call: &hangar_core::tool_runtime::ToolCall,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<hangar_core::tool_runtime::ToolOutput, hangar_core::tool_runtime::ToolRuntimeError>
    {
        cancel.cancelled().await;
        Ok(hangar_core::tool_runtime::ToolOutput::error("cancelled"))
    }

    async fn session_idle(&self, _session_id: &str) {}

    async fn session_deleted(&self, _session_id: &str) {}
}

#[tokio::test]
async fn a_tool_call_in_flight_at_shutdown_gets_a_restart_error_and_the_turn_goes_on() -> Result<()>
{
    let model = MockModel::start(Script::new(vec![
        Step::content(vec![ContentItem::tool_use(
            "toolu_h",
            "bash",
            json!({"command": "sleep 1000"}),
        )]),
        text_step("The command did not finish."),
    ]))
    .await?;
    let server = TestServer::builder()
        .model(router_for(&model)?)
        .tools(Arc::new(HangingTools))
        .start()
        .await?;
    let rig = Rig { model, server };
    let session = rig
        .session(json!([{"type": "agent_toolset_20260401"}]))
        .await?;
    rig.say(&session, "run it").await?;
    wait_for_type(&rig, &session, "agent.tool_use").await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Rig { model, server } = rig;
    let server = server.restart().await?;
    let rig = Rig { model, server };
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.tool_use")[0].clone();
    let results = of_type(&events, "agent.tool_result");
    assert_eq!(results.len(), 1, "{events:#?}");
    assert_eq!(results[0]["tool_use_id"], call["id"]);
    assert_eq!(results[0]["is_error"], true);
    assert!(
        results[0]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("runtime restarted")
    );
    assert_eq!(
        of_type(&events, "session.status_idle")[0]["stop_reason"]["type"],
        "end_turn"
    );
    let requests = rig.model_requests()?;
    assert_eq!(requests.len(), 2, "the model saw the error and answered");
    Ok(())
}

#[tokio::test]
async fn self_hosted_sandbox_tools_wait_for_the_clients_tool_result() -> Result<()> {
    let rig = Rig::start(vec![
        Step::content(vec![ContentItem::tool_use(
            "toolu_s",
            "bash",
            json!({"command": "uname"}),
        )]),
        text_step("It is Linux."),
    ])
    .await?;
    let agent = rig
        .server
        .create(
            "/v1/agents",
            json!({"name": "remote", "model": "claude-sonnet-4-6",
            "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await?;
    let env = rig
        .server
        .create(
            "/v1/environments",
            json!({"name": "workers", "config": {"type": "self_hosted"}}),
        )
        .await?;
    let session = id(&rig
        .server
        .create(
            "/v1/sessions",
            json!({"agent": id(&agent), "environment_id": id(&env)}),
        )
        .await?);
    rig.say(&session, "what OS?").await?;
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.tool_use")[0].clone();
    assert_eq!(call["evaluated_permission"], "allow");
    assert_eq!(
        of_type(&events, "session.status_idle")[0]["stop_reason"]["event_ids"],
        json!([call["id"]])
    );
    assert!(
        of_type(&events, "agent.tool_result").is_empty(),
        "the server never runs it"
    );
    let echo = rig
        .send(
            &session,
            json!([{"type": "user.tool_result", "tool_use_id": call["id"],
            "content": [{"type": "text", "text": "Linux"}], "is_error": false}]),
        )
        .await?;
    assert!(echo["data"][0]["processed_at"].is_string());
    let events = rig.settle(&session, 2).await?;
    assert_eq!(
        of_type(&events, "session.status_idle")[1]["stop_reason"]["type"],
        "end_turn"
    );
    let requests = rig.model_requests()?;
    let result = &requests[1].body["messages"][2]["content"][0];
    assert_eq!(result["tool_use_id"], call["id"]);
    assert_eq!(result["content"][0]["text"], "Linux");
    Ok(())
}

#[tokio::test]
async fn tools_changed_between_turns_are_offered_in_the_next_turn() -> Result<()> {
    let rig = Rig::start(vec![text_step("one"), text_step("two")]).await?;
    let session = rig.session(json!([])).await?;
    rig.say(&session, "first").await?;
    rig.settle(&session, 1).await?;
    let tool = json!({"type": "custom", "name": "fresh", "description": "d", "input_schema": {"type": "object"}});
    rig.server
        .create(
            &format!("/v1/sessions/{session}"),
            json!({"agent": {"tools": [tool]}}),
        )
        .await?;
    rig.say(&session, "second").await?;
    let events = rig.settle(&session, 2).await?;
    let updated = of_type(&events, "session.updated");
    assert_eq!(updated[0]["agent"]["tools"][0]["name"], "fresh");
    let requests = rig.model_requests()?;
    assert!(
        requests[0]
            .body
            .get("tools")
            .is_none_or(|t| t.as_array().is_some_and(Vec::is_empty))
    );
    assert_eq!(requests[1].body["tools"][0]["name"], "fresh");
    Ok(())
}

#[tokio::test]
async fn a_model_no_provider_serves_is_refused_when_the_agent_is_created() -> Result<()> {
    let rig = Rig::start(vec![]).await?;
    let reply = post(
        &rig.server,
        "/v1/agents",
        json!({"name": "x", "model": "llama3"}),
    )
    .await?;
    reply.check_error(400, "invalid_request_error", "default_provider")?;
    let named = post(
        &rig.server,
        "/v1/agents",
        json!({"name": "x", "model": "nowhere/llama3"}),
    )
    .await?;
    named.check_error(400, "invalid_request_error", "model")?;
    let routed = post(
        &rig.server,
        "/v1/agents",
        json!({"name": "x", "model": "openai/gpt-5"}),
    )
    .await?;
    assert_eq!(routed.status, 200, "{}", routed.body);
    Ok(())
}
