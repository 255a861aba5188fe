"""Performance paths: a cache hit serves the stored bytes, read on the event loop (a locked
database is waited for in a worker thread), start-up objects are kept out of the garbage
collector, and hundreds of misses are in flight upstream at once."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3

import httpx
import pytest

from service.app import create_app
from tests import asgi
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
    assert llm.record_calls == 1


async def test_a_hit_waits_for_a_database_locked_by_another_process(make_settings, seed, tmp_path):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        await client.post("/v1/summaries", json=seed["request"])
        assert await _request_keys(client.app, 1) == 1  # its background write done
        # Nothing else in this process may reopen the database meanwhile: the batch engine's
        # poll would, and in WAL mode one open connection keeps the exclusive lock out.
        await client.app.state.batches.engine.aclose()  # type: ignore[attr-defined]
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
    assert llm.record_calls == 1


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
    from tests.scripted_openai import generic_answer

    in_flight, peak = 0, 0

    async def model(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.5)  # a fast model server
            body = json.loads(request.content)
            return httpx.Response(200, json=completion(json.dumps(generic_answer(body))))
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
    assert llm.record_calls == 1


async def test_requests_are_answered_before_routing_with_the_routes_bytes(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        routed = _count_routed(client.app)  # type: ignore[attr-defined]
        miss = await client.post("/v1/summaries", json=seed["request"])
        fast = await client.post("/v1/summaries", json=seed["request"])
        assert routed == []  # the miss and the hit were answered before routing
        # A query string takes the route: the same hit, answered by the route itself.
        slow = await client.post("/v1/summaries?refresh=false", json=seed["request"])
        assert routed == ["/v1/summaries"]
        # Once its request key is stored, the same bytes again: answered by it, before routing.
        assert await _request_keys(client.app, 1) == 1
        resent = await client.post("/v1/summaries", json=seed["request"])
        assert routed == ["/v1/summaries"]
    assert resent.content == slow.content
    assert {**resent.headers, "x-request-id": "-"} == {**slow.headers, "x-request-id": "-"}
    assert (miss.status_code, miss.headers["X-Cache"]) == (200, "miss")
    assert miss.content.endswith(b',"cached":false}')
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    assert fast.content.endswith(b',"cached":true}')

    def comparable(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "x-request-id"}

    assert comparable(fast) == comparable(slow)
    # The same headers on a miss, but for the length ("false" for "true") and X-Cache.
    assert int(miss.headers["content-length"]) == len(miss.content)
    assert {**comparable(miss), "x-cache": "hit", "content-length": "-"} == {
        **comparable(fast),
        "content-length": "-",
    }
    assert (
        fast.headers["x-request-id"]
        and fast.headers["x-request-id"] != slow.headers["x-request-id"]
    )
    assert llm.record_calls == 1


def _count_routed(app) -> list[str]:
    """The paths of the requests that reach FastAPI's router, from now on."""
    routed: list[str] = []
    inner = app.router.middleware_stack

    async def counting(scope, receive, send):
        routed.append(scope["path"])
        await inner(scope, receive, send)

    app.router.middleware_stack = counting
    return routed


