"""Batches: many articles at once, each answered by the one use case (``Summarizer``).

``Batches`` is what the API offers: submit, read, list, cancel. ``BatchJobs`` holds the two
jobs an engine runs (``service.queue``): ``run_article`` answers every waiting item of one
article (its key) through ``Summarizer.summarize_json``, the function ``POST /v1/summaries``
calls, so an article is extracted once however many batches and requests ask for it; and
``deliver_webhook`` posts the resource of an ended batch to its ``webhook_url``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from service.batch_store import (
    ENDED,
    BatchRow,
    BatchStore,
    Counts,
    NewItem,
    WebhookAttemptRow,
    as_utc,
    utcnow,
)
from service.config import Settings
from service.errors import (
    BatchFinished,
    BatchTooLarge,
    InvalidBatchItem,
    InvalidInput,
    NotFound,
    SummarizerError,
)
from service.metrics import Metrics
from service.summarize import Article, Summarizer
from service.webhooks import Webhooks

log = logging.getLogger("service.batches")

# Failures worth another try of the same article later: the model server unavailable, the
# queue full, the deadline passed. Anything else (a page without text, a model answer that is
# not JSON) would fail the same way again.
TRANSIENT = frozenset({503, 504})


def runner_name() -> str:
    """This process, as recorded on the items it works on."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class QueueUnavailable(Exception):
    """The job queue refused or lost a request to queue articles (its database failed)."""


class Engine(Protocol):
    """Runs ``BatchJobs``: the API process itself (SQLite) or procrastinate's workers."""

    async def enqueue(self, keys: list[str]) -> None:
        """Queue the articles; raises ``QueueUnavailable`` when the queue fails."""
        ...

    async def ended(self, batch_id: str) -> None: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ItemIn:
    """An article of a batch as sent, validated as ``POST /v1/summaries`` validates one."""

    where: str  # how the client finds it: "items[3]" or "line 4"
    external_id: str | None
    article: Article

    def request(self) -> bytes:
        fields = {
            name: getattr(self.article, name)
            for name in ("text", "title", "published", "source_url", "language", "html", "url")
        }
        return orjson.dumps({k: v for k, v in fields.items() if v is not None})


def article_of(request: bytes) -> Article:
    fields = orjson.loads(request)
    return Article(**{"text": "", **fields})


