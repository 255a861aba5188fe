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


# News of a fire in the same three languages, its day told without a year.
NEWS = {
    "en": (
        "A fire at the Lusima market killed 12 people on Tuesday. Firefighters worked "
        "through the night.",
        "on Tuesday",
    ),
    "es": (
        "Un incendio en el mercado de Lusima mató a 12 personas el martes. Los bomberos "
        "trabajaron toda la noche.",
        "el martes",
    ),
    "de": (
        "Ein Brand auf dem Markt von Lusima hat am Dienstag 12 Menschen getötet. Die "
        "Feuerwehr arbeitete die ganze Nacht.",
        "am Dienstag",
    ),
}

# The same fire, told without a toll.
UNCOUNTED = {
    "en": "A fire broke out at the Lusima market on Tuesday. Firefighters worked through the "
    "night.",
    "es": "Un incendio se declaró el martes en el mercado de Lusima. Los bomberos trabajaron toda "
    "la noche.",
    "de": "Auf dem Markt von Lusima brach am Dienstag ein Brand aus. Die Feuerwehr arbeitete die "
    "ganze Nacht.",
}


def run_pipeline(
    lang: str,
    odds: KindOdds | None,
    minimum: float,
    *,
    text: str | None = None,
    named: str = "fire",
    published: str | None = "2026-03-14",
    date: dict[str, Any] | None = None,
    killed: int | None = 12,
) -> tuple[Any, list[str]]:
    prompts = load_prompts()
    article = read_article(text or ARTICLES[lang], title=None, published=published, language=lang)
    context = Context(
        article=article,
        prompt=prompts.system,
        example_names=prompts.example_names,
        min_incident_probability=minimum,
    )
    sentence = 1 if named == "fire" else None
    relevance = RelevanceAnswer.model_validate({"kind": named, "sentence": sentence})
    scenario: dict[str, Any] = {"category": "fire", "killed": killed, "killed_sentence": 1}
    if date is not None:
        scenario["date"] = date
    draft = draft_payload(scenario)
    record = record_from_answers(relevance, IncidentDraft.model_validate(draft), odds)
    incident, outcomes = pipeline.run(record, context)
    return incident, pipeline.warnings_of(outcomes)


def news(lang: str, **changes: Any) -> tuple[Any, list[str]]:
    """The news of the fire in ``lang``, its record dated in the article's own words."""
    text, day = NEWS[lang]
    date = {"text": day, "iso": None, "precision": None}
    return run_pipeline(lang, **{"text": text, "date": date, **changes})


@pytest.mark.parametrize("lang", sorted(NEWS))
@pytest.mark.parametrize("named", ["fire", "past_event"])
def test_a_doubted_answer_whose_record_counts_a_toll_on_a_recent_day_is_an_incident(lang, named):
    # Named either way with odds in the band of doubt: the record decides.
    odds = KindOdds(incident=0.45, ordinary=ArticleKind.past_event)
    incident, warnings = news(lang, odds=odds, minimum=0.7, named=named)
    assert incident.is_incident is True
    assert incident.category == "fire" and incident.casualties.killed == 12
    assert incident.date.text == NEWS[lang][1]
    assert any(
        w.startswith("reported as an incident although") and "probability 0.45" in w
        for w in warnings
    ), warnings


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        # Below the band of doubt: the incident kind alone is not enough.
        ({"odds": KindOdds(incident=0.25, ordinary=ArticleKind.past_event)}, "below the band"),
        # No count of dead or injured that a sentence states.
        ({"killed": None, "text": "uncounted"}, "no toll"),
        # The day is more than a week before publication.
        (
            {
                "published": "2026-03-14",
                "date": {"text": "on 3 March", "iso": "2026-03-03", "precision": "day"},
            },
            "eleven days before publication",
        ),
        # No publication date, and the record dates the event by its year.
        (
            {
                "published": None,
                "date": {"text": "in March 2016", "iso": "2016-03-01", "precision": "month"},
            },
            "dated by its year",
        ),
        # No publication date and no date at all.
        ({"published": None, "date": {"text": None, "iso": None, "precision": None}}, "undated"),
    ],
)
@pytest.mark.parametrize("lang", sorted(NEWS))
def test_a_doubted_answer_without_a_recent_toll_is_ordinary_news(lang, changes, why):
    odds = KindOdds(incident=0.45, ordinary=ArticleKind.past_event)
    if changes.get("text") == "uncounted":
        changes = {**changes, "text": UNCOUNTED[lang]}
    incident, warnings = news(lang, **{"odds": odds, "minimum": 0.7, **changes})
    assert incident.is_incident is False, why
    assert incident.casualties.killed is None and incident.category is None
    assert any(w.startswith("not reported as an incident (fire)") for w in warnings), warnings


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


