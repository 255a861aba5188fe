"""SQLite settings that decide what survives a crash, and the start-up integrity check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from service.app import create_app
from service.errors import DatabaseDamaged
from tests.chaos.harness import ServiceProcess, article
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM
from tests.scripted_openai import generic_answer


def scripted_model() -> ScriptedLLM:
    return ScriptedLLM(lambda body: generic_answer(body))


async def fill(settings, count: int) -> Path:
    """Store ``count`` summaries through the service; return the database file."""
    async with running_app(settings, scripted_model()) as client:
        for n in range(count):
            response = await client.post("/v1/summaries", json=article(n))
            assert response.status_code == 200, response.text
    return settings.data_dir / "summaries.sqlite3"


def damage_middle_page(database: Path) -> None:
    page_size = sqlite3.connect(database).execute("PRAGMA page_size").fetchone()[0]
    pages = database.stat().st_size // page_size
    assert pages >= 8, "too few pages to damage one in the middle"
    with database.open("r+b") as f:
        f.seek(page_size * (pages // 2))
        f.write(b"\xa5" * page_size)


@pytest.mark.parametrize("mode", ["NORMAL", "FULL"])
async def test_sqlite_runs_in_wal_with_the_configured_sync(make_settings, mode):
    async with running_app(make_settings(sqlite_synchronous=mode), ScriptedLLM()) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        with store.engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert journal == "wal"
    assert sync == {"NORMAL": 1, "FULL": 2}[mode]
    assert busy >= 5000


async def test_a_damaged_database_stops_start_up_with_a_clear_error(make_settings, caplog):
    settings = make_settings()
    database = await fill(settings, 40)
    damage_middle_page(database)
    app = create_app(settings, llm_transport=scripted_model().transport())
    with pytest.raises(DatabaseDamaged) as raised:
        async with app.router.lifespan_context(app):
            pass
    assert "failed its integrity check" in raised.value.message
    assert str(database) in raised.value.message
    assert any(
        r.levelname == "CRITICAL" and "not starting" in r.getMessage() for r in caplog.records
    )


async def test_a_file_that_is_not_a_database_stops_start_up(make_settings):
    settings = make_settings()
    database = settings.data_dir / "summaries.sqlite3"
    database.write_bytes(b"this is a text file, not SQLite\n" * 200)
    app = create_app(settings, llm_transport=scripted_model().transport())
    with pytest.raises(DatabaseDamaged, match="file is not a database"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_server_process_exits_at_start_up_on_a_damaged_database(tmp_path, make_settings):
    service = ServiceProcess(tmp_path, "http://127.0.0.1:9/v1")
    settings = make_settings(data_dir=tmp_path / "data")
    damage_middle_page(await fill(settings, 40))
    with pytest.raises(RuntimeError, match="exited at start-up"):
        service.start(timeout=120)
    assert service.proc is not None and service.proc.returncode != 0
    critical = [line for line in service.log_lines() if line.get("level") == "critical"]
    assert critical, service.log_tail()
    assert "failed its integrity check" in critical[0]["msg"]
