"""client.beta.sessions: create/retrieve/update/list/archive/delete (no events)."""

from __future__ import annotations

import time

import anthropic
import pytest

from helpers import as_json, error_message, ids, unique


@pytest.fixture
def make_session(client, agent, environment):
    """Create a session on the test's agent and environment unless told otherwise."""

    def make(**params):
        params.setdefault("agent", agent.id)
        params.setdefault("environment_id", environment.id)
        return client.beta.sessions.create(**params)

    return make


def all_counters_zero(usage):
    """Every counter inside `usage` is zero or null; money amounts are "0"."""
    for key, value in usage.items():
        if isinstance(value, dict):
            if not all_counters_zero(value):
                return False
        elif key == "currency":
            continue
        elif key == "amount":
            if value != "0":
                return False
        elif value not in (0, None):
            return False
    return True


# --- create -----------------------------------------------------------------


def test_create_returns_idle_session_embedding_agent_snapshot(client, make_agent, environment):
    agent = make_agent(system="be brief", tools=[{"type": "agent_toolset_20260401"}])
    title = unique("title")

    session = client.beta.sessions.create(
        agent=agent.id,
        environment_id=environment.id,
        title=title,
        metadata={"ticket": "42"},
        vault_ids=["vlt_abc"],
    )
    body = as_json(session)

    assert session.id.startswith("sesn_")
    assert body["type"] == "session"
    assert body["status"] == "idle"
    assert body["environment_id"] == environment.id
    assert body["title"] == title
    assert body["metadata"] == {"ticket": "42"}
    assert body["vault_ids"] == ["vlt_abc"]
    assert body["resources"] == []
    assert body["outcome_evaluations"] == []
    assert body.get("archived_at") is None
    assert isinstance(body["stats"], dict)
    assert body["usage"]["input_tokens"] == 0
    assert body["usage"]["output_tokens"] == 0
    assert all_counters_zero(body["usage"]), body["usage"]
    assert body["created_at"] and body["updated_at"]

    snapshot = body["agent"]
    agent_body = as_json(agent)
    assert snapshot["type"] == "agent"
    assert snapshot["id"] == agent.id
    assert snapshot["version"] == 1
    assert snapshot["name"] == agent.name
    assert snapshot["system"] == "be brief"
    assert snapshot["model"] == agent_body["model"]
    assert snapshot["tools"] == agent_body["tools"]
    assert snapshot["execution_identity"] == {"type": "service_account"}
    assert snapshot["mcp_servers"] == []
    assert snapshot["skills"] == []

    assert as_json(client.beta.sessions.retrieve(session.id))["agent"] == snapshot


def test_agent_id_string_pins_latest_version_at_creation(client, agent, make_session):
    client.beta.agents.update(agent.id, version=1, system="v2")

    session = make_session(agent=agent.id)
    assert session.agent.version == 2
    assert session.agent.system == "v2"

    client.beta.agents.update(agent.id, version=2, system="v3")
    still_pinned = client.beta.sessions.retrieve(session.id)
    assert still_pinned.agent.version == 2
    assert still_pinned.agent.system == "v2"


def test_agent_reference_with_version_pins_that_version(client, make_agent, make_session):
    agent = make_agent(system="v1")
    client.beta.agents.update(agent.id, version=1, system="v2")

    session = make_session(agent={"type": "agent", "id": agent.id, "version": 1})

    assert session.agent.id == agent.id
    assert session.agent.version == 1
    assert session.agent.system == "v1"


def test_agent_with_overrides_changes_only_the_session_snapshot(client, make_agent, make_session):
    agent = make_agent(system="original")

    session = make_session(agent={"type": "agent_with_overrides", "id": agent.id, "system": "override"})

    assert session.agent.id == agent.id
    assert session.agent.system == "override"
    unchanged = client.beta.agents.retrieve(agent.id)
    assert unchanged.system == "original"
    assert unchanged.version == 1


def test_unknown_agent_is_404(client, environment):
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.beta.sessions.create(agent="agent_doesnotexist", environment_id=environment.id)
    assert exc.value.status_code == 404


def test_unknown_environment_is_404(client, agent):
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.beta.sessions.create(agent=agent.id, environment_id="env_doesnotexist")
    assert exc.value.status_code == 404


def test_session_on_archived_agent_is_rejected_with_400(client, agent, environment):
    client.beta.agents.archive(agent.id)

    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    assert exc.value.status_code == 400


def test_session_on_archived_environment_is_rejected_with_400(client, agent, environment):
    client.beta.environments.archive(environment.id)

    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    assert exc.value.status_code == 400
    assert error_message(exc.value) == f"Environment {environment.id} is archived."


# --- list -------------------------------------------------------------------


def test_list_filters_by_agent_and_is_newest_first(client, agent, make_session):
    first, second, third = make_session(), make_session(), make_session()

    listed = ids(client.beta.sessions.list(agent_id=agent.id))

    assert listed == [third.id, second.id, first.id]


