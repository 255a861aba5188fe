"""Typed dependencies: routes receive what ``lifespan`` built, never module globals."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.errors import NotReady, Unauthorized
from service.store import Store
from service.summarize import Summarizer


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_summarizer(request: Request) -> Summarizer:
    summarizer = getattr(request.app.state, "summarizer", None)
    if summarizer is None or not request.app.state.ready:
        raise NotReady("the model is still loading", retry_after=5)
    return summarizer


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
SummarizerDep = Annotated[Summarizer, Depends(get_summarizer)]


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def require_api_key(request: Request) -> None:
    """When keys are configured, every route but health needs one (``Authorization: Bearer``
    or ``X-API-Key``)."""
    hashes: tuple[bytes, ...] = request.app.state.api_key_hashes
    if not hashes:
        return
    given = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization") or ""
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not given:
        raise Unauthorized("an API key is required (Authorization: Bearer KEY or X-API-Key)")
    digest = hash_key(given)
    if not any(hmac.compare_digest(digest, h) for h in hashes):
        raise Unauthorized("the API key is not valid")
