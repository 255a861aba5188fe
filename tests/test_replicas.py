"""Replicas on PostgreSQL: ``serve`` processes with their own data directories (as on separate
hosts) share single flight, rate limits and API keys through the database.

Real processes throughout: two ``incident-summarizer serve`` on loopback ports, the scripted
OpenAI-compatible model server over TCP counting its calls, one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import open_store
from service.config import Settings
from service.coordination import DatabaseCoordination
from tests.chaos.harness import ROOT, ServiceProcess, article
from tests.scripted_openai import scripted_server


@pytest.fixture
def migrated(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database at the current schema; its URL."""
    store = open_store(Settings(database_url=postgres_url, _env_file=None))  # type: ignore[call-arg]
    try:
        store.migrate()
    finally:
        store.close()
    yield postgres_url


@pytest.fixture
def libpq_url(migrated: str) -> str:
    store = open_store(Settings(database_url=migrated, _env_file=None))  # type: ignore[call-arg]
    try:
        return store.libpq_url()
    finally:
        store.close()


def test_a_claim_is_held_by_one_process_and_ends_with_it(libpq_url: str) -> None:
    here = DatabaseCoordination(libpq_url)
    other = DatabaseCoordination(libpq_url)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from service.coordination import DatabaseCoordination\n"
            "c = DatabaseCoordination(sys.argv[1])\n"
            "assert c.claim('orphan', 60)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            libpq_url,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.claim("article", ttl_s=60)
        assert other.claim("article", ttl_s=60)  # this process's already
        assert not here.claim("article", ttl_s=60)
        assert here.holder("article") == os.getpid()  # both live in this test process

        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert here.holder("orphan") == holder.pid
        assert not here.claim("orphan", ttl_s=60)
        os.kill(holder.pid, signal.SIGKILL)  # no release: its connection just ends
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not here.claim("orphan", ttl_s=60):
            assert time.monotonic() < deadline, "the killed process's claim was never freed"
            time.sleep(0.05)
        assert here.holder("orphan") == os.getpid()

        other.release("article")
        other.release("article")  # a second release is harmless
        assert here.claim("article", ttl_s=60)
        here.release("article")
        assert here.holder("article") is None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        here.close()
        other.close()


def test_shared_buckets_spend_one_allowance(libpq_url: str) -> None:
    first, second = DatabaseCoordination(libpq_url), DatabaseCoordination(libpq_url)
    try:
        allowed = [
            (first if n % 2 else second).take("newsroom", rate_per_s=1 / 60, burst=4) is None
            for n in range(10)
        ]
        assert allowed == [True] * 4 + [False] * 6
        wait = first.take("newsroom", rate_per_s=1 / 60, burst=4)
        assert wait is not None and 50 < wait <= 60
        assert second.take("another key", rate_per_s=1 / 60, burst=4) is None
    finally:
        first.close()
        second.close()


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")}
    env.update(PYTHONPATH=str(ROOT), SUMMARIZER_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


async def _spread(
    replicas: list[ServiceProcess], bodies: list[dict[str, Any]], key: str
) -> list[httpx.Response]:
    """Request i goes to replica i mod 2, all at once, each on its own connection."""

    async def one(i: int, body: dict[str, Any]) -> httpx.Response:
        base = replicas[i % len(replicas)].base_url
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            return await client.post("/v1/summaries", json=body, headers={"X-API-Key": key})

    return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


def test_two_replicas_share_single_flight_rate_limits_and_keys(
    tmp_path: Path, postgres_url: str
) -> None:
    key = _cli(postgres_url, "keys", "add", "desk").stdout.strip()
    settings = {
        "database_url": postgres_url,
        "rate_limit_per_minute": 1,
        "rate_limit_burst": 102,  # the key's allowance, for both replicas together
        "queue_depth": 200,
    }
    with scripted_server(mode="ok", delay=1.0) as llm:
        for name in "ab":
            (tmp_path / name).mkdir()
        replicas = [ServiceProcess(tmp_path / name, llm.base_url, **settings) for name in "ab"]
        try:
            for replica in replicas:  # each has its own data directory, as on its own host
                replica.start()
            answers = asyncio.run(_spread(replicas, [article(7, tag="replicas")] * 100, key))
            assert [a.status_code for a in answers] == [200] * 100, answers[0].text
            assert len({a.json()["id"] for a in answers}) == 1
            assert llm.record_calls == 1  # one extraction for both replicas
            assert sorted({a.json()["cached"] for a in answers}) == [False, True]
            for replica in replicas:  # both answered their share
                posts = [ln for ln in replica.log_lines() if ln.get("path") == "/v1/summaries"]
                assert len(posts) == 50

            # 100 tokens spent over both replicas: two more pass, then none, on either.
            more = asyncio.run(_spread(replicas, [article(8, tag="replicas")] * 4, key))
            assert sorted(a.status_code for a in more) == [200, 200, 429, 429]

            # A key revoked in the database stops working on every replica.
            _cli(postgres_url, "keys", "revoke", "desk")
            time.sleep(2.5)  # the replicas re-read stored keys every 2 s
            refused = asyncio.run(_spread(replicas, [article(9)] * 2, key))
            assert [a.status_code for a in refused] == [401, 401]
        finally:
            for replica in replicas:
                replica.stop()
