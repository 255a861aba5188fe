"""Concurrency and upstream faults against the real server process and a real TCP model server.

One scripted model server and two service processes serve the whole module; each test
switches the model's behaviour and measures deltas of its counters. The fault tests' server:
2 transient retries per request, 3 model answers, a 4 s deadline, 8 model calls at once, 128
waiting. The concurrency tests' server: a 120 s deadline, 64 calls at once, 256 waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.chaos.harness import ServiceProcess, article, running_service
from tests.scripted_openai import ScriptedServer, scripted_server

pytestmark = pytest.mark.chaos

RETRIES = 2
ATTEMPTS = 3
DEADLINE = 4.0


class Stack:
    def __init__(self, llm: ScriptedServer, service: ServiceProcess) -> None:
        self.llm = llm
        self.service = service

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        # Idle connections are dropped after 1 s, before the server's 5 s keep-alive runs
        # out: reusing one the server is closing would fail a request for the client's sake.
        limits = httpx.Limits(
            max_connections=200, max_keepalive_connections=200, keepalive_expiry=1.0
        )
        return httpx.AsyncClient(
            base_url=self.service.base_url, timeout=60, limits=limits, **kwargs
        )

    def lines(self, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.service.log_lines()
            if all(line.get(k) == v for k, v in match.items())
        ]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedServer]:
    with scripted_server(mode="ok") as llm:
        yield llm


@pytest.fixture(scope="module")
def stack(model: ScriptedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The server with tight budgets, for the fault tests."""
    with running_service(
        tmp_path_factory.mktemp("faults"),
        model.base_url,
        transient_retries=RETRIES,
        max_attempts=ATTEMPTS,
        request_deadline_s=DEADLINE,
        llm_call_timeout_s=60,
        max_concurrency=8,
        queue_depth=128,
    ) as service:
        yield Stack(model, service)