def test_list_order_asc_returns_oldest_first(client, agent, make_session):
    created = [make_session().id for _ in range(3)]

    assert ids(client.beta.sessions.list(agent_id=agent.id, order="asc")) == created
    assert ids(client.beta.sessions.list(agent_id=agent.id, order="desc")) == created[::-1]


def test_list_filters_by_agent_version(client, agent, make_session):
    on_v1 = make_session()
    client.beta.agents.update(agent.id, version=1, system="v2")
    on_v2 = make_session()

    assert ids(client.beta.sessions.list(agent_id=agent.id, agent_version=1)) == [on_v1.id]
    assert ids(client.beta.sessions.list(agent_id=agent.id, agent_version=2)) == [on_v2.id]


def test_list_filters_by_status(client, agent, make_session):
    session = make_session()

    assert ids(client.beta.sessions.list(agent_id=agent.id, statuses=["idle"])) == [session.id]
    assert ids(client.beta.sessions.list(agent_id=agent.id, statuses=["running", "terminated"])) == []


def test_list_filters_by_created_at(client, agent, make_session):
    older = make_session()
    time.sleep(0.05)
    newer = make_session()

    assert ids(client.beta.sessions.list(agent_id=agent.id, created_at_gte=newer.created_at)) == [newer.id]
    assert ids(client.beta.sessions.list(agent_id=agent.id, created_at_lt=newer.created_at)) == [older.id]


def test_list_hides_archived_sessions_unless_requested(client, agent, make_session):
    kept, archived = make_session(), make_session()
    client.beta.sessions.archive(archived.id)

    assert ids(client.beta.sessions.list(agent_id=agent.id)) == [kept.id]
    assert ids(client.beta.sessions.list(agent_id=agent.id, include_archived=True)) == [archived.id, kept.id]


def test_list_pages_forward_and_back_with_prev_page(client, agent, make_session):
    created = [make_session().id for _ in range(5)]
    newest_first = created[::-1]

    first = client.beta.sessions.list(agent_id=agent.id, limit=2)
    assert ids(first.data) == newest_first[:2]
    assert first.prev_page is None
    assert first.next_page

    second = client.beta.sessions.list(agent_id=agent.id, limit=2, page=first.next_page)
    assert ids(second.data) == newest_first[2:4]
    assert second.prev_page

    back = client.beta.sessions.list(agent_id=agent.id, limit=2, page=second.prev_page)
    assert ids(back.data) == newest_first[:2]

    third = client.beta.sessions.list(agent_id=agent.id, limit=2, page=second.next_page)
    assert ids(third.data) == newest_first[4:]
    assert not third.next_page

    assert ids(client.beta.sessions.list(agent_id=agent.id, limit=2)) == newest_first


def test_bad_page_cursor_is_rejected_with_400(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.sessions.list(page="garbage")
    assert exc.value.status_code == 400
    assert error_message(exc.value) == "invalid page cursor"


# --- update / archive / delete ----------------------------------------------------


def test_update_title_and_patch_metadata(client, make_session):
    session = make_session(title="before", metadata={"keep": "1", "drop": "2"})

    updated = client.beta.sessions.update(session.id, title="after", metadata={"drop": None, "add": "3"})

    assert updated.title == "after"
    assert updated.metadata == {"keep": "1", "add": "3"}
    fetched = client.beta.sessions.retrieve(session.id)
    assert fetched.title == "after"
    assert fetched.metadata == {"keep": "1", "add": "3"}


def test_update_preserves_omitted_fields(client, make_session):
    session = make_session(title="kept", metadata={"k": "v"}, vault_ids=["vlt_abc"])

    updated = client.beta.sessions.update(session.id, metadata={"other": "x"})

    assert updated.title == "kept"
    assert updated.metadata == {"k": "v", "other": "x"}
    assert updated.vault_ids == ["vlt_abc"]
    assert as_json(updated)["agent"] == as_json(session)["agent"]


def test_update_with_vault_ids_is_rejected(client, make_session):
    session = make_session(vault_ids=["vlt_abc"])

    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.sessions.update(session.id, vault_ids=["vlt_other"])

    assert exc.value.status_code == 400
    assert client.beta.sessions.retrieve(session.id).vault_ids == ["vlt_abc"]


def test_archive_sets_archived_at(client, make_session):
    session = make_session()

    archived = client.beta.sessions.archive(session.id)

    assert archived.id == session.id
    assert archived.archived_at is not None
    assert client.beta.sessions.retrieve(session.id).archived_at is not None


def test_delete_returns_confirmation_and_session_is_gone(client, make_session):
    session = make_session()

    deleted = client.beta.sessions.delete(session.id)

    assert deleted.id == session.id
    assert deleted.type == "session_deleted"
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.beta.sessions.retrieve(session.id)
    assert exc.value.status_code == 404
