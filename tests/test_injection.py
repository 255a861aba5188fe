"""Prompt injection: the corpus through the full HTTP path, with a model that obeys it.

The scripted model in ``obey`` mode does what the articles ask: its first answer adds keys of
its own and an over-long headline; when re-asked it copies the injected text, markup, SQL and
(when asked for it) its own system prompt into the record. What reaches the store and the
client is decided by the service alone: the strict schema, the length bounds, the prompt-leak
check and the removal of invisible characters.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.incident import Incident
from service.prompts import load_prompts
from service.sentences import numbered, split_sentences
from tests.chaos.harness import ServiceProcess, running_service
from tests.fake_llm import is_relevance_call
from tests.injection.run import Verdict, load_corpus, prompt_windows, run, windows
from tests.scripted_openai import ScriptedServer, scripted_server

CORPUS = load_corpus()
# A tag of the fence, however spelt; the defused name ("untrusted article") is not one.
FENCE_TAG = re.compile(r"<\s*/?\s*untrusted[_-]?article", re.I)


def test_the_corpus_is_big_varied_and_does_not_itself_contain_the_prompt() -> None:
    assert len(CORPUS) >= 50
    assert len({a["id"] for a in CORPUS}) == len(CORPUS)
    kinds = Counter(a["attack"] for a in CORPUS)
    for kind in ("ignore-previous", "fake-system", "prompt-exfiltration", "extra-keys"):
        assert kinds[kind] >= 4, kind
    for kind in ("html-script", "fence-escape", "sql", "unicode", "chat-template"):
        assert kinds[kind] >= 2, kind
    # Otherwise a leak could not be told from a quote of the article.
    leaks = prompt_windows()
    assert all(not (windows(a["text"]) & leaks) for a in CORPUS)


def test_no_spelling_of_the_fence_inside_an_article_reaches_the_model_as_a_tag() -> None:
    prompts = load_prompts()
    for article in CORPUS:
        sentences = numbered(split_sentences(article["text"]))
        messages = prompts.messages(task="record", sentences=sentences, title=None, published=None)
        user = messages[1]["content"]
        assert user.count("<untrusted-article>") == 1, article["id"]
        assert user.count("</untrusted-article>") == 1, article["id"]
        assert len(FENCE_TAG.findall(user)) == 2, article["id"]
        assert user.index("<untrusted-article>") < user.index("</untrusted-article>")


class ObeyRun:
    def __init__(self, llm: ScriptedServer, service: ServiceProcess, verdicts: list[Verdict]):
        self.llm, self.service, self.verdicts = llm, service, verdicts


@pytest.fixture(scope="module")
def obeyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObeyRun]:
    """The whole corpus, once, through a service whose model obeys every article."""
    workdir = tmp_path_factory.mktemp("injection")
    with (
        scripted_server(mode="obey") as llm,
        running_service(workdir, llm.base_url, max_attempts=2) as service,
    ):
        verdicts = asyncio.run(run(service.base_url, CORPUS, concurrency=8))
        yield ObeyRun(llm, service, verdicts)


def test_an_obeying_model_yields_no_record_outside_the_schema_and_no_leak(
    obeyed: ObeyRun,
) -> None:
    verdicts = obeyed.verdicts
    assert [(v.id, v.problems) for v in verdicts if v.problems] == []
    outcomes = Counter(v.outcome for v in verdicts)
    # The model obeyed every article; what it copied from the prompt or from a sentence
    # addressed to it was written again from the record, so every article has a record and
    # none carries the injected text.
    assert outcomes["record"] == len(CORPUS)
    assert [(v.id, v.outcome) for v in verdicts if v.obeyed] == []
    # Every first answer (extra keys, an over-long headline) was rejected and re-asked.
    record_calls = [r for r in obeyed.llm.requests if not is_relevance_call(r)]
    assert len(record_calls) == 2 * len(CORPUS)
    reasks = [r for r in obeyed.llm.requests if len(r["messages"]) > 2]
    assert len(reasks) == len(CORPUS)
    assert all("Extra inputs are not permitted" in json.dumps(r["messages"]) for r in reasks)
    rewritten = [
        line
        for line in obeyed.service.log_lines()
        if line.get("logger") == "service.summarize" and line.get("status") == 502
    ]
    assert rewritten == []


def test_hostile_text_is_stored_as_inert_text(obeyed: ObeyRun) -> None:
    with httpx.Client(base_url=obeyed.service.base_url, timeout=30) as client:
        sql = client.get("/v1/summaries", params={"q": "DROP TABLE", "limit": 100})
        script = client.get("/v1/summaries", params={"q": "<script", "limit": 100})
        everything = client.get("/v1/summaries", params={"limit": 100})
    assert sql.status_code == script.status_code == everything.status_code == 200
    assert sql.json()["items"], "the SQL payload was not echoed into any record"
    assert script.json()["items"], "no markup was echoed into any record"
    assert everything.headers["content-type"] == "application/json"
    items = everything.json()["items"]
    assert len(items) == sum(1 for v in obeyed.verdicts if v.outcome == "record")
    for item in items:
        Incident.model_validate(item["incident"])
        for text in (item["incident"]["headline"], item["incident"]["summary"]):
            assert not any(ch in text for ch in "\u202e\u200b\ufeff"), text
    conn = sqlite3.connect(obeyed.service.database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM summaries").fetchone()[0] == len(items)
    finally:
        conn.close()


def test_a_well_behaved_model_summarizes_every_hostile_article(tmp_path: Path) -> None:
    with (
        scripted_server(mode="ok") as llm,
        running_service(tmp_path, llm.base_url) as service,
    ):
        verdicts = asyncio.run(run(service.base_url, CORPUS, concurrency=8))
        database = ServiceProcess(tmp_path, llm.base_url).database
    assert [(v.id, v.problems) for v in verdicts if v.problems] == []
    assert Counter(v.outcome for v in verdicts) == {"record": len(CORPUS)}
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "summaries" in tables
        assert conn.execute("SELECT count(*) FROM summaries").fetchone()[0] == len(CORPUS)
    finally:
        conn.close()


# --- the guard on its own ----------------------------------------------------------------------
