//! Session budgets (`cma-behaviour.md` 40): a priced model, a cap in cents, the turn that
//! crosses it completes, then `budget_reached`; only a raised budget lets work go on.

use anyhow::Result;
use hangar_core::pricing::{ModelPrice, PriceTable};
use hangar_testkit::TestServer;
use hangar_testkit::mock_model::{ContentItem, MockModel, ResponseStep, Script, Step, Usage};
use serde_json::{Value, json};

use super::turns::{Rig, of_type, router_for};
use super::{create_environment, id, post};

const MODEL: &str = "claude-sonnet-4-6";

/// $3 / $15 per million tokens.
fn prices() -> PriceTable {
    PriceTable::new([(
        MODEL.to_owned(),
        ModelPrice {
            input_usd_per_mtok: 3.0,
            output_usd_per_mtok: 15.0,
            cache_write_usd_per_mtok: None,
            cache_read_usd_per_mtok: None,
        },
    )])
}

/// A response costing $0.30 (100k input tokens).
fn costly(content: Vec<ContentItem>) -> Step {
    Step::Response(ResponseStep::new(content).usage(Usage {
        input_tokens: 100_000,
        ..Usage::default()
    }))
}

fn budget(cents: &str) -> Value {
    json!({"type": "limit", "max_list_cost": {"amount": cents, "currency": "USD"}})
}

#[tokio::test]
async fn a_spent_budget_stops_the_turn_and_only_a_raise_lets_it_go_on() -> Result<()> {
    let model = MockModel::start(Script::new(vec![
        costly(vec![ContentItem::tool_use("toolu_1", "lookup", json!({}))]),
        costly(vec![ContentItem::text("after the raise")]),
    ]))
    .await?;
    let server = TestServer::builder()
        .model(router_for(&model)?)
        .prices(prices())
        .start()
        .await?;
    let rig = Rig { model, server };
    let agent = rig.server.create("/v1/agents", json!({"name": "b", "model": MODEL,
        "tools": [{"type": "custom", "name": "lookup", "description": "d", "input_schema": {"type": "object"}}]}))
        .await?;
    let env = id(&create_environment(&rig.server, "budget-env").await?);
    let session = rig
        .server
        .create(
            "/v1/sessions",
            json!({"agent": id(&agent), "environment_id": env,
        "budget": budget("20")}),
        )
        .await?;
    assert_eq!(session["budget"], budget("20"));
    let session = id(&session);

    rig.say(&session, "go").await?;
    let events = rig.settle(&session, 1).await?;
    let call = of_type(&events, "agent.custom_tool_use")[0].clone();
    // The first request cost 30 cents: it completes, the next one is not made.
    rig.send(
        &session,
        json!([{"type": "user.custom_tool_result", "custom_tool_use_id": call["id"],
        "content": [{"type": "text", "text": "x"}]}]),
    )
    .await?;
    let events = rig.settle(&session, 2).await?;
    let idle = of_type(&events, "session.status_idle")[1];
    assert_eq!(idle["stop_reason"]["type"], "budget_reached");
    let thread_idle = of_type(&events, "session.thread_status_idle");
    assert_eq!(
        thread_idle.last().map(|e| e["stop_reason"]["type"].clone()),
        Some(json!("budget_reached"))
    );
    let usage = of_type(&events, "session.usage");
    let usage = usage.last().cloned().cloned().unwrap_or_default();
    assert_eq!(
        usage["usage"]["list_cost"],
        json!({"amount": "30", "currency": "USD"})
    );
    assert_eq!(usage["budget"], budget("20"));
    assert_eq!(rig.model.requests().len(), 1);

    let refused = post(&rig.server, &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "more"}]}]})).await?;
    refused.check_error(400, "invalid_request_error", "spent its budget")?;
    let ignored = post(
        &rig.server,
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.interrupt"}]}),
    )
    .await?;
    assert_eq!(ignored.status, 200);
    assert_eq!(ignored.body["data"], json!([]), "accepted and not kept");

    let path = format!("/v1/sessions/{session}");
    let low = post(&rig.server, &path, json!({"budget": budget("30")})).await?;
    low.check_error_code(
        400,
        "invalid_request_error",
        "already spent",
        "budget_not_raised",
    )?;
    let raised = rig
        .server
        .create(&path, json!({"budget": budget("100")}))
        .await?;
    assert_eq!(raised["budget"], budget("100"));
    rig.say(&session, "continue").await?;
    let events = rig.settle(&session, 3).await?;
    assert_eq!(
        of_type(&events, "session.status_idle")[2]["stop_reason"]["type"],
        "end_turn"
    );
    let updated = of_type(&events, "session.updated");
    assert_eq!(updated[0]["budget"], budget("100"));

    let removed = rig.server.create(&path, json!({"budget": null})).await?;
    assert_eq!(removed["budget"], Value::Null);
    let again = post(&rig.server, &path, json!({"budget": budget("500")})).await?;
    again.check_error_code(
        400,
        "invalid_request_error",
        "only be set when the session is created",
        "budget_create_only",
    )?;
    Ok(())
}

#[tokio::test]
async fn unpriced_models_cannot_carry_a_budget() -> Result<()> {
    let server = TestServer::builder().prices(prices()).start().await?;
    let agent = server
        .create(
            "/v1/agents",
            json!({"name": "u", "model": "claude-haiku-4-5"}),
        )
        .await?;
    let env = id(&create_environment(&server, "u").await?);
    let reply = post(
        &server,
        "/v1/sessions",
        json!({"agent": id(&agent), "environment_id": env,
        "budget": budget("100")}),
    )
    .await?;
    reply.check_error_code(
        400,
        "invalid_request_error",
        "has no list price",
        "model_not_budgetable",
    )?;
    let bad = post(
        &server,
        "/v1/sessions",
        json!({"agent": id(&agent), "environment_id": env,
        "budget": {"type": "limit", "max_list_cost": {"amount": 100, "currency": "USD"}}}),
    )
    .await?;
    bad.check_error(400, "invalid_request_error", "budget")?;
    Ok(())
}