def scripted(p_incident: float, calls: list[dict[str, Any]], named: str = "fire") -> Any:
    """A model server whose relevance answer names ``named`` (``fire`` with ``p_incident``
    against ``past_event``), with its log-probabilities, and whose record answer is a fire's,
    dated by the article's weekday when it has one."""

    def answer(body: dict[str, Any]) -> httpx.Response:
        calls.append(body)
        if is_relevance_call(body):
            sentence = ' "sentence": 1}' if named == "fire" else ' "sentence": null}'
            pieces = ['{"', "kind", '":', ' "', named, '",', sentence]
            at_kind = {"fire": p_incident, "past": 1 - p_incident}
            reply = completion("".join(pieces))
            if body.get("logprobs"):  # a server sends them only when asked
                reply["choices"][0]["logprobs"] = {"content": tokens(pieces, {4: at_kind})}
            return httpx.Response(200, json=reply)
        sentences = numbered_sentences(body)
        first = sentences[0][0]
        on_tuesday = "Tuesday" in " ".join(text for _, text in sentences)
        draft = draft_payload(
            {
                "category": "fire",
                "killed": 12,
                "killed_sentence": first,
                "date": {
                    "text": "on Tuesday" if on_tuesday else None,
                    "iso": None,
                    "precision": None,
                },
            },
            headline="12 killed in market fire in Lusima",
            summary="A fire at the Lusima market killed 12 people.",
        )
        return httpx.Response(200, json=completion(json.dumps(draft)))

    return answer


@pytest.mark.parametrize(
    ("p_incident", "named", "text", "record_calls", "is_incident"),
    [
        (0.2, "fire", ARTICLES["en"], 0, False),  # below the band of doubt: no record call
        (0.55, "fire", ARTICLES["en"], 1, False),  # in doubt; the record dates nothing
        (0.55, "fire", NEWS["en"][0], 1, True),  # in doubt; a toll on Tuesday
        (0.55, "past_event", NEWS["en"][0], 1, True),  # ordinary named in doubt, the same
        (0.2, "past_event", NEWS["en"][0], 0, False),  # ordinary named with conviction
        (0.9, "fire", ARTICLES["en"], 1, True),  # sure: the record stands
    ],
)
async def test_the_service_asks_for_odds_and_for_the_record_as_they_say(
    make_settings, p_incident, named, text, record_calls, is_incident
):
    calls: list[dict[str, Any]] = []
    llm = ScriptedLLM(scripted(p_incident, calls, named))
    settings = make_settings(min_incident_probability=0.7)
    async with running_app(settings, llm) as client:
        response = await client.post("/v1/summaries", json={"text": text * 3})
    assert response.status_code == 200, response.text
    body = response.json()
    relevance = [c for c in calls if is_relevance_call(c)]
    assert len(relevance) == 1
    assert relevance[0]["logprobs"] is True
    assert relevance[0]["top_logprobs"] == TOP_LOGPROBS
    assert [c for c in calls if not is_relevance_call(c)] == calls[1:]
    assert len(calls) - 1 == record_calls
    assert all("logprobs" not in c for c in calls[1:])  # the record call needs none
    assert body["incident"]["is_incident"] is is_incident
    if p_incident < 0.7 and named == "fire":
        assert any(f"probability {p_incident:.2f}" in w for w in body["warnings"]), body


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
