"""How sure the relevance call is: its answer's log-probabilities summed by kind, the pipeline
step that sets an unsure incident aside, and the service asking for them and skipping the
record call, with the model faked at the HTTP boundary (OpenAI's client parses the
log-probabilities as it would a server's)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from schemas.incident import ArticleKind, IncidentDraft, RelevanceAnswer
from service import pipeline
from service.article import read_article
from service.evaluate_relevance import GateAnswer, relevance_text
from service.kind_odds import TOP_LOGPROBS, KindOdds, kind_odds
from service.pipeline import Context, record_from_answers
from service.prompts import load_prompts
from tests.conftest import running_app
from tests.drafts import draft_payload
from tests.fake_llm import ScriptedLLM, completion, is_relevance_call, numbered_sentences


def tokens(pieces: list[str], alternatives: dict[int, dict[str, float]]) -> list[dict[str, Any]]:
    """OpenAI's ``logprobs.content`` for an answer written as ``pieces``; at the listed
    positions, the alternatives and their probabilities (the picked piece among them)."""
    content = []
    for i, piece in enumerate(pieces):
        top = alternatives.get(i, {piece: 1.0})
        content.append(
            {
                "token": piece,
                "bytes": list(piece.encode()),
                "logprob": math.log(top.get(piece, 1e-9)),
                "top_logprobs": [
                    {"token": t, "bytes": list(t.encode()), "logprob": math.log(p)}
                    for t, p in top.items()
                ],
            }
        )
    return content


def parsed(content: list[dict[str, Any]]) -> list[Any]:
    return [
        SimpleNamespace(
            token=c["token"],
            logprob=c["logprob"],
            top_logprobs=[SimpleNamespace(**t) for t in c["top_logprobs"]],
        )
        for c in content
    ]


ANSWER = ['{"', "kind", '":', ' "', "sh", "ooting", '",', ' "', "sentence", '":', " ", "1", "}"]


def test_incident_kinds_are_summed_against_ordinary_ones():
    # "sh" (shooting) and "fire" are incident kinds; "past" and "sports" ordinary ones;
    # "{" starts no kind and is not counted.
    at_kind = {"sh": 0.40, "fire": 0.05, "past": 0.30, "sports": 0.05, "{": 0.20}
    odds = kind_odds(parsed(tokens(ANSWER, {4: at_kind})))
    assert odds is not None
    assert odds.incident == pytest.approx(0.45 / 0.80)
    assert odds.ordinary == ArticleKind.past_event


def test_a_token_holding_the_opening_quote_and_the_kind_is_read():
    pieces = ['{"', "kind", '":', ' "sh', "ooting", '"}']
    at_kind = {' "sh': 0.9, ' "past': 0.1, ' "': 0.5}  # a bare quote starts no kind yet
    odds = kind_odds(parsed(tokens(pieces, {3: at_kind})))
    assert odds is not None
    assert odds.incident == pytest.approx(0.9)


def test_an_alternative_that_could_start_either_group_is_left_out():
    # "s" starts shooting and stabbing (incidents) but also sports and study (ordinary).
    at_kind = {"sh": 0.3, "s": 0.5, "sports": 0.2}
    odds = kind_odds(parsed(tokens(ANSWER, {4: at_kind})))
    assert odds is not None
    assert odds.incident == pytest.approx(0.3 / 0.5)


def test_no_odds_without_log_probabilities_or_a_kind():
    assert kind_odds(None) is None
    assert kind_odds([]) is None
    assert kind_odds(parsed(tokens(['{"', "sentence", '":', " 1}"], {}))) is None


def test_the_picked_token_counts_when_the_server_lists_fewer_alternatives():
    content = tokens(ANSWER, {4: {"past": 0.25}})
    content[4]["logprob"] = math.log(0.75)  # "sh", picked, missing from its own list
    odds = kind_odds(parsed(content))
    assert odds is not None and odds.incident == pytest.approx(0.75)


def test_odds_round_trip_through_json():
    odds = KindOdds(incident=0.61, ordinary=ArticleKind.study_or_statistics)
    assert KindOdds.from_json(json.loads(json.dumps(odds.as_json()))) == odds
    assert KindOdds.from_json(None) is None


ARTICLES = {
    # The same kind of sentence in three languages: a look back at an old fire.
    "en": "Ten years ago today a fire at the Lusima market killed 12 people. "
    "Traders gathered on Sunday to remember them.",
    "es": "Hace diez años un incendio en el mercado de Lusima mató a 12 personas. "
    "Los comerciantes se reunieron el domingo para recordarlas.",
    "de": "Vor zehn Jahren starben bei einem Brand auf dem Markt von Lusima 12 Menschen. "
    "Die Händler kamen am Sonntag zusammen, um an sie zu erinnern.",
}


def run_pipeline(lang: str, odds: KindOdds | None, minimum: float) -> tuple[Any, list[str]]:
    prompts = load_prompts()
    context = Context(
        article=read_article(ARTICLES[lang], title=None, published="2026-03-14", language=lang),
        prompt=prompts.system,
        example_names=prompts.example_names,
        min_incident_probability=minimum,
    )
    relevance = RelevanceAnswer.model_validate({"kind": "fire", "sentence": 1})
    draft = draft_payload({"category": "fire", "killed": 12, "killed_sentence": 1})
    record = record_from_answers(relevance, IncidentDraft.model_validate(draft), odds)
    incident, outcomes = pipeline.run(record, context)
    return incident, pipeline.warnings_of(outcomes)


@pytest.mark.parametrize("lang", sorted(ARTICLES))
def test_an_unsure_incident_is_answered_as_its_likeliest_ordinary_kind(lang):
    odds = KindOdds(incident=0.55, ordinary=ArticleKind.past_event)
    incident, warnings = run_pipeline(lang, odds, 0.7)
    assert incident.is_incident is False
    assert incident.casualties.killed is None and incident.evidence == []
    assert incident.headline == "Not an incident report: a piece about an earlier event"
    assert any("probability 0.55, below 0.70" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("odds", "minimum"),
    [
        (KindOdds(incident=0.85, ordinary=ArticleKind.past_event), 0.7),  # sure enough
        (None, 0.7),  # a server without log-probabilities: the kind alone decides
        (KindOdds(incident=0.55, ordinary=ArticleKind.past_event), 0.0),  # switched off
    ],
)
def test_a_sure_incident_or_one_without_odds_is_kept(odds, minimum):
    incident, warnings = run_pipeline("en", odds, minimum)
    assert incident.is_incident is True
    assert incident.casualties.killed == 12
    assert not any("probability" in w for w in warnings)


def scripted(p_incident: float, calls: list[dict[str, Any]]) -> Any:
    """A model server whose relevance answer names ``fire`` with ``p_incident`` against
    ``past_event``, with its log-probabilities, and whose record answer is a fire's."""

    def answer(body: dict[str, Any]) -> httpx.Response:
        calls.append(body)
        if is_relevance_call(body):
            pieces = ['{"', "kind", '":', ' "', "fire", '",', ' "sentence', '":', " 1", "}"]
            at_kind = {"fire": p_incident, "past": 1 - p_incident}
            reply = completion("".join(pieces))
            if body.get("logprobs"):  # a server sends them only when asked
                reply["choices"][0]["logprobs"] = {"content": tokens(pieces, {4: at_kind})}
            return httpx.Response(200, json=reply)
        first = numbered_sentences(body)[0][0]
        draft = draft_payload(
            {"category": "fire", "killed": 12, "killed_sentence": first},
            headline="12 killed in market fire in Lusima",
            summary="A fire at the Lusima market killed 12 people.",
        )
        return httpx.Response(200, json=completion(json.dumps(draft)))

    return answer


