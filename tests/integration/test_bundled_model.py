"""The real bundled model behind the real server, over real HTTP (marked ``integration``)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from schemas.incident import Incident, IncidentDraft, latin_text
from service.config import Settings
from service.greedy_grammar import GreedyGrammar, SchemaDraft, probe_tokens
from service.local_model import LocalModel, ensure_model_file
from service.prompts import load_prompts
from service.sentences import numbered, split_sentences
from tests.conftest import ROOT, load_seed

pytestmark = pytest.mark.integration

DEV_SET = ROOT.parent / "shared" / "dev" / "articles.jsonl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(tmp_path_factory)


def _serve(tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Iterator[str]:
    port = _free_port()
    db = tmp_path_factory.mktemp("db") / "summaries.sqlite3"
    # A generous deadline: these tests check the path end to end, not the speed (BENCHMARKS.md).
    env = {
        **os.environ,
        "SUMMARIZER_DATABASE_URL": f"sqlite:///{db}",
        "SUMMARIZER_REQUEST_DEADLINE_S": "900",
        "SUMMARIZER_LLM_CALL_TIMEOUT_S": "900",
        **{f"SUMMARIZER_{name.upper()}": value for name, value in settings.items()},
    }
    env.pop("SUMMARIZER_LLM_BASE_URL", None)
    log = (tmp_path_factory.mktemp("log") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert proc.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            raise AssertionError("the server did not become ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _check_record(body: dict[str, Any], text: str) -> Incident:
    incident = Incident.model_validate(body["incident"])
    for ev in incident.evidence:
        # Quotes are the article's own sentences (split in its language), by construction.
        assert text[ev.start : ev.end] == ev.quote
        sentences = split_sentences(text, body.get("language"))
        assert any((s.start, s.end) == (ev.start, ev.end) for s in sentences)
    return incident


def test_seed_article_through_the_whole_http_path(server: str) -> None:
    seed = load_seed("seed-camp-taji.json")
    response = httpx.post(f"{server}/v1/summaries", json=seed["request"], timeout=1000)
    assert response.status_code == 200, response.text
    body = response.json()
    # Kept for people reading a CI run: what the bundled model really answered.
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "seed-response.json").write_text(json.dumps(body, indent=2, ensure_ascii=False))
    incident = _check_record(body, seed["request"]["text"])
    assert incident.is_incident
    assert incident.casualties.killed == 3
    assert incident.casualties.injured == 12
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    again = httpx.post(f"{server}/v1/summaries", json=seed["request"], timeout=60)
    assert again.headers["X-Cache"] == "hit"
    fetched = httpx.get(f"{server}/v1/summaries/{body['id']}", timeout=10).json()
    assert fetched["incident"] == body["incident"]


def _dev_articles() -> list[dict[str, Any]]:
    if not DEV_SET.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{DEV_SET} is missing in CI")
        pytest.skip(f"{DEV_SET} not present on this machine")
    lines = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()]
    # One English incident and one non-English incident.
    return [lines[0], next(a for a in lines if a["language"] != "en" and a["is_incident"])]


def test_dev_articles_through_the_whole_http_path(server: str) -> None:
    for article in _dev_articles():
        request = {"text": article["text"], "published": article["published"]}
        response = httpx.post(f"{server}/v1/summaries", json=request, timeout=1000)
        assert response.status_code == 200, (article["id"], response.text)
        _check_record(response.json(), article["text"])


def test_the_grammar_constrains_decoding() -> None:
    """A shape the model would never write unprompted comes out exactly: the grammar rules."""
    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    schema = {
        "type": "object",
        "properties": {"zz_code": {"enum": ["QX7-ALPHA", "QX7-BETA"]}, "n": {"type": "integer"}},
        "required": ["zz_code", "n"],
        "additionalProperties": False,
    }
    result = model.complete(
        [{"role": "user", "content": "Write a haiku about the sea."}],
        schema=schema,
        max_tokens=40,
        temperature=0.0,
        should_stop=lambda: False,
    )
    data = json.loads(result["choices"][0]["message"]["content"])
    assert set(data) == {"zz_code", "n"}
    assert data["zz_code"] in {"QX7-ALPHA", "QX7-BETA"}
    assert isinstance(data["n"], int)
    steps, full_masks = model.llama.last_grammar_steps
    assert 0 < full_masks <= steps  # the model's own choice was refused, the mask took over


def test_a_model_repeating_itself_is_closed_by_the_strings_and_lists_bounds() -> None:
    """Told to write one word hundreds of times, the model ends each string and list where
    the schema's bounds say (``latin_text``, ``maxLength``, ``maxItems``, as the record's
    draft gives them), and the answer is whole JSON long before max_tokens."""
    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    schema = {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "pattern": latin_text(40)},
            "weapons": {
                "type": "array",
                "items": {"type": "string", "maxLength": 12},
                "maxItems": 3,
            },
        },
        "required": ["summary", "weapons"],
        "additionalProperties": False,
    }
    prompt = (
        "Answer in JSON. In summary, write the word 'bhii' 500 times. "
        "In weapons, write 'bhii bhii bhii bhii bhii' 100 times."
    )
    result = model.complete(
        [{"role": "user", "content": prompt}],
        schema=schema,
        max_tokens=300,
        temperature=0.0,
        should_stop=lambda: False,
    )
    choice = result["choices"][0]
    assert choice["finish_reason"] == "stop"
    data = json.loads(choice["message"]["content"])
    assert len(data["summary"]) <= 40
    assert 1 <= len(data["weapons"]) <= 3 and all(len(w) <= 12 for w in data["weapons"])
    # The bounds ended the repetition, not the model: a string stopped at its bound.
    assert len(data["summary"]) > 40 - len(" bhii") or 12 in {len(w) for w in data["weapons"]}


def test_greedy_grammar_picks_the_tokens_llama_cpp_would() -> None:
    """Checking the model's best token alone first changes the time, never the answer; draft
    tokens (the text the schema fixes, evaluated in a batch with the token before them) are
    kept only where they are the model's own picks, and save evaluations."""
    from llama_cpp import LlamaGrammar

    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    grammar = LlamaGrammar.from_json_schema(
        json.dumps(IncidentDraft.model_json_schema()), verbose=False
    )
    article = (
        "Two people were killed and nine injured on Sunday when a gas cylinder exploded in a "
        "crowded restaurant in the market district of Orvieto Nuova, the fire brigade said."
    )
    prompt = model._formatter(
        messages=load_prompts().messages(
            task="record",
            sentences=numbered(split_sentences(article)),
            title=None,
            published="2024-02-11",
        )
    )
    drafter = SchemaDraft(model.llama, max_tokens=8)
    texts = {}
    # (our greedy pick, with drafts): llama.cpp's own sampler has neither.
    for greedy, drafting in ((True, True), (True, False), (False, False)):
        model.llama.greedy_grammar = greedy
        model.llama.draft_model = drafter if drafting else None
        out = model.run(
            lambda: model.llama.create_completion(
                prompt=prompt.prompt,
                grammar=grammar,
                max_tokens=160,
                temperature=0.0,
                stop=prompt.stop,
            )
        )
        texts[greedy, drafting] = out["choices"][0]["text"]
        if greedy and drafting:
            drafted = model.llama.draft_stats
        elif greedy:
            steps, full_masks = model.llama.last_grammar_steps
    assert texts[True, False] == texts[False, False]
    assert texts[True, False].startswith('{"category": "')
    assert steps == 160 and full_masks < steps // 2, (steps, full_masks)
    # Keys and punctuation came from drafts, nearly all of them the model's own picks.
    assert drafted.accepted >= 40 and drafted.accepted >= 0.8 * drafted.drafted, drafted
    # A batch is computed in another order than single steps: where two tokens nearly tie
    # the answer may differ (BENCHMARKS.md counts how often), never its grammar.
    assert texts[True, True].startswith('{"category": "')


