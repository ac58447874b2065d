"""client.beta.agents: create/retrieve/update/list/archive and agent versions."""

from __future__ import annotations

import anthropic
import pytest

from helpers import MODEL, as_json, error_message, ids, unique

CONFLICT_MESSAGE = "Concurrent modification detected. Please fetch the latest version and retry."
ARCHIVED_MESSAGE = "Cannot modify archived agent."

MCP_SERVER = {"type": "url", "name": "docs", "url": "https://mcp.example.com/sse"}
LOOKUP_TOOL = {
    "type": "custom",
    "name": "lookup_ticket",
    "description": "Look up a ticket by id.",
    "input_schema": {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
    },
}


# --- create -----------------------------------------------------------------


def test_create_returns_version_1_with_materialised_defaults(client):
    name = unique("agent")
    agent = client.beta.agents.create(name=name, model=MODEL)
    body = as_json(agent)

    assert agent.id.startswith("agent_")
    assert body["type"] == "agent"
    assert body["name"] == name
    assert body["version"] == 1
    assert body["model"]["id"] == MODEL
    assert body["model"]["effort"] == {"type": "high"}
    assert body["model"]["speed"] == "standard"
    assert body["model"].get("inference_geo") is None
    assert body["execution_identity"] == {"type": "service_account"}
    assert body["tools"] == []
    assert body["mcp_servers"] == []
    assert body["skills"] == []
    assert body["metadata"] == {}
    assert body.get("archived_at") is None
    assert body.get("system") is None
    assert body.get("description") is None
    assert body["created_at"] and body["updated_at"]


def test_create_echoes_description_system_and_metadata(client):
    agent = client.beta.agents.create(
        name=unique("agent"),
        model=MODEL,
        description="Helps with repos.",
        system="You are careful.",
        metadata={"team": "infra", "tier": "gold"},
    )
    assert agent.description == "Helps with repos."
    assert agent.system == "You are careful."
    assert agent.metadata == {"team": "infra", "tier": "gold"}

    fetched = client.beta.agents.retrieve(agent.id)
    assert as_json(fetched) == as_json(agent)


def test_model_object_form_resolves_effort_and_speed(client):
    agent = client.beta.agents.create(
        name=unique("agent"),
        model={"id": MODEL, "effort": "low", "speed": "fast"},
    )
    model = as_json(agent)["model"]
    assert model["id"] == MODEL
    assert model["effort"] == {"type": "low"}
    assert model["speed"] == "fast"


def test_agent_toolset_materialises_default_config_and_sent_configs_only(client):
    agent = client.beta.agents.create(
        name=unique("agent"),
        model=MODEL,
        tools=[
            {
                "type": "agent_toolset_20260401",
                "configs": [
                    {"name": "bash", "permission_policy": {"type": "always_ask"}},
                    {"name": "web_fetch", "enabled": False},
                ],
            }
        ],
    )
    (toolset,) = as_json(agent)["tools"]
    assert toolset["type"] == "agent_toolset_20260401"
    assert toolset["default_config"] == {"enabled": True, "permission_policy": {"type": "always_allow"}}

    configs = {config["name"]: config for config in toolset["configs"]}
    assert sorted(configs) == ["bash", "web_fetch"]

    assert configs["bash"] == {
        "type": "bash",
        "name": "bash",
        "enabled": True,
        "permission_policy": {"type": "always_ask"},
    }

    web_fetch = configs["web_fetch"]
    assert web_fetch["type"] == "web_fetch"
    assert web_fetch["enabled"] is False
    assert web_fetch["permission_policy"] == {"type": "always_allow"}
    for key in ("url_sources", "allowed_domains", "blocked_domains", "max_content_tokens"):
        assert key in web_fetch, f"web_fetch config lacks {key!r}: {web_fetch}"


def test_bare_agent_toolset_gets_empty_configs(client):
    agent = client.beta.agents.create(
        name=unique("agent"), model=MODEL, tools=[{"type": "agent_toolset_20260401"}]
    )
    (toolset,) = as_json(agent)["tools"]
    assert toolset == {
        "type": "agent_toolset_20260401",
        "default_config": {"enabled": True, "permission_policy": {"type": "always_allow"}},
        "configs": [],
    }


