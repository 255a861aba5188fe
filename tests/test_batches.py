"""Batches end to end: the real app, a real database, the model scripted at the HTTP boundary.

On SQLite the API process runs the batch itself; on PostgreSQL a worker (``run_worker``, the
function ``incident-summarizer worker`` runs) works beside it in this process, on the same
database, through procrastinate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
import pytest
from procrastinate.exceptions import ConnectorException
from prometheus_client.parser import text_string_to_metric_families

from service.app import open_store
from service.config import Settings
from service.queue import ANALYZE_AFTER, ProcrastinateEngine, run_worker
from tests.chaos.harness import article
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, is_relevance_call, numbered_sentences
from tests.scripted_openai import generic_answer

pytestmark = pytest.mark.backends

POISON = "POISON"  # an article the scripted model cannot answer


def model_answer(body: dict[str, Any]) -> Any:
    """The scripted model: any article answered, except one with POISON in it."""
    if any(POISON in text for _, text in numbered_sentences(body)) and not is_relevance_call(body):
        return "this is not JSON"
    return generic_answer(body)


def articles_of(llm: ScriptedLLM) -> list[str]:
    """The first sentence of each record call's article: which articles were extracted."""
    return [numbered_sentences(r)[0][1] for r in llm.requests if not is_relevance_call(r)]


@asynccontextmanager
async def batch_service(settings: Settings, llm: ScriptedLLM) -> AsyncIterator[httpx.AsyncClient]:
    """The app; on PostgreSQL with a batch worker on the same database."""
    async with running_app(settings, llm) as client:
        worker = None
        if settings.database_url is not None:
            ready = asyncio.Event()
            worker = asyncio.create_task(
                run_worker(
                    settings,
                    transport=llm.transport(),
                    on_ready=ready.set,
                    install_signal_handlers=False,
                )
            )
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait([worker, waiting], timeout=30, return_when="FIRST_COMPLETED")
            if worker.done():
                worker.result()  # raises what stopped it
            assert ready.is_set(), "the worker did not start"
        try:
            yield client
        finally:
            if worker is not None:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)


