"""The schema's migrations: a database made by the release before them upgrades in place, on
SQLite and on PostgreSQL; processes starting together migrate once; ``db upgrade``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import inspect

from service import migrations
from service.app import open_store
from service.errors import SchemaOutOfDate
from service.store import ListQuery, SummaryRow
from tests.conftest import ROOT, running_app
from tests.fake_llm import ScriptedLLM

pytestmark = pytest.mark.backends

# The tables exactly as ``SQLModel.metadata.create_all`` made them before migrations existed
# (the DDL SQLAlchemy emitted for the models of that release, per backend).
_OLD_SUMMARIES = """
CREATE TABLE summaries (
    id VARCHAR(64) NOT NULL,
    cache_key VARCHAR(64) NOT NULL,
    superseded BOOLEAN NOT NULL,
    content_sha256 VARCHAR(64) NOT NULL,
    created_at {timestamp} NOT NULL,
    model VARCHAR NOT NULL,
    prompt_version VARCHAR NOT NULL,
    schema_version VARCHAR NOT NULL,
    title VARCHAR,
    published VARCHAR,
    source_url VARCHAR,
    is_incident BOOLEAN NOT NULL,
    category VARCHAR,
    country_code VARCHAR,
    event_date VARCHAR,
    headline VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    body {blob} NOT NULL,
    PRIMARY KEY (id)
)"""
_OLD_INDEXES = [
    "CREATE INDEX ix_summaries_category ON summaries (category)",
    "CREATE INDEX ix_summaries_country_code ON summaries (country_code)",
    "CREATE INDEX ix_summaries_key_current ON summaries (cache_key, superseded)",
    "CREATE INDEX ix_summaries_is_incident ON summaries (is_incident)",
    "CREATE INDEX ix_summaries_created ON summaries (created_at, id)",
    "CREATE INDEX ix_summaries_event_date ON summaries (event_date)",
]
_OLD_KEYS = """
CREATE TABLE api_keys (
    name VARCHAR(64) NOT NULL,
    key_sha256 VARCHAR(64) NOT NULL,
    prefix VARCHAR(16) NOT NULL,
    created_at {timestamp} NOT NULL,
    revoked_at {timestamp},
    PRIMARY KEY (name),
    UNIQUE (key_sha256)
)"""
_TYPES = {
    "sqlite": {"timestamp": "DATETIME", "blob": "BLOB"},
    "postgresql": {"timestamp": "TIMESTAMP WITH TIME ZONE", "blob": "BYTEA"},
}

_T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _old_row(n: int, *, article: str, place: str, perpetrator: str | None) -> dict[str, Any]:
    created = _T0 + timedelta(hours=n)
    incident = {
        "is_incident": True,
        "headline": f"Headline {n} of a bombing in {place}",
        "summary": f"Old summary {n}.",
        "location": {"place": place, "country_code": "IQ"},
        "perpetrators": [{"name": perpetrator, "attribution": "claimed"}] if perpetrator else [],
    }
    body = {"id": f"old-{n}", "created_at": created.isoformat(), "incident": incident}
    return {
        "id": f"old-{n}",
        "cache_key": f"key-{n}",
        "superseded": False,
        "content_sha256": article * 64,
        "created_at": created,
        "model": "m",
        "prompt_version": f"p{n}",
        "schema_version": "1",
        "is_incident": True,
        "category": "explosion_bombing",
        "country_code": "IQ",
        "event_date": "2026-11-19",
        "headline": incident["headline"],
        "summary": incident["summary"],
        "body": orjson.dumps(body),
    }


# Article "a": three records (two prompt versions and a refresh); article "b": one.
OLD_ROWS = [
    _old_row(1, article="a", place="Kirkuk", perpetrator=None),
    _old_row(2, article="a", place="Kirkuk", perpetrator=None),
    _old_row(3, article="b", place="Basra", perpetrator="Saraya Example"),
    _old_row(4, article="a", place="Kirkuk", perpetrator="Kataib Sample"),
]


def make_old_database(backend: str, url: str | None, data_dir: Path) -> None:
    """A database as the release before migrations left it, with records in it."""
    types = _TYPES[backend]
    statements = [
        _OLD_SUMMARIES.format(**types),
        *_OLD_INDEXES,
        _OLD_KEYS.format(**types),
    ]
    columns = list(OLD_ROWS[0])
    if backend == "sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(data_dir / "summaries.sqlite3") as conn:
            for statement in statements:
                conn.execute(statement)
            conn.executemany(
                f"INSERT INTO summaries ({', '.join(columns)}) VALUES "
                f"({', '.join('?' for _ in columns)})",
                [
                    tuple(
                        v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                        for v in row.values()
                    )
                    for row in OLD_ROWS
                ],
            )
        return
    assert url is not None
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        for statement in statements:
            conn.execute(statement)
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO summaries ({', '.join(columns)}) VALUES "
                f"({', '.join('%s' for _ in columns)})",
                [tuple(row.values()) for row in OLD_ROWS],
            )


def backend_of(url: str | None) -> str:
    return "sqlite" if url is None else "postgresql"


async def test_a_database_of_the_release_before_upgrades_in_place(
    make_settings, database_url, tmp_path
):
    make_old_database(backend_of(database_url), database_url, tmp_path)
    async with running_app(make_settings(), ScriptedLLM()) as client:
        listing = (await client.get("/v1/summaries")).json()["items"]
        every = (await client.get("/v1/summaries", params={"versions": "all"})).json()["items"]
        by_place = (await client.get("/v1/summaries", params={"q": "basra"})).json()["items"]
        by_group = (await client.get("/v1/summaries", params={"q": "kataib"})).json()["items"]
        first = await client.get("/v1/summaries/old-1")
    # Each article once, as its newest record; the others are still there.
    assert [i["id"] for i in listing] == ["old-4", "old-3"]
    assert [i["id"] for i in every] == ["old-4", "old-3", "old-2", "old-1"]
    # Rows made before the search columns existed are found by place and perpetrator.
    assert [i["id"] for i in by_place] == ["old-3"]
    assert [i["id"] for i in by_group] == ["old-4"]
    assert first.status_code == 200
    assert first.json()["incident"]["summary"] == "Old summary 1."
    store = open_store(make_settings())
    try:
        assert store.revision() == migrations.head()
        # The request keys' table (0007), empty: no request was answered by this release yet.
        tables = inspect(store.engine)
        assert {c["name"] for c in tables.get_columns("request_keys")} == {
            "digest",
            "cache_key",
            "created_at",
        }
        assert tables.get_pk_constraint("request_keys")["constrained_columns"] == ["digest"]
        assert store.by_request(bytes(32)) is None
    finally:
        store.close()


def test_a_database_of_the_release_before_0008_keeps_its_search_order(make_settings):
    """0008 renumbers the search index by the records' age (SQLite): records stored by 0007's
    triggers in any order, tied in score, page newest first once upgraded, with records
    stored after (older ones: they do not simply come first or last)."""
    store = open_store(make_settings())
    try:
        with store._write_engine.begin() as conn:
            migrations.upgrade(conn, "0007")

        def row(n: int) -> SummaryRow:
            return SummaryRow(
                id=f"r{n}",
                cache_key=f"key{n}",
                content_sha256=f"{n + 100:064x}",
                created_at=_T0 + timedelta(minutes=n),
                model="m",
                prompt_version="p",
                schema_version="1",
                is_incident=True,
                headline="Convoy hit",
                summary="Quiet.",
                body=orjson.dumps({"id": f"r{n}"}),
            )

        for n in reversed(range(40)):  # newest first: 0007 numbered them the other way
            store.put(row(n))
        store.migrate()
        assert store.revision() == migrations.head()
        for n in range(-1, -21, -1):  # stored by 0008's triggers, older than the others
            store.put(row(n))
        newest_first = [f"r{n}" for n in reversed(range(-20, 40))]
        for limit in (1, 3):
            pages, cursor = [], None
            while True:
                bodies, cursor = store.list(ListQuery(q="convoy", limit=limit, cursor=cursor))
                pages += [orjson.loads(b)["id"] for b in bodies]
                if cursor is None:
                    break
            assert pages == newest_first
    finally:
        store.close()


def test_processes_starting_together_migrate_once(make_settings, database_url, tmp_path):
    make_old_database(backend_of(database_url), database_url, tmp_path)
    settings = make_settings()
    results: list[Any] = []

    def migrate() -> None:
        store = open_store(settings)
        try:
            results.append(store.migrate())
        except Exception as exc:  # reported below, with the others' results
            results.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    head = migrations.head()
    assert sorted(results, key=str) == sorted(
        [(migrations.BASELINE, head)] + [(head, head)] * 3, key=str
    )


def test_with_migration_at_start_off_an_old_schema_is_refused(
    make_settings, database_url, tmp_path
):
    make_old_database(backend_of(database_url), database_url, tmp_path)
    settings = make_settings(database_migrate=False)
    from service.app import prepare_schema

    store = open_store(settings)
    try:
        with pytest.raises(SchemaOutOfDate, match="db upgrade"):
            prepare_schema(store, settings)
        assert store.revision() is None  # nothing was changed
    finally:
        store.close()


def _cli(settings_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")}
    env.update(settings_env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_then_current(database_url, tmp_path):
    make_old_database(backend_of(database_url), database_url, tmp_path)
    env = {"SUMMARIZER_DATA_DIR": str(tmp_path)}
    if database_url is not None:
        env["SUMMARIZER_DATABASE_URL"] = database_url
    behind = _cli(env, "db", "current")
    assert behind.returncode == 1
    assert behind.stdout.split() == ["database", "none", "release", migrations.head()]
    upgraded = _cli(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from {migrations.BASELINE} to revision {migrations.head()}" in upgraded.stdout
    again = _cli(env, "db", "upgrade")
    assert f"already at revision {migrations.head()}" in again.stdout
    assert _cli(env, "db", "current").returncode == 0
