"""SIGTERM while a summary is being made: the real server process finishes the request (or
fails it with its documented error), stores nothing half-written, closes the database and exits."""

from __future__ import annotations

import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.chaos.harness import ServiceProcess, article
from tests.scripted_openai import scripted_server


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def stored_ids(database: Path) -> tuple[str, list[str]]:
    db = sqlite3.connect(database)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        ids = [row[0] for row in db.execute("SELECT id FROM summaries")]
    finally:
        db.close()
    return check, ids


def sigterm_mid_request(
    tmp_path: Path, *, model_delay: float, deadline_s: float
) -> tuple[httpx.Response, ServiceProcess, float]:
    """Start one summary, SIGTERM the server while the model works; the answer, the process
    and the seconds from SIGTERM to exit."""
    with scripted_server(mode="ok", delay=model_delay) as llm:
        service = ServiceProcess(tmp_path, llm.base_url, request_deadline_s=deadline_s)
        service.start()
        assert service.proc is not None
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                httpx.post, f"{service.base_url}/v1/summaries", json=article(1), timeout=60
            )
            wait_for(lambda: llm.in_flight == 1, 10, "the model call to start")
            service.proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            time.sleep(0.3)
            # No new work is accepted once shutting down.
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{service.base_url}/healthz", timeout=2)
            response = pending.result(timeout=60)
        code = service.proc.wait(timeout=60)
        took = time.monotonic() - sent
    # uvicorn re-raises the signal once shut down, so the exit status says "ended by SIGTERM";
    # the log says whether it got there cleanly.
    assert code in (0, -signal.SIGTERM), service.log_tail()
    messages = [line.get("msg", "") for line in service.log_lines()]
    assert "Application shutdown complete." in messages, service.log_tail()
    assert any(m.startswith("Finished server process") for m in messages)
    assert not [line for line in service.log_lines() if line.get("level") == "error"]
    return response, service, took


def test_a_request_in_flight_at_sigterm_is_answered_and_stored(tmp_path):
    response, service, took = sigterm_mid_request(tmp_path, model_delay=2.0, deadline_s=30)
    assert response.status_code == 200, response.text
    check, ids = stored_ids(service.database)
    assert check == "ok"
    assert ids == [response.json()["id"]]
    assert took < 10
    messages = [line.get("msg", "") for line in service.log_lines()]
    assert any("Waiting for connections to close" in m for m in messages), messages


def test_a_request_too_slow_to_finish_fails_cleanly_and_stores_nothing(tmp_path):
    # The model answers after 6 s; the request's deadline (and so the shutdown's grace
    # period) is 2 s: the client gets the documented 504, not a dropped connection.
    response, service, took = sigterm_mid_request(tmp_path, model_delay=6.0, deadline_s=2)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "deadline_exceeded"
    check, ids = stored_ids(service.database)
    assert check == "ok"
    assert ids == []
    assert took < 8
