"""``kill -9`` during a burst of writes, restart, repeat: nothing acknowledged is lost or torn.

Each round starts the real server on the same SQLite file, fires 200 concurrent summaries of
distinct articles at it and kills it with SIGKILL after a random number of them have been
answered (or as the last model call of the burst arrives), while the rest are in flight.
After each kill the file must pass ``PRAGMA integrity_check``, and every record the server
acknowledged (answered 200) in any round must be stored byte for byte as it was served.

``SUMMARIZER_CHAOS_ROUNDS`` sets the number of rounds (default 20).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.chaos.harness import ServiceProcess, article
from tests.scripted_openai import ScriptedServer, scripted_server

pytestmark = pytest.mark.chaos

ROUNDS = int(os.environ.get("SUMMARIZER_CHAOS_ROUNDS", "20"))
WRITES = 200


def integrity(database: Path) -> str:
    conn = sqlite3.connect(database)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def stored_bodies(database: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT id, body FROM summaries").fetchall()
    finally:
        conn.close()
    return {summary_id: orjson.loads(body) for summary_id, body in rows}


async def burst_then_kill(
    service: ServiceProcess, round_no: int, llm: ScriptedServer, kill_after: int
) -> tuple[dict[str, dict[str, Any]], int]:
    """Post WRITES distinct articles at once; SIGKILL the server as the ``kill_after``-th answer
    arrives, so the kill lands among the commits.

    The model calls run ahead of the commits, so the last model call of the burst also kills
    the server before it is answered, if the kill has not come yet: the request behind it is
    always cut off, however the machine schedules the test.

    Returns the acknowledged resources by id and how many requests the kill cut off.
    """
    acknowledged: dict[str, dict[str, Any]] = {}
    killed = threading.Event()
    last_call = llm.calls + WRITES
    assert service.proc is not None
    pid = service.proc.pid

    def kill() -> None:
        if not killed.is_set():
            os.kill(pid, signal.SIGKILL)  # the process is reaped below, so the pid stays its own
            killed.set()

    def kill_on_call(number: int) -> None:
        if number >= last_call:
            kill()

    # Idle connections are dropped after 1 s, before the server's 5 s keep-alive runs out:
    # reusing one the server is closing fails the request for reasons of the client's own.
    limits = httpx.Limits(
        max_connections=WRITES, max_keepalive_connections=WRITES, keepalive_expiry=1.0
    )
    llm.on_call = kill_on_call
    try:
        async with httpx.AsyncClient(
            base_url=service.base_url, limits=limits, timeout=60
        ) as client:

            async def post(n: int) -> str:
                try:
                    response = await client.post(
                        "/v1/summaries", json=article(n, tag=f"round {round_no}")
                    )
                except httpx.HTTPError:
                    assert killed.is_set(), "a request failed before the kill"
                    return "cut"
                if response.status_code != 200:
                    return f"status {response.status_code}: {response.text[:200]}"
                body = response.json()
                acknowledged[body["id"]] = body
                return "ok"

            outcomes = await asyncio.gather(*(post(WRITES * round_no + n) for n in range(WRITES)))
    finally:
        llm.on_call = None
        service.kill9()  # reaps the killed process, or kills it if the target was never reached
    others = [o for o in outcomes if o not in ("ok", "cut")]
    assert not others, f"unexpected answers: {others[:5]}"
    assert killed.is_set(), "the burst ended before the kill"
    return acknowledged, outcomes.count("cut")


def one_round(
    service: ServiceProcess,
    round_no: int,
    llm: ScriptedServer,
    acknowledged: dict[str, dict[str, Any]],
    rng: random.Random,
) -> tuple[dict[str, dict[str, Any]], int]:
    if acknowledged:
        # After a restart, the records of earlier rounds are served as they were.
        check = rng.sample(sorted(acknowledged), min(50, len(acknowledged)))
        with httpx.Client(base_url=service.base_url, timeout=30) as client:
            for summary_id in check:
                got = client.get(f"/v1/summaries/{summary_id}")
                assert got.status_code == 200, (round_no, summary_id, got.text)
                assert {**got.json(), "cached": False} == acknowledged[summary_id]
    kill_after = rng.randint(WRITES // 10, WRITES - 1)
    acked, cut = asyncio.run(burst_then_kill(service, round_no, llm, kill_after))
    assert cut > 0, "the kill landed after every write"
    return acked, cut


def test_kill_9_during_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(5)
    acknowledged: dict[str, dict[str, Any]] = {}
    cut_total = 0
    started = time.monotonic()
    with scripted_server(mode="ok", delay=0.05) as llm:
        settings = {"queue_depth": WRITES, "max_concurrency": 64, "request_deadline_s": 60}
        for round_no in range(ROUNDS):
            service = ServiceProcess(tmp_path, llm.base_url, **settings)
            service.start()
            try:
                acked, cut = one_round(service, round_no, llm, acknowledged, rng)
            finally:
                service.stop()  # nothing to do after the kill; a failed check leaves no server
            acknowledged.update(acked)
            cut_total += cut
            assert integrity(service.database) == "ok", f"round {round_no}"
    stored = stored_bodies(tmp_path / "data" / "summaries.sqlite3")
    missing = [i for i in acknowledged if i not in stored]
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:3]}"
    torn = [i for i, body in acknowledged.items() if {**stored[i], "cached": False} != body]
    assert not torn, f"{len(torn)} acknowledged records differ from what was served"
    print(
        f"\ncrash safety: {ROUNDS} kills, {len(acknowledged)} acknowledged records all intact, "
        f"{cut_total} requests cut off by the kills, {len(stored)} rows stored, "
        f"{time.monotonic() - started:.0f} s"
    )
