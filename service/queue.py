"""The engines that run batch jobs (``service.batches.BatchJobs``).

- **SQLite** (``InProcessEngine``): the API process runs the jobs itself, at most
  ``SUMMARIZER_BATCH_CONCURRENCY`` articles at once (its model slots by default). It claims an
  article's items in the database in its own name, so a restart (after a crash or a
  ``kill -9``) hands back what the dead process held and carries on.
- **PostgreSQL** (``ProcrastinateEngine``): the jobs are procrastinate jobs in the same
  database, one per article, carrying its key as their ``lock`` (no two run at once) and
  ``queueing_lock`` (no two wait at once), and ``incident-summarizer worker`` processes, on
  any number of hosts, run them (``run_worker``). Each worker sends a heartbeat; the jobs of a
  worker silent for ``SUMMARIZER_WORKER_STALLED_S`` are retried by the others, and items left
  without a job (the API died between storing a batch and queueing it) are queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import httpx
import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

from service.backend import build_summarizer, open_coordination, open_store, prepare_schema
from service.batch_store import BatchStore
from service.batches import BatchJobs, QueueUnavailable
from service.config import Settings
from service.fetch import Resolver
from service.metrics import Metrics
from service.webhooks import Webhooks

log = logging.getLogger("service.queue")

ARTICLE_TASK = "summarize_article"
WEBHOOK_TASK = "deliver_webhook"
DEFER_CHUNK = 500
# Articles queued at once past which the queue's statistics are refreshed (see enqueue).
ANALYZE_AFTER = DEFER_CHUNK


# --- SQLite: the API process ---------------------------------------------------------------


def _alive(runner: str) -> bool:
    """Whether the process named ``runner`` (``host:pid``) still runs: on this host, ask the
    kernel; another host's process (a shared file system) is taken to be alive."""
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class InProcessEngine:
    """Runs the jobs in this process's event loop; the batch and its items are in the database,
    so another start resumes them."""

    def __init__(self, store: BatchStore, slots: int, *, poll_s: float = 1.0) -> None:
        self._store = store
        self._slots = slots
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._jobs: BatchJobs | None = None
        self._stopping = False

    def start(self, jobs: BatchJobs) -> None:
        self._jobs = jobs
        self._loop = asyncio.create_task(self._run(), name="batch engine")

    async def enqueue(self, keys: list[str]) -> None:
        self._wake.set()

    async def ended(self, batch_id: str) -> None:
        if self._jobs is not None:
            self._spawn(self._jobs.deliver_webhook(batch_id))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("batch job failed", exc_info=task.exception())

    async def _run(self) -> None:
        assert self._jobs is not None
        jobs = self._jobs
        released = await asyncio.to_thread(self._store.release_dead, _alive)
        if released:
            log.info("batch items resumed after a restart", extra={"items": released})
        for batch_id in await asyncio.to_thread(self._store.pending_webhooks):
            self._spawn(jobs.deliver_webhook(batch_id))
        while True:
            try:
                while len(self._running) < self._slots and not self._stopping:
                    key = await asyncio.to_thread(self._store.claim_next, jobs.runner)
                    if key is None:
                        break
                    self._spawn(jobs.run_article(key))
            except Exception:  # the database is busy or away: try again at the next turn
                log.exception("batch engine could not claim work")
            if self._stopping:
                break
            self._wake.clear()
            # Woken by a new batch or a finished job; else look again now and then, for the
            # work of another worker process that died.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            if not self._wake.is_set():  # not woken (``aclose`` wakes it too)
                await asyncio.to_thread(self._store.release_dead, _alive)

    async def aclose(self) -> None:
        """Stop: jobs in work are cancelled and their items stay taken by this process, which
        the next start hands back (an extraction already under way is still stored).

        The claiming loop is told to stop rather than cancelled: a cancelled task does not stop
        the worker thread it waits on, and that thread's connection would outlive the store's
        close."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- PostgreSQL: procrastinate -------------------------------------------------------------


def procrastinate_app(conninfo: str, *, pool_size: int = 4) -> procrastinate.App:
    """The procrastinate app with our two tasks; a worker passes its ``BatchJobs`` in the
    job context (``additional_context["jobs"]``)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_size)
    )

    @app.task(name=ARTICLE_TASK, queue="articles", pass_context=True)
    async def summarize_article(context: procrastinate.JobContext, key: str) -> None:
        await context.additional_context["jobs"].run_article(key)

    @app.task(name=WEBHOOK_TASK, queue="webhooks", pass_context=True)
    async def deliver_webhook(context: procrastinate.JobContext, batch_id: str) -> None:
        await context.additional_context["jobs"].deliver_webhook(batch_id)

    return app