async def test_a_read_by_id_is_answered_before_routing_with_the_routes_bytes(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        summary_id = (await client.post("/v1/summaries", json=seed["request"])).json()["id"]
        routed = _count_routed(client.app)  # type: ignore[attr-defined]
        fast = await client.get(f"/v1/summaries/{summary_id}")
        missing = await client.get("/v1/summaries/no-such-id")
        assert routed == []
        # With a query string the route answers: the same bytes, the same 404.
        slow = await client.get(f"/v1/summaries/{summary_id}?x=1")
        routed_missing = await client.get("/v1/summaries/no-such-id?x=1")
        repeated = await client.get(f"/v1/summaries/{summary_id}?x=1&x=2")
        assert len(routed) == 3
        nested = await client.get(f"/v1/summaries/{summary_id}/more")
    assert (fast.status_code, slow.status_code) == (200, 200)
    assert fast.content == slow.content
    assert fast.content.endswith(b',"cached":true}')

    def comparable(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "x-request-id"}

    assert comparable(fast) == comparable(slow)
    assert "x-cache" not in fast.headers
    assert missing.status_code == routed_missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert missing.json()["error"]["request_id"] == missing.headers["x-request-id"]
    assert {**missing.json()["error"], "request_id": None} == {
        **routed_missing.json()["error"],
        "request_id": None,
    }
    assert comparable(missing) == comparable(routed_missing)
    assert repeated.status_code == 422  # the route's query check still applies
    assert nested.status_code == 404


async def test_a_failed_miss_gets_the_routes_error(make_settings, seed):
    # The model server keeps failing: the same 503 body before routing and through the route.
    llm = ScriptedLLM(500)
    async with running_app(make_settings(transient_retries=0), llm) as client:
        fast = await client.post("/v1/summaries", json=seed["request"])
        slow = await client.post("/v1/summaries?refresh=false", json=seed["request"])
    assert fast.status_code == slow.status_code == 503
    body, routed = fast.json(), slow.json()
    assert body["error"]["code"] == "model_unavailable"
    assert body["error"]["request_id"] == fast.headers["x-request-id"]
    assert routed["error"]["request_id"] == slow.headers["x-request-id"]
    assert {**body["error"], "request_id": None} == {**routed["error"], "request_id": None}
    same = ("content-type", "retry-after")
    assert [fast.headers.get(h) for h in same] == [slow.headers.get(h) for h in same]


async def test_hits_need_the_api_key_like_every_other_request(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(api_keys="k-one"), llm) as client:
        keyed = {"X-API-Key": "k-one"}
        first = await client.post("/v1/summaries", json=seed["request"], headers=keyed)
        anonymous = await client.post("/v1/summaries", json=seed["request"])
        wrong = await client.post(
            "/v1/summaries", json=seed["request"], headers={"X-API-Key": "k-two"}
        )
        again = await client.post("/v1/summaries", json=seed["request"], headers=keyed)
    assert first.status_code == 200 and first.headers["X-Cache"] == "miss"
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert again.status_code == 200 and again.headers["X-Cache"] == "hit"


async def test_bad_requests_for_a_stored_article_get_the_routes_errors(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(
        make_settings(max_article_chars=len(seed["request"]["text"])), llm
    ) as client:
        assert (await client.post("/v1/summaries", json=seed["request"])).status_code == 200
        body = json.dumps(seed["request"]).encode()
        as_text = await client.post(
            "/v1/summaries", content=body, headers={"Content-Type": "text/plain"}
        )
        extra = await client.post("/v1/summaries", json={**seed["request"], "colour": "red"})
        blank = await client.post("/v1/summaries", json={**seed["request"], "text": " \n "})
        not_object = await client.post(
            "/v1/summaries", content=b"[1]", headers={"Content-Type": "application/json"}
        )
        too_long = await client.post(
            "/v1/summaries", json={**seed["request"], "text": seed["request"]["text"] + " More."}
        )
    assert (as_text.status_code, as_text.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert (blank.status_code, blank.json()["error"]["code"]) == (422, "invalid_input")
    assert (not_object.status_code, not_object.json()["error"]["code"]) == (
        400,
        "malformed_request",
    )
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (413, "article_too_large")
    routed = await _route_only_status(make_settings, seed, {**seed["request"], "colour": "red"})
    assert extra.status_code == routed  # an unknown field: whatever the route does
    assert llm.record_calls == 1


async def _route_only_status(make_settings, seed, payload) -> int:
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        return (await client.post("/v1/summaries?refresh=false", json=payload)).status_code


async def test_a_body_in_pieces_reaches_the_route_whole_on_a_miss(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        app = client.app  # type: ignore[attr-defined]
        body = json.dumps(seed["request"]).encode()
        pieces = [body[:7], body[7:300], body[300:]]
        messages = [
            {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
            for i, piece in enumerate(pieces)
        ]
        miss = await asyncio.wait_for(asgi.post(app, messages), 10)
        assert (miss.status, miss.headers[b"x-cache"]) == (200, b"miss")
        hit = await asyncio.wait_for(asgi.post(app, messages), 10)
        assert (hit.status, hit.headers[b"x-cache"]) == (200, b"hit")
    assert json.loads(miss.body)["content_sha256"] == json.loads(hit.body)["content_sha256"]
    assert json.loads(hit.body)["cached"] is True
    assert llm.record_calls == 1


async def test_a_client_gone_mid_body_costs_no_model_call(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        app = client.app  # type: ignore[attr-defined]
        body = json.dumps(seed["request"]).encode()
        messages = [
            {"type": "http.request", "body": body[:50], "more_body": True},
            {"type": "http.disconnect"},
        ]
        await asyncio.wait_for(asgi.post(app, messages), 10)
        stored = await client.get("/v1/summaries")
    assert llm.record_calls == 0
    assert stored.json()["items"] == []


async def test_repeated_bodies_are_read_as_what_they_say(make_settings, seed):
    # The same bytes again, the same article in other bytes, and another article in bytes of
    # the same length: each gets its own answer; a refused body is refused every time.
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    request = seed["request"]
    async with running_app(make_settings(), llm) as client:
        first = await client.post("/v1/summaries", json=request)
        again = await client.post("/v1/summaries", json=request)
        reordered = json.dumps(dict(reversed(list(request.items()))), indent=2)
        other_bytes = await client.post(
            "/v1/summaries", content=reordered, headers={"content-type": "application/json"}
        )
        assert llm.record_calls == 1
        other_day = await client.post("/v1/summaries", json={**request, "published": "2024-01-02"})
        assert llm.record_calls == 2  # another publication date is another record
        broken = [
            await client.post(
                "/v1/summaries", content=b'{"text": ', headers={"content-type": "application/json"}
            )
            for _ in range(2)
        ]
        empty = [await client.post("/v1/summaries", json={"text": "  "}) for _ in range(2)]
        padding = "Filler sentence for a long article. " * 1200  # over 32 KiB
        long = [
            await client.post("/v1/summaries", json={**request, "text": request["text"] + padding})
            for _ in range(2)
        ]
    assert [r.headers["X-Cache"] for r in (first, again, other_bytes)] == ["miss", "hit", "hit"]
    assert first.json()["id"] == again.json()["id"] == other_bytes.json()["id"]
    assert other_day.headers["X-Cache"] == "miss"
    assert other_day.json()["id"] != first.json()["id"]
    assert [r.status_code for r in broken] == [400, 400]
    assert [r.json()["error"]["code"] for r in empty] == ["invalid_input"] * 2
    assert [r.headers["X-Cache"] for r in long] == ["miss", "hit"]
    assert llm.record_calls == 3


# --- request keys: a byte-identical resend of a text article -------------------------------------


class Normalizations:
    """Counts the articles normalized (``service.summarize.normalize_text``, still run)."""

    def __init__(self, monkeypatch) -> None:
        import service.summarize

        self.calls = 0
        real = service.summarize.normalize_text

        def counting(text: str) -> str:
            self.calls += 1
            return real(text)

        monkeypatch.setattr(service.summarize, "normalize_text", counting)


async def _request_keys(app, expected: int) -> int:
    """The number of stored request keys, once ``expected`` of them are (they are written in
    the background, after the answer) or five seconds have passed."""
    from sqlalchemy import text

    count = -1
    for _ in range(500):
        with app.state.store.engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM request_keys")).scalar()
        if count >= expected:
            return count
        await asyncio.sleep(0.01)
    return count


def _as_json(body: dict) -> dict[str, str]:
    return {"content": json.dumps(body), "headers": {"content-type": "application/json"}}


@pytest.mark.backends
async def test_a_byte_identical_resend_is_answered_without_reading_the_article_again(
    make_settings, seed, monkeypatch
):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    normalized = Normalizations(monkeypatch)
    request = seed["request"]
    reordered = dict(reversed(list(request.items())))
    async with running_app(make_settings(), llm) as client:
        routed = _count_routed(client.app)  # type: ignore[attr-defined]
        miss = await client.post("/v1/summaries", **_as_json(request))
        assert await _request_keys(client.app, 1) == 1
        before = normalized.calls
        resent = await client.post("/v1/summaries", **_as_json(request))
        assert normalized.calls == before  # answered by the request key alone
        other_bytes = await client.post("/v1/summaries", **_as_json(reordered))
        assert normalized.calls == before + 1  # read as usual
        await client.app.state.summarizer.request_keys_written()  # type: ignore[attr-defined]
        assert await _request_keys(client.app, 1) == 1  # a hit's new bytes, seen once: no key
        other_bytes_again = await client.post("/v1/summaries", **_as_json(reordered))
        assert normalized.calls == before + 2  # read as usual, then keyed: seen twice
        assert await _request_keys(client.app, 2) == 2
        other_bytes_third = await client.post("/v1/summaries", **_as_json(reordered))
        assert normalized.calls == before + 2  # answered by its request key
        assert routed == []  # all answered before routing
        through_route = await client.post("/v1/summaries?refresh=false", **_as_json(request))
        by_id = await client.get(f"/v1/summaries/{miss.json()['id']}")
    assert miss.headers["X-Cache"] == "miss"
    hits = (resent, other_bytes, other_bytes_again, other_bytes_third, through_route)
    assert [r.headers["X-Cache"] for r in hits] == ["hit"] * 5
    # The request key's answer is the routed answer and the normal hit's, byte for byte.
    assert all(r.content == by_id.content for r in hits)
    assert resent.content == miss.content.removesuffix(b"false}") + b"true}"

    def comparable(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "x-request-id"}

    assert all(comparable(r) == comparable(resent) for r in hits)
    assert llm.record_calls == 1


async def test_bodies_answered_from_the_cache_are_remembered_within_a_bound(
    make_settings, seed, monkeypatch
):
    # Hits in new bytes wait for their second sighting in a bounded memory, oldest forgotten.
    import service.summarize

    monkeypatch.setattr(service.summarize, "REQUEST_KEYS_SEEN_ONCE_MAX", 2)
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    request = seed["request"]
    wordings = [{**request, "source_url": f"https://example.org/feed/{n}"} for n in range(3)]
    async with running_app(make_settings(), llm) as client:
        app = client.app  # type: ignore[attr-defined]
        await client.post("/v1/summaries", **_as_json(request))  # the miss: keyed
        for body in wordings:  # each seen once; the first is forgotten at the third
            await client.post("/v1/summaries", **_as_json(body))
        await app.state.summarizer.request_keys_written()
        assert await _request_keys(app, 1) == 1
        await client.post("/v1/summaries", **_as_json(wordings[0]))  # forgotten: seen once again
        await client.post("/v1/summaries", **_as_json(wordings[2]))  # remembered: keyed now
        await app.state.summarizer.request_keys_written()
        assert await _request_keys(app, 2) == 2
        await client.post("/v1/summaries", **_as_json(wordings[0]))  # its second sighting
        assert await _request_keys(app, 3) == 3
    assert llm.record_calls == 1


@pytest.mark.backends
async def test_a_resend_refused_under_new_limits_is_refused(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    request = seed["request"]
    length = len(request["text"])
    async with running_app(make_settings(max_article_chars=length), llm) as client:
        first = await client.post("/v1/summaries", **_as_json(request))
        assert await _request_keys(client.app, 1) == 1
    async with running_app(make_settings(max_article_chars=length - 1), llm) as client:
        refused = await client.post("/v1/summaries", **_as_json(request))
    async with running_app(make_settings(max_article_chars=length), llm) as client:
        again = await client.post("/v1/summaries", **_as_json(request))
    assert first.headers["X-Cache"] == "miss"
    assert (refused.status_code, refused.json()["error"]["code"]) == (413, "article_too_large")
    assert (again.status_code, again.headers["X-Cache"]) == (200, "hit")
    assert again.json()["id"] == first.json()["id"]
    assert llm.record_calls == 1


@pytest.mark.backends
async def test_a_resend_never_gets_a_superseded_or_missing_record(make_settings, seed):
    from sqlalchemy import text

    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    request = seed["request"]
    async with running_app(make_settings(), llm) as client:
        first = await client.post("/v1/summaries", **_as_json(request))
        assert await _request_keys(client.app, 1) == 1
        refreshed = await client.post("/v1/summaries?refresh=true", **_as_json(request))
        after_refresh = await client.post("/v1/summaries", **_as_json(request))
        assert llm.record_calls == 2
        # The live record gone, the superseded one still there: not served in its place.
        with client.app.state.store.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(
                text("DELETE FROM summaries WHERE id = :id"), {"id": refreshed.json()["id"]}
            )
        after_delete = await client.post("/v1/summaries", **_as_json(request))
        assert await _request_keys(client.app, 1) == 1  # one body, one key all along
    assert refreshed.headers["X-Cache"] == "miss"  # refresh=true re-extracts
    assert refreshed.json()["id"] != first.json()["id"]
    assert after_refresh.headers["X-Cache"] == "hit"
    assert after_refresh.json()["id"] == refreshed.json()["id"]  # not the superseded one
    assert after_delete.headers["X-Cache"] == "miss"  # gone: extracted again, not served stale
    assert llm.record_calls == 3


async def test_pages_and_links_are_never_answered_by_request_key(make_settings, monkeypatch):
    from tests.page_server import page, page_server
    from tests.test_pages import BRIDGE_HTML, BRIDGE_TEXT, NEWS, bridge_turn

    llm = ScriptedLLM(bridge_turn())
    normalized = Normalizations(monkeypatch)
    path = "/2024/05/18/marrowby-bridge"
    with page_server({path: page("news-bridge-collapse.html")}) as site:
        url = site.url(path, host="news.test")
        settings = make_settings(fetch_allow_hosts="news.test")
        async with running_app(settings, llm, fetch_resolver=NEWS) as client:
            bodies = [{"url": url}] * 2 + [{"html": BRIDGE_HTML}] * 2
            answers = [await client.post("/v1/summaries", **_as_json(b)) for b in bodies]
            pages_read = normalized.calls
            text_body = _as_json({"text": BRIDGE_TEXT, "published": "2024-05-18"})
            # A hit, keyed at its second sighting: the text's key, and only it.
            as_text = [await client.post("/v1/summaries", **text_body) for _ in range(2)]
            stored = await _request_keys(client.app, 1)
        fetched = [seen for seen, _ in site.seen]
    assert [a.headers["X-Cache"] for a in answers] == ["miss", "hit", "hit", "hit"]
    assert [a.headers["X-Cache"] for a in as_text] == ["hit", "hit"]
    assert fetched == [path, path]  # the link was fetched again: its page may have changed
    assert pages_read == 4  # every page read again
    assert stored == 1
    assert llm.record_calls == 1
