"""The service in front of a real OpenAI-compatible server: llama-cpp-python's own
(``python -m llama_cpp.server``) serving the bundled GGUF file, over real HTTP.

That server takes the schema as ``response_format: {"type": "json_object", "schema": ...}``
and refuses ``json_schema``; the service finds that out by itself (auto mode) and gets the
seed article right in one answer per call.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service import cpu_backend
from service.app import create_app
from service.config import Settings
from service.local_model import ensure_model_file
from tests.conftest import ROOT, load_seed

pytestmark = pytest.mark.integration

MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not become ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``python -m llama_cpp.server`` on the bundled model file, on a free port."""
    file = ensure_model_file(Settings(_env_file=None))
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cores = str(cpu_backend.available_cores())
    env = {
        **os.environ,
        # This install's llama.cpp has one CPU backend per instruction set; a process other
        # than the service is told which one to load (the one the service would choose).
        "GGML_BACKEND_PATH": str(cpu_backend.chosen().path),
    }
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(file.path),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "8192",
        "--n_threads",
        cores,
        "--n_threads_batch",
        cores,
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(f"{base}/models", proc, log, 300)
        yield base, log
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a server in the middle of a completion
        proc.kill()
        proc.wait(timeout=30)


def _completion_statuses(log: Path) -> list[int]:
    """Statuses of the chat completions the server answered, from its access log."""
    return [
        int(m[1])
        for m in re.finditer(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})', log.read_text())
    ]


@pytest.fixture(scope="module")
def service(
    model_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The service, over real HTTP, pointed at the model server (structured output: auto)."""
    base_url, _ = model_server
    port = _free_port()
    data = tmp_path_factory.mktemp("data")
    log = data / "service.log"
    env = {
        **os.environ,
        "SUMMARIZER_LLM_BASE_URL": base_url,
        "SUMMARIZER_LLM_MODEL": MODEL_ALIAS,
        "SUMMARIZER_DATA_DIR": str(data),
        "SUMMARIZER_DATABASE_URL": f"sqlite:///{data / 'summaries.sqlite3'}",
        # These tests check the path, not the speed, on a shared machine (BENCHMARKS.md).
        "SUMMARIZER_REQUEST_DEADLINE_S": "3000",
        "SUMMARIZER_LLM_CALL_TIMEOUT_S": "3000",
    }
    env.pop("SUMMARIZER_LLM_MODE", None)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/readyz", proc, log, 120)
        yield base
    finally:
        _stop(proc)


def test_seed_through_llama_cpp_server_in_one_answer(
    service: str, model_server: tuple[str, Path]
) -> None:
    _, server_log = model_server
    before = len(_completion_statuses(server_log))
    seed = load_seed("seed-camp-taji.json")
    started = time.monotonic()
    response = httpx.post(f"{service}/v1/summaries", json=seed["request"], timeout=3100)
    seconds = time.monotonic() - started
    assert response.status_code == 200, response.text
    body = response.json()
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "seed-response-llama-cpp-server.json").write_text(
        json.dumps({**body, "seconds": round(seconds, 1)}, indent=2, ensure_ascii=False)
    )
    incident = body["incident"]
    assert incident["is_incident"]
    assert incident["casualties"]["killed"] == 3
    assert incident["casualties"]["injured"] == 12
    # One answer for the relevance call and one for the record: no re-ask.
    assert body["usage"]["attempts"] == 2
    # The server refused json_schema once (auto mode finding its dialect), answered the rest.
    statuses = _completion_statuses(server_log)[before:]
    assert statuses == [500, 200, 200], statuses


async def test_json_schema_refused_is_one_call_and_a_clear_error(
    model_server: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, server_log = model_server
    settings = Settings(
        _env_file=None,
        llm_base_url=base_url,
        llm_model=MODEL_ALIAS,
        llm_mode="json_schema",
        data_dir=tmp_path,
        transient_retries=4,
        retry_max_wait_s=0.1,
    )
    before = len(_completion_statuses(server_log))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        while not app.state.ready:
            import asyncio

            await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as c:
            seed: dict[str, Any] = load_seed("seed-camp-taji.json")
            response = await c.post("/v1/summaries", json=seed["request"], timeout=120)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "model_request_rejected"
    assert "json_object" in error["message"]
    assert _completion_statuses(server_log)[before:] == [500]  # not retried
