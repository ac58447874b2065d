"""client.beta.sessions.events: sessions at work, driven and watched through the official SDK.

The server's `anthropic` provider points at the scripted model server (`mock_model`); each
test queues the model responses its turn needs, then acts like a real client would.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import anthropic
import pytest

from helpers import unique

CUSTOM_LOOKUP = {
    "type": "custom",
    "name": "lookup",
    "description": "Look a key up in the catalogue.",
    "input_schema": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
}


def text_step(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "response", "content": [{"type": "text", "text": text}], **extra}


def tool_step(name: str, tool_input: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content.append({"type": "tool_use", "name": name, "input": tool_input})
    return {"type": "response", "content": content}


def user_message(text: str) -> dict[str, Any]:
    return {"type": "user.message", "content": [{"type": "text", "text": text}]}


def read_until(stream: Iterable[Any], stop: Callable[[Any], bool]) -> list[Any]:
    seen = []
    for event in stream:
        seen.append(event)
        if stop(event):
            return seen
    raise AssertionError(f"stream ended before the expected event; saw {[e.type for e in seen]}")


def is_idle(event: Any) -> bool:
    return event.type == "session.status_idle"


@pytest.fixture
def start_session(client, make_agent, environment):
    def start(**agent_params: Any):
        agent = make_agent(**agent_params)
        return client.beta.sessions.create(agent=agent.id, environment_id=environment.id)

    return start


def test_stream_follows_a_multi_step_turn_with_a_custom_tool(client, mock_model, start_session):
    session = start_session(tools=[CUSTOM_LOOKUP])
    mock_model.push(tool_step("lookup", {"key": "answer"}, text="Let me look that up."),
                    text_step("The answer is 42."))
    with client.beta.sessions.events.stream(session.id) as stream:
        sent = client.beta.sessions.events.send(session.id, events=[user_message("What is the answer?")])
        assert sent.data[0].id.startswith("sevt_")
        assert sent.data[0].processed_at is None
        first = read_until(stream, is_idle)
        types = [e.type for e in first]
        assert types[:3] == ["user.message", "session.status_running", "session.thread_status_running"]
        assert "span.model_request_start" in types and "agent.message" in types
        call = next(e for e in first if e.type == "agent.custom_tool_use")
        assert call.name == "lookup" and call.input == {"key": "answer"}
        idle = first[-1]
        assert idle.stop_reason.type == "requires_action"
        assert idle.stop_reason.event_ids == [call.id]

        client.beta.sessions.events.send(session.id, events=[{
            "type": "user.custom_tool_result", "custom_tool_use_id": call.id,
            "content": [{"type": "text", "text": "42"}]}])
        second = read_until(stream, is_idle)
    assert second[-1].stop_reason.type == "end_turn"
    message = next(e for e in second if e.type == "agent.message")
    assert message.content[0].text == "The answer is 42."
    listed = list(client.beta.sessions.events.list(session.id, limit=1000))
    streamed_ids = {e.id for e in first + second}
    assert streamed_ids == {e.id for e in listed}, "stream and list agree on every id"
    retrieved = client.beta.sessions.retrieve(session.id)
    assert retrieved.status == "idle"
    assert retrieved.usage.output_tokens >= 0
    last_request = mock_model.requests()[-1]["body"]["messages"]
    assert last_request[-1]["content"][0]["type"] == "tool_result"
    assert last_request[-1]["content"][0]["tool_use_id"] == call.id


def test_always_ask_deny_and_allow(client, mock_model, start_session):
    session = start_session(tools=[{"type": "agent_toolset_20260401", "configs": [
        {"name": "bash", "permission_policy": {"type": "always_ask"}}]}])
    mock_model.push(tool_step("bash", {"command": "rm -rf /tmp/x"}), text_step("I will not."))
    with client.beta.sessions.events.stream(session.id) as stream:
        client.beta.sessions.events.send(session.id, events=[user_message("clean up")])
        first = read_until(stream, is_idle)
        call = next(e for e in first if e.type == "agent.tool_use")
        assert call.evaluated_permission == "ask"
        assert first[-1].stop_reason.type == "requires_action"
        client.beta.sessions.events.send(session.id, events=[{
            "type": "user.tool_confirmation", "tool_use_id": call.id, "result": "deny",
            "deny_message": "not that directory"}])
        second = read_until(stream, is_idle)
        result = next(e for e in second if e.type == "agent.tool_result")
        assert result.tool_use_id == call.id and result.is_error is True
        denied = mock_model.requests()[-1]["body"]["messages"][-1]["content"][0]
        assert denied["type"] == "tool_result" and "not that directory" in str(denied["content"])

        mock_model.push(tool_step("bash", {"command": "echo hi"}), text_step("Done."))
        client.beta.sessions.events.send(session.id, events=[user_message("say hi then")])
        third = read_until(stream, lambda e: is_idle(e) and e.stop_reason.type == "requires_action")
        call = next(e for e in third if e.type == "agent.tool_use")
        client.beta.sessions.events.send(session.id, events=[{
            "type": "user.tool_confirmation", "tool_use_id": call.id, "result": "allow"}])
        fourth = read_until(stream, is_idle)
    assert fourth[-1].stop_reason.type == "end_turn"
    result = next(e for e in fourth if e.type == "agent.tool_result")
    assert result.tool_use_id == call.id
    answered = mock_model.requests()[-1]["body"]["messages"][-1]["content"][0]
    assert answered["type"] == "tool_result" and answered["tool_use_id"] == call.id


def test_interrupt_stops_a_running_turn(client, mock_model, start_session):
    session = start_session()
    mock_model.push(text_step("a slow answer " * 20, chunk_chars=2, event_delay_ms=50))
    with client.beta.sessions.events.stream(session.id) as stream:
        client.beta.sessions.events.send(session.id, events=[user_message("talk")])
        read_until(stream, lambda e: e.type == "span.model_request_start")
        client.beta.sessions.events.send(session.id, events=[{"type": "user.interrupt"}])
        rest = read_until(stream, is_idle)
    assert rest[-1].stop_reason.type == "end_turn"
    end = next(e for e in rest if e.type == "span.model_request_end")
    assert end.is_error is True
    assert not any(e.type == "agent.message" for e in rest), "the cut answer is not stored"
    assert client.beta.sessions.retrieve(session.id).status == "idle"


def test_reconnect_and_reconcile_with_the_list_by_id(client, mock_model, start_session):
    session = start_session(tools=[CUSTOM_LOOKUP])
    mock_model.push(tool_step("lookup", {"key": "k"}), text_step("ok"))
    stream = client.beta.sessions.events.stream(session.id)
    client.beta.sessions.events.send(session.id, events=[user_message("go")])
    seen = {e.id: e for e in read_until(stream, lambda e: e.type == "session.status_running")}
    stream.close()  # the connection drops mid-turn

    # Reconnect the way the SDK's own runner does: stream first, then list, dedupe by id.
    with client.beta.sessions.events.stream(session.id) as stream:
        for event in client.beta.sessions.events.list(session.id, limit=1000):
            seen.setdefault(event.id, event)
        if not any(e.type == "session.status_idle" for e in seen.values()):
            for event in read_until(stream, is_idle):
                seen.setdefault(event.id, event)
        call = next(e for e in seen.values() if e.type == "agent.custom_tool_use")
        client.beta.sessions.events.send(session.id, events=[{
            "type": "user.custom_tool_result", "custom_tool_use_id": call.id,
            "content": [{"type": "text", "text": "v"}]}])
        for event in read_until(stream, lambda e: is_idle(e) and e.stop_reason.type == "end_turn"):
            seen.setdefault(event.id, event)
    listed = list(client.beta.sessions.events.list(session.id))
    assert [e.id for e in listed] == sorted(seen, key=[e.id for e in listed].index)
    assert set(seen) == {e.id for e in listed}


def test_initial_events_start_the_session_running(client, mock_model, make_agent, environment):
    agent = make_agent()
    mock_model.push(text_step("Started right away."))
    session = client.beta.sessions.create(
        agent=agent.id, environment_id=environment.id, initial_events=[user_message("begin")])
    assert session.status == "running"
    with client.beta.sessions.events.stream(session.id) as stream:
        if client.beta.sessions.retrieve(session.id).status != "idle":
            read_until(stream, is_idle)
    messages = list(client.beta.sessions.events.list(session.id, types=["agent.message"]))
    assert messages[0].content[0].text == "Started right away."


def test_event_errors_raise_the_sdk_error_classes(client, start_session):
    session = start_session()
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.beta.sessions.events.send(session.id, events=[{
            "type": "user.tool_confirmation", "tool_use_id": "sevt_missing", "result": "allow"}])
    assert "not a tool use awaiting" in bad.value.message
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.events.send("sesn_" + unique("x").replace("-", ""), events=[user_message("hi")])
    with pytest.raises(anthropic.BadRequestError):
        list(client.beta.sessions.events.list(session.id, limit=5000))


def test_builtin_tools_run_in_the_sessions_sandbox(client, mock_model, start_session):
    session = start_session(tools=[{"type": "agent_toolset_20260401"}])
    mock_model.push(tool_step("bash", {"command": "echo from-the-sdk > note.txt && cat note.txt && pwd"}),
                    text_step("Written."))
    with client.beta.sessions.events.stream(session.id) as stream:
        client.beta.sessions.events.send(session.id, events=[user_message("write a note")])
        first = read_until(stream, is_idle)
        result = next(e for e in first if e.type == "agent.tool_result")
        assert result.is_error is False
        assert result.content[0].text.split() == ["from-the-sdk", "/workspace"]

        mock_model.push(tool_step("read", {"file_path": "/workspace/note.txt"}), text_step("Read."))
        client.beta.sessions.events.send(session.id, events=[user_message("read it back")])
        second = read_until(stream, is_idle)
    result = next(e for e in second if e.type == "agent.tool_result")
    assert "from-the-sdk" in result.content[0].text, "the file outlives the turn"
    assert second[-1].stop_reason.type == "end_turn"


def test_the_primary_thread_through_the_threads_api(client, mock_model, start_session):
    session = start_session()
    threads = list(client.beta.sessions.threads.list(session.id))
    assert len(threads) == 1
    thread = threads[0]
    assert thread.id.startswith("sthr_") and thread.session_id == session.id
    assert client.beta.sessions.threads.retrieve(thread.id, session_id=session.id).status == "idle"
    mock_model.push(text_step("Hello from the thread."))
    with client.beta.sessions.threads.events.stream(thread.id, session_id=session.id) as stream:
        client.beta.sessions.events.send(session.id, events=[user_message("hi")])
        seen = read_until(stream, is_idle)
    assert any(e.type == "agent.message" for e in seen)
    listed = list(client.beta.sessions.threads.events.list(thread.id, session_id=session.id))
    assert {e.id for e in listed} == {e.id for e in client.beta.sessions.events.list(session.id)}
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.threads.retrieve("sthr_nope", session_id=session.id)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.threads.archive(thread.id, session_id=session.id)