def test_mcp_toolset_defaults_to_always_ask(client):
    agent = client.beta.agents.create(
        name=unique("agent"),
        model=MODEL,
        mcp_servers=[MCP_SERVER],
        tools=[{"type": "mcp_toolset", "mcp_server_name": "docs"}],
    )
    body = as_json(agent)
    assert body["mcp_servers"] == [MCP_SERVER]
    (toolset,) = body["tools"]
    assert toolset["type"] == "mcp_toolset"
    assert toolset["mcp_server_name"] == "docs"
    assert toolset["default_config"] == {"enabled": True, "permission_policy": {"type": "always_ask"}}
    assert toolset["configs"] == []


def test_custom_tool_is_echoed(client):
    agent = client.beta.agents.create(name=unique("agent"), model=MODEL, tools=[LOOKUP_TOOL])
    (tool,) = as_json(agent)["tools"]
    assert tool["type"] == "custom"
    assert tool["name"] == LOOKUP_TOOL["name"]
    assert tool["description"] == LOOKUP_TOOL["description"]
    assert tool["input_schema"]["type"] == "object"
    assert tool["input_schema"]["properties"] == LOOKUP_TOOL["input_schema"]["properties"]
    assert tool["input_schema"]["required"] == ["id"]


# --- update and versions ------------------------------------------------------


def test_update_bumps_version_and_preserves_omitted_fields(client, make_agent):
    agent = make_agent(description="d1", system="s1", metadata={"k": "v"}, tools=[LOOKUP_TOOL])
    new_name = unique("renamed")

    updated = client.beta.agents.update(agent.id, version=1, name=new_name)

    assert updated.id == agent.id
    assert updated.version == 2
    assert updated.name == new_name
    assert updated.description == "d1"
    assert updated.system == "s1"
    assert updated.metadata == {"k": "v"}
    assert as_json(updated)["tools"] == as_json(agent)["tools"]
    assert as_json(updated)["model"] == as_json(agent)["model"]
    assert client.beta.agents.retrieve(agent.id).version == 2


def test_stale_version_update_is_rejected_with_409(client, agent):
    client.beta.agents.update(agent.id, version=1, system="first")

    with pytest.raises(anthropic.ConflictError) as exc:
        client.beta.agents.update(agent.id, version=1, system="second")

    assert exc.value.status_code == 409
    assert error_message(exc.value) == CONFLICT_MESSAGE
    current = client.beta.agents.retrieve(agent.id)
    assert current.version == 2, "a rejected update must not consume a version"
    assert current.system == "first"


def test_update_that_changes_nothing_keeps_the_version(client, make_agent):
    agent = make_agent(system="same", metadata={"k": "v"})

    unchanged = client.beta.agents.update(agent.id, version=1, name=agent.name, system="same", metadata={"k": "v"})

    assert unchanged.version == 1
    assert client.beta.agents.retrieve(agent.id).version == 1
    assert [v.version for v in client.beta.agents.versions.list(agent.id)] == [1]


def test_update_with_none_clears_system_and_description(client, make_agent):
    agent = make_agent(description="desc", system="sys")

    updated = client.beta.agents.update(agent.id, version=1, system=None, description=None)

    assert updated.version == 2
    assert updated.system is None
    assert updated.description is None


def test_update_replaces_tools_wholesale(client, make_agent):
    agent = make_agent(tools=[{"type": "agent_toolset_20260401"}, LOOKUP_TOOL])

    updated = client.beta.agents.update(agent.id, version=1, tools=[{"type": "agent_toolset_20260401"}])

    assert updated.version == 2
    assert [tool["type"] for tool in as_json(updated)["tools"]] == ["agent_toolset_20260401"]

    cleared = client.beta.agents.update(agent.id, version=2, tools=[])
    assert cleared.version == 3
    assert cleared.tools == []


def test_update_metadata_is_a_patch(client, make_agent):
    agent = make_agent(metadata={"keep": "1", "change": "2", "drop": "3"})

    updated = client.beta.agents.update(agent.id, version=1, metadata={"change": "22", "drop": None, "add": "4"})

    assert updated.metadata == {"keep": "1", "change": "22", "add": "4"}
    assert updated.version == 2


def test_retrieve_with_version_returns_historical_snapshot(client, make_agent):
    original_name = unique("v1")
    agent = make_agent(name=original_name, system="old")
    client.beta.agents.update(agent.id, version=1, name=unique("v2"), system="new")

    v1 = client.beta.agents.retrieve(agent.id, version=1)
    latest = client.beta.agents.retrieve(agent.id)

    assert (v1.version, v1.name, v1.system) == (1, original_name, "old")
    assert (latest.version, latest.system) == (2, "new")
    assert as_json(v1)["model"] == as_json(agent)["model"]


