"""Who may call the API: API keys, the paths open without one, and per-key rate limits.

Keys come from ``SUMMARIZER_API_KEYS`` (comma-separated) and from the ``api_keys`` table that
``incident-summarizer keys add`` fills. Only SHA-256 digests are kept, in the table and in
memory. A generated key carries 256 random bits, so a slow password hash would add nothing:
there is no dictionary to try. A key is looked up by its digest, so the comparison never
touches the key itself and its timing says nothing about a stored key.

The guard is ASGI middleware rather than a route dependency so that it runs before the body is
read or parsed: a caller without a valid key gets ``401`` whatever it sends, and a caller over
its rate gets ``429`` before its body is buffered. Every path needs a key except the ones
declared open (the health probes, the web page and its assets), so a route added later is
closed until someone opens it on purpose.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from service.coordination import Shared
from service.errors import RateLimited, Unauthorized

log = logging.getLogger("service.keys")

KEY_PREFIX = "isk_"  # "incident summarizer key": recognisable in a config file or a leak scan
SHOWN_PREFIX_CHARS = 10  # "isk_" and 6 random characters: enough to tell keys apart in a list


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key sent as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1").strip() or None
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:].decode("latin-1").strip() or None
    return bearer


class KeyRing:
    """The valid keys' digests and names; stored keys are re-read every ``refresh_s``.

    Re-reading lets ``keys add`` and ``keys revoke``, run in another process, take effect on a
    running server within ``refresh_s`` without a database read per request. Keys stay
    required once one has been stored, even when all are revoked: revoking a leaked key must
    never open the service to everyone.
    """

    def __init__(
        self,
        configured: Iterable[str],
        load_stored: Callable[[], Mapping[str, str | None]] | None = None,
        *,
        refresh_s: float = 2.0,
    ) -> None:
        self._configured = {
            key_digest(key): f"settings-{i}" for i, key in enumerate(configured, start=1)
        }
        self._load = load_stored
        self._stored: Mapping[str, str | None] = {}  # digest -> name; None when revoked
        self._refresh_s = refresh_s
        self._next_load = 0.0

    def load(self) -> None:
        """Read the stored keys now (at start-up: a failure stops the service)."""
        if self._load is not None:
            self._stored = self._load()
        self._next_load = time.monotonic() + self._refresh_s

    async def refresh(self) -> None:
        if self._load is None or time.monotonic() < self._next_load:
            return
        # Set first: requests arriving while this read runs use the keys already known.
        self._next_load = time.monotonic() + self._refresh_s
        try:
            self._stored = await asyncio.to_thread(self._load)
        except Exception:
            log.exception("could not re-read the API keys; keeping the ones already known")

    @property
    def enabled(self) -> bool:
        return bool(self._configured or self._stored)

    def identify(self, key: str | None) -> str | None:
        """The name of a valid key, or None."""
        if not key:
            return None
        digest = key_digest(key)
        return self._configured.get(digest) or self._stored.get(digest)


class RateLimiter:
    """One token bucket per key: up to ``burst`` requests at once, refilled at ``per_minute``.

    Written here rather than taken from a library: slowapi and limits count requests in fixed
    or moving windows (no burst apart from the rate), aiolimiter makes the caller wait for
    capacity instead of refusing, and pyrate-limiter's buckets keep a timestamp per request.
    Here a refusal must say exactly when the next request will pass (``Retry-After``), and a
    bucket is two floats. It runs only on the event loop, so it needs no lock. Buckets exist
    only for authenticated keys, so their number is bounded by the number of keys.
    """

    def __init__(self, per_minute: int, burst: int, shared: Shared | None = None) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0  # tokens per second
        self._burst = float(max(1, burst))
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)
        # Several worker processes: the buckets are rows every worker sees.
        self._shared = shared

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def take_async(self, name: str) -> float | None:
        """``take`` from the event loop: a shared bucket is a database row (a round trip to
        PostgreSQL, or a write that may wait for another worker's lock), taken in a thread so
        the loop keeps serving meanwhile; a bucket in this process is taken in place."""
        if self._shared is None or not self.enabled:
            return self.take(name)
        return await asyncio.to_thread(self.take, name)

    def take(self, name: str) -> float | None:
        """Spend a token of ``name``'s bucket; None when allowed, else seconds to wait."""
        if not self.enabled:
            return None
        if self._shared is not None:
            return self._shared.take(name, self._rate, self._burst)
        now = time.monotonic()
        tokens, at = self._buckets.get(name, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens >= 1.0:
            self._buckets[name] = (tokens - 1.0, now)
            return None
        self._buckets[name] = (tokens, now)
        return (1.0 - tokens) / self._rate


@dataclass
class Access:
    """What the guard consults; made in ``lifespan`` and kept in ``app.state.access``."""

    keys: KeyRing
    limiter: RateLimiter


class KeyGuard:
    """Refuse every request to a path not declared open unless it carries a valid key."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        open_paths: Iterable[str] = (),
        open_prefixes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = tuple(open_prefixes)

    def is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        access: Access = scope["app"].state.access
        await access.keys.refresh()
        if access.keys.enabled:
            name = access.keys.identify(presented_key(scope["headers"]))
            if name is None:
                raise Unauthorized(
                    "a valid API key is required (X-API-Key: KEY or Authorization: Bearer KEY)"
                )
            scope.setdefault("state", {})["api_key"] = name
            wait = await access.limiter.take_async(name)
            if wait is not None:
                raise RateLimited(
                    f"key {name!r} is over its limit of {access.limiter.per_minute} "
                    "requests per minute",
                    retry_after=math.ceil(wait),
                )
        await self.app(scope, receive, send)
