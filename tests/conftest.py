from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
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


# --- the database backends ----------------------------------------------------------------
#
# Tests marked ``backends`` run once on SQLite and once on PostgreSQL (the ``database_url``
# fixture, parametrised below). The PostgreSQL server is, in order: the one named by
# SUMMARIZER_TEST_POSTGRES_URL; the local one on 127.0.0.1:5432 (database ``test``) if it
# answers; a throwaway cluster started by pytest-postgresql when PostgreSQL's binaries are
# installed. Without any, the PostgreSQL runs are skipped with the reason, unless
# SUMMARIZER_TEST_REQUIRE_POSTGRES=1 (as in .ci/run) turns the skip into a failure.
# Each test gets a database of its own, dropped afterwards.

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends: runs on SQLite and on PostgreSQL (the database_url fixture)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("backends") is not None
        metafunc.parametrize("database_url", BACKENDS if both else ("sqlite",), indirect=True)


def _answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def _unavailable(reason: str) -> None:
    if os.environ.get("SUMMARIZER_TEST_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (SUMMARIZER_TEST_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> str:
    """A libpq URL of a PostgreSQL database this session may create databases from."""
    given = os.environ.get("SUMMARIZER_TEST_POSTGRES_URL")
    if given:
        url = given.replace("postgresql+psycopg://", "postgresql://")
        if not _answers(url):
            _unavailable(f"SUMMARIZER_TEST_POSTGRES_URL={given} does not answer")
        return url
    if _answers(LOCAL_POSTGRES):
        return LOCAL_POSTGRES
    if shutil.which("pg_ctl") is None:
        _unavailable("no server on 127.0.0.1:5432 and no PostgreSQL binaries (pg_ctl)")
    proc = request.getfixturevalue("throwaway_postgres")
    return f"postgresql://{proc.user}@{proc.host}:{proc.port}/{proc.dbname}"


try:
    from pytest_postgresql import factories

    throwaway_postgres = factories.postgresql_proc(
        executable=shutil.which("pg_ctl") or "pg_ctl", port=None
    )
except ImportError:  # pragma: no cover - pytest-postgresql is a dev dependency
    pass


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (SQLAlchemy URL, psycopg 3)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"summarizer_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(postgres_server)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
    try:
        yield f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file in the test's data directory; else a PostgreSQL URL."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("postgres_url")
    return None


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str | None) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "llm_base_url": "http://scripted.test/v1",
            "llm_model": "scripted-model",
            "data_dir": tmp_path,
            "database_url": database_url,
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
    """The real app with its lifespan, a real database, the scripted model behind it
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
