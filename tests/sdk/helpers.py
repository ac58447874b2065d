"""Small shared helpers for the SDK compatibility suite (no fixtures here)."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import anthropic

BETA = "managed-agents-2026-04-01"
MODEL = "claude-sonnet-4-6"

PACKAGE_MANAGERS = ("apt", "cargo", "gem", "go", "npm", "pip")


def unique(prefix: str) -> str:
    """A name that no other test (or earlier run on the same server) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def error_body(exc: anthropic.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    return body


def error_message(exc: anthropic.APIStatusError) -> str:
    return error_body(exc)["error"]["message"]


def error_code(exc: anthropic.APIStatusError) -> str | None:
    details = error_body(exc)["error"].get("details") or {}
    return details.get("error_code")


def ids(items: Iterable[Any]) -> list[str]:
    return [item.id for item in items]


def as_json(model: Any) -> dict[str, Any]:
    """The response object as the JSON the server sent (fields it omitted stay omitted)."""
    return model.to_dict(mode="json")


def empty_packages() -> dict[str, list[str]]:
    return {manager: [] for manager in PACKAGE_MANAGERS}


class RawResponse:
    def __init__(self, status: int, headers: Mapping[str, str], text: str):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.text = text

    def json(self) -> Any:
        return json.loads(self.text)


def raw_request(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
) -> RawResponse:
    """Plain HTTP request with exactly the headers given (no SDK defaults)."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        payload = None
        all_headers = dict(headers or {})
        if body is not None:
            payload = json.dumps(body).encode()
            all_headers.setdefault("content-type", "application/json")
        conn.request(method, path, body=payload, headers=all_headers)
        resp = conn.getresponse()
        return RawResponse(resp.status, dict(resp.getheaders()), resp.read().decode())
    finally:
        conn.close()