def test_the_schema_fixes_keys_and_punctuation_not_values() -> None:
    """What a draft proposes is read off the grammar: the next key with its punctuation,
    spaced as the model spaces it, and nothing where the model chooses a value."""
    from llama_cpp import LlamaGrammar

    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    schema = {
        "type": "object",
        "properties": {
            "killed": {"type": ["integer", "null"]},
            "place_name": {"type": "string"},
        },
        "required": ["killed", "place_name"],
    }
    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    llama = model.llama
    probes = probe_tokens(llama)
    greedy = GreedyGrammar(llama, grammar)
    try:

        def feed(text: str) -> None:
            for token in llama.tokenize(text.encode(), add_bos=False, special=False):
                logits = np.full(llama.n_vocab(), -1.0, dtype=np.float32)
                logits[token] = 1.0
                assert greedy.pick(logits) == token

        assert greedy.fixed_text(probes, max_chars=40) == '{"killed":'
        feed('{"killed": ')
        assert greedy.fixed_text(probes, max_chars=40) == ""  # a number or null: the model's
        feed("3,")
        # A space after ':', as the model wrote one there; none after ',' yet.
        assert greedy.fixed_text(probes, max_chars=40) == '"place_name": "'
        feed(' "place_name": "Orvieto')
        assert greedy.fixed_text(probes, max_chars=40) == ""  # inside a value
    finally:
        greedy.close()


