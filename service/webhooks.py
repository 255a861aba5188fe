"""Telling a client that its batch has ended: a signed POST of the batch resource.

A webhook URL is checked like a page's URL (``service.fetch``): http(s) only, no credentials,
and no loopback, private, link-local or otherwise internal address unless its host is listed
in ``SUMMARIZER_WEBHOOK_ALLOW_HOSTS``. It is checked when the batch is submitted (a refusal is
``422 webhook_url_not_allowed``) and again at every delivery, which connects to the address
that was checked. The body is signed: ``X-Summarizer-Signature: sha256=<hex HMAC-SHA256 of the
body>`` under ``SUMMARIZER_WEBHOOK_SECRET``. Any answer but 2xx, a timeout or a refused
connection is retried with doubling waits, up to ``SUMMARIZER_WEBHOOK_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx

from service.config import Settings
from service.errors import FetchFailed, UrlNotAllowed, WebhookUrlNotAllowed
from service.fetch import Resolver, checked_address, pinned_request, system_resolver, target_of

SIGNATURE_HEADER = "X-Summarizer-Signature"


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    outcome: str  # delivered, http_error, timeout, connection_error, refused
    status_code: int | None
    error: str | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    @property
    def final(self) -> bool:
        """No later attempt can succeed where this one was refused."""
        return self.outcome in ("delivered", "refused")


class Webhooks:
    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        self._settings = settings
        self._resolve = resolver or system_resolver
        self._allowed = settings.webhook_allow_host_set
        # Redirects are not followed: each one would be a new address to check.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            headers={"User-Agent": settings.fetch_user_agent},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, url: str) -> None:
        """Refuse a webhook URL the service would not call (at submission)."""
        if self._settings.webhook_secret is None:
            raise WebhookUrlNotAllowed(
                "this service sends no webhooks: SUMMARIZER_WEBHOOK_SECRET is not set"
            )
        try:
            target = target_of(url)
            await checked_address(
                target.host,
                target.port,
                resolve=self._resolve,
                allowed=self._allowed,
                allow_setting="SUMMARIZER_WEBHOOK_ALLOW_HOSTS",
            )
        except (UrlNotAllowed, FetchFailed) as exc:
            raise WebhookUrlNotAllowed(f"webhook_url: {exc.message}") from None

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2, 3, ...)."""
        base = self._settings.webhook_backoff_s * 2 ** max(0, attempt - 2)
        return min(self._settings.webhook_backoff_max_s, base)

    async def post(self, url: str, body: bytes, *, delivery_id: str) -> Delivery:
        """One delivery attempt."""
        started = time.monotonic()

        def done(outcome: str, status: int | None = None, error: str | None = None) -> Delivery:
            return Delivery(outcome, status, error, time.monotonic() - started)

        secret = self._settings.webhook_secret
        if secret is None:
            return done("refused", error="SUMMARIZER_WEBHOOK_SECRET is not set")
        try:
            target = target_of(url)
            address = await checked_address(
                target.host,
                target.port,
                resolve=self._resolve,
                allowed=self._allowed,
                allow_setting="SUMMARIZER_WEBHOOK_ALLOW_HOSTS",
            )
        except UrlNotAllowed as exc:
            return done("refused", error=exc.message)
        except FetchFailed as exc:  # the name did not resolve: perhaps it will later
            return done("connection_error", error=exc.message)
        request = pinned_request(
            self._client,
            "POST",
            url,
            target,
            address,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(secret.get_secret_value(), body),
                "X-Summarizer-Event": "batch.ended",
                "X-Summarizer-Delivery": delivery_id,
            },
        )
        try:
            response = await self._client.send(request)
        except httpx.TimeoutException:
            return done("timeout", error=f"no answer in {self._settings.webhook_timeout_s:g} s")
        except httpx.HTTPError as exc:
            return done("connection_error", error=str(exc) or type(exc).__name__)
        if 200 <= response.status_code < 300:
            return done("delivered", response.status_code)
        return done("http_error", response.status_code, f"HTTP {response.status_code}")