@pytest.fixture(scope="module")
def roomy(model: ScriptedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The server with room to spare, for the concurrency tests: on a busy machine a 4 s
    deadline would turn a slow burst into 504s and hide what is being measured."""
    with running_service(
        tmp_path_factory.mktemp("concurrency"),
        model.base_url,
        request_deadline_s=120,
        max_concurrency=64,
        queue_depth=256,
    ) as service:
        yield Stack(model, service)


@pytest.fixture
def llm(model: ScriptedServer) -> Iterator[ScriptedServer]:
    model.mode, model.delay = "ok", 0.0
    # Counters are compared before and after: start when nothing is left in flight.
    deadline = time.monotonic() + 30
    while model.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    yield model
    model.mode, model.delay = "ok", 0.0


# --- 2. concurrent writers -------------------------------------------------------------------


async def test_fifty_concurrent_writers_never_see_a_locked_database(roomy: Stack, llm) -> None:
    """50 distinct articles at once, then all 50 refreshed at once while others list."""
    articles = [article(n, tag="writers") for n in range(50)]
    started = time.monotonic()
    async with roomy.client() as client:
        first = await asyncio.gather(*(client.post("/v1/summaries", json=a) for a in articles))
        second = await asyncio.gather(
            *(client.post("/v1/summaries?refresh=true", json=a) for a in articles),
            *(client.get("/v1/summaries?limit=100") for _ in range(10)),
        )
        listed = await client.get("/v1/summaries?q=Tanker&limit=100")
    statuses = [r.status_code for r in first + second]
    assert statuses == [200] * 110, [r.text for r in first + second if r.status_code != 200][:3]
    assert {r.headers["X-Cache"] for r in second[:50]} == {"miss"}
    # Every refresh replaced its record and kept the old one: 100 rows for 50 articles.
    ids = {r.json()["id"] for r in first + second[:50]}
    assert len(ids) == 100
    log = roomy.service.log_text().lower()
    assert "database is locked" not in log
    assert "deadlock" not in log
    assert not roomy.lines(level="error")
    assert len(listed.json()["items"]) >= 50
    print(f"\nwriters: 50 new + 50 refreshed + 10 lists in {time.monotonic() - started:.1f} s")


# --- 3. single flight -------------------------------------------------------------------------


async def test_identical_requests_share_one_model_call_and_survive_a_closed_client(
    roomy: Stack, llm
) -> None:
    llm.delay = 1.5
    body = article(1, tag="single flight")
    calls = llm.record_calls
    async with roomy.client() as first_client, roomy.client() as client:
        first = asyncio.create_task(first_client.post("/v1/summaries", json=body))
        while llm.record_calls == calls:  # the first request has reached the model
            await asyncio.sleep(0.01)
        others = [asyncio.create_task(client.post("/v1/summaries", json=body)) for _ in range(99)]
        await asyncio.sleep(0.3)
        first.cancel()
        await first_client.aclose()  # the first client hangs up mid-request
        responses = await asyncio.gather(*others)
        again = await client.post("/v1/summaries", json=body)
    assert [r.status_code for r in responses] == [200] * 99
    assert len({r.json()["id"] for r in responses}) == 1
    assert llm.record_calls - calls == 1
    assert again.headers["X-Cache"] == "hit"
    assert llm.record_calls - calls == 1


async def test_requests_arriving_as_the_shared_call_ends_make_no_second_call(
    roomy: Stack, llm
) -> None:
    """A request whose cache read ran just before the record was stored must not call the
    model again when it finds no extraction in flight."""
    llm.delay = 0.02
    for n in range(5):
        body = article(n, tag="close race")
        calls = llm.record_calls
        async with roomy.client() as client:
            responses = await asyncio.gather(
                *(client.post("/v1/summaries", json=body) for _ in range(100))
            )
        assert [r.status_code for r in responses] == [200] * 100
        assert len({r.json()["id"] for r in responses}) == 1
        assert llm.record_calls - calls == 1, f"article {n}: {llm.record_calls - calls} extractions"


# --- 4. upstream rate limiting ---------------------------------------------------------------


async def test_always_429_stays_within_the_retry_budget_and_answers_503(stack: Stack, llm) -> None:
    llm.mode = "429"
    calls = llm.calls
    async with stack.client() as client:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.post("/v1/summaries", json=article(n, tag="429")) for n in range(5))
        )
        elapsed = time.monotonic() - started
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "model_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    # Each request: one call and at most RETRIES retries, each after the 1 s the server asked
    # for; fewer only when the next wait would run past the deadline (a very busy machine).
    assert 5 < llm.calls - calls <= 5 * (1 + RETRIES)
    assert 1.0 <= elapsed < 2 * DEADLINE  # waited as asked, never far past the deadline
    print(f"\n429: 5 requests, {llm.calls - calls} calls, all 503 in {elapsed:.2f} s")


# --- 5. stalled upstream ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stall-headers", "stall-body"])
async def test_a_stalled_model_server_is_cut_off_at_the_deadline(
    stack: Stack, llm, mode: str
) -> None:
    llm.mode = mode
    calls = llm.calls
    async with stack.client() as client:

        async def timed(n: int) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = await client.post("/v1/summaries", json=article(n, tag=mode))
            return response, time.monotonic() - started

        results = await asyncio.gather(*(timed(n) for n in range(12)))
        responses = [r for r, _ in results]
        slowest = max(elapsed for _, elapsed in results)
        assert [r.status_code for r in responses] == [504] * 12, responses[0].text
        assert {r.json()["error"]["code"] for r in responses} == {"deadline_exceeded"}
        # Each request is answered within its deadline and a second by the server's clock
        # (its access line); the client, on a busy machine, may see a little more.
        ids = {r.headers["X-Request-ID"] for r in responses}
        await asyncio.sleep(0.2)
        served = [
            line["duration_ms"] / 1000
            for line in stack.lines(logger="service.access", status=504)
            if line["request_id"] in ids
        ]
        assert len(served) == 12
        assert max(served) < DEADLINE + 1
        assert slowest < 2 * DEADLINE  # the client shares the CPU with the scripted model
        print(
            f"\n{mode}: 12 requests, all 504, slowest {max(served):.2f} s at the server, "
            f"{slowest:.2f} s at the client (deadline {DEADLINE:g} s), "
            f"{llm.calls - calls} model calls"
        )
        # The stalled connections were closed and every model slot freed: the next
        # requests (more than there are slots) are served at once.
        llm.mode = "ok"
        after = await asyncio.gather(
            *(client.post("/v1/summaries", json=article(n, tag=f"{mode} after")) for n in range(12))
        )
    assert [r.status_code for r in after] == [200] * 12
    for _ in range(100):
        if llm.in_flight == 0:
            break
        await asyncio.sleep(0.05)
    assert llm.in_flight == 0


# --- 6. schema-invalid output -----------------------------------------------------------------


async def test_always_invalid_output_spends_the_attempts_then_keeps_the_valid_part(
    stack: Stack, llm
) -> None:
    llm.mode = "invalid"
    calls, prompt, completion = llm.calls, llm.prompt_tokens, llm.completion_tokens
    async with stack.client() as client:
        response = await client.post("/v1/summaries", json=article(1, tag="invalid"))
    # Each of the two calls spends its attempts; what is left of the answers is a record with
    # nothing the article supports: not an incident, never a 502.
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["incident"]["is_incident"] is False
    assert any("reduced to its valid part" in w for w in body["warnings"])
    assert llm.calls - calls == 2 * ATTEMPTS
    print(
        f"\ninvalid: {2 * ATTEMPTS} calls, {llm.prompt_tokens - prompt} + "
        f"{llm.completion_tokens - completion} tokens"
    )
    request_id = response.headers["X-Request-ID"]
    await asyncio.sleep(0.2)  # let the log line reach the file
    lines = stack.lines(request_id=request_id)
    spent = [line for line in lines if line.get("logger") == "service.summarize"]
    assert len(spent) == 1, stack.service.log_tail()
    assert spent[0]["outcome"] == "ok"
    assert spent[0]["upstream_calls"] == 2 * ATTEMPTS
    assert spent[0]["prompt_tokens"] == llm.prompt_tokens - prompt > 0
    assert spent[0]["completion_tokens"] == llm.completion_tokens - completion > 0


# --- 7. model server down ---------------------------------------------------------------------


async def test_a_model_server_nobody_listens_on_answers_503_after_its_retries(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.chaos.harness import free_port

    closed = f"http://127.0.0.1:{free_port()}/v1"  # bound once, then released: refused
    with running_service(
        tmp_path_factory.mktemp("down"),
        closed,
        transient_retries=RETRIES,
        request_deadline_s=DEADLINE,
    ) as service:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            started = time.monotonic()
            response = await client.post("/v1/summaries", json=article(1, tag="down"))
            elapsed = time.monotonic() - started
            assert (await client.get("/v1/summaries")).json()["items"] == []
        await asyncio.sleep(0.2)  # let the log line reach the file
        spent = [
            line
            for line in service.log_lines()
            if line.get("logger") == "service.summarize"
            and line.get("request_id") == response.headers["X-Request-ID"]
        ]
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "model_unavailable"
    assert "unreachable" in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed < DEADLINE + 1
    assert len(spent) == 1 and spent[0]["upstream_calls"] == 1 + RETRIES