def _time(moment: datetime | None) -> str | None:
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def batch_resource(
    row: BatchRow, counts: Counts, attempts: list[WebhookAttemptRow]
) -> dict[str, Any]:
    """The batch resource, as ``GET /v1/batches/{id}`` and the webhook send it."""
    rate = eta = None
    started = as_utc(row.started_at)
    if started is not None and counts.finished:
        until = as_utc(row.finished_at) or utcnow()
        elapsed = max((until - started).total_seconds(), 1e-3)
        rate = round(counts.finished / elapsed, 3)
        if row.status not in ENDED:
            eta = round(counts.pending / rate, 1)
    webhook = None
    if row.webhook_url is not None:
        webhook = {
            "url": row.webhook_url,
            "status": row.webhook_status,
            "attempts": [
                {
                    "attempt": a.attempt,
                    "at": _time(a.at),
                    "outcome": a.outcome,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in attempts
            ],
        }
    return {
        "id": row.id,
        "status": row.status,
        "created_at": _time(row.created_at),
        "started_at": _time(row.started_at),
        "finished_at": _time(row.finished_at),
        "counts": {
            "total": counts.total,
            "done": counts.done,
            "cached": counts.cached,
            "failed": counts.failed,
            "pending": counts.pending,
            "cancelled": counts.cancelled,
        },
        "items_per_second": rate,
        "eta_seconds": eta,
        "metadata": orjson.loads(row.meta) if row.meta is not None else None,
        "webhook": webhook,
    }


async def load_resource(store: BatchStore, batch_id: str) -> dict[str, Any]:
    row = await asyncio.to_thread(store.get, batch_id)
    if row is None:
        raise NotFound(f"no batch with id {batch_id!r}")
    counts = await asyncio.to_thread(store.counts, [batch_id])
    attempts = await asyncio.to_thread(store.attempts, [batch_id])
    return batch_resource(row, counts[batch_id], attempts[batch_id])


class Batches:
    def __init__(
        self, settings: Settings, store: BatchStore, webhooks: Webhooks, engine: Engine
    ) -> None:
        self._settings = settings
        self.store = store
        self.webhooks = webhooks
        self.engine = engine

    def check_size(self, count: int) -> None:
        limit = self._settings.batch_max_items
        if count > limit:
            raise BatchTooLarge(f"the batch holds {count:,} articles; the limit is {limit:,}")
        if count == 0:
            raise InvalidInput("the batch holds no article")

    async def submit(
        self,
        summarizer: Summarizer,
        items: list[ItemIn],
        *,
        webhook_url: str | None = None,
        metadata: Any = None,
        api_key: str | None = None,
    ) -> dict[str, Any]:
        self.check_size(len(items))
        if webhook_url is not None:
            await self.webhooks.check(webhook_url)
        new = []
        for idx, item in enumerate(items):
            try:
                key = summarizer.article_key(item.article)
            except SummarizerError as exc:
                raise InvalidBatchItem(f"{item.where}: {exc.message}") from None
            new.append(NewItem(idx, item.external_id, key, item.request()))
        row = BatchRow(
            id=uuid.uuid4().hex,
            status="queued",
            created_at=utcnow(),
            total=len(new),
            meta=orjson.dumps(metadata) if metadata is not None else None,
            api_key=api_key,
            webhook_url=webhook_url,
            webhook_status="pending" if webhook_url is not None else None,
        )
        await asyncio.to_thread(self.store.create, row, new)
        try:
            await self.engine.enqueue(list(dict.fromkeys(item.article_key for item in new)))
        except QueueUnavailable:
            # The batch and its items are stored: accepted. The workers' sweep queues the
            # articles that have no job (within SUMMARIZER_BATCH_SWEEP_S).
            log.warning(
                "batch stored, its articles not queued; the workers' sweep will queue them",
                extra={"batch_id": row.id},
                exc_info=True,
            )
        return await self.resource(row.id)

    async def resource(self, batch_id: str) -> dict[str, Any]:
        return await load_resource(self.store, batch_id)

    async def list_batches(self, limit: int, cursor: str | None) -> dict[str, Any]:
        rows, next_cursor = await asyncio.to_thread(self.store.list_batches, limit, cursor)
        ids = [r.id for r in rows]
        counts = await asyncio.to_thread(self.store.counts, ids)
        attempts = await asyncio.to_thread(self.store.attempts, ids)
        items = [batch_resource(r, counts[r.id], attempts[r.id]) for r in rows]
        return {"items": items, "next_cursor": next_cursor}

    async def items(
        self,
        batch_id: str,
        *,
        status: str | None,
        limit: int,
        cursor: str | None,
        with_summaries: bool,
    ) -> dict[str, Any]:
        if await asyncio.to_thread(self.store.get, batch_id) is None:
            raise NotFound(f"no batch with id {batch_id!r}")
        rows, next_cursor = await asyncio.to_thread(
            lambda: self.store.items(
                batch_id,
                status=status,
                limit=limit,
                cursor=cursor,
                with_summaries=with_summaries,
            )
        )
        items = []
        for r in rows:
            item: dict[str, Any] = {
                "index": r["idx"],
                "external_id": r["external_id"],
                "status": r["status"],
                "summary_id": r["summary_id"],
                "cached": r["cached"],
                "error": orjson.loads(r["error"]) if r["error"] is not None else None,
            }
            if with_summaries:
                body = r.get("body")
                item["summary"] = {**orjson.loads(body), "cached": True} if body else None
            items.append(item)
        return {"items": items, "next_cursor": next_cursor}

    async def cancel(self, batch_id: str) -> dict[str, Any]:
        """Cancel the articles not yet started; those in work finish, and the batch is
        ``cancelling`` until they have (its webhook waits for them)."""
        status = await asyncio.to_thread(self.store.cancel, batch_id)
        if status is None:
            resource = await self.resource(batch_id)  # NotFound for an unknown id
            raise BatchFinished(f"batch {batch_id} has ended ({resource['status']})")
        resource = await self.resource(batch_id)
        if status == "cancelled" and resource["webhook"] is not None:
            await self.engine.ended(batch_id)
        return resource


class BatchJobs:
    """The jobs, with what they run on. One per process that works on batches."""

    def __init__(
        self,
        settings: Settings,
        store: BatchStore,
        summarizer: Summarizer,
        webhooks: Webhooks,
        engine: Engine,
        metrics: Metrics | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._store = store
        self._summarizer = summarizer
        self._webhooks = webhooks
        self._engine = engine
        self._metrics = metrics
        self._sleep = sleep
        self.runner = runner_name()

    async def run_article(self, key: str) -> None:
        """Answer every waiting item of the article ``key``, in every batch."""
        started = await asyncio.to_thread(self._store.start, key, self.runner)
        if started is None:
            return  # answered by an earlier job, or cancelled
        clock = time.monotonic()
        article = article_of(started.request)
        outcome, answer = await self._answer(key, article)
        # The items answered and their batches closed in one go (one trip to a thread).
        closed = await asyncio.to_thread(functools.partial(self._store.finish, key, **answer))
        if self._metrics is not None:
            self._metrics.batch_job(outcome, time.monotonic() - clock)
        for batch_id, ended in closed.items():
            if ended is not None:
                row = await asyncio.to_thread(self._store.get, batch_id)
                log.info("batch %s", ended, extra={"batch_id": batch_id})
                if row is not None and row.webhook_status == "pending":
                    await self._engine.ended(batch_id)

    async def _answer(self, key: str, article: Article) -> tuple[str, dict[str, Any]]:
        """The job's outcome, and how its items end (``BatchStore.finish``'s arguments)."""
        attempts = self._settings.batch_item_attempts
        for attempt in range(1, attempts + 1):
            try:
                body, hit = await self._summarizer.summarize_json(article)
            except SummarizerError as exc:
                if exc.status in TRANSIENT and attempt < attempts:
                    await self._sleep(self._settings.batch_retry_wait_s * attempt)
                    continue
                error = {"status": exc.status, "code": exc.code, "message": exc.message}
                return exc.code, {"error": error}
            except Exception:
                log.exception("batch article failed", extra={"article_key": key})
                error = {"status": 500, "code": "internal_error", "message": "internal error"}
                return "internal_error", {"error": error}
            answer = {"summary_id": orjson.loads(body)["id"], "cached": hit}
            return ("cached" if hit else "done"), answer
        raise AssertionError("unreachable: the last attempt returns")

    async def deliver_webhook(self, batch_id: str) -> None:
        """Post the ended batch's resource to its webhook until it is delivered, refused, or
        out of attempts; every attempt is recorded on the batch."""
        row = await asyncio.to_thread(self._store.get, batch_id)
        if row is None or row.webhook_status != "pending" or row.webhook_url is None:
            return
        made = len((await asyncio.to_thread(self._store.attempts, [batch_id]))[batch_id])
        body = orjson.dumps(await load_resource(self._store, batch_id))
        most = self._settings.webhook_max_attempts
        for attempt in range(made + 1, most + 1):
            if attempt > 1:
                await self._sleep(self._webhooks.wait_before(attempt))
            delivery = await self._webhooks.post(
                row.webhook_url, body, delivery_id=f"{batch_id}-{attempt}"
            )
            final = None
            if delivery.delivered:
                final = "delivered"
            elif delivery.final or attempt == most:
                final = "failed"
            record = WebhookAttemptRow(
                batch_id=batch_id,
                attempt=attempt,
                at=utcnow(),
                outcome=delivery.outcome,
                status_code=delivery.status_code,
                error=delivery.error,
                duration_ms=round(delivery.seconds * 1000),
            )
            await asyncio.to_thread(self._store.record_attempt, record, final)
            if self._metrics is not None:
                self._metrics.webhook(delivery.outcome)
            if final is not None:
                log.info("webhook %s", final, extra={"batch_id": batch_id, "attempts": attempt})
                return
