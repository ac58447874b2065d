"""client.beta.environments: create/retrieve/update/list/archive/delete."""

from __future__ import annotations

import anthropic
import pytest

from helpers import as_json, empty_packages, error_code, ids, unique

LIMITED_CONFIG = {
    "type": "cloud",
    "networking": {
        "type": "limited",
        "allowed_hosts": ["api.github.com"],
        "allow_package_managers": True,
    },
    "packages": {"pip": ["requests"]},
}


def test_create_materialises_limited_cloud_config(client):
    name = unique("env")
    env = client.beta.environments.create(name=name, config=LIMITED_CONFIG)
    body = as_json(env)

    assert env.id.startswith("env_")
    assert body["type"] == "environment"
    assert body["name"] == name
    assert body["metadata"] == {}
    assert body.get("archived_at") is None
    assert body["created_at"] and body["updated_at"]
    assert body["config"] == {
        "type": "cloud",
        "networking": {
            "type": "limited",
            "allowed_hosts": ["api.github.com"],
            "allow_mcp_servers": False,
            "allow_package_managers": True,
        },
        "packages": {"type": "packages", **empty_packages(), "pip": ["requests"]},
    }
    assert as_json(client.beta.environments.retrieve(env.id)) == body


def test_config_defaults_to_unrestricted_cloud_without_packages(client):
    env = client.beta.environments.create(name=unique("env"))
    config = as_json(env)["config"]

    assert config["type"] == "cloud"
    assert config["networking"] == {"type": "unrestricted"}
    packages = dict(config["packages"])
    assert packages.pop("type", "packages") == "packages"
    assert packages == empty_packages()


def test_self_hosted_config_is_accepted(client):
    env = client.beta.environments.create(name=unique("env"), config={"type": "self_hosted"})
    assert as_json(env)["config"] == {"type": "self_hosted"}
    assert as_json(client.beta.environments.retrieve(env.id))["config"] == {"type": "self_hosted"}


def test_create_echoes_description_and_metadata(client):
    env = client.beta.environments.create(
        name=unique("env"), description="for tests", metadata={"owner": "sdk-suite"}
    )
    assert env.description == "for tests"
    assert env.metadata == {"owner": "sdk-suite"}


def test_duplicate_name_is_rejected_with_409(client, environment):
    with pytest.raises(anthropic.ConflictError) as exc:
        client.beta.environments.create(name=environment.name)
    assert exc.value.status_code == 409


def test_packages_under_limited_networking_require_package_managers(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.environments.create(
            name=unique("env"),
            config={
                "type": "cloud",
                "networking": {"type": "limited", "allowed_hosts": ["api.github.com"]},
                "packages": {"pip": ["requests"]},
            },
        )
    assert exc.value.status_code == 400


def test_config_type_change_is_rejected(client, environment):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.environments.update(environment.id, config={"type": "self_hosted"})

    assert exc.value.status_code == 400
    assert error_code(exc.value) == "invalid_config_type_change"
    assert as_json(client.beta.environments.retrieve(environment.id))["config"]["type"] == "cloud"


def test_cloud_config_update_preserves_omitted_networking_and_packages(client, make_environment):
    env = make_environment(config=LIMITED_CONFIG)
    networking = as_json(env)["config"]["networking"]

    with_new_packages = client.beta.environments.update(
        env.id, config={"type": "cloud", "packages": {"pip": ["httpx"]}}
    )
    config = as_json(with_new_packages)["config"]
    assert config["networking"] == networking
    assert config["packages"]["pip"] == ["httpx"]

    with_new_networking = client.beta.environments.update(
        env.id, config={"type": "cloud", "networking": {"type": "unrestricted"}}
    )
    config = as_json(with_new_networking)["config"]
    assert config["networking"] == {"type": "unrestricted"}
    assert config["packages"]["pip"] == ["httpx"]

    assert as_json(client.beta.environments.retrieve(env.id))["config"] == config


def test_update_name_and_description(client, environment):
    new_name = unique("env-renamed")
    updated = client.beta.environments.update(environment.id, name=new_name, description="now described")

    assert updated.name == new_name
    assert updated.description == "now described"
    assert as_json(updated)["config"] == as_json(environment)["config"]


def test_metadata_patch_deletes_keys_set_to_none_or_empty_string(client, make_environment):
    env = make_environment(metadata={"a": "1", "b": "2", "c": "3"})

    updated = client.beta.environments.update(env.id, metadata={"a": None, "b": "", "c": "33", "d": "4"})

    assert updated.metadata == {"c": "33", "d": "4"}
    assert client.beta.environments.retrieve(env.id).metadata == {"c": "33", "d": "4"}


def test_archive_sets_archived_at_and_hides_environment_from_list(client, environment):
    archived = client.beta.environments.archive(environment.id)

    assert archived.id == environment.id
    assert archived.archived_at
    assert client.beta.environments.retrieve(environment.id).archived_at
    assert environment.id not in ids(client.beta.environments.list())
    assert environment.id in ids(client.beta.environments.list(include_archived=True))


def test_update_of_archived_environment_is_rejected_with_400(client, environment):
    client.beta.environments.archive(environment.id)

    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.environments.update(environment.id, description="too late")
    assert exc.value.status_code == 400


def test_delete_returns_confirmation_and_environment_is_gone(client, environment):
    deleted = client.beta.environments.delete(environment.id)

    assert deleted.id == environment.id
    assert deleted.type == "environment_deleted"
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.beta.environments.retrieve(environment.id)
    assert exc.value.status_code == 404
    assert environment.id not in ids(client.beta.environments.list(include_archived=True))


def test_list_paginates_without_duplicates(client, make_environment):
    created = [make_environment().id for _ in range(5)]

    seen = ids(client.beta.environments.list(limit=2))

    assert len(seen) == len(set(seen))
    assert set(created) <= set(seen)
    first_page = client.beta.environments.list(limit=2)
    assert len(first_page.data) == 2
    assert first_page.next_page