def test_the_relevance_answer_comes_with_its_odds() -> None:
    """The bundled model reports each picked token's log-probability and its 20 likeliest
    alternatives in OpenAI's shape, and the odds read from them separate a new incident from
    a match report full of violent words (the same answers ``min_incident_probability``
    judges)."""
    from openai.types.chat import ChatCompletion

    from service.extract import RelevanceResponse
    from service.kind_odds import TOP_LOGPROBS, kind_odds

    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    schema = RelevanceResponse.model_json_schema()
    incident = (
        "Two people were killed and nine injured on Sunday when a gas cylinder exploded in a "
        "crowded restaurant in the market district of Orvieto Nuova, the fire brigade said."
    )
    odds = {}
    try:
        for name, text in (("incident", incident), ("match", MATCH_REPORT)):
            messages = load_prompts().messages(
                task="relevance",
                sentences=numbered(split_sentences(text)),
                title=None,
                published="2024-02-11",
            )
            result = model.complete(
                messages,
                schema=schema,
                max_tokens=64,
                temperature=0.0,
                should_stop=lambda: False,
                top_logprobs=TOP_LOGPROBS,
            )
            choice = ChatCompletion.model_validate(result).choices[0]
            assert choice.logprobs is not None and choice.logprobs.content
            content = choice.logprobs.content
            assert "".join(t.token for t in content) == choice.message.content
            for t in content:
                assert len(t.top_logprobs) == TOP_LOGPROBS
                ranked = [a.logprob for a in t.top_logprobs]
                assert ranked == sorted(ranked, reverse=True) and ranked[0] <= 0.0
                assert t.logprob <= ranked[0]
            odds[name] = kind_odds(content)
        plain = model.complete(
            messages, schema=schema, max_tokens=64, temperature=0.0, should_stop=lambda: False
        )
        assert "logprobs" not in plain["choices"][0]
    finally:
        model.close()
    assert odds["incident"] is not None and odds["incident"].incident > 0.9, odds
    assert odds["match"] is not None and odds["match"].incident < 0.5, odds
    assert odds["match"].ordinary.value == "sports", odds


def test_tokens_are_evaluated_on_the_model_thread_alone() -> None:
    """Whichever thread or event loop asks, llama.cpp computes on the model's own thread (its
    OpenMP team belongs to the calling thread; changing threads slows every token)."""
    from service.local_model import LocalModelTransport

    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    seen: set[threading.Thread] = set()
    decode = model.llama._ctx.decode

    def recording(batch: Any) -> Any:
        seen.add(threading.current_thread())
        return decode(batch)

    model.llama._ctx.decode = recording
    messages = [{"role": "user", "content": "Say yes."}]

    def ask() -> None:
        model.complete(
            messages, schema=None, max_tokens=2, temperature=0.0, should_stop=lambda: False
        )

    async def over_the_transport() -> int:
        request = httpx.Request(
            "POST",
            "http://bundled/v1/chat/completions",
            json={"model": "m", "messages": messages, "max_tokens": 2},
        )
        return (await LocalModelTransport(model).handle_async_request(request)).status_code

    try:
        ask()
        other = threading.Thread(target=ask)
        other.start()
        other.join()
        assert asyncio.run(over_the_transport()) == 200
        model.warm_up("You answer briefly.")
        assert seen == {model.thread}
        assert model.thread is not threading.current_thread()
    finally:
        model.close()