@pytest.mark.parametrize(("p_incident", "record_calls"), [(0.55, 0), (0.9, 1)])
async def test_the_service_asks_for_odds_and_skips_the_record_when_unsure(
    make_settings, p_incident, record_calls
):
    calls: list[dict[str, Any]] = []
    llm = ScriptedLLM(scripted(p_incident, calls))
    settings = make_settings(min_incident_probability=0.7)
    async with running_app(settings, llm) as client:
        response = await client.post("/v1/summaries", json={"text": ARTICLES["en"] * 3})
    assert response.status_code == 200, response.text
    body = response.json()
    relevance = [c for c in calls if is_relevance_call(c)]
    assert len(relevance) == 1
    assert relevance[0]["logprobs"] is True
    assert relevance[0]["top_logprobs"] == TOP_LOGPROBS
    assert [c for c in calls if not is_relevance_call(c)] == calls[1:]
    assert len(calls) - 1 == record_calls
    assert all("logprobs" not in c for c in calls[1:])  # the record call needs none
    assert body["incident"]["is_incident"] is (record_calls == 1)
    if record_calls == 0:
        assert any("probability 0.55" in w for w in body["warnings"]), body["warnings"]


async def test_no_log_probabilities_are_asked_when_switched_off(make_settings):
    calls: list[dict[str, Any]] = []
    llm = ScriptedLLM(scripted(0.55, calls))
    async with running_app(make_settings(min_incident_probability=0.0), llm) as client:
        response = await client.post("/v1/summaries", json={"text": ARTICLES["en"] * 3})
    assert response.status_code == 200, response.text
    assert "logprobs" not in calls[0]
    assert response.json()["incident"]["is_incident"] is True


