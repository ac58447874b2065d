"""Auth, the beta header gate, and the error envelope."""

from __future__ import annotations

import anthropic
import pytest

from helpers import BETA, MODEL, error_body, raw_request, unique

MANAGED_PATHS = ["/v1/agents", "/v1/environments", "/v1/sessions"]


def assert_error_envelope(body, status_header_request_id, error_type):
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"].startswith("req_")
    assert status_header_request_id == body["request_id"]


# --- authentication -------------------------------------------------------------


def test_wrong_api_key_is_rejected_with_401(hangar_server):
    bad_client = hangar_server.client(api_key="sk-test-wrong")

    with pytest.raises(anthropic.AuthenticationError) as exc:
        bad_client.beta.agents.list()

    assert exc.value.status_code == 401
    assert error_body(exc.value)["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("path", MANAGED_PATHS)
def test_missing_credentials_are_rejected_with_401(hangar_server, path):
    resp = raw_request(hangar_server.base_url, "GET", path, headers={"anthropic-beta": BETA})

    assert resp.status == 401
    assert_error_envelope(resp.json(), resp.headers.get("request-id"), "authentication_error")


def test_wrong_x_api_key_is_rejected_with_401(hangar_server):
    resp = raw_request(
        hangar_server.base_url,
        "GET",
        "/v1/agents",
        headers={"x-api-key": "sk-test-wrong", "anthropic-beta": BETA},
    )
    assert resp.status == 401
    assert resp.json()["error"]["type"] == "authentication_error"


def test_x_api_key_header_is_accepted(hangar_server):
    name = unique("x-api-key")
    resp = raw_request(
        hangar_server.base_url,
        "POST",
        "/v1/agents",
        headers={"x-api-key": hangar_server.api_key, "anthropic-beta": BETA},
        body={"name": name, "model": MODEL},
    )
    assert resp.status == 200, resp.text
    agent = resp.json()
    assert agent["name"] == name
    assert agent["id"].startswith("agent_")


def test_bearer_token_is_accepted_without_sdk(hangar_server):
    resp = raw_request(
        hangar_server.base_url,
        "GET",
        "/v1/agents?limit=1",
        headers={"authorization": f"Bearer {hangar_server.api_key}", "anthropic-beta": BETA},
    )
    assert resp.status == 200, resp.text
    page = resp.json()
    assert isinstance(page["data"], list)
    assert "next_page" in page


# --- beta header ------------------------------------------------------------------


@pytest.mark.parametrize("path", MANAGED_PATHS)
def test_missing_beta_header_is_404(hangar_server, path):
    resp = raw_request(
        hangar_server.base_url, "GET", path, headers={"authorization": f"Bearer {hangar_server.api_key}"}
    )
    assert resp.status == 404
    assert_error_envelope(resp.json(), resp.headers.get("request-id"), "not_found_error")


def test_sdk_call_without_beta_header_raises_not_found(client):
    # The non-beta client does not inject `anthropic-beta`.
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.get("/v1/agents", cast_to=object)
    assert exc.value.status_code == 404


def test_beta_header_is_found_in_comma_separated_list(hangar_server):
    resp = raw_request(
        hangar_server.base_url,
        "GET",
        "/v1/agents?limit=1",
        headers={
            "authorization": f"Bearer {hangar_server.api_key}",
            "anthropic-beta": f"some-other-beta-2025-01-01, {BETA}",
        },
    )
    assert resp.status == 200, resp.text


def test_sdk_extra_betas_are_accepted(client):
    page = client.beta.agents.list(limit=1, betas=["some-other-beta-2025-01-01"])
    assert isinstance(page.data, list)


# --- error envelope -------------------------------------------------------------


@pytest.mark.parametrize(
    "retrieve",
    [
        lambda c: c.beta.agents.retrieve("agent_doesnotexist"),
        lambda c: c.beta.environments.retrieve("env_doesnotexist"),
        lambda c: c.beta.sessions.retrieve("sesn_doesnotexist"),
    ],
    ids=["agent", "environment", "session"],
)
def test_unknown_ids_are_404_with_error_envelope(client, retrieve):
    with pytest.raises(anthropic.NotFoundError) as exc:
        retrieve(client)

    err = exc.value
    assert err.status_code == 404
    assert err.request_id and err.request_id.startswith("req_")
    assert_error_envelope(error_body(err), err.response.headers.get("request-id"), "not_found_error")
    assert err.request_id == error_body(err)["request_id"]


def test_validation_error_uses_invalid_request_error_envelope(client):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.beta.agents.create(name=unique("agent"), model=MODEL, extra_body={"bogus": 1})

    err = exc.value
    assert_error_envelope(error_body(err), err.response.headers.get("request-id"), "invalid_request_error")


def test_request_ids_are_unique_per_request(client):
    request_ids = set()
    for _ in range(3):
        with pytest.raises(anthropic.NotFoundError) as exc:
            client.beta.agents.retrieve("agent_doesnotexist")
        request_ids.add(exc.value.request_id)
    assert len(request_ids) == 3