def test_a_saved_prompt_prefix_loads_and_answers_as_the_evaluated_one(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)
    system = "You are a careful assistant for a newsroom. " * 25 + "Answer in one sentence."
    question = [
        {"role": "system", "content": system},
        {"role": "user", "content": "What colour is the sky on a clear day?"},
    ]

    def ask(model: LocalModel) -> dict[str, Any]:
        return model.complete(
            question, schema=None, max_tokens=12, temperature=0.0, should_stop=lambda: False
        )

    first = LocalModel(settings, ensure_model_file(settings))
    try:
        first.warm_up(system, state_dir=tmp_path)
        assert first.prefix_source == "evaluated"
        expected = ask(first)
    finally:
        first.close()
    (saved,) = tmp_path.glob("prompt-prefix-*.llamastate")

    second = LocalModel(settings, ensure_model_file(settings))
    try:
        second.warm_up(system, state_dir=tmp_path)
        assert second.prefix_source == "loaded"
        assert second.llama.n_tokens > 200  # the prefix is in the context, not evaluated
        answer = ask(second)
        assert answer["choices"][0]["message"] == expected["choices"][0]["message"]
        assert answer["usage"] == expected["usage"]

        second.warm_up(system + " Be brief.", state_dir=tmp_path)  # another prompt, own file
        assert second.prefix_source == "evaluated"
        assert len(list(tmp_path.glob("prompt-prefix-*.llamastate"))) == 2

        saved.write_bytes(b"not a llama.cpp state")  # damaged: evaluated again, then replaced
        second.warm_up(system, state_dir=tmp_path)
        assert second.prefix_source == "evaluated"
        assert ask(second)["choices"][0]["message"] == expected["choices"][0]["message"]
        assert saved.stat().st_size > 1_000_000

        # A third prompt: two states are kept, the one in use and the last used before it
        # (``system``); the "Be brief." one is deleted.
        states = set(tmp_path.glob("prompt-prefix-*.llamastate"))
        second.warm_up("Answer in JSON.", state_dir=tmp_path)
        assert second.prefix_source == "evaluated"
        remaining = set(tmp_path.glob("prompt-prefix-*.llamastate"))
        assert len(remaining) == 2
        assert saved in remaining
        assert not (states - {saved}) & remaining
    finally:
        second.close()


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_model_verify_prints_the_verified_file() -> None:
    result = _cli("model", "verify")
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(None, 1) for line in result.stdout.strip().splitlines())
    assert fields["size"] == "1117320768"
    assert fields["sha256"] == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert Path(fields["path"]).stat().st_size == 1117320768


def test_summarize_reads_stdin_and_prints_json_lines(tmp_path: Path) -> None:
    article = (
        "Harbour fire\n\n"
        "A fire broke out at a fish-processing warehouse in the port of Valdoria on Monday. "
        "Firefighters brought it under control after four hours. Nobody was killed, and two "
        "workers were treated for smoke inhalation, the fire service said."
    )
    env_db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "summarize", "--published", "2024-05-07"],
        cwd=ROOT,
        input=article,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "SUMMARIZER_DATABASE_URL": env_db,
            "SUMMARIZER_REQUEST_DEADLINE_S": "1800",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert body["title"] == "Harbour fire"
    _check_record(body, article.split("\n\n", 1)[1])


def test_injection_articles_through_the_whole_http_path(server: str) -> None:
    """Three articles of the injection corpus on the real model: no record outside the
    schema, no prompt leak (the whole corpus: ``python -m tests.injection.run``)."""
    import asyncio

    from tests.injection.run import load_corpus, run

    chosen = {"inj-011", "inj-016", "inj-026"}  # print the rules, extra keys, fake fence
    articles = [a for a in load_corpus() if a["id"] in chosen]
    verdicts = asyncio.run(run(server, articles, concurrency=1, timeout=1000))
    assert len(verdicts) == 3
    assert [(v.id, v.problems) for v in verdicts if v.problems] == []


