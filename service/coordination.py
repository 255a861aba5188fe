"""What the processes of one service share: worker processes, and replicas on other hosts.

Each worker is its own process with its own event loop, so what one keeps in memory the others
never see. Two promises must still hold for the service as a whole:

- **Single flight.** An article that one worker is extracting is not extracted again by
  another: the second worker waits for the first one's record. A claim names the process that
  holds it; a claim whose process has died, or whose time is up, is taken over.
- **Rate limits.** A key's requests per minute count across all workers, whichever worker
  its connections land on. The token bucket of each key is a row here.

Two implementations of the one interface (``claim``, ``release``, ``holder``, ``take``):

- ``Coordination``: the worker processes of one host (``SUMMARIZER_WORKERS`` > 1) with the
  SQLite store. A small SQLite file beside the records (``coordination.sqlite3``). It holds the
  state of running processes only, so it is written without waiting for the disk
  (``synchronous=OFF``) and cleared when the service starts. Every operation is one short
  ``BEGIN IMMEDIATE`` transaction on the event loop's thread (tens of microseconds); the
  busy timeout covers the moments another worker holds the lock.
- ``DatabaseCoordination``: every process of every replica with the PostgreSQL store. A claim
  is a session-level advisory lock held by the process's own connection: PostgreSQL releases
  it the moment that connection ends, so a killed process (or host) leaves no claim behind and
  needs no expiry. A bucket is a row of ``rate_buckets``, refilled and spent by one
  ``INSERT … ON CONFLICT DO UPDATE`` on the database's clock, the same for every host.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

log = logging.getLogger("service.coordination")
T = TypeVar("T")

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


class Shared(Protocol):
    """What single flight and the rate limiter need from either implementation."""

    def claim(self, key: str, ttl_s: float) -> bool: ...
    def release(self, key: str) -> None: ...
    def holder(self, key: str) -> int | None: ...
    def take(self, name: str, rate_per_s: float, burst: float) -> float | None: ...
    def close(self) -> None: ...


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
        # Called from worker threads (``asyncio.to_thread``): one transaction at a time on
        # the one connection.
        self._lock = threading.Lock()

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
        with self._lock:
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
        with self._lock:
            self._conn.execute("DELETE FROM claims WHERE key = ? AND pid = ?", (key, self.pid))

    def holder(self, key: str) -> int | None:
        """The process holding a live claim on ``key``, if any (for tests)."""
        with self._lock:
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


def _lock_key(key: str) -> int:
    """The advisory lock's 64-bit key for a claim (distinct from the migration lock's)."""
    digest = hashlib.sha256(b"incident-summarizer/claim\x1f" + key.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class DatabaseCoordination:
    """One process's connection to PostgreSQL for claims and buckets (see the module's
    docstring). Operations are single statements in autocommit mode, run on the event
    loop's thread: a round trip on the local network, no transaction left open."""

    _REFILLED = (
        "LEAST(%(burst)s, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM now() - b.at)::float8)"
        " * %(rate)s)"
    )
    _TAKE = f"""
        INSERT INTO rate_buckets AS b (name, tokens, at, granted)
        VALUES (%(name)s, %(burst)s - 1, now(), true)
        ON CONFLICT (name) DO UPDATE SET
            tokens = {_REFILLED} - CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,
            granted = {_REFILLED} >= 1,
            at = GREATEST(b.at, now())
        RETURNING tokens, granted
    """

    def __init__(self, conninfo: str, *, connect_timeout_s: int = 10) -> None:
        self._conninfo = conninfo
        self._timeout = connect_timeout_s
        self.pid = os.getpid()
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._conn: Any = None
        self._connect()

    def _connect(self) -> None:
        import psycopg

        self._conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._timeout,
            application_name=f"incident-summarizer {self.pid}@{socket.gethostname()}"[:63],
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session: every claim it holds is released

    def _run(self, operation: Callable[[Any], T]) -> T:
        """``operation(connection)``; once more on a new connection if the old one broke
        (the claims it held went with it, as they would with this process)."""
        import psycopg

        with self._lock:
            try:
                return operation(self._conn)
            except psycopg.OperationalError:
                if not self._conn.closed:
                    raise
                log.warning("coordination connection lost; reconnecting")
                self._held.clear()
                self._connect()
                return operation(self._conn)

    def claim(self, key: str, ttl_s: float) -> bool:
        """Claim ``key`` for this process: True if no other process holds it. ``ttl_s`` is
        not needed: the claim ends with its holder's connection."""
        if key in self._held:
            return True

        def lock(conn: Any) -> bool:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(key),)).fetchone()
            return bool(row[0])

        if self._run(lock):
            self._held.add(key)
            return True
        return False

    def release(self, key: str) -> None:
        if key not in self._held:
            return
        self._held.discard(key)
        self._run(lambda conn: conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(key),)))

    def holder(self, key: str) -> int | None:
        """The OS process id of the process holding ``key`` (from its application name)."""
        lock = _lock_key(key) & 0xFFFFFFFFFFFFFFFF
        row = self._run(
            lambda conn: conn.execute(
                """
                SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                  AND l.classid::bigint = %s AND l.objid::bigint = %s
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                (lock >> 32, lock & 0xFFFFFFFF),
            ).fetchone()
        )
        if row is None:
            return None
        return int(row[0].split()[-1].split("@")[0])

    def take(self, name: str, rate_per_s: float, burst: float) -> float | None:
        """Spend a token of ``name``'s bucket: None when allowed, else seconds to wait. The
        same arithmetic as ``Coordination.take``, in one atomic statement."""
        row = self._run(
            lambda conn: conn.execute(
                self._TAKE, {"name": name, "rate": rate_per_s, "burst": burst}
            ).fetchone()
        )
        tokens, granted = row
        return None if granted else (1.0 - tokens) / rate_per_s
