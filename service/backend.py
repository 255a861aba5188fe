"""What a process needs to summarize: the store, the coordination between processes, and the
``Summarizer`` on the configured model backend. Built the same way by the API (``service.app``)
and by a batch worker (``incident-summarizer worker``), so both run the one use case."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from service.config import Settings
from service.coordination import FILE_NAME as COORDINATION_FILE
from service.coordination import Coordination, DatabaseCoordination, Shared
from service.extract import Extractor
from service.fetch import Fetcher, Resolver
from service.language import detect_language
from service.llm import build_client
from service.metrics import Metrics
from service.prompts import load_prompts
from service.store import Pool, Store, make_engine
from service.summarize import Summarizer

log = logging.getLogger("service.app")


def open_store(settings: Settings) -> Store:
    pool = Pool(
        size=settings.database_pool_size,
        max_overflow=settings.database_pool_overflow,
        timeout_s=settings.database_pool_timeout_s,
        connect_timeout_s=settings.database_connect_timeout_s,
    )
    return Store(
        make_engine(
            settings.resolved_database_url, synchronous=settings.sqlite_synchronous, pool=pool
        )
    )


def prepare_schema(store: Store, settings: Settings) -> None:
    """Upgrade the schema (under the migration lock), or check it is current."""
    if not settings.database_migrate:
        store.require_current_schema()
        return
    before, after = store.migrate()
    if before != after:
        log.info("database schema upgraded", extra={"from": before, "to": after})


def open_coordination(settings: Settings, store: Store) -> Shared | None:
    """What single flight and the rate limits are shared through, if anything: PostgreSQL
    for every process of every replica on it; a file for the workers of one host on SQLite."""
    if store.backend == "postgresql":
        return DatabaseCoordination(
            store.libpq_url(), connect_timeout_s=settings.database_connect_timeout_s
        )
    if settings.workers > 1:
        return Coordination(settings.data_dir / COORDINATION_FILE)
    return None


async def build_summarizer(
    settings: Settings,
    store: Store,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    fetch_resolver: Resolver | None = None,
    coordination: Shared | None = None,
    metrics: Metrics | None = None,
) -> Summarizer:
    """The extractor on the configured backend; for the bundled model, assemble, verify, load
    and warm it first. ``transport`` replaces the backend's HTTP transport (tests)."""
    prompts = load_prompts()
    count_tokens = None
    max_article_tokens = settings.max_article_tokens
    if transport is None and settings.uses_bundled_model:
        from service.local_model import LocalModel, LocalModelTransport, ensure_model_file

        started = time.perf_counter()
        file = await asyncio.to_thread(ensure_model_file, settings)
        model = await asyncio.to_thread(LocalModel, settings, file)
        warm = (
            await asyncio.to_thread(
                model.warm_up, prompts.system, state_dir=settings.prefix_state_dir
            )
            if settings.local_warmup
            else 0.0
        )
        prefix = model.count_tokens(prompts.system)
        log.info(
            "bundled model ready",
            extra={
                "path": str(file.path),
                "load_s": round(model.load_seconds, 2),
                "warmup_s": round(warm, 2),
                "prompt_prefix": model.prefix_source,
                "startup_s": round(time.perf_counter() - started, 2),
                "prompt_prefix_tokens": prefix,
            },
        )
        transport = LocalModelTransport(model)
        count_tokens = model.count_tokens
        room = model.n_ctx - prefix - settings.max_tokens - 64
        max_article_tokens = min(max_article_tokens or room, room)
    await asyncio.to_thread(detect_language, "warm up")  # loads the language model
    extractor = Extractor(settings, build_client(settings, transport), prompts)
    return Summarizer(
        settings,
        store,
        extractor,
        count_tokens=count_tokens,
        max_article_tokens=max_article_tokens,
        coordination=coordination,
        metrics=metrics,
        fetcher=Fetcher(settings, resolver=fetch_resolver),
    )