# Ordinary news, invented for this test: a match report full of violent words, no incident.
MATCH_REPORT = (
    "Harbourside crushed Eastvale 4-0 on Saturday in a derby that left the visitors' defence in "
    "pieces. Striker Tom Reyes shot twice before the break, and the home side killed the game "
    "off with two more goals in the last ten minutes. Eastvale's captain limped off injured in "
    "the 60th minute; the club said he would be assessed this week. Harbourside stay top of the "
    "table, three points clear with five games left."
)


def test_ordinary_news_is_answered_by_the_relevance_call_alone(server: str) -> None:
    request = {"text": MATCH_REPORT, "title": "Harbourside thrash Eastvale in derby"}
    response = httpx.post(f"{server}/v1/summaries", json=request, timeout=1000)
    assert response.status_code == 200, response.text
    body = response.json()
    incident = body["incident"]
    assert incident["is_incident"] is False
    assert incident["casualties"] == {
        "killed": None,
        "injured": None,
        "missing": None,
        "qualifier": None,
        "groups": [],
    }
    assert incident["headline"] == request["title"]
    # One short answer: the full record was never asked for.
    assert body["usage"]["attempts"] == 1
    assert body["usage"]["completion_tokens"] < 40


def test_dictation_in_several_languages_never_reaches_the_record(server: str) -> None:
    """Six articles of the dictation corpus (six languages, every position) on the real
    model: no dictated figure or headline is stored, no evidence quotes the dictation (the
    whole corpus: ``python -m tests.dictation.run``)."""
    from tests.dictation.run import check, load_corpus

    chosen = {
        "dict-en-bus-appended-killed",
        "dict-es-flood-prepended-injured",
        "dict-fr-shooting-quote-killed",
        "dict-de-train-caption-injured",
        "dict-ru-gas-mid-headline",
        "dict-ar-market-prepended-killed",
    }
    items = [item for item in load_corpus() if item["id"] in chosen]
    assert len(items) == len(chosen)
    violations = {}
    for item in items:
        request = {k: item[k] for k in ("text", "title", "published", "language")}
        response = httpx.post(f"{server}/v1/summaries", json=request, timeout=1000)
        assert response.status_code == 200, (item["id"], response.text)
        body = response.json()
        _check_record(body, item["text"])
        violations[item["id"]] = check(item, body)
        assert any("addressed to a machine" in w for w in body["warnings"]), item["id"]
    assert {k: v for k, v in violations.items() if v} == {}


@pytest.fixture(scope="module")
def long_article_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The record call reads 1,500 tokens of the article here, not the ~4,700 the context
    # holds by default: the same selection, in a third of the CPU time (on a busy 2-core
    # machine the default took over 30 minutes).
    yield from _serve(tmp_path_factory, max_article_tokens="1500")


def test_a_15000_word_article_is_read_from_its_lead_not_refused(long_article_server: str) -> None:
    """Longer than the model's context: the lead (with the toll) and the likeliest passages
    are read; the background tolls further down do not replace the lead's."""
    from tests.long_article import LEAD, long_article

    text = long_article(15_000)
    request = {"text": text, "published": "2025-10-14", "title": "Landslide buries Kestrava"}
    started = time.monotonic()
    response = httpx.post(f"{long_article_server}/v1/summaries", json=request, timeout=1000)
    assert response.status_code == 200, response.text
    body = response.json()
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    body["seconds"] = round(time.monotonic() - started, 1)
    (artifacts / "long-article-response.json").write_text(json.dumps(body, indent=2))
    incident = _check_record(body, text)
    assert incident.is_incident
    assert incident.casualties.killed == 14
    assert incident.casualties.injured == 37
    killed = next(e for e in incident.evidence if e.field == "casualties.killed")
    assert killed.quote in LEAD
    assert any(w.startswith("long article: read ") for w in body["warnings"]), body["warnings"]
