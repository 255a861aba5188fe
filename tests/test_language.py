"""The article's language: the request's hint, or detected from the text."""

from __future__ import annotations

import json

import pytest

from service.language import detect_language
from tests.conftest import SEEDS, running_app
from tests.fake_llm import ScriptedLLM, draft_from_record


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Three people were killed when a truck hit a bus near the border on Monday.", "en"),
        ("Cinco personas murieron y otras doce resultaron heridas en el derrumbe.", "es"),
        ("Morreram cinco pessoas no incêndio de ontem num armazém em Lisboa.", "pt"),
        ("Унаслідок обстрілу загинули троє людей, ще семеро поранені.", "uk"),
    ],
)
def test_detects_the_language_of_news_text(text, code):
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "   ", "ok 12"])
def test_no_guess_without_enough_text(text):
    assert detect_language(text) is None


async def test_the_record_carries_the_hint_or_the_detected_language(make_settings):
    sample = json.loads((SEEDS / "building-collapse-colombia-es.json").read_text())
    request = {k: v for k, v in sample["request"].items() if k != "language"}
    llm = ScriptedLLM(draft_from_record(sample["expected"]))
    async with running_app(make_settings(), llm) as client:
        detected = await client.post("/v1/summaries", json=request)
        hinted = await client.post("/v1/summaries?refresh=true", json={**request, "language": "ca"})
    assert detected.status_code == 200, detected.text
    assert detected.json()["language"] == "es"
    assert hinted.json()["language"] == "ca"


async def test_an_in_memory_database_serves_and_caches(make_settings):
    sample = json.loads((SEEDS / "seed-camp-taji.json").read_text())
    llm = ScriptedLLM(draft_from_record(sample["expected"]))
    settings = make_settings(database_url="sqlite:///:memory:")
    async with running_app(settings, llm) as client:
        first = await client.post("/v1/summaries", json=sample["request"])
        again = await client.post("/v1/summaries", json=sample["request"])
    assert first.status_code == 200, first.text
    assert again.headers["X-Cache"] == "hit"
    assert llm.record_calls == 1


def test_an_in_memory_database_is_used_by_one_thread_at_a_time():
    import threading

    from service.store import make_engine

    engine = make_engine("sqlite:///:memory:")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    held = engine.connect()
    held.exec_driver_sql("INSERT INTO t VALUES (1)")  # a transaction under way
    seen: list[int] = []

    def other_thread() -> None:
        # Waits for the one connection, then sees only what was committed.
        with engine.connect() as conn:
            seen.append(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive()  # still waiting: the transaction is not shared with it
    held.commit()
    held.close()
    thread.join(5)
    assert seen == [1]
    engine.dispose()
