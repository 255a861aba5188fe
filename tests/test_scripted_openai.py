"""The scripted model server itself: its modes, its answers, its concurrency."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from schemas.incident import IncidentDraft, RelevanceAnswer, category_of
from service.sentences import split_sentences
from tests.scripted_openai import scripted_server

TEXT = (
    "Four miners were killed and 6 injured when a tunnel collapsed at the Ostrava Deep mine "
    "on Wednesday, the operator said. Rescue crews reached the trapped men after nine hours."
)


def chat(text: str = TEXT, task: str = "record", **extra: object) -> dict[str, object]:
    lines = "".join(f"[{n}] {s.text}\n" for n, s in enumerate(split_sentences(text), 1))
    user = f"Title: (none)\n\n<untrusted-article>\n{lines}</untrusted-article>\n\nTASK {task}"
    return {
        "model": "m",
        "messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": user}],
        **extra,
    }


def test_ok_answers_a_draft_the_service_validators_accept() -> None:
    with scripted_server(mode="ok") as srv, httpx.Client(base_url=srv.base_url) as client:
        answer = client.post("/chat/completions", json=chat()).json()
    content = answer["choices"][0]["message"]["content"]
    draft = IncidentDraft.model_validate_json(content)
    assert (draft.killed, draft.injured) == (4, 6)
    sentences = split_sentences(TEXT)
    assert draft.killed_sentence is not None
    assert sentences[draft.killed_sentence - 1].text.startswith("Four miners were killed")
    assert srv.calls == 1
    assert srv.prompt_tokens == answer["usage"]["prompt_tokens"] > 0
    assert srv.completion_tokens == answer["usage"]["completion_tokens"] > 0


def test_an_article_without_a_toll_gets_a_valid_non_incident() -> None:
    text = "The city council approved the budget on Monday after a long debate."
    with scripted_server(mode="ok") as srv, httpx.Client(base_url=srv.base_url) as client:
        answer = client.post("/chat/completions", json=chat(text, task="relevance")).json()
    content = answer["choices"][0]["message"]["content"]
    relevance = RelevanceAnswer.model_validate_json(content)
    assert category_of(relevance.kind) is None


def test_streaming_yields_the_same_draft_in_chunks() -> None:
    with scripted_server(mode="ok") as srv, httpx.Client(base_url=srv.base_url) as client:
        plain = client.post("/chat/completions", json=chat()).json()
        body = chat(stream=True, stream_options={"include_usage": True})
        with client.stream("POST", "/chat/completions", json=body) as response:
            events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(("mode", "status"), [("429", 429), ("500", 500)])
def test_error_modes(mode: str, status: int) -> None:
    with scripted_server(mode=mode) as srv, httpx.Client(base_url=srv.base_url) as client:
        response = client.post("/chat/completions", json=chat())
    assert response.status_code == status
    if status == 429:
        assert response.headers["Retry-After"] == "1"


def test_invalid_mode_answers_json_that_fails_the_schema() -> None:
    with scripted_server(mode="invalid") as srv, httpx.Client(base_url=srv.base_url) as client:
        answer = client.post("/chat/completions", json=chat()).json()
    content = answer["choices"][0]["message"]["content"]
    json.loads(content)
    with pytest.raises(ValueError):
        IncidentDraft.model_validate_json(content)


@pytest.mark.parametrize("mode", ["stall-headers", "stall-body"])
def test_stall_modes_hold_the_answer_back(mode: str) -> None:
    with scripted_server(mode=mode) as srv, httpx.Client(base_url=srv.base_url) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.post("/chat/completions", json=chat(), timeout=httpx.Timeout(5, read=0.5))
        assert time.monotonic() - started < 3
        # The stalled exchange ends when the client hangs up.
        for _ in range(100):
            if srv.in_flight == 0:
                break
            time.sleep(0.02)
        assert srv.in_flight == 0


async def test_hundreds_of_requests_wait_out_the_delay_together() -> None:
    with scripted_server(mode="ok", delay=1.0) as srv:
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
        async with httpx.AsyncClient(base_url=srv.base_url, limits=limits, timeout=60) as client:
            started = time.monotonic()
            responses = await asyncio.gather(
                *(client.post("/chat/completions", json=chat(f"{TEXT} #{n}")) for n in range(256))
            )
            elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 256
    assert srv.calls == 256
    # One after another that would be 256 s.
    assert elapsed < 15, elapsed