def test_retrieve_unknown_version_is_404(client, agent):
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.beta.agents.retrieve(agent.id, version=99)
    assert exc.value.status_code == 404


def test_versions_list_returns_every_version_newest_first(client, make_agent):
    agent = make_agent(system="s1")
    client.beta.agents.update(agent.id, version=1, system="s2")
    client.beta.agents.update(agent.id, version=2, system="s3")

    versions = list(client.beta.agents.versions.list(agent.id))

    assert [v.version for v in versions] == [3, 2, 1]
    assert [v.system for v in versions] == ["s3", "s2", "s1"]
    assert {v.id for v in versions} == {agent.id}


# --- archive ----------------------------------------------------------------


def test_archive_sets_archived_at_and_hides_agent_from_list(client, agent):
    archived = client.beta.agents.archive(agent.id)

    assert archived.id == agent.id
    assert archived.archived_at is not None
    assert client.beta.agents.retrieve(agent.id).archived_at is not None
    assert agent.id not in ids(client.beta.agents.list(limit=100))
    assert agent.id in ids(client.beta.agents.list(limit=100, include_archived=True))


def test_update_of_archived_agent_is_rejected_with_400(client, agent):
    client.beta.agents.archive(agent.id)

    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.update(agent.id, version=1, system="too late")

    assert exc.value.status_code == 400
    assert error_message(exc.value) == ARCHIVED_MESSAGE


def test_archived_agent_history_stays_retrievable(client, agent):
    client.beta.agents.update(agent.id, version=1, system="v2")
    client.beta.agents.archive(agent.id)

    assert client.beta.agents.retrieve(agent.id, version=1).version == 1
    assert [v.version for v in client.beta.agents.versions.list(agent.id)] == [2, 1]


# --- list -------------------------------------------------------------------


def test_list_is_newest_first(client, make_agent):
    first, second, third = make_agent(), make_agent(), make_agent()

    page = client.beta.agents.list(limit=3)

    assert ids(page.data) == [third.id, second.id, first.id]
    assert page.next_page


def test_list_default_page_size_is_20(client, make_agent):
    for _ in range(21):
        make_agent()

    page = client.beta.agents.list()

    assert len(page.data) == 20
    assert page.next_page


def test_auto_pagination_visits_every_agent_exactly_once(client, make_agent):
    created = {make_agent().id for _ in range(260)}

    pages = list(client.beta.agents.list(limit=100).iter_pages())
    seen = [agent.id for page in pages for agent in page.data]

    assert all(len(page.data) == 100 for page in pages[:-1])
    assert 1 <= len(pages[-1].data) <= 100
    assert not pages[-1].next_page
    assert len(seen) == len(set(seen)), "an agent was returned twice"
    assert created <= set(seen)


# --- validation ---------------------------------------------------------------


def test_unknown_body_field_is_rejected_and_named(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.create(name=unique("agent"), model=MODEL, extra_body={"bogus": 1})
    assert exc.value.status_code == 400
    assert "bogus" in error_message(exc.value)


def test_name_longer_than_256_chars_is_rejected(client):
    accepted = client.beta.agents.create(name=unique("n").ljust(256, "x"), model=MODEL)
    assert len(accepted.name) == 256

    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.create(name="x" * 257, model=MODEL)
    assert "name" in error_message(exc.value)


def test_more_than_16_metadata_pairs_is_rejected(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.create(
            name=unique("agent"), model=MODEL, metadata={f"k{i}": "v" for i in range(17)}
        )
    assert "metadata" in error_message(exc.value)


def test_unknown_builtin_tool_config_name_is_rejected(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.create(
            name=unique("agent"),
            model=MODEL,
            tools=[{"type": "agent_toolset_20260401", "configs": [{"name": "teleport"}]}],
        )
    assert "teleport" in error_message(exc.value)


def test_mcp_server_without_mcp_toolset_is_rejected(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.create(name=unique("agent"), model=MODEL, mcp_servers=[MCP_SERVER])
    assert exc.value.status_code == 400


def test_rejected_create_does_not_create_an_agent(client):
    name = unique("invalid")
    with pytest.raises(anthropic.BadRequestError):
        client.beta.agents.create(name=name, model=MODEL, extra_body={"bogus": 1})
    assert name not in [a.name for a in client.beta.agents.list(limit=20)]
