"""Retry budget, single flight at the edge of a commit, and the tokens a failure spent.

The model is scripted at the HTTP boundary; the app, its retry transport and SQLite are real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest

from service.errors import DeadlineExceeded
from service.logs import JsonFormatter
from service.summarize import Slots
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, draft_from_record

# The same tests on SQLite and on PostgreSQL (tests.conftest's database_url).
pytestmark = pytest.mark.backends

INVALID = '{"is_incident": true, "unexpected": 1}'


class JsonLines(logging.Handler):
    """Formats at emit time, as the server's stderr handler does (context included)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def capture(logger: str) -> JsonLines:
    handler = JsonLines()
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    return handler


def limited(after: int = 0) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {}})


async def test_retries_are_one_budget_for_the_whole_request(make_settings, seed):
    # Answer 1: rate limited, retried (1 of 2), then invalid -> re-ask.
    # Answer 2: rate limited (2 of 2), rate limited again: the budget is spent.
    llm = ScriptedLLM(limited(), INVALID, limited(), limited(), draft_from_record(seed["expected"]))
    settings = make_settings(transient_retries=2, max_attempts=3)
    async with running_app(settings, llm) as client:
        response = await client.post("/v1/summaries", json=seed["request"])
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "model_unavailable"
    assert "Retry-After" in response.headers
    assert llm.record_calls == 4  # 2 answers asked for + 2 retries, not 2 retries per answer


async def test_a_failed_request_logs_the_tokens_it_spent(make_settings, seed):
    lines = capture("service.summarize")
    llm = ScriptedLLM(INVALID, limited())
    settings = make_settings(transient_retries=1, max_attempts=3)
    try:
        async with running_app(settings, llm) as client:
            response = await client.post(
                "/v1/summaries", json=seed["request"], headers={"X-Request-ID": "spend-1"}
            )
    finally:
        logging.getLogger("service.summarize").removeHandler(lines)
    assert response.status_code == 503
    assert llm.record_calls == 3
    [spent] = [line for line in lines.lines if line["msg"].startswith("extraction")]
    assert spent["request_id"] == "spend-1"
    assert spent["outcome"] == "model_unavailable"
    assert spent["upstream_calls"] == 4  # the relevance call, then 3 for the record
    assert spent["transient_retries"] == 1
    # The two answers that came back (the relevance answer and the invalid record) carried
    # usage (fake_llm: 100 prompt, 50 completion each).
    assert (spent["prompt_tokens"], spent["completion_tokens"]) == (200, 100)


async def test_a_successful_extraction_logs_its_spend_too(make_settings, seed):
    lines = capture("service.summarize")
    llm = ScriptedLLM(INVALID, draft_from_record(seed["expected"]))
    try:
        async with running_app(make_settings(), llm) as client:
            response = await client.post("/v1/summaries", json=seed["request"])
    finally:
        logging.getLogger("service.summarize").removeHandler(lines)
    assert response.status_code == 200
    [spent] = [line for line in lines.lines if line["msg"].startswith("extraction")]
    assert spent["outcome"] == "ok"
    assert spent["request_id"] == response.headers["X-Request-ID"]
    # Three answers: relevance, the invalid record, the record.
    assert (spent["prompt_tokens"], spent["completion_tokens"]) == (300, 150)
    assert response.json()["usage"]["prompt_tokens"] == 300


async def test_a_read_just_before_the_commit_does_not_start_a_second_call(
    make_settings, seed, monkeypatch
):
    """Request B reads the cache before A's record is committed, and looks for A's
    extraction after it has finished: B must still not call the model."""
    llm = ScriptedLLM(draft_from_record(seed["expected"]), delay=0.2)
    async with running_app(make_settings(), llm) as client:
        app = client.app  # type: ignore[attr-defined]
        store, summarizer = app.state.store, app.state.summarizer
        real_read = store.current_async
        stale_reads = 0

        async def read_from_a_stale_snapshot(key: str) -> bytes | None:
            nonlocal stale_reads
            if llm.record_calls == 0 or stale_reads:
                return await real_read(key)
            # B's read, made while A's model call runs: its snapshot predates A's commit,
            # and it returns only after A has stored its record and left the in-flight map.
            stale_reads += 1
            while summarizer._inflight:
                await asyncio.sleep(0.01)
            return None

        monkeypatch.setattr(store, "current_async", read_from_a_stale_snapshot)
        first = asyncio.create_task(client.post("/v1/summaries", json=seed["request"]))
        while llm.record_calls == 0:  # A's model call has started
            await asyncio.sleep(0.005)
        second = await client.post("/v1/summaries", json=seed["request"])
        first_response = await first
    assert first_response.status_code == second.status_code == 200
    assert llm.record_calls == 1
    assert second.json()["id"] == first_response.json()["id"]
    assert second.headers["X-Cache"] == "hit"
    assert stale_reads == 1


async def test_a_queued_request_gives_up_at_its_deadline_and_leaks_no_slot():
    slots = Slots(concurrency=1, depth=5, first_guess_s=1.0)
    release = asyncio.Event()

    async def holder() -> None:
        async with slots.hold(time.monotonic() + 60):
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    started = time.monotonic()
    try:
        # Without the bound it would wait for the holder (here: forever, cut at 2 s).
        with pytest.raises(DeadlineExceeded):
            async with asyncio.timeout(2), slots.hold(time.monotonic() + 0.2):
                raise AssertionError("got a slot that was never free")
        assert time.monotonic() - started < 1.0  # it did not wait for the holder
        assert slots.waiting == 0 and slots.busy == 1
    finally:
        release.set()
    await held
    async with asyncio.timeout(1), slots.hold(time.monotonic() + 5):
        assert slots.busy == 1  # the slot came back, exactly once
    assert slots.busy == 0
