"""``GET /metrics``: Prometheus's text format, values that follow the requests made, and who may
read it. The app is the real one (real SQLite file, the model scripted at the HTTP boundary);
the several-worker case is in ``tests/test_workers.py``."""

from __future__ import annotations

import asyncio
import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, completion, draft_from_record


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, keyed by name and labels (it must parse)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


REQUESTS = "summarizer_http_requests_total"
SUMMARIES = {"method": "POST", "route": "/v1/summaries", "status": "200"}


async def test_the_metrics_follow_a_miss_then_a_hit_then_reads(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(), llm) as client:
        before = await scrape(client)
        miss = await client.post("/v1/summaries", json=seed["request"])
        after_miss = await scrape(client)
        hit = await client.post("/v1/summaries", json=seed["request"])
        by_id = await client.get(f"/v1/summaries/{miss.json()['id']}")
        unknown = await client.get("/v1/summaries/no-such-id")
        listed = await client.get("/v1/summaries?limit=5")
        nowhere = await client.get("/no/such/path/12345")
        after = await scrape(client)
    assert [miss.headers["x-cache"], hit.headers["x-cache"]] == ["miss", "hit"]
    assert (by_id.status_code, unknown.status_code, listed.status_code) == (200, 404, 200)
    assert nowhere.status_code == 404

    assert value(before, REQUESTS, **SUMMARIES) == 0
    assert value(after_miss, REQUESTS, **SUMMARIES) == 1
    assert value(after_miss, "summarizer_cache_requests_total", result="miss") == 1
    assert value(after_miss, "summarizer_cache_requests_total", result="hit") == 0
    assert value(after_miss, "summarizer_extractions_total", outcome="ok") == 1
    # The relevance answer and the record: two calls, with the tokens the model reported.
    assert value(after_miss, "summarizer_model_calls_total") == llm.calls == 2
    usage = completion("{}")["usage"]
    assert value(after_miss, "summarizer_model_tokens_total", kind="prompt") == (
        2 * usage["prompt_tokens"]
    )
    assert value(after_miss, "summarizer_model_tokens_total", kind="completion") == (
        2 * usage["completion_tokens"]
    )
    assert value(after_miss, "summarizer_extraction_duration_seconds_count") == 1

    assert value(after, REQUESTS, **SUMMARIES) == 2
    assert value(after, "summarizer_cache_requests_total", result="hit") == 1
    assert value(after, "summarizer_cache_requests_total", result="miss") == 1
    assert value(after, "summarizer_model_calls_total") == 2  # the hit called nobody
    # Route templates, never the paths themselves.
    by_template = {"method": "GET", "route": "/v1/summaries/{summary_id}"}
    assert value(after, REQUESTS, **by_template, status="200") == 1
    assert value(after, REQUESTS, **by_template, status="404") == 1
    assert value(after, REQUESTS, method="GET", route="/v1/summaries", status="200") == 1
    assert value(after, REQUESTS, method="GET", route="unmatched", status="404") == 1
    assert not any("no-such-id" in str(key) or "12345" in str(key) for key in after)
    # The scrapes count themselves (the one in progress is not yet answered).
    assert value(after, REQUESTS, method="GET", route="/metrics", status="200") == 2
    latency = {"method": "POST", "route": "/v1/summaries"}
    assert value(after, "summarizer_http_request_duration_seconds_count", **latency) == 2
    bucket = "summarizer_http_request_duration_seconds_bucket"
    assert value(after, bucket, **latency, le="+Inf") == 2
    assert value(after, "summarizer_http_request_duration_seconds_sum", **latency) > 0
    assert value(after, "summarizer_model_slots") == 256  # a model server's default
    assert value(after, "summarizer_model_slots_busy") == 0
    assert value(after, "summarizer_model_queue_waiting") == 0


async def test_failed_extractions_and_refusals_are_counted(make_settings, seed):
    llm = ScriptedLLM(500)  # the model server keeps failing
    async with running_app(make_settings(transient_retries=2, api_keys="k-one"), llm) as client:
        key = {"X-API-Key": "k-one"}
        failed = await client.post("/v1/summaries", json=seed["request"], headers=key)
        refused = await client.post("/v1/summaries", json=seed["request"])
        found = await scrape(client, **key)
    assert failed.status_code == 503 and refused.status_code == 401
    assert value(found, REQUESTS, **{**SUMMARIES, "status": "503"}) == 1
    # Refused before routing, still counted under the route it was for.
    assert value(found, REQUESTS, **{**SUMMARIES, "status": "401"}) == 1
    assert value(found, "summarizer_extractions_total", outcome="model_unavailable") == 1
    # Every call the model server saw: the relevance answer, the record call, its two retries.
    assert llm.calls == 4
    assert value(found, "summarizer_model_calls_total") == llm.calls
    assert value(found, "summarizer_model_retries_total") == 2
    assert value(found, "summarizer_cache_requests_total", result="miss") == 0


async def test_the_queue_and_slots_show_a_call_in_flight(make_settings, seed):
    release = asyncio.Event()
    arrived = asyncio.Event()
    turn = draft_from_record(seed["expected"])

    async def model(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await release.wait()
        body = json.loads(request.content)
        return httpx.Response(200, json=completion(json.dumps(turn.answer(body))))

    settings = make_settings(max_concurrency=1)
    app = create_app(settings, llm_transport=httpx.MockTransport(model))
    async with app.router.lifespan_context(app):
        while not app.state.ready:
            await asyncio.sleep(0.005)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            first = asyncio.create_task(client.post("/v1/summaries", json=seed["request"]))
            other = {**seed["request"], "text": seed["request"]["text"] + " More was said."}
            second = asyncio.create_task(client.post("/v1/summaries", json=other))
            await asyncio.wait_for(arrived.wait(), 5)
            while app.state.summarizer.slots.waiting < 1:
                await asyncio.sleep(0.005)
            during = await scrape(client)
            release.set()
            answers = await asyncio.gather(first, second)
            after = await scrape(client)
    assert [a.status_code for a in answers] == [200, 200]
    assert value(during, "summarizer_model_slots") == 1
    assert value(during, "summarizer_model_slots_busy") == 1
    assert value(during, "summarizer_model_queue_waiting") == 1
    assert value(after, "summarizer_model_slots_busy") == 0
    assert value(after, "summarizer_model_queue_waiting") == 0
    assert value(after, "summarizer_extractions_total", outcome="ok") == 2


async def test_metrics_need_a_key_like_the_api_unless_opened(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(api_keys="k-one"), llm) as client:
        anonymous = await client.get("/metrics")
        keyed = await client.get("/metrics", headers={"Authorization": "Bearer k-one"})
        spec = (await client.get("/openapi.json", headers={"X-API-Key": "k-one"})).json()
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert keyed.status_code == 200
    assert "/metrics" not in spec["paths"]  # for Prometheus, not for integrators

    async with running_app(make_settings(api_keys="k-one", metrics_open=True), llm) as client:
        opened = await client.get("/metrics")
        api = await client.get("/v1/summaries")
    assert opened.status_code == 200
    assert REQUESTS in opened.text
    assert api.status_code == 401  # only /metrics was opened
