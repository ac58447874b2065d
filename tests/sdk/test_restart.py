"""Durability: state survives a server restart on the same data dir."""

from __future__ import annotations

from helpers import MODEL, as_json, unique


def without_clock_dependent_stats(session_json):
    # `stats.duration_seconds` counts time since creation, so it legitimately changes.
    return {key: value for key, value in session_json.items() if key != "stats"}


def test_agents_environments_and_sessions_survive_restart(private_server):
    client = private_server.client()
    agent = client.beta.agents.create(
        name=unique("durable"),
        model=MODEL,
        system="v1",
        metadata={"k": "v"},
        tools=[{"type": "agent_toolset_20260401", "configs": [{"name": "bash", "enabled": False}]}],
    )
    agent = client.beta.agents.update(agent.id, version=1, system="v2")
    environment = client.beta.environments.create(
        name=unique("durable"),
        config={
            "type": "cloud",
            "networking": {"type": "limited", "allowed_hosts": ["api.github.com"], "allow_package_managers": True},
            "packages": {"pip": ["requests"]},
        },
    )
    session = client.beta.sessions.create(
        agent={"type": "agent", "id": agent.id, "version": 1},
        environment_id=environment.id,
        title="durable",
        vault_ids=["vlt_abc"],
    )
    before = {
        "agent": as_json(client.beta.agents.retrieve(agent.id)),
        "agent_v1": as_json(client.beta.agents.retrieve(agent.id, version=1)),
        "environment": as_json(client.beta.environments.retrieve(environment.id)),
        "session": without_clock_dependent_stats(as_json(client.beta.sessions.retrieve(session.id))),
    }

    private_server.restart()
    client = private_server.client()

    after = {
        "agent": as_json(client.beta.agents.retrieve(agent.id)),
        "agent_v1": as_json(client.beta.agents.retrieve(agent.id, version=1)),
        "environment": as_json(client.beta.environments.retrieve(environment.id)),
        "session": without_clock_dependent_stats(as_json(client.beta.sessions.retrieve(session.id))),
    }
    assert after == before
    assert [v.version for v in client.beta.agents.versions.list(agent.id)] == [2, 1]
    assert session.id in [s.id for s in client.beta.sessions.list(agent_id=agent.id)]


def test_version_counter_continues_after_restart(private_server):
    client = private_server.client()
    agent = client.beta.agents.create(name=unique("durable"), model=MODEL, system="v1")

    private_server.restart()
    client = private_server.client()

    updated = client.beta.agents.update(agent.id, version=1, system="v2")
    assert updated.version == 2
    assert client.beta.agents.retrieve(agent.id, version=1).system == "v1"
