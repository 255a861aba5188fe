"""Nothing of a batch is lost to ``kill -9``: real processes, real HTTP, the scripted model
server over TCP counting which articles it was asked to extract.

- SQLite: the API process runs the batch; it is killed mid-batch and started again.
- PostgreSQL: the API process and two ``incident-summarizer worker`` processes; one worker is
  killed mid-batch and another one started.

Either way every item ends done exactly once, and no article is extracted twice except those
in work when the process died.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.chaos.harness import ServiceProcess, WorkerProcess, article
from tests.fake_llm import is_relevance_call, numbered_sentences
from tests.scripted_openai import ScriptedServer, scripted_server

ARTICLES = 30
SLOTS = 3  # articles a process works on at once: at most this many are extracted again


def submit(service: ServiceProcess) -> str:
    items = [{**article(n, tag="crash"), "external_id": f"a{n}"} for n in range(ARTICLES)]
    response = httpx.post(f"{service.base_url}/v1/batches", json={"items": items}, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def batch(service: ServiceProcess, batch_id: str) -> dict[str, Any]:
    return httpx.get(f"{service.base_url}/v1/batches/{batch_id}", timeout=10).json()


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def extractions(llm: ScriptedServer) -> Counter[str]:
    """Record calls per article (its first sentence names it)."""
    return Counter(
        numbered_sentences(r)[0][1] for r in list(llm.requests) if not is_relevance_call(r)
    )


def check_answered_once(
    service: ServiceProcess, batch_id: str, llm: ScriptedServer, rows: list[tuple]
) -> None:
    body = wait_until(
        lambda: (b := batch(service, batch_id))["status"] == "done" and b, 120, "the batch"
    )
    assert body["counts"] == {
        "total": ARTICLES, "done": ARTICLES, "cached": 0, "failed": 0, "pending": 0,
        "cancelled": 0,
    }  # fmt: skip
    items = httpx.get(
        f"{service.base_url}/v1/batches/{batch_id}/items", params={"limit": 1000}, timeout=10
    ).json()["items"]
    assert [i["external_id"] for i in items] == [f"a{n}" for n in range(ARTICLES)]
    assert all(i["status"] == "done" and i["summary_id"] for i in items)
    assert len({i["summary_id"] for i in items}) == ARTICLES
    # In the database: one row per item, each answered once; one record per article.
    assert len(rows) == ARTICLES and all(status == "done" for status, _ in rows)
    counts = extractions(llm)
    assert len(counts) == ARTICLES  # every article reached the model
    twice = [a for a, n in counts.items() if n > 1]
    assert all(n <= 2 for n in counts.values()), counts
    assert len(twice) <= SLOTS, twice  # only those in work when the process died


def test_sqlite_api_killed_mid_batch_resumes_on_restart(tmp_path: Path) -> None:
    with scripted_server(mode="ok", delay=0.25) as llm:
        service = ServiceProcess(tmp_path, llm.base_url, max_concurrency=SLOTS)
        service.start()
        try:
            batch_id = submit(service)
            wait_until(lambda: batch(service, batch_id)["counts"]["done"] >= 6, 60, "progress")
            wait_until(lambda: llm.in_flight > 0, 10, "an extraction in work")
            service.kill9()
            done_before = _sqlite_done(service.database, batch_id)
            assert 6 <= done_before < ARTICLES
            service.start()
            rows = wait_until(
                lambda: (
                    (r := _sqlite_rows(service.database, batch_id))
                    and all(s == "done" for s, _ in r)
                    and r
                ),
                120,
                "every item",
            )
            check_answered_once(service, batch_id, llm, rows)
            assert '"batch items resumed after a restart"' in service.log_text()
        finally:
            service.stop()


def _sqlite_rows(path: Path, batch_id: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT status, summary_id FROM batch_items WHERE batch_id = ? ORDER BY idx",
            (batch_id,),
        ).fetchall()


def _sqlite_done(path: Path, batch_id: str) -> int:
    return sum(1 for status, _ in _sqlite_rows(path, batch_id) if status == "done")


def test_postgres_worker_killed_mid_batch_leaves_its_articles_to_the_others(
    tmp_path: Path, postgres_url: str
) -> None:
    database = {"database_url": postgres_url}
    workers = {
        **database,
        "worker_concurrency": SLOTS,
        "worker_heartbeat_s": 0.5,
        "worker_stalled_s": 2,
        "batch_sweep_s": 1,
    }
    libpq = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with scripted_server(mode="ok", delay=0.25) as llm:
        for name in ("api", "w1", "w2", "w3"):
            (tmp_path / name).mkdir()
        service = ServiceProcess(tmp_path / "api", llm.base_url, **database)
        first, second, third = (
            WorkerProcess(tmp_path / name, llm.base_url, **workers) for name in ("w1", "w2", "w3")
        )
        processes = [service, first, second, third]
        try:
            service.start()
            first.start()
            second.start()
            batch_id = submit(service)
            wait_until(lambda: batch(service, batch_id)["counts"]["done"] >= 6, 60, "progress")
            wait_until(lambda: _pg_running(libpq, first), 10, "the first worker at work")
            first.kill9()
            third.start()  # a restart, on another "host" (its own data directory)
            wait_until(lambda: batch(service, batch_id)["status"] == "done", 120, "the batch")
            with psycopg.connect(libpq) as conn:
                rows = conn.execute(
                    "SELECT status, summary_id FROM batch_items WHERE batch_id = %s ORDER BY idx",
                    (batch_id,),
                ).fetchall()
            check_answered_once(service, batch_id, llm, rows)
            assert any(
                "retrying a dead worker's job" in ln.get("msg", "")
                for p in (second, third)
                for ln in p.log_lines()
            )
        finally:
            for process in processes:
                if process.proc is not None:
                    process.stop()


def _pg_running(libpq: str, worker: WorkerProcess) -> bool:
    """Whether the worker process holds items in work (its runner name ends in its pid)."""
    assert worker.proc is not None
    with psycopg.connect(libpq) as conn:
        row = conn.execute(
            "SELECT count(*) FROM batch_items WHERE status = 'running' AND runner LIKE %s",
            (f"%:{worker.proc.pid}",),
        ).fetchone()
    return bool(row and row[0])
