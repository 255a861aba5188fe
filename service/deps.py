"""Typed dependencies: routes receive what ``lifespan`` built, never module globals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.errors import NotReady
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
