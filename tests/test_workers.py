"""``serve --workers N``: several processes behave as one service.

Real processes throughout: ``incident-summarizer serve`` with two uvicorn workers on one port,
the scripted model server over TCP, one SQLite file. Connections are spread over the workers
by the kernel, so each test first checks from the access log that both workers answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.coordination import Coordination
from tests.chaos.harness import ROOT, ServiceProcess, article
from tests.fake_llm import is_relevance_call, numbered_sentences
from tests.scripted_openai import scripted_server

WORKERS = 2
KEY = "workers-test-key-0123456789"


def start(tmp_path: Path, llm_url: str, **settings: Any) -> ServiceProcess:
    service = ServiceProcess(tmp_path, llm_url, workers=WORKERS, **settings)
    service.start()
    wait_for_workers(service)  # /readyz answered once: every worker must be ready
    return service


def answering_pids(service: ServiceProcess, skip: int = 0) -> list[int]:
    """The worker of each POST /v1/summaries in the access log, after the first ``skip``."""
    pids = [
        line["pid"]
        for line in service.log_lines()
        if line.get("path") == "/v1/summaries" and line.get("method") == "POST"
    ]
    return pids[skip:]


async def burst(
    service: ServiceProcess,
    bodies: list[dict[str, Any]],
    return_exceptions: bool = False,
    **headers: str,
) -> list[Any]:
    # One connection per request, so the kernel spreads them over the workers.
    async def one(body: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
            return await client.post("/v1/summaries", json=body, headers=headers)

    return await asyncio.gather(*(one(b) for b in bodies), return_exceptions=return_exceptions)


def test_the_same_article_on_every_worker_costs_one_model_call(tmp_path: Path) -> None:
    with scripted_server(mode="ok", delay=0.5) as llm:
        service = start(tmp_path, llm.base_url)
        try:
            # The kernel may hand a whole burst to one worker: new bursts (of a new article
            # each) until one has been spread over both.
            for attempt in range(6):
                before, logged = llm.record_calls, len(answering_pids(service))
                answers = asyncio.run(burst(service, [article(attempt, tag="workers")] * 24))
                assert [a.status_code for a in answers] == [200] * 24, answers[0].text
                assert len({a.json()["id"] for a in answers}) == 1
                extractions = llm.record_calls - before
                assert extractions == 1, f"burst {attempt}: {extractions} extractions"
                if len(set(answering_pids(service, skip=logged))) == WORKERS:
                    break
            else:
                pytest.fail("the kernel never spread a burst over both workers")
            # The worker that did not extract served the other's stored record.
            cached = [a.json()["cached"] for a in answers]
            assert True in cached and False in cached
        finally:
            service.stop()


def test_metrics_count_the_requests_of_every_worker(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def posts_answered(text: str) -> float:
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "summarizer_http_requests_total"
            and s.labels == {"method": "POST", "route": "/v1/summaries", "status": "200"}
        )

    with scripted_server(mode="ok") as llm:
        service = start(tmp_path, llm.base_url)
        try:
            sent = 0
            for attempt in range(6):  # bursts until both workers have answered some
                answers = asyncio.run(burst(service, [article(200 + attempt, tag="metrics")] * 12))
                assert [a.status_code for a in answers] == [200] * 12
                sent += len(answers)
                if len(set(answering_pids(service))) == WORKERS:
                    break
            else:
                pytest.fail("the kernel never spread a burst over both workers")
            # Whichever worker answers a scrape, it counts every worker's requests.
            scrapes = [httpx.get(f"{service.base_url}/metrics", timeout=10) for _ in range(6)]
            files = {p.name for p in (tmp_path / "data" / "metrics").glob("counter_*.db")}
        finally:
            service.stop()
    assert all(r.status_code == 200 for r in scrapes)
    assert [posts_answered(r.text) for r in scrapes] == [sent] * len(scrapes)
    assert {f"counter_{pid}.db" for pid in answering_pids(service)} <= files


def test_a_worker_killed_mid_extraction_leaves_its_article_to_the_others(tmp_path: Path) -> None:
    coordination = tmp_path / "data" / "coordination.sqlite3"
    with scripted_server(mode="ok", delay=1.5) as llm:
        service = start(tmp_path, llm.base_url)
        try:
            for attempt in range(6):
                before, records = llm.calls, llm.record_calls
                answers = asyncio.run(
                    burst_and_kill_the_claimant(service, article(50 + attempt), coordination, llm)
                )
                ok = [a for a in answers if isinstance(a, httpx.Response)]
                assert all(a.status_code == 200 for a in ok), [a.text for a in ok]
                if ok:  # some requests had landed on the surviving worker
                    assert len({a.json()["id"] for a in ok}) == 1
                    # The killed worker's relevance call, then the take-over's two calls.
                    assert llm.calls - before == 3
                    assert llm.record_calls - records == 1
                    break
                wait_for_workers(service)  # every request was on the killed worker: again
            else:
                pytest.fail("the kernel never spread a burst over both workers")
        finally:
            service.stop()


async def burst_and_kill_the_claimant(
    service: ServiceProcess, body: dict[str, Any], coordination: Path, llm: Any
) -> list[httpx.Response | BaseException]:
    calls = llm.calls
    requests = asyncio.create_task(burst(service, [body] * 24, return_exceptions=True))
    while llm.calls == calls:  # the claimant's model call has arrived
        await asyncio.sleep(0.01)
    conn = sqlite3.connect(coordination)
    try:
        # The newest claim: an earlier attempt's killed worker may have left its own.
        (pid,) = conn.execute("SELECT pid FROM claims ORDER BY expires_at DESC").fetchone()
    finally:
        conn.close()
    os.kill(pid, signal.SIGKILL)
    return await requests


def worker_processes(service: ServiceProcess) -> set[int]:
    """The live worker processes of the server (the children of its supervisor)."""
    assert service.proc is not None
    children = Path(f"/proc/{service.proc.pid}/task/{service.proc.pid}/children")
    pids = {int(p) for p in children.read_text().split()} if children.exists() else set()
    workers = set()
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
            workers.add(pid)
    return workers


def wait_for_workers(service: ServiceProcess) -> None:
    deadline = time.monotonic() + 60
    # A killed worker is replaced by the supervisor a moment later: until its replacement
    # runs, every request goes to the other worker and /readyz says nothing of it.
    while len(worker_processes(service)) < WORKERS:
        assert time.monotonic() < deadline, service.log_tail()
        time.sleep(0.05)
    ready_in_a_row = 0
    while ready_in_a_row < 20:
        assert time.monotonic() < deadline, service.log_tail()
        try:
            ok = httpx.get(f"{service.base_url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            ok = False
        ready_in_a_row = ready_in_a_row + 1 if ok else 0


def test_rate_limits_count_across_workers(tmp_path: Path) -> None:
    burst_size, attempts = 6, 6
    keys = [f"{KEY}-{n}" for n in range(attempts)]
    with scripted_server(mode="ok") as llm:
        service = start(
            tmp_path,
            llm.base_url,
            api_keys=",".join(keys),
            rate_limit_per_minute=1,  # refills one request a minute: nothing during the test
            rate_limit_burst=burst_size,
        )
        try:
            # A new key for each burst, until one burst has been spread over both workers.
            for attempt, key in enumerate(keys):
                logged = len(answering_pids(service))
                bodies = [article(100 * attempt + n, tag="limits") for n in range(20)]
                answers = asyncio.run(burst(service, bodies, **{"X-API-Key": key}))
                statuses = sorted(a.status_code for a in answers)
                # Per-worker buckets would let up to WORKERS * burst_size through.
                assert statuses == [200] * burst_size + [429] * (20 - burst_size), statuses
                limited = [a for a in answers if a.status_code == 429]
                assert all(int(a.headers["Retry-After"]) > 0 for a in limited)
                if len(set(answering_pids(service, skip=logged))) == WORKERS:
                    break
            else:
                pytest.fail("the kernel never spread a burst over both workers")
        finally:
            service.stop()


def test_workers_need_a_model_server(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a model server"):
        Settings(_env_file=None, workers=2)  # type: ignore[call-arg]
    env = {"PYTHONPATH": str(ROOT), "SUMMARIZER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "needs a model server" in done.stderr
    assert not list(tmp_path.glob("*.sqlite3"))  # refused before anything was created


def test_a_claim_held_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "coordination.sqlite3"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    gone = Coordination(path, pid=int(dead.stdout))
    here = Coordination(path)
    other = Coordination(path, pid=1)  # alive: init
    try:
        assert other.claim("article", ttl_s=60)
        assert not here.claim("article", ttl_s=60)  # held by a live process
        assert here.holder("article") == 1

        assert gone.claim("orphan", ttl_s=60)
        assert here.claim("orphan", ttl_s=60)  # its holder has exited
        assert here.holder("orphan") == here.pid

        assert other.claim("expired", ttl_s=0.01)
        time.sleep(0.05)
        assert here.claim("expired", ttl_s=60)  # its time is up

        here.release("orphan")
        assert here.holder("orphan") is None
        other.release("article")
        assert here.claim("article", ttl_s=60)
    finally:
        for c in (gone, here, other):
            c.close()


def test_shared_buckets_spend_one_allowance(tmp_path: Path) -> None:
    path = tmp_path / "coordination.sqlite3"
    first, second = Coordination(path), Coordination(path, pid=1)
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


def test_a_batch_is_shared_by_the_workers_and_each_article_extracted_once(
    tmp_path: Path,
) -> None:
    """On SQLite every worker process runs the batch engine, claiming articles in the database
    in its own name (host:pid): both take part, and no article is answered or extracted twice."""
    articles = 40
    items = [{**article(n, tag="shared batch"), "external_id": f"a{n}"} for n in range(articles)]
    items += [{**article(n, tag="shared batch"), "external_id": f"again{n}"} for n in range(4)]
    with scripted_server(mode="ok", delay=0.1) as llm:
        service = start(tmp_path, llm.base_url, batch_concurrency=2)
        try:
            response = httpx.post(
                f"{service.base_url}/v1/batches", json={"items": items}, timeout=30
            )
            assert response.status_code == 202, response.text
            batch_id = response.json()["id"]
            runners: set[str] = set()
            deadline = time.monotonic() + 120
            while (body := batch(service, batch_id))["status"] != "done":
                assert time.monotonic() < deadline, body
                runners |= runners_at_work(service.database, batch_id)
                time.sleep(0.05)
            listed = httpx.get(
                f"{service.base_url}/v1/batches/{batch_id}/items",
                params={"limit": 1000},
                timeout=10,
            ).json()["items"]
        finally:
            service.stop()
    assert body["counts"] == {
        "total": articles + 4, "done": articles + 4, "cached": 0, "failed": 0, "pending": 0,
        "cancelled": 0,
    }  # fmt: skip
    worker_pids = {runner.rpartition(":")[2] for runner in runners}
    assert len(worker_pids) == WORKERS, runners  # both processes claimed articles
    assert str(service.proc.pid if service.proc else "") not in worker_pids  # not the parent
    assert [i["external_id"] for i in listed] == [
        *(f"a{n}" for n in range(articles)), *(f"again{n}" for n in range(4)),
    ]  # fmt: skip
    assert all(i["status"] == "done" and i["summary_id"] for i in listed)
    assert [i["summary_id"] for i in listed[articles:]] == [
        i["summary_id"] for i in listed[:4]
    ]  # an article sent twice is one record
    assert len({i["summary_id"] for i in listed}) == articles
    # The model server saw each article once: one relevance call and one record call.
    extracted = Counter(
        numbered_sentences(r)[0][1] for r in list(llm.requests) if not is_relevance_call(r)
    )
    assert len(extracted) == articles and set(extracted.values()) == {1}, extracted
    assert llm.record_calls == articles and llm.calls == 2 * articles


def batch(service: ServiceProcess, batch_id: str) -> dict[str, Any]:
    return httpx.get(f"{service.base_url}/v1/batches/{batch_id}", timeout=10).json()


def runners_at_work(database: Path, batch_id: str) -> set[str]:
    """The processes named on the batch's items in work now."""
    with closing(sqlite3.connect(database, timeout=10)) as conn:
        rows = conn.execute(
            "SELECT DISTINCT runner FROM batch_items WHERE batch_id = ? AND status = 'running'",
            (batch_id,),
        ).fetchall()
    return {r for (r,) in rows if r}
