"""Every error status of the contract with its body; list filters and cursor pagination."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_seed, running_app
from tests.fake_llm import ScriptedLLM, Turn, draft_from_record

# The same tests on SQLite and on PostgreSQL (tests.conftest's database_url).
pytestmark = pytest.mark.backends


def error_of(response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    return body["error"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "malformed_request"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "malformed_request"),
        (b'{"title": "no text"}', {"Content-Type": "application/json"}, 422, "invalid_input"),
        (b'{"text": "   "}', {"Content-Type": "application/json"}, 422, "invalid_input"),
        (b'{"text": 12}', {"Content-Type": "application/json"}, 422, "invalid_input"),
        (
            b'{"text": "A fire.", "published": "12/03/2020"}',
            {"Content-Type": "application/json"},
            422,
            "invalid_input",
        ),
        (
            b'{"text": "A fire.", "published": "2020-02-30"}',
            {"Content-Type": "application/json"},
            422,
            "invalid_input",
        ),
        (b"\xff\xfe\x00binary", {"Content-Type": "application/json"}, 400, "malformed_request"),
        (b'{"text": "A fire."}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b'{"text": "A fire."}', {}, 415, "unsupported_media_type"),
        (b"[" * 5000 + b"]" * 5000, {"Content-Type": "application/json"}, 400, "malformed_request"),
    ],
)
async def test_bad_bodies_get_their_documented_status(
    make_settings, content, headers, status, code
):
    llm = ScriptedLLM()
    async with running_app(make_settings(), llm) as client:
        response = await client.post("/v1/summaries", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code
    assert llm.record_calls == 0


async def test_a_body_over_the_limit_is_refused_before_it_is_read(make_settings):
    llm = ScriptedLLM()
    async with running_app(make_settings(max_body_bytes=4096), llm) as client:
        big = b'{"text": "' + b"a" * 10_000 + b'"}'
        response = await client.post(
            "/v1/summaries", content=big, headers={"Content-Type": "application/json"}
        )

        async def chunks():
            yield b'{"text": "'
            for _ in range(10):
                yield b"a" * 1000
            yield b'"}'

        streamed = await client.post(
            "/v1/summaries", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert streamed.status_code == 413
    assert llm.record_calls == 0


async def test_an_article_over_the_length_limit_is_413(make_settings):
    llm = ScriptedLLM()
    async with running_app(make_settings(max_article_chars=500), llm) as client:
        response = await client.post("/v1/summaries", json={"text": "word " * 200})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "article_too_large"
    assert "1,000 characters" in error["message"]


async def test_api_keys_guard_every_route_but_health(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(api_keys="k-one, k-two"), llm) as client:
        for method, path in [
            ("POST", "/v1/summaries"),
            ("GET", "/v1/summaries"),
            ("GET", "/v1/summaries/abc"),
            ("GET", "/v1/schema"),
        ]:
            response = await client.request(method, path, json=seed["request"])
            assert response.status_code == 401, path
            assert error_of(response)["code"] == "unauthorized"
        wrong = await client.get("/v1/schema", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        ok = await client.post(
            "/v1/summaries", json=seed["request"], headers={"Authorization": "Bearer k-two"}
        )
        assert ok.status_code == 200
        listed = await client.get("/v1/summaries", headers={"X-API-Key": "k-one"})
        assert len(listed.json()["items"]) == 1


async def test_unknown_route_and_method_use_the_error_body(make_settings):
    async with running_app(make_settings(), ScriptedLLM()) as client:
        missing = await client.get("/v2/nothing")
        wrong_method = await client.delete("/v1/schema")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert (
        wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"
    )


async def test_queue_full_is_503_with_retry_after(make_settings, seed):
    import asyncio

    llm = ScriptedLLM(draft_from_record(seed["expected"]), delay=0.5)
    settings = make_settings(max_concurrency=1, queue_depth=1)
    async with running_app(settings, llm) as client:
        texts = [f"{seed['request']['text']} Update {i}." for i in range(3)]
        tasks = []
        for text in texts:
            tasks.append(asyncio.create_task(client.post("/v1/summaries", json={"text": text})))
            await asyncio.sleep(0.05)
        responses = await asyncio.gather(*tasks)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503]
    refused = next(r for r in responses if r.status_code == 503)
    assert error_of(refused)["code"] == "queue_full"
    assert int(refused.headers["Retry-After"]) >= 1


async def test_schema_endpoint_serves_the_incident_schema(make_settings):
    async with running_app(make_settings(), ScriptedLLM()) as client:
        body = (await client.get("/v1/schema")).json()
    assert body["schema_version"] == "1"
    props = body["schema"]["properties"]
    assert set(props) == {
        "is_incident",
        "headline",
        "summary",
        "category",
        "date",
        "location",
        "casualties",
        "perpetrators",
        "weapons",
        "responses",
        "evidence",
    }
    assert body["schema"]["additionalProperties"] is False


def _variant(base: dict[str, Any], i: int, *, country: str, category: str, day: str) -> Turn:
    turn = draft_from_record(copy.deepcopy(base))
    assert turn.record is not None
    draft = turn.record
    draft["location"]["country_code"] = country
    draft["location"]["country"] = None
    draft["category"] = category
    draft["weapons"] = []  # no cause or headline naming another kind of event
    draft["headline"] = draft["headline"].replace("rocket strike", "incident")
    # No sentence named as reporting it: the article's own words (a rocket attack) would
    # settle the category, and these records need the ones planned.
    turn.relevance["sentence"] = None
    draft["date"] = {"text": day, "iso": day, "precision": "day"}
    draft["summary"] = f"Sample summary number {i} about a {category}."
    return turn


async def test_list_filters_and_cursor_pagination(make_settings):
    seed = load_seed("seed-camp-taji.json")
    plan = [
        ("IQ", "air_or_missile_strike", "2020-03-01"),
        ("IQ", "explosion_bombing", "2020-03-05"),
        ("FR", "fire", "2020-03-07"),
        ("IQ", "air_or_missile_strike", "2020-03-09"),
        ("NG", "armed_attack", "2020-03-11"),
    ]
    drafts = [
        _variant(seed["expected"], i, country=c, category=k, day=d)
        for i, (c, k, d) in enumerate(plan)
    ]
    llm = ScriptedLLM(*drafts, repeat_last=False)
    async with running_app(make_settings(), llm) as client:
        ids = []
        for i in range(len(plan)):
            request = {**seed["request"], "text": seed["request"]["text"] + f" ({i})"}
            ids.append((await client.post("/v1/summaries", json=request)).json()["id"])

        async def listing(**params) -> dict:
            response = await client.get("/v1/summaries", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        everything = await listing(limit=100)
        assert [item["id"] for item in everything["items"]] == ids[::-1]  # newest first
        assert everything["next_cursor"] is None
        assert all(item["cached"] is True for item in everything["items"])

        iq = await listing(country_code="iq")
        assert {i["incident"]["location"]["country_code"] for i in iq["items"]} == {"IQ"}
        assert len(iq["items"]) == 3
        strikes = await listing(category="air_or_missile_strike", country_code="IQ")
        assert len(strikes["items"]) == 2
        window = await listing(since="2020-03-05", until="2020-03-09")
        assert sorted(i["incident"]["date"]["iso"] for i in window["items"]) == [
            "2020-03-05",
            "2020-03-07",
            "2020-03-09",
        ]
        found = await listing(q='"NUMBER 2"')  # a phrase: these words, adjacent
        assert [i["id"] for i in found["items"]] == [ids[2]]
        ranked = await listing(q="NUMBER 2")  # both words, anywhere: best match first
        assert ranked["items"][0]["id"] == ids[2]
        assert len(ranked["items"]) == 5
        assert (await listing(q="100%_"))["items"] == []
        assert len((await listing(is_incident="true"))["items"]) == 5
        assert (await listing(is_incident="false"))["items"] == []

        pages, cursor = [], None
        while True:
            page = await listing(limit=2, **({"cursor": cursor} if cursor else {}))
            pages.append([i["id"] for i in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]

        bad_cursor = await client.get("/v1/summaries", params={"cursor": "garbage!"})
        assert bad_cursor.status_code == 422
        bad_category = await client.get("/v1/summaries", params={"category": "picnic"})
        assert bad_category.status_code == 422