async def ended(client: httpx.AsyncClient, batch_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = (await client.get(f"/v1/batches/{batch_id}")).json()
        if body["status"] in ("done", "cancelled") and (
            body["webhook"] is None or body["webhook"]["status"] != "pending"
        ):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


async def all_items(client: httpx.AsyncClient, batch_id: str, **params: Any) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/batches/{batch_id}/items", params=query)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_batch_is_summarized_once_per_article(make_settings):
    llm = ScriptedLLM(model_answer)
    texts = [article(n, tag="batch") for n in range(4)]
    items = [{**t, "external_id": f"wire-{n}"} for n, t in enumerate(texts)]
    items.append({**texts[0], "external_id": "wire-again"})  # the same article twice
    async with batch_service(make_settings(), llm) as client:
        response = await client.post(
            "/v1/batches", json={"items": items, "metadata": {"desk": "archive"}}
        )
        assert response.status_code == 202, response.text
        submitted = response.json()
        assert response.headers["Location"] == f"/v1/batches/{submitted['id']}"
        assert submitted["counts"]["total"] == 5
        assert submitted["metadata"] == {"desk": "archive"}
        body = await ended(client, submitted["id"])
        listed = await all_items(client, submitted["id"])
        stored = await client.get(f"/v1/summaries/{listed[0]['summary_id']}")
    assert body["status"] == "done"
    assert body["counts"] == {
        "total": 5, "done": 5, "cached": 0, "failed": 0, "pending": 0, "cancelled": 0,
    }  # fmt: skip
    assert body["started_at"] and body["finished_at"] and body["eta_seconds"] is None
    assert [i["external_id"] for i in listed] == [*(f"wire-{n}" for n in range(4)), "wire-again"]
    assert all(i["status"] == "done" and i["error"] is None for i in listed)
    assert listed[4]["summary_id"] == listed[0]["summary_id"]
    assert len({i["summary_id"] for i in listed}) == 4
    assert llm.record_calls == 4  # the article sent twice was extracted once
    assert stored.status_code == 200
    assert stored.json()["title"] == texts[0]["title"]


async def test_an_article_in_the_store_is_answered_from_it(make_settings):
    llm = ScriptedLLM(model_answer)
    async with batch_service(make_settings(), llm) as client:
        first = await client.post("/v1/summaries", json=article(1, tag="stored"))
        assert first.status_code == 200
        submitted = await client.post(
            "/v1/batches", json={"items": [article(1, tag="stored"), article(2, tag="stored")]}
        )
        body = await ended(client, submitted.json()["id"])
        listed = await all_items(client, body["id"], include="summary")
    assert body["counts"]["done"] == 2 and body["counts"]["cached"] == 1
    assert llm.record_calls == 2
    assert listed[0]["cached"] is True and listed[0]["summary_id"] == first.json()["id"]
    assert listed[0]["summary"]["incident"] == first.json()["incident"]
    assert listed[1]["cached"] is False
    assert listed[1]["summary"]["id"] == listed[1]["summary_id"]


async def test_batches_asking_for_one_article_at_once_cost_one_extraction(make_settings):
    llm = ScriptedLLM(model_answer, delay=0.2)
    async with batch_service(make_settings(), llm) as client:
        one = {"items": [article(5, tag="shared")]}
        answers = await asyncio.gather(*(client.post("/v1/batches", json=one) for _ in range(3)))
        bodies = [await ended(client, a.json()["id"]) for a in answers]
    assert [b["counts"]["done"] for b in bodies] == [1, 1, 1]
    assert llm.record_calls == 1


async def test_an_article_the_model_cannot_answer_fails_alone(make_settings):
    llm = ScriptedLLM(model_answer)
    poisoned = article(3, tag=POISON)
    async with batch_service(make_settings(max_attempts=2), llm) as client:
        submitted = await client.post(
            "/v1/batches", json={"items": [article(4), {**poisoned, "external_id": "bad"}]}
        )
        body = await ended(client, submitted.json()["id"])
        failed = await all_items(client, body["id"], status="failed")
        done = await all_items(client, body["id"], status="done")
    assert body["status"] == "done"
    assert body["counts"]["done"] == 1 and body["counts"]["failed"] == 1
    assert [i["external_id"] for i in failed] == ["bad"]
    assert failed[0]["summary_id"] is None
    assert failed[0]["error"]["code"] == "model_invalid_output"
    assert failed[0]["error"]["status"] == 502
    assert [i["index"] for i in done] == [0]


async def test_cancel_stops_what_has_not_started(make_settings):
    llm = ScriptedLLM(model_answer, delay=0.3)
    settings = make_settings(batch_concurrency=1, worker_concurrency=1, worker_prefetch=0)
    async with batch_service(settings, llm) as client:
        items = [article(n, tag="cancel") for n in range(8)]
        submitted = (await client.post("/v1/batches", json={"items": items})).json()
        while llm.calls == 0:
            await asyncio.sleep(0.01)
        cancelled = await client.delete(f"/v1/batches/{submitted['id']}")
        again = await client.delete(f"/v1/batches/{submitted['id']}")
        body = await ended(client, submitted["id"])
        await asyncio.sleep(0.8)  # nothing else starts
        after = (await client.get(f"/v1/batches/{submitted['id']}")).json()
        over = await client.delete(f"/v1/batches/{submitted['id']}")
    # The article in work when it was cancelled finishes first.
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelling"
    assert cancelled.json()["counts"]["pending"] == 1 and cancelled.json()["finished_at"] is None
    assert again.status_code == 200 and again.json()["status"] == "cancelling"
    assert body["status"] == "cancelled" and body["finished_at"] is not None
    assert after == body
    assert after["counts"] == {
        "total": 8, "done": 1, "cached": 0, "failed": 0, "pending": 0, "cancelled": 7,
    }  # fmt: skip
    assert llm.record_calls == 1
    assert over.status_code == 409 and over.json()["error"]["code"] == "batch_finished"


async def test_a_batch_with_nothing_in_work_is_cancelled_at_once(make_settings):
    llm = ScriptedLLM(model_answer, delay=0.3)
    settings = make_settings(batch_concurrency=1, worker_concurrency=1, worker_prefetch=0)
    async with batch_service(settings, llm) as client:
        first = await client.post("/v1/batches", json={"items": [article(1, tag="ahead")]})
        while llm.calls == 0:
            await asyncio.sleep(0.01)
        # The only slot is busy with the first batch: nothing of the second has started.
        second = await client.post("/v1/batches", json={"items": [article(2, tag="behind")]})
        cancelled = await client.delete(f"/v1/batches/{second.json()['id']}")
        await ended(client, first.json()["id"])
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"]
    assert cancelled.json()["counts"]["cancelled"] == 1
    assert llm.record_calls == 1


async def test_a_large_batch_leaves_the_queue_planned_for_its_size(make_settings):
    """PostgreSQL: queueing thousands of articles at once refreshes the job table's statistics,
    so the workers' fetch is not planned for the empty queue it was a moment before."""
    settings = make_settings(worker_concurrency=1, worker_prefetch=0)
    if settings.database_url is None:
        pytest.skip("SQLite has no job queue: the API process claims items in batch_items")
    llm = ScriptedLLM(model_answer)
    libpq = settings.database_url.replace("postgresql+psycopg://", "postgresql://")

    def last_analyze() -> Any:
        with psycopg.connect(libpq) as conn:
            row = conn.execute(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'procrastinate_jobs'"
            ).fetchone()
        return row[0] if row else None

    async with batch_service(settings, llm) as client:
        small = await client.post("/v1/batches", json={"items": [article(1, tag="small")]})
        assert small.status_code == 202
        before = await asyncio.to_thread(last_analyze)
        items = [article(n, tag="large") for n in range(ANALYZE_AFTER)]
        large = await client.post("/v1/batches", json={"items": items})
        assert large.status_code == 202, large.text
        after = await asyncio.to_thread(last_analyze)
        await client.delete(f"/v1/batches/{large.json()['id']}")
        await ended(client, large.json()["id"])
    assert before is None  # a batch of one queues one job and leaves the statistics alone
    assert after is not None


async def test_batches_are_listed_newest_first(make_settings):
    llm = ScriptedLLM(model_answer)
    async with batch_service(make_settings(), llm) as client:
        ids = []
        for n in range(3):
            answer = await client.post("/v1/batches", json={"items": [article(n, tag="list")]})
            ids.append(answer.json()["id"])
            await ended(client, ids[-1])
        first = (await client.get("/v1/batches", params={"limit": 2})).json()
        second = (
            await client.get("/v1/batches", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
    assert [b["id"] for b in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    assert all(b["counts"]["done"] == 1 for b in first["items"])


# --- webhooks ---------------------------------------------------------------------------------


@contextmanager
def receiver(statuses: list[int]) -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """An HTTP server on loopback answering POSTs with ``statuses`` in turn (the last one
    repeated); yields its URL and what it received."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            status = statuses[min(len(received), len(statuses)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/batches", received
    finally:
        server.shutdown()
        server.server_close()


WEBHOOKS = {
    "webhook_secret": "newsroom-secret",
    "webhook_allow_hosts": "127.0.0.1",
    "webhook_backoff_s": 0.05,
}


async def test_a_webhook_is_signed_retried_and_recorded(make_settings):
    llm = ScriptedLLM(model_answer)
    with receiver([500, 204]) as (url, received):
        async with batch_service(make_settings(**WEBHOOKS), llm) as client:
            submitted = await client.post(
                "/v1/batches", json={"items": [article(1, tag="hook")], "webhook_url": url}
            )
            assert submitted.status_code == 202, submitted.text
            body = await ended(client, submitted.json()["id"])
            metrics = (await client.get("/metrics")).text
    assert body["webhook"]["status"] == "delivered"
    attempts = body["webhook"]["attempts"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "http_error", 500),
        (2, "delivered", 204),
    ]
    assert len(received) == 2
    for headers, raw in received:
        expected = hmac.new(b"newsroom-secret", raw, hashlib.sha256).hexdigest()
        assert headers["X-Summarizer-Signature"] == f"sha256={expected}"
        sent = json.loads(raw)
        assert sent["id"] == body["id"] and sent["status"] == "done"
        assert sent["counts"]["done"] == 1
    if make_settings().database_url is None:  # SQLite: this process delivered it
        assert _sample(metrics, "summarizer_webhook_deliveries_total", outcome="delivered") == 1
        assert _sample(metrics, "summarizer_webhook_deliveries_total", outcome="http_error") == 1


async def test_a_webhook_that_keeps_failing_gives_up(make_settings):
    llm = ScriptedLLM(model_answer)
    with receiver([503]) as (url, received):
        settings = make_settings(**WEBHOOKS, webhook_max_attempts=3)
        async with batch_service(settings, llm) as client:
            submitted = await client.post(
                "/v1/batches", json={"items": [article(2, tag="hook")], "webhook_url": url}
            )
            body = await ended(client, submitted.json()["id"])
    assert body["webhook"]["status"] == "failed"
    assert [a["outcome"] for a in body["webhook"]["attempts"]] == ["http_error"] * 3
    assert len(received) == 3


async def test_the_webhook_of_a_cancelled_batch_waits_for_the_articles_in_work(make_settings):
    llm = ScriptedLLM(model_answer, delay=0.4)
    settings = make_settings(
        **WEBHOOKS, batch_concurrency=1, worker_concurrency=1, worker_prefetch=0
    )
    with receiver([204]) as (url, received):
        async with batch_service(settings, llm) as client:
            items = [article(n, tag="hook-cancel") for n in range(5)]
            submitted = await client.post("/v1/batches", json={"items": items, "webhook_url": url})
            batch_id = submitted.json()["id"]
            while llm.calls == 0:
                await asyncio.sleep(0.01)
            cancelled = (await client.delete(f"/v1/batches/{batch_id}")).json()
            await asyncio.sleep(0.2)  # the article in work has not finished yet
            sent_while_in_work = len(received)
            body = await ended(client, batch_id)
    assert cancelled["status"] == "cancelling" and cancelled["webhook"]["status"] == "pending"
    assert sent_while_in_work == 0
    assert body["status"] == "cancelled" and body["webhook"]["status"] == "delivered"
    assert len(received) == 1
    sent = json.loads(received[0][1])
    assert sent["status"] == "cancelled"
    # What the client is told includes the article that finished after the cancel.
    assert sent["counts"] == {
        "total": 5, "done": 1, "cached": 0, "failed": 0, "pending": 0, "cancelled": 4,
    }  # fmt: skip
    assert sent["counts"] == body["counts"] and llm.record_calls == 1


def _sample(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_metrics_show_batch_items_and_jobs(make_settings):
    llm = ScriptedLLM(model_answer)
    async with batch_service(make_settings(max_attempts=1), llm) as client:
        items = [article(1, tag="m"), article(2, tag="m"), article(3, tag=POISON)]
        submitted = await client.post("/v1/batches", json={"items": items})
        await ended(client, submitted.json()["id"])
        text = (await client.get("/metrics")).text
    assert _sample(text, "summarizer_batch_items", status="done") == 2
    assert _sample(text, "summarizer_batch_items", status="failed") == 1
    assert _sample(text, "summarizer_batch_items", status="pending") == 0
    if make_settings().database_url is None:  # the jobs ran in this process
        jobs = "summarizer_batch_job_duration_seconds_count"
        assert _sample(text, jobs, outcome="done") == 2
        assert _sample(text, jobs, outcome="model_invalid_output") == 1


class InFlightLLM(ScriptedLLM):
    """The scripted model, counting its calls in flight and, at each call, the worker's jobs
    in progress (procrastinate's ``doing`` jobs)."""

    def __init__(self, database_url: str, **kwargs: Any) -> None:
        super().__init__(model_answer, **kwargs)
        self._dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        self.in_flight = self.most_in_flight = self.most_jobs = 0

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        async with await psycopg.AsyncConnection.connect(self._dsn) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
            )
            row = await cursor.fetchone()
        self.most_jobs = max(self.most_jobs, row[0] if row else 0)
        try:
            return await super()._handle(request)
        finally:
            self.in_flight -= 1


def postgres_settings(tmp_path: Any, postgres_url: str, **overrides: Any) -> Settings:
    """Settings of a service on its own PostgreSQL database, the model scripted."""
    return Settings(  # type: ignore[call-arg]
        llm_base_url="http://scripted.test/v1",
        llm_model="scripted-model",
        data_dir=tmp_path,
        database_url=postgres_url,
        request_deadline_s=30.0,
        _env_file=None,
        **overrides,
    )


@pytest.mark.parametrize("prefetch", [2, 0])
async def test_a_worker_holds_articles_beyond_its_model_slots(tmp_path, postgres_url, prefetch):
    """With two model slots and two articles fetched beyond them, the worker works on four
    articles at once (reading and storing around the model calls) while the model never has
    more than two calls in flight."""
    settings = postgres_settings(
        tmp_path, postgres_url, worker_concurrency=2, worker_prefetch=prefetch
    )
    llm = InFlightLLM(postgres_url, delay=0.3)
    async with batch_service(settings, llm) as client:
        items = [article(n, tag="prefetch") for n in range(6)]
        submitted = await client.post("/v1/batches", json={"items": items})
        body = await ended(client, submitted.json()["id"])
    assert body["counts"]["done"] == 6
    assert llm.most_in_flight == 2  # the model slots, never more
    assert llm.most_jobs == 2 + prefetch


# Queueings of the same articles at once: rounds, and articles per round.
QUEUEING_ROUNDS, QUEUED_ARTICLES = 20, 200


async def test_queueing_the_same_articles_in_opposite_orders_at_once_never_deadlocks(postgres_url):
    """Two batches, or a batch and the sweep for orphans, queue the same articles in their own
    orders at the same moment: both succeed and each article has one job."""
    store = open_store(Settings(database_url=postgres_url, _env_file=None))  # type: ignore[call-arg]
    try:
        store.migrate()
        libpq = store.libpq_url()
    finally:
        store.close()
    engines = [ProcrastinateEngine(libpq), ProcrastinateEngine(libpq)]
    for engine in engines:
        await engine.open()
    try:
        for round_ in range(QUEUEING_ROUNDS):
            keys = [f"{round_}-{n:04}" for n in range(QUEUED_ARTICLES)]
            await asyncio.gather(engines[0].enqueue(keys), engines[1].enqueue(keys[::-1]))
    finally:
        for engine in engines:
            await engine.aclose()
    with psycopg.connect(libpq) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT queueing_lock) FROM procrastinate_jobs"
        ).fetchone()
    assert row == (QUEUEING_ROUNDS * QUEUED_ARTICLES, QUEUEING_ROUNDS * QUEUED_ARTICLES)


async def test_a_batch_whose_articles_could_not_be_queued_is_accepted_and_finished_by_the_sweep(
    postgres_url, tmp_path, monkeypatch
):
    """The batch and its items are stored, then the queue's database fails: the batch is
    still accepted (202), and the workers' sweep queues its articles, which end done."""
    settings = postgres_settings(tmp_path, postgres_url, batch_sweep_s=0.2)
    failures = []
    defer = ProcrastinateEngine._defer

    async def failing_once(self: ProcrastinateEngine, keys: list[str]) -> None:
        if not failures:
            failures.append(keys)
            raise ConnectorException("connection lost")
        await defer(self, keys)

    monkeypatch.setattr(ProcrastinateEngine, "_defer", failing_once)
    async with batch_service(settings, ScriptedLLM(model_answer)) as client:
        items = [article(n, tag="unqueued") for n in range(3)]
        submitted = await client.post("/v1/batches", json={"items": items})
        assert submitted.status_code == 202, submitted.text
        body = await ended(client, submitted.json()["id"])
    assert len(failures) == 1 and len(failures[0]) == 3
    assert body["status"] == "done" and body["counts"]["done"] == 3, body
