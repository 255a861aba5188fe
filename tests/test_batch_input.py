"""What POST /v1/batches refuses, and how: stable codes, the article named by index or line."""

from __future__ import annotations

from typing import Any

import orjson

from tests.chaos.harness import article
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM
from tests.scripted_openai import generic_answer


def ndjson(items: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(i) for i in items) + b"\n"


async def post(make_settings, *args: Any, settings: dict | None = None, **kwargs: Any):
    llm = ScriptedLLM(generic_answer)
    async with running_app(make_settings(**(settings or {})), llm) as client:
        return await client.post("/v1/batches", *args, **kwargs), llm


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


async def test_too_many_articles_is_413(make_settings):
    items = [article(n) for n in range(4)]
    response, llm = await post(
        make_settings, json={"items": items}, settings={"batch_max_items": 3}
    )
    status, code, message = error_of(response)
    assert (status, code) == (413, "batch_too_large")
    assert "4 articles; the limit is 3" in message
    lines, _ = await post(
        make_settings,
        content=ndjson(items),
        headers={"Content-Type": "application/x-ndjson"},
        settings={"batch_max_items": 3},
    )
    assert error_of(lines)[:2] == (413, "batch_too_large")
    assert llm.calls == 0


async def test_a_bad_article_is_named_by_its_index_or_line(make_settings):
    items = [article(1), {"text": "   "}, article(2)]
    response, _ = await post(make_settings, json={"items": items})
    assert error_of(response) == (422, "invalid_batch_item", "items[1]: text is empty")
    both = [article(1), {"text": "a", "html": "<p>b</p>"}]
    response, _ = await post(make_settings, json={"items": both})
    status, code, message = error_of(response)
    assert (status, code) == (422, "invalid_batch_item")
    assert message.startswith("items[1]: ") and "exactly one of text, html or url" in message
    lines = ndjson([article(1)]) + b"not json\n"
    response, _ = await post(
        make_settings, content=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    assert error_of(response) == (422, "invalid_batch_item", "line 2: not a JSON object")
    dated = [article(1), {**article(2), "published": "12 March 2020"}]
    response, _ = await post(make_settings, json={"items": dated})
    status, code, message = error_of(response)
    assert (status, code) == (422, "invalid_batch_item") and message.startswith("items[1]: ")


async def test_the_envelope_is_checked(make_settings):
    cases = [
        ({"items": []}, 422, "invalid_input"),
        ({"articles": [article(1)]}, 422, "invalid_input"),
        ({"items": [article(1)], "unknown": 1}, 422, "invalid_input"),
        ({"items": [article(1)], "metadata": [1, 2]}, 422, "invalid_input"),
        ([article(1)], 400, "malformed_request"),
    ]
    for body, status, code in cases:
        response, _ = await post(make_settings, json=body)
        assert error_of(response)[:2] == (status, code), body
    response, _ = await post(
        make_settings, content=b"{", headers={"Content-Type": "application/json"}
    )
    assert error_of(response)[:2] == (400, "malformed_request")
    response, _ = await post(make_settings, content=b"x", headers={"Content-Type": "text/plain"})
    assert error_of(response)[:2] == (415, "unsupported_media_type")


async def test_a_webhook_url_the_service_will_not_call_is_refused(make_settings):
    secret = {"webhook_secret": "s"}
    cases = [
        ("http://127.0.0.1:9/hook", secret, "loopback"),
        ("http://169.254.169.254/latest", secret, "link-local"),
        ("http://10.1.2.3/hook", secret, "private"),
        ("ftp://example.org/hook", secret, "only http and https"),
        ("http://user:pw@example.org/hook", secret, "user name or password"),
        ("https://hooks.example.org/x", {}, "SUMMARIZER_WEBHOOK_SECRET"),
    ]
    for url, settings, said in cases:
        body = {"items": [article(1)], "webhook_url": url}
        response, _ = await post(make_settings, json=body, settings=settings)
        status, code, message = error_of(response)
        assert (status, code) == (422, "webhook_url_not_allowed"), url
        assert said in message, (url, message)
    allowed = {**secret, "webhook_allow_hosts": "127.0.0.1"}
    body = {"items": [article(1)], "webhook_url": "http://127.0.0.1:9/hook"}
    response, _ = await post(make_settings, json=body, settings=allowed)
    assert response.status_code == 202


async def test_json_lines_take_the_webhook_as_a_query_parameter(make_settings):
    settings = {"webhook_secret": "s", "webhook_allow_hosts": "127.0.0.1"}
    lines = ndjson([{**article(n), "external_id": f"x{n}"} for n in range(3)])
    response, _ = await post(
        make_settings,
        content=b"\n" + lines + b"\n\n",  # blank lines are not articles
        params={"webhook_url": "http://127.0.0.1:9/hook"},
        headers={"Content-Type": "application/x-ndjson"},
        settings=settings,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["counts"]["total"] == 3
    assert body["webhook"]["url"] == "http://127.0.0.1:9/hook"


async def test_batches_need_a_key_like_summaries(make_settings):
    llm = ScriptedLLM(generic_answer)
    async with running_app(make_settings(api_keys="desk-key-0123456789"), llm) as client:
        refused = await client.post("/v1/batches", json={"items": [article(1)]})
        listing = await client.get("/v1/batches")
        accepted = await client.post(
            "/v1/batches",
            json={"items": [article(1)]},
            headers={"X-API-Key": "desk-key-0123456789"},
        )
        unknown = await client.get("/v1/batches/nope", headers={"X-API-Key": "desk-key-0123456789"})
    assert refused.status_code == 401 and listing.status_code == 401
    assert accepted.status_code == 202
    assert error_of(unknown)[:2] == (404, "not_found")


async def test_a_batch_body_may_be_larger_than_an_article_body(make_settings):
    items = [{**article(n), "text": article(n)["text"] + " Filler." * 150} for n in range(12)]
    settings = {"max_body_bytes": 4096, "batch_max_body_bytes": 100_000}
    response, _ = await post(make_settings, json={"items": items}, settings=settings)
    assert response.status_code == 202, response.text
    settings["batch_max_body_bytes"] = 8192
    response, _ = await post(make_settings, json={"items": items}, settings=settings)
    assert error_of(response)[:2] == (413, "body_too_large")
