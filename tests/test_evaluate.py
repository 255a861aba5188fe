"""The evaluation harness against the real app served over HTTP, with the model scripted.

The three articles below are invented for this file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service import cli
from service.app import create_app
from service.evaluate import (
    EvaluationError,
    evaluate,
    load_dataset,
    percentile,
    request_body,
    run_ablation,
    serve_in_thread,
)
from service.scoring import Failure
from tests.fake_llm import ScriptedLLM, draft_from_record

BOAT_TEXT = (
    "Four people died and 11 were injured when an overloaded passenger boat capsized near the "
    "Mwisenge landing site outside Musoma on Tuesday, regional police said.\n\n"
    "Rescuers recovered three bodies on Tuesday night. A fourth victim, a fisherman, died in "
    "hospital on Wednesday morning, Mara regional police commander Salum Nyaki said.\n\n"
    "The boat was carrying 38 people and sacks of maize across the bay. Survivors said the "
    "engine failed in strong winds. The transport ministry ordered an inspection of all "
    "passenger boats on the lake."
)
ROWING_TEXT = (
    "The Harbourside Rowing Club won the regional eights title on Saturday, beating holders "
    "Eastvale by two lengths. Coach Dana Okafor said the win had killed off any doubts about "
    "the crew's form after a bruising spring in which two rowers were injured in training.\n\n"
    "The club will now race at the national championships in July."
)
FIRE_TEXT = (
    "Two night watchmen were killed when a fire swept through a timber warehouse in the "
    "Industrial Area of Kisumu early on Friday, the county fire chief said. Firefighters "
    "needed five hours to bring the blaze under control."
)

GOLD: list[dict[str, Any]] = [
    {
        "id": "a1",
        "language": "en",
        "published": "2024-05-09",
        "text": BOAT_TEXT,
        "is_incident": True,
        "category": "transport_accident",
        "category_alt": [],
        "country": "TZ",
        "country_alt": [],
        "location": "Mwisenge landing site, Musoma",
        "event_date": "2024-05-07",
        "event_date_alt": [],
        "killed": 4,
        "killed_alt": [3],
        "injured": 11,
        "injured_alt": [],
        "perpetrator": None,
    },
    {
        "id": "a2",
        "language": "en",
        "published": None,
        "text": ROWING_TEXT,
        "is_incident": False,
        "category": None,
        "country": None,
        "location": None,
        "event_date": None,
        "killed": None,
        "injured": None,
        "perpetrator": None,
    },
    {
        "id": "a3",
        "language": "en",
        "published": "2024-03-02",
        "text": FIRE_TEXT,
        "is_incident": True,
        "category": "fire",
        "category_alt": [],
        "country": "KE",
        "country_alt": [],
        "location": "Industrial Area, Kisumu",
        "event_date": None,
        "killed": 2,
        "killed_alt": [],
        "injured": None,
        "perpetrator": None,
    },
]

# The model counts only the bodies recovered on the first night: 3 killed, where 4 is right.
BOAT_RECORD: dict[str, Any] = {
    "is_incident": True,
    "headline": "3 killed, 11 injured as boat capsizes near Musoma, Tanzania",
    "summary": "An overloaded passenger boat capsized near the Mwisenge landing site outside "
    "Musoma on Tuesday. Police said three people died and 11 were injured.",
    "category": "transport_accident",
    "date": {"text": "on Tuesday", "iso": "2024-05-07", "precision": "day"},
    "location": {
        "place": "Mwisenge landing site",
        "region": "Musoma",
        "country": "Tanzania",
        "country_code": "TZ",
    },
    "casualties": {"killed": 3, "injured": 11, "missing": None, "qualifier": "exact", "groups": []},
    "perpetrators": [],
    "weapons": ["boat capsizing"],
    "responses": ["Transport ministry ordered an inspection of passenger boats"],
    "evidence": [
        {"field": "casualties.killed", "quote": "Rescuers recovered three bodies on Tuesday"},
        {
            "field": "casualties.injured",
            "quote": "Four people died and 11 were injured when an overloaded passenger boat "
            "capsized near the Mwisenge landing site outside Musoma on Tuesday, regional police "
            "said.",
        },
    ],
}
ROWING_RECORD: dict[str, Any] = {
    "is_incident": False,
    "headline": "Harbourside Rowing Club wins regional eights title",
    "summary": "The Harbourside Rowing Club beat holders Eastvale to win the regional eights "
    "title and will race at the national championships.",
    "category": None,
    "date": {"text": None, "iso": None, "precision": None},
    "location": {"place": None, "region": None, "country": None, "country_code": None},
    "casualties": {
        "killed": None,
        "injured": None,
        "missing": None,
        "qualifier": None,
        "groups": [],
    },
    "perpetrators": [],
    "weapons": [],
    "responses": [],
    "evidence": [],
}


def scripted_model(body: dict[str, Any]) -> dict[str, Any] | str:
    """Answer by article: the boat wrongly, the rowing story right, the fire with prose."""
    prompt = " ".join(str(m.get("content")) for m in body["messages"])
    if "Mwisenge" in prompt:
        return draft_from_record(BOAT_RECORD)
    if "Rowing Club" in prompt:
        return draft_from_record(ROWING_RECORD)
    return "Sorry, I cannot summarize this article."


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in GOLD), encoding="utf-8")
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_in_process_service_predictions_and_scores(make_settings, dataset, tmp_path):
    llm = ScriptedLLM(scripted_model)
    out = tmp_path / "predictions.jsonl"
    result = evaluate(dataset, out=out, settings=make_settings(), llm_transport=llm.transport())

    lines = read_lines(out)
    assert [line["id"] for line in lines] == ["a1", "a2", "a3"]
    assert all(line["seconds"] >= 0 for line in lines)
    boat, rowing, fire = lines
    assert boat["response"]["incident"]["casualties"]["killed"] == 3
    assert boat["response"]["incident"]["date"]["iso"] == "2024-05-07"
    assert boat["response"]["cached"] is False
    assert rowing["response"]["incident"]["is_incident"] is False
    assert "response" not in fire
    assert fire["status"] == 502
    assert fire["error"]["code"] == "model_invalid_output"
    assert fire["error"]["request_id"] == "eval-a3"

    fields = result.report.fields
    assert (fields["killed"].correct, fields["killed"].scored) == (0, 2)
    assert (fields["injured"].correct, fields["injured"].scored) == (1, 1)
    assert (fields["is_incident"].correct, fields["is_incident"].scored) == (2, 3)
    assert (fields["event_date"].correct, fields["event_date"].scored) == (1, 1)
    assert (result.report.overall.correct, result.report.overall.scored) == (8, 15)
    # The earlier toll of 3 is a labelled alternative, so the lenient score accepts it.
    lenient = result.report.lenient["killed"]
    assert (lenient.correct, lenient.scored) == (1, 2)
    assert Failure("a1", "killed", 4, 3) in result.report.failures
    assert {f.field for f in result.report.failures if f.id == "a3"} == {
        "is_incident",
        "category",
        "country",
        "location",
        "killed",
        "perpetrator",
    }
    assert not [f for f in result.report.failures if f.id == "a2"]

    timing = result.timing
    assert (timing["articles"], timing["responses"], timing["errors"]) == (3, 2, 1)
    # The boat: the relevance answer and the record; the rowing story: the relevance answer.
    assert timing["prompt_tokens"] == {"mean": 150, "total": 300}
    assert timing["completion_tokens"] == {"mean": 75, "total": 150}
    assert timing["seconds"]["p50"] is not None and timing["seconds"]["p95"] is not None

    text = result.to_text()
    assert "| killed | 0 | 2 | 0.000 |" in text
    assert "a1\n  killed: expected 4, got 3" in text
    assert "a3\n  is_incident, category, country, location, killed, perpetrator: <error: " in text
    assert "seconds per article: p50" in text
    assert "tokens per answered article: prompt 150, completion 75" in text


def test_every_run_bypasses_the_cache(make_settings, dataset, tmp_path):
    llm = ScriptedLLM(scripted_model)
    app = create_app(make_settings(api_keys="k-eval"), llm_transport=llm.transport())
    with serve_in_thread(app, ready_timeout=10) as base_url:
        runs = [
            evaluate(dataset, out=tmp_path / out, limit=1, base_url=base_url, api_key="k-eval")
            for out in ("first.jsonl", "second.jsonl")
        ]
    assert llm.record_calls == 2
    for run in runs:
        (prediction,) = run.predictions
        assert prediction["response"]["cached"] is False
    assert "2024-05-09" in llm.requests[0]["messages"][-1]["content"]


def test_cli_against_a_running_server(make_settings, dataset, tmp_path, monkeypatch):
    # The CLI sets up JSON logging on the root logger; keep pytest's handlers.
    monkeypatch.setattr("service.app.configure_logging", lambda level: None)
    llm = ScriptedLLM(scripted_model)
    out, report = tmp_path / "p.jsonl", tmp_path / "report.json"
    app = create_app(make_settings(), llm_transport=llm.transport())
    with serve_in_thread(app, ready_timeout=10) as base_url:
        args = ["eval", str(dataset), "--base-url", base_url, "--out", str(out)]
        result = CliRunner().invoke(cli.app, [*args, "--limit", "2", "--json-report", str(report)])
    assert result.exit_code == 0, result.output
    assert "| killed | 0 | 1 | 0.000 |" in result.output
    assert [line["id"] for line in read_lines(out)] == ["a1", "a2"]
    written = json.loads(report.read_text())
    assert written["fields"]["killed"] == {"correct": 0, "scored": 1, "accuracy": 0.0}
    assert written["timing"]["articles"] == 2


def test_a_backend_that_fails_to_start_stops_the_run_at_once(make_settings, dataset, tmp_path):
    settings = make_settings(llm_base_url=None, local_model_path=tmp_path / "missing.gguf")
    with pytest.raises(EvaluationError, match="failed to start"):
        evaluate(dataset, out=tmp_path / "p.jsonl", settings=settings)


def test_request_body_omits_nulls_and_labels():
    assert request_body(GOLD[1]) == {"text": ROWING_TEXT, "language": "en"}
    assert request_body(GOLD[0]) == {"text": BOAT_TEXT, "published": "2024-05-09", "language": "en"}


def test_load_dataset_limit_and_bad_lines(dataset, tmp_path):
    assert [item["id"] for item in load_dataset(dataset, limit=2)] == ["a1", "a2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "t", "is_incident": false}\n{not json\n')
    with pytest.raises(EvaluationError, match=r"bad\.jsonl:2"):
        load_dataset(bad)


def test_percentile_interpolates():
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.95) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(1, 21)], 0.95) == pytest.approx(19.05)


def test_an_ablation_reuses_the_answers_on_file_and_asks_again_for_the_rest(
    make_settings, dataset, tmp_path
):
    items = load_dataset(dataset, limit=2)
    answers = tmp_path / "answers.jsonl"
    first_llm = ScriptedLLM(scripted_model)
    first = run_ablation(items, make_settings(), transport=first_llm.transport(), answers=answers)
    assert first_llm.record_calls == 1  # the boat; the rowing story ends at the relevance call
    assert len(answers.read_text(encoding="utf-8").splitlines()) == 2

    second_llm = ScriptedLLM(scripted_model)
    second = run_ablation(
        load_dataset(dataset), make_settings(), transport=second_llm.transport(), answers=answers
    )
    # Only the article not on file (the fire) reached the model; it answers with prose.
    assert second_llm.record_calls == 0
    assert all("Kisumu" in " ".join(str(m) for m in r["messages"]) for r in second_llm.requests)
    for name, predictions in first.variants.items():
        assert [p["response"]["incident"] for p in predictions] == [
            p["response"]["incident"] for p in second.variants[name][:2]
        ]
    assert second.variants["service"][2]["error"]["code"] == "model_invalid_output"


def test_an_answer_on_file_without_the_record_its_doubt_calls_for_gets_it(
    make_settings, dataset, tmp_path
):
    """A relevance answer on file from before doubt called for a record (an answer in the
    band of ``min_incident_probability``, with no record) has its record asked once, then
    kept beside it."""
    items = load_dataset(dataset, limit=1)  # the boat
    answers = tmp_path / "answers.jsonl"
    run_ablation(
        items, make_settings(), transport=ScriptedLLM(scripted_model).transport(), answers=answers
    )
    (row,) = read_lines(answers)
    row["relevance"]["odds"] = {"incident": 0.5, "ordinary": "past_event"}
    row["record"] = None
    answers.write_text(json.dumps(row) + "\n", encoding="utf-8")

    asked = ScriptedLLM(scripted_model)
    result = run_ablation(items, make_settings(), transport=asked.transport(), answers=answers)
    assert asked.record_calls == 1 and len(asked.relevance_requests) == 0
    incident = result.variants["service"][0]["response"]["incident"]
    warnings = result.variants["service"][0]["response"]["warnings"]
    assert incident["is_incident"] is True and incident["casualties"]["killed"] == 3
    assert any(w.startswith("reported as an incident although") for w in warnings), warnings
    assert read_lines(answers)[-1]["record"] is not None

    again = ScriptedLLM(scripted_model)
    run_ablation(items, make_settings(), transport=again.transport(), answers=answers)
    assert again.requests == []


def test_the_same_articles_as_pages_score_as_their_text(make_settings, dataset, tmp_path):
    from service.evaluate import as_pages

    text_llm, page_llm = ScriptedLLM(scripted_model), ScriptedLLM(scripted_model)
    as_text = evaluate(
        dataset,
        out=tmp_path / "t.jsonl",
        settings=make_settings(),
        llm_transport=text_llm.transport(),
    )
    as_html = evaluate(
        dataset,
        out=tmp_path / "h.jsonl",
        settings=make_settings(data_dir=tmp_path / "pages"),
        llm_transport=page_llm.transport(),
        transform=as_pages,
    )
    assert (as_html.report.overall.correct, as_html.report.overall.scored) == (
        as_text.report.overall.correct,
        as_text.report.overall.scored,
    )
    prompts = " ".join(json.dumps(r["messages"]) for r in page_llm.requests)
    assert "Mwisenge" in prompts and "cookies" not in prompts and "Comments" not in prompts


def test_long_versions_are_read_from_their_own_part(make_settings, dataset, tmp_path):
    from service.evaluate import padded

    llm = ScriptedLLM(scripted_model)
    out = tmp_path / "long.jsonl"
    result = evaluate(
        dataset,
        out=out,
        settings=make_settings(max_article_tokens=150),
        llm_transport=llm.transport(),
        transform=lambda items: padded(items, 300),
    )
    boat = read_lines(out)[0]["response"]
    assert any(w.startswith("long article: read ") for w in boat["warnings"])
    assert boat["incident"]["casualties"]["killed"] == 3  # the boat's own record
    assert result.report.overall.scored == 15


def test_the_relevance_gate_alone_is_scored_per_file(make_settings, dataset):
    from service.evaluate_relevance import predict_relevance, relevance_text

    llm = ScriptedLLM(scripted_model)
    gold = load_dataset(dataset)
    files = {"first.jsonl": gold[:2], "second.jsonl": gold[2:]}
    answers = asyncio.run(predict_relevance(files, make_settings(), transport=llm.transport()))

    assert llm.record_calls == 0  # only the short first call was made
    assert [(a.id, a.file, a.kind, a.right) for a in answers] == [
        ("a1", "first.jsonl", "transport_accident", True),
        ("a2", "first.jsonl", "culture_or_other", True),
        ("a3", "second.jsonl", None, False),
    ]
    assert answers[2].error == "model_invalid_output"
    text = relevance_text(answers)
    # With the odds, then on the kind alone (the scripted server sends no log-probabilities).
    assert "| first.jsonl | 1/1 | 1/1 | 1/1, 1/1 | 0 |" in text
    assert "| second.jsonl | 0/1 | 0/0 | 0/1, 0/0 | 1 |" in text
    assert "| all | 1/2 | 1/1 | 1/2, 1/1 | 1 |" in text
    assert "- a3 (second.jsonl): incident answered error model_invalid_output" in text


def test_a_recorded_answer_is_kept_for_what_the_model_read_title_and_date_included():
    from service.recorded_answers import answer_key

    base = answer_key("a1", BOAT_TEXT, "m", "p1", title=None, published="2024-05-09")
    assert base == answer_key("a1", BOAT_TEXT, "m", "p1", title=None, published="2024-05-09")
    # The same text sent as a page comes with the page's title and date: the prompt differs.
    assert base != answer_key(
        "a1", BOAT_TEXT, "m", "p1", title="Boat capsizes", published="2024-05-09"
    )
    assert base != answer_key("a1", BOAT_TEXT, "m", "p1", title=None, published="2024-05-08")
    assert base != answer_key("a1", BOAT_TEXT, "m", "p2", title=None, published="2024-05-09")


def _report(n: int, place: str) -> str:
    return " ".join(
        f"{n + k} people were killed in a blast in {place} on Monday, officials said."
        for k in range(3)
    )


def test_the_selection_check_counts_what_a_long_article_reads_of_its_own_and_of_the_padding():
    from service.evaluate_long import selection_check

    calm = "The council met again to talk about the new bus timetable for the valley."
    items = [
        {"id": "a", "is_incident": True, "language": "en", "text": _report(3, "Farrow")},
        {"id": "b", "is_incident": True, "language": "en", "text": _report(7, "Dunmore")},
        {"id": "c", "is_incident": False, "language": "en", "text": " ".join([calm] * 5)},
    ]
    lead_only, roomy = (
        selection_check({"set": items}, words=400, budget=budget, lead_chars=60)[0]
        for budget in (10, 100_000)
    )
    assert lead_only.articles == roomy.articles == 2  # the negative is padding, not measured
    assert lead_only.own_casualty == roomy.own_casualty == 6
    # A budget for the lead alone reads its two sentences of three, nothing of the padding.
    assert lead_only.own_casualty_read == 4 and lead_only.padding_read == 0
    assert lead_only.own_read == pytest.approx(2 / 3)
    # Room for everything: every sentence, the other report's tolls with them.
    assert roomy.own_read == 1 and roomy.own_casualty_read == 6
    assert roomy.padding_casualty_read > 0 and roomy.articles_with_padding_casualty == 2


def test_selection_only_needs_long(dataset):
    result = CliRunner().invoke(cli.app, ["eval", str(dataset), "--selection-only"])
    assert result.exit_code == 1
    assert "--selection-only needs --long" in result.output