class ProcrastinateEngine:
    """Queues jobs for the workers (the API process, and the workers themselves)."""

    def __init__(self, conninfo: str, *, pool_size: int = 4) -> None:
        self.app = procrastinate_app(conninfo, pool_size=pool_size)

    async def open(self) -> None:
        await self.app.open_async()

    async def aclose(self) -> None:
        await self.app.close_async()

    async def enqueue(self, keys: list[str]) -> None:
        try:
            await self._defer(keys)
        except ConnectorException as exc:
            raise QueueUnavailable(str(exc).strip() or type(exc).__name__) from exc

    async def _defer(self, keys: list[str]) -> None:
        task = self.app.tasks[ARTICLE_TASK]
        for start in range(0, len(keys), DEFER_CHUNK):
            # Each chunk is one transaction inserting into the unique index on queueing_lock.
            # Two of them over the same articles (two batches, or a batch and the sweep for
            # orphans) in different orders would each wait for the other: a deadlock. Sorted,
            # every transaction takes those index entries in one order and the later one
            # simply finds the article queued. The batch keeps its order chunk by chunk.
            chunk = sorted(keys[start : start + DEFER_CHUNK])
            jobs = [task.configure(lock=k, queueing_lock=k, task_kwargs={"key": k}) for k in chunk]
            try:
                await self.app.job_manager.batch_defer_jobs_async([j.job for j in jobs])
            except AlreadyEnqueued:
                # Some article waits in the queue already (another batch asked for it): that
                # job answers this batch's items too. Queue the others one by one.
                for job in jobs:
                    with contextlib.suppress(AlreadyEnqueued):
                        await job.defer_async()
        if len(keys) >= ANALYZE_AFTER:
            # A big batch grows the queue by orders of magnitude at once. Until PostgreSQL's
            # statistics say so, procrastinate's fetch may be planned for a small table: an
            # anti-join over every waiting job before the first is taken, seconds per fetch at
            # 10,000 waiting (measured with bench.batch_throughput), which starves the workers
            # until autovacuum gets round to it, or for good where autovacuum is off.
            await self.app.connector.execute_query_async("ANALYZE procrastinate_jobs")

    async def ended(self, batch_id: str) -> None:
        lock = f"webhook:{batch_id}"
        job = self.app.tasks[WEBHOOK_TASK].configure(lock=lock, queueing_lock=lock)
        with contextlib.suppress(AlreadyEnqueued):
            await job.defer_async(batch_id=batch_id)


async def _keep(engine: ProcrastinateEngine, store: BatchStore, settings: Settings) -> None:
    """Retry the jobs of dead workers; queue again the work that has no job."""
    manager = engine.app.job_manager
    while True:
        try:
            stalled = await manager.get_stalled_jobs(
                seconds_since_heartbeat=settings.worker_stalled_s
            )
            for job in stalled:
                log.warning("retrying a dead worker's job", extra={"job_id": job.id})
                await manager.retry_job(job)
            orphans = await asyncio.to_thread(store.orphan_keys)
            if orphans:
                log.warning("queueing articles without a job", extra={"articles": len(orphans)})
                await engine.enqueue(orphans)
            for batch_id in await asyncio.to_thread(store.orphan_webhooks):
                await engine.ended(batch_id)
        except Exception:
            log.exception("could not look after stalled jobs")
        await asyncio.sleep(min(settings.batch_sweep_s, settings.worker_stalled_s / 2))


async def run_worker(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    fetch_resolver: Resolver | None = None,
    webhook_resolver: Resolver | None = None,
    metrics: Metrics | None = None,
    on_ready: Callable[[], None] | None = None,
    install_signal_handlers: bool = True,
) -> None:
    """Work on batch jobs until cancelled (or, with signal handlers, until SIGINT/SIGTERM)."""
    store = open_store(settings)
    coordination = None
    try:
        await asyncio.to_thread(prepare_schema, store, settings)
        if store.backend != "postgresql":
            raise RuntimeError(
                "the batch worker needs PostgreSQL (SUMMARIZER_DATABASE_URL); on SQLite the "
                "API process (`incident-summarizer serve`) runs batches itself"
            )
        coordination = await asyncio.to_thread(open_coordination, settings, store)
        # The model calls in flight are the worker's slots; the articles it holds beyond them
        # wait for one, read and stored while the others are with the model.
        slots, jobs_at_once = settings.worker_slots, settings.worker_jobs
        model_settings = settings.model_copy(
            update={
                "max_concurrency": slots,
                "queue_depth": max(settings.queue_depth, jobs_at_once - slots),
            }
        )
        summarizer = await build_summarizer(
            model_settings,
            store,
            transport=transport,
            fetch_resolver=fetch_resolver,
            coordination=coordination,
            metrics=metrics,
        )
        engine = ProcrastinateEngine(store.libpq_url(), pool_size=min(jobs_at_once, 16) + 2)
        webhooks = Webhooks(settings, resolver=webhook_resolver)
        batch_store = BatchStore(store.engine)
        jobs = BatchJobs(settings, batch_store, summarizer, webhooks, engine, metrics)
        await engine.open()
        keeper = asyncio.create_task(_keep(engine, batch_store, settings))
        try:
            log.info(
                "worker started",
                extra={"runner": jobs.runner, "concurrency": slots, "articles": jobs_at_once},
            )
            if on_ready is not None:
                on_ready()
            await engine.app.run_worker_async(
                name=jobs.runner,
                concurrency=jobs_at_once,
                additional_context={"jobs": jobs},
                update_heartbeat_interval=settings.worker_heartbeat_s,
                stalled_worker_timeout=settings.worker_stalled_s,
                install_signal_handlers=install_signal_handlers,
                shutdown_graceful_timeout=settings.request_deadline_s,
            )
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await engine.aclose()
            await webhooks.aclose()
            await summarizer.aclose()
    finally:
        if coordination is not None:
            coordination.close()
        store.close()
