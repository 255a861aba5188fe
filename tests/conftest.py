from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.config import Settings
from tests.fake_llm import ScriptedLLM

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def load_seed(name: str) -> dict[str, Any]:
    return json.loads((SEEDS / name).read_text(encoding="utf-8"))


@pytest.fixture
def seed() -> dict[str, Any]:
    return load_seed("seed-camp-taji.json")


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "llm_base_url": "http://scripted.test/v1",
            "llm_model": "scripted-model",
            "data_dir": tmp_path,
            "retry_max_wait_s": 0.01,
            "request_deadline_s": 10.0,
            "_env_file": None,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@asynccontextmanager
async def running_app(
    settings: Settings, llm: ScriptedLLM, *, fetch_resolver: Any = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan, a real SQLite file, the scripted model behind it
    (``fetch_resolver``: the name look-up of URLs the service fetches)."""
    app = create_app(settings, llm_transport=llm.transport(), fetch_resolver=fetch_resolver)
    async with app.router.lifespan_context(app):
        while not app.state.ready:
            import asyncio

            await asyncio.sleep(0.005)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
