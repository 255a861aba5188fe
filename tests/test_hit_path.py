"""Performance paths: a cache hit serves the stored bytes, read on the event loop (a locked
database is waited for in a worker thread), start-up objects are kept out of the garbage
collector, and hundreds of misses are in flight upstream at once."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3

import httpx

from service.app import create_app
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, completion, draft_from_record


async def test_a_hit_is_the_stored_record_byte_for_byte(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        miss = await client.post("/v1/summaries", json=seed["request"])
        hit = await client.post("/v1/summaries", json=seed["request"])
        by_id = await client.get(f"/v1/summaries/{miss.json()['id']}")
    assert miss.headers["X-Cache"] == "miss" and hit.headers["X-Cache"] == "hit"
    assert miss.content.endswith(b',"cached":false}')
    assert hit.content == miss.content.removesuffix(b"false}") + b"true}"
    assert by_id.status_code == 200
    assert by_id.content == hit.content
    assert llm.calls == 1


async def test_a_hit_waits_for_a_database_locked_by_another_process(make_settings, seed, tmp_path):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        await client.post("/v1/summaries", json=seed["request"])
        # Its connections closed for a moment (they reopen when next needed), the database is
        # taken by another program for itself: in WAL mode only that shuts readers out.
        client.app.state.store.close()  # type: ignore[attr-defined]
        other = sqlite3.connect(tmp_path / "summaries.sqlite3", isolation_level=None)
        other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("UPDATE summaries SET title = title")
        locked_probe = sqlite3.connect(tmp_path / "summaries.sqlite3", timeout=0)
        try:
            locked_probe.execute("SELECT count(*) FROM summaries").fetchone()
            raise AssertionError("the database was not locked")
        except sqlite3.OperationalError:
            pass
        finally:
            locked_probe.close()

        async def release_soon() -> None:
            await asyncio.sleep(0.3)
            other.execute("COMMIT")
            other.execute("PRAGMA locking_mode=NORMAL")
            other.execute("SELECT 1 FROM summaries LIMIT 1")  # drops the exclusive lock
            other.close()

        releaser = asyncio.create_task(release_soon())
        hit = await client.post("/v1/summaries", json=seed["request"])
        await releaser
    assert hit.status_code == 200, hit.text
    assert hit.headers["X-Cache"] == "hit"
    assert llm.calls == 1


async def test_start_up_objects_are_frozen_once_ready(make_settings, seed):
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm):
        frozen = gc.get_freeze_count()
    gc.unfreeze()
    # Imports and the app's start-up leave far more than this many objects.
    assert frozen > 50_000


async def test_a_hundred_articles_at_once_are_all_in_flight_upstream(make_settings):
    from bench.loadgen import article
    from tests.scripted_openai import article_of, generic_draft

    in_flight, peak = 0, 0

    async def model(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.5)  # a fast model server
            body = json.loads(request.content)
            return httpx.Response(200, json=completion(json.dumps(generic_draft(article_of(body)))))
        finally:
            in_flight -= 1

    settings = make_settings(request_deadline_s=60.0)  # default concurrency and queue depth
    app = create_app(settings, llm_transport=httpx.MockTransport(model))
    async with app.router.lifespan_context(app):
        while not app.state.ready:
            await asyncio.sleep(0.005)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            answers = await asyncio.gather(
                *(client.post("/v1/summaries", json=article("at-once", n)) for n in range(100))
            )
    assert [a.status_code for a in answers] == [200] * 100
    assert {a.headers["X-Cache"] for a in answers} == {"miss"}
    assert peak == 100


async def test_a_repeated_query_parameter_is_refused_on_every_route(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        posted = await client.post("/v1/summaries?refresh=true&refresh=false", json=seed["request"])
        listed = await client.get("/v1/summaries?limit=1&limit=2")
        fine = await client.post("/v1/summaries?refresh=true", json=seed["request"])
    assert posted.status_code == 422
    assert posted.json()["error"]["code"] == "invalid_input"
    assert "refresh" in posted.json()["error"]["message"]
    assert listed.status_code == 422
    assert fine.status_code == 200
    assert llm.calls == 1
