"""The in-process batch engine (SQLite) stops cleanly: no database call of its own is still
running in a worker thread once ``aclose`` returns, so closing the store after it leaves no
connection open behind it."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from service.queue import InProcessEngine


class BlockingStore:
    """A batch store whose ``claim_next`` waits in its worker thread until released."""

    def __init__(self) -> None:
        self.claiming = threading.Event()
        self.release = threading.Event()
        self.calls_running = 0
        self.lock = threading.Lock()

    def _enter(self) -> None:
        with self.lock:
            self.calls_running += 1

    def _leave(self) -> None:
        with self.lock:
            self.calls_running -= 1

    def release_dead(self, alive: Any) -> int:
        return 0

    def pending_webhooks(self) -> list[str]:
        return []

    def claim_next(self, runner: str) -> str | None:
        self._enter()
        try:
            self.claiming.set()
            self.release.wait(timeout=10)
            return None
        finally:
            self._leave()


async def test_aclose_returns_only_after_the_engines_own_database_call_has_ended():
    store = BlockingStore()
    engine = InProcessEngine(store, slots=2, poll_s=60)  # type: ignore[arg-type]
    jobs = SimpleNamespace(runner="test", run_article=None, deliver_webhook=None)
    engine.start(jobs)  # type: ignore[arg-type]
    await asyncio.to_thread(store.claiming.wait, 5)
    assert store.calls_running == 1

    closing = asyncio.create_task(engine.aclose())
    await asyncio.sleep(0.2)
    # The claim is still in its thread: closing waits for it instead of abandoning it.
    assert not closing.done()
    store.release.set()
    await asyncio.wait_for(closing, 5)
    assert store.calls_running == 0