async def test_a_server_refusing_log_probabilities_is_asked_without_them(make_settings):
    calls: list[dict[str, Any]] = []
    answer = scripted(0.55, [])

    def refusing(body: dict[str, Any]) -> httpx.Response:
        calls.append(body)
        if "logprobs" in body:
            return httpx.Response(400, json={"error": {"message": "logprobs is not supported"}})
        return answer(body)

    llm = ScriptedLLM(refusing)
    async with running_app(make_settings(min_incident_probability=0.7), llm) as client:
        first = await client.post("/v1/summaries", json={"text": ARTICLES["en"] * 3})
        second = await client.post("/v1/summaries", json={"text": ARTICLES["es"] * 3})
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    # Refused once, asked again without them, never asked for them again; with no odds the
    # relevance answer's kind alone decides (an incident: the record call follows).
    assert ["logprobs" in c for c in calls] == [True, False, False, False, False]
    assert first.json()["incident"]["is_incident"] is True
    assert second.json()["incident"]["is_incident"] is True


def test_the_gate_report_shows_the_odds_and_the_kind_alone_side_by_side():
    answers = [
        GateAnswer("n1", "s.jsonl", False, "fire", 1.0, probability=0.55, unsure=True),
        GateAnswer("d1", "s.jsonl", True, "shooting", 1.0, probability=0.93),
        GateAnswer("d2", "s.jsonl", True, "fire", 1.0, probability=0.6, unsure=True),
    ]
    assert [(a.right, a.right_on_kind) for a in answers] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    text = relevance_text(answers)
    assert "| s.jsonl | 1/2 | 1/1 | 2/2, 0/1 | 0 | 1.0 |" in text
    assert "- d2 (s.jsonl): incident answered fire (incident probability 0.600, below" in text
    assert "- n1 (s.jsonl): ordinary news answered fire (incident probability 0.550" in text
    assert "Lowest odds of an incident kept: 0.930" in text


async def test_a_changed_minimum_is_a_new_cache_key(make_settings):
    """A record made under one minimum is not served under another: the setting changes what
    the record says for the same article and answers."""
    calls: list[dict[str, Any]] = []
    llm = ScriptedLLM(scripted(0.75, calls))
    request = {"text": ARTICLES["en"] * 3}
    async with running_app(make_settings(min_incident_probability=0.7), llm) as client:
        first = await client.post("/v1/summaries", json=request)
        again = await client.post("/v1/summaries", json=request)
    async with running_app(make_settings(min_incident_probability=0.8), llm) as client:
        stricter = await client.post("/v1/summaries", json=request)
    assert again.headers["X-Cache"] == "hit"
    assert stricter.headers["X-Cache"] == "miss"
    assert first.json()["incident"]["is_incident"] is True
    assert stricter.json()["incident"]["is_incident"] is False
