"""Fixtures: a real `hangar serve` child process and SDK clients pointed at it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import anthropic
import pytest

from helpers import MODEL, unique

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MockModel:
    """The scripted model server (`hangar-mock-model`) as a child process.

    Its step queue is shared by every request it gets: a test pushes the steps its turn needs
    right before sending the message that triggers them.
    """

    def __init__(self, binary: Path, script_path: Path):
        script_path.write_text('{"steps": []}')
        self.process = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", "--script", str(script_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().strip()
        assert self.address, "hangar-mock-model printed no address"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

    def push(self, *steps: dict[str, Any]) -> None:
        self._call("POST", "/_mock/steps", list(steps))

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_mock/requests")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()


class HangarServer:
    """One `hangar serve` process bound to a data dir; restartable on the same data dir."""

    def __init__(self, binary: Path, data_dir: Path, log_path: Path, env: dict[str, str] | None = None):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_env = dict(env or {})
        self.api_key = "sk-test-" + secrets.token_hex(16)
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        assert self.port is not None, "server is not running"
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> anthropic.Anthropic:
        options: dict[str, Any] = {"base_url": self.base_url, "api_key": self.api_key, "max_retries": 0}
        options.update(kwargs)
        return anthropic.Anthropic(**options)

    def _log_tail(self, limit: int = 8000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return "<no server log>"

    def start(self) -> None:
        assert self.process is None, "server already running"
        self.port = _free_port()
        env = dict(os.environ, HANGAR_API_KEY=self.api_key, **self.extra_env)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== starting hangar on port {self.port} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "serve",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--data-dir",
                    str(self.data_dir),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        url = f"{self.base_url}/healthz"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                pytest.fail(f"hangar serve exited with status {code} during startup; log:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"hangar serve did not answer 200 on /healthz within {STARTUP_TIMEOUT_S}s; log:\n{self._log_tail()}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop the process and start a new one on the same data dir and API key (new port)."""
        self.stop()
        self.start()


def _hangar_binary() -> Path:
    binary = Path(os.environ.get("HANGAR_BIN", REPO_ROOT / "target" / "debug" / "hangar"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.exit(f"hangar binary not found or not executable: {binary} (set HANGAR_BIN)", returncode=1)
    return binary


def _mock_model_binary() -> Path:
    binary = Path(os.environ.get("HANGAR_MOCK_MODEL_BIN", REPO_ROOT / "target" / "debug" / "hangar-mock-model"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.exit(f"hangar-mock-model not found or not executable: {binary} (set HANGAR_MOCK_MODEL_BIN)", returncode=1)
    return binary


def _model_env(model: MockModel) -> dict[str, str]:
    """Points the server's built-in `anthropic` provider at the mock model."""
    return {"ANTHROPIC_BASE_URL": model.base_url, "ANTHROPIC_API_KEY": "sk-mock"}


def _start_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None
) -> HangarServer:
    root = tmp_path_factory.mktemp(name)
    data_dir = root / "data"
    data_dir.mkdir()
    server = HangarServer(_hangar_binary(), data_dir, root / "server.log", env)
    server.start()
    return server


@pytest.fixture(scope="session")
def mock_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockModel]:
    """The scripted model server every server of the run talks to."""
    model = MockModel(_mock_model_binary(), tmp_path_factory.mktemp("mock-model") / "script.json")
    try:
        yield model
    finally:
        model.stop()


@pytest.fixture(scope="session")
def hangar_server(tmp_path_factory: pytest.TempPathFactory, mock_model: MockModel) -> Iterator[HangarServer]:
    """The shared server for the whole run. Tests must use unique names."""
    server = _start_server(tmp_path_factory, "hangar", _model_env(mock_model))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_server(tmp_path_factory: pytest.TempPathFactory, mock_model: MockModel) -> Iterator[HangarServer]:
    """A server of the test's own (own data dir), e.g. for restart tests."""
    server = _start_server(tmp_path_factory, "hangar-private", _model_env(mock_model))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(hangar_server: HangarServer) -> anthropic.Anthropic:
    return hangar_server.client()


@pytest.fixture
def make_agent(client: anthropic.Anthropic) -> Callable[..., Any]:
    """Create an agent with a unique name; keyword arguments override the defaults."""

    def make(**params: Any) -> Any:
        params.setdefault("name", unique("agent"))
        params.setdefault("model", MODEL)
        return client.beta.agents.create(**params)

    return make


@pytest.fixture
def make_environment(client: anthropic.Anthropic) -> Callable[..., Any]:
    """Create an environment with a unique name; keyword arguments override the defaults."""

    def make(**params: Any) -> Any:
        params.setdefault("name", unique("env"))
        return client.beta.environments.create(**params)

    return make


@pytest.fixture
def agent(make_agent: Callable[..., Any]) -> Any:
    return make_agent()


@pytest.fixture
def environment(make_environment: Callable[..., Any]) -> Any:
    return make_environment()
