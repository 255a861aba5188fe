"""What the worker processes of one service share (``SUMMARIZER_WORKERS`` > 1).

Each worker is its own process with its own event loop, so what one keeps in memory the others
never see. Two promises must still hold for the service as a whole:

- **Single flight.** An article that one worker is extracting is not extracted again by
  another: the second worker waits for the first one's record. A claim names the process that
  holds it; a claim whose process has died, or whose time is up, is taken over.
- **Rate limits.** A key's requests per minute count across all workers, whichever worker
  its connections land on. The token bucket of each key is a row here.

Both live in a small SQLite file beside the records (``coordination.sqlite3``). It holds the
state of running processes only, so it is written without waiting for the disk
(``synchronous=OFF``) and cleared when the service starts. Every operation is one short
``BEGIN IMMEDIATE`` transaction on the event loop's thread (tens of microseconds); the
busy timeout covers the moments another worker holds the lock.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_NAME = "coordination.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at REAL NOT NULL
);
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class Coordination:
    """One process's connection to the shared file. Times are ``time.monotonic()``, which
    is the same clock in every process of the machine (CLOCK_MONOTONIC)."""

    def __init__(self, path: Path, *, pid: int | None = None) -> None:
        self.path = path
        self.pid = os.getpid() if pid is None else pid
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.executescript(_SCHEMA)

    @classmethod
    def reset(cls, data_dir: Path) -> Path:
        """Start from an empty file (before the workers start); returns its path."""
        path = data_dir / FILE_NAME
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        cls(path).close()
        return path

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def claim(self, key: str, ttl_s: float) -> bool:
        """Claim ``key`` for this process for ``ttl_s`` seconds: True if it was free (or held
        by a dead process, or expired) or is this process's already."""
        now = time.monotonic()
        with self._immediate() as conn:
            # Claims left by a killed worker would otherwise stay until the next start.
            conn.execute("DELETE FROM claims WHERE expires_at < ?", (now,))
            row = conn.execute(
                "SELECT pid, expires_at FROM claims WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                pid, expires_at = row
                if pid != self.pid and expires_at > now and _alive(pid):
                    return False
            conn.execute(
                "INSERT OR REPLACE INTO claims (key, pid, expires_at) VALUES (?, ?, ?)",
                (key, self.pid, now + ttl_s),
            )
            return True

    def release(self, key: str) -> None:
        self._conn.execute("DELETE FROM claims WHERE key = ? AND pid = ?", (key, self.pid))

    def holder(self, key: str) -> int | None:
        """The process holding a live claim on ``key``, if any (for tests)."""
        row = self._conn.execute(
            "SELECT pid FROM claims WHERE key = ? AND expires_at > ?", (key, time.monotonic())
        ).fetchone()
        return None if row is None else int(row[0])

    def take(self, name: str, rate_per_s: float, burst: float) -> float | None:
        """Spend a token of ``name``'s shared bucket: None when allowed, else seconds to wait.

        The same arithmetic as ``service.access.RateLimiter.take``, on a row every worker sees.
        """
        now = time.monotonic()
        with self._immediate() as conn:
            row = conn.execute("SELECT tokens, at FROM buckets WHERE name = ?", (name,)).fetchone()
            tokens, at = row if row is not None else (burst, now)
            tokens = min(burst, tokens + max(0.0, now - at) * rate_per_s)
            wait = None if tokens >= 1.0 else (1.0 - tokens) / rate_per_s
            if wait is None:
                tokens -= 1.0
            conn.execute(
                "INSERT OR REPLACE INTO buckets (name, tokens, at) VALUES (?, ?, ?)",
                (name, tokens, now),
            )
            return wait
