"""Articles longer than the model's context: read as the lead and the likeliest passages, with
offsets into the whole text, never refused (the model scripted at the HTTP boundary)."""

from __future__ import annotations

import re

import pytest

from service import passages
from service.article import lead, read_article
from service.passages import estimate_tokens
from tests.conftest import running_app
from tests.drafts import draft_payload, relevance
from tests.fake_llm import ScriptedLLM, Turn, numbered_sentences
from tests.long_article import LEAD, long_article


def cost(sentence) -> int:
    return estimate_tokens(f"[{sentence.number}] {sentence.text}\n")


def chosen_for(
    text: str, language: str, budget: int, lead_chars: int = 400, published: str | None = None
):
    article = read_article(text, title=None, published=published, language=language)
    chosen = passages.select(
        article.sentences,
        lead=lead(article.sentences, lead_chars),
        language=language,
        budget=budget,
        cost=cost,
        skip=article.directives,
        published=published,
    )
    return article, chosen


YEAR = re.compile(r"\b(?:19|20)\d\d\b")


@pytest.mark.parametrize("dated_by", ["published", "lead"])
def test_background_dated_before_the_article_is_not_read(dated_by):
    text = long_article(3000)
    published = "2026-03-10" if dated_by == "published" else None
    if dated_by == "lead":  # no publication date: the lead's own year dates the article
        text = text.replace("before dawn on Tuesday", "before dawn on Tuesday, 10 March 2026", 1)
    _, chosen = chosen_for(text, "en", budget=600, published=published)
    read = [s.text for s in chosen[3:]]
    assert len(read) >= 4
    # Every background toll is dated 1961-2023: none of them is read, however much they
    # score; the report of the day is.
    assert not [t for t in read if YEAR.search(t)]
    assert any("intensive care" in t for t in read)


def test_undated_background_is_ranked_as_it_reads():
    # Without a year to date the article by, a dated sentence cannot be told for history:
    # the background tolls are read (the control of the test above).
    _, chosen = chosen_for(long_article(3000), "en", budget=600)
    assert any(YEAR.search(s.text) and re.search(r"\b(killed|died)\b", s.text) for s in chosen)


def test_the_lead_and_the_incident_passages_are_read_within_the_budget():
    text = long_article(3000)
    article, chosen = chosen_for(text, "en", budget=600)
    assert sum(cost(s) for s in chosen) <= 600
    assert len(chosen) < len(article.sentences) / 3
    # The lead, whole and first; then the rest in the article's order.
    assert [s.text for s in chosen[:3]] == LEAD
    assert [s.number for s in chosen] == sorted(s.number for s in chosen)
    # Sentences with a toll outrank history and economics of the same length.
    tolls = [s for s in chosen[3:] if re.search(r"\b(killed|died)\b", s.text)]
    others = [s for s in article.sentences[3:] if re.search(r"\b(killed|died)\b", s.text)]
    assert len(tolls) >= min(len(others), 5)
    # Offsets still point into the whole text.
    for sentence in chosen:
        assert text[sentence.start : sentence.end] == sentence.text


@pytest.mark.parametrize(
    ("language", "filler", "report"),
    [
        (
            "es",
            "El mercado de la ciudad abrió sus 40 puestos como cada jueves, con frutas y "
            "verduras de los pueblos del valle.",
            "Tres personas murieron y otras cinco resultaron heridas en el derrumbe de la "
            "antigua escuela de Valdecruces.",
        ),
        (
            "de",
            "Der Wochenmarkt der Stadt öffnete wie jeden Donnerstag seine 40 Stände mit Obst "
            "und Gemüse aus den Dörfern des Tals.",
            "Drei Menschen starben und fünf wurden verletzt, als die alte Schule in Kestrau "
            "einstürzte.",
        ),
        (
            "fr",
            "Le marché de la ville a ouvert ses 40 étals comme chaque jeudi, avec des fruits "
            "et des légumes des villages de la vallée.",
            "Trois personnes ont été tuées et cinq blessées dans l'effondrement de l'ancienne "
            "école de Valcroix.",
        ),
    ],
)
def test_passages_are_found_in_the_articles_language(language, filler, report):
    # Every filler sentence states a figure too: only the language's casualty words tell
    # the report from them.
    paragraphs = [filler] * 3 + [filler] * 60 + [report] + [filler] * 60
    text = "\n".join(paragraphs)
    _, chosen = chosen_for(text, language, budget=cost_of(filler) * 6, lead_chars=50)
    assert report in [s.text for s in chosen]


def cost_of(sentence_text: str) -> int:
    return estimate_tokens(f"[100] {sentence_text}\n")


def landslide_turn() -> Turn:
    return Turn(
        relevance=relevance("natural_disaster", 1),
        record=draft_payload(
            {
                "quotes": {"killed_sentence": LEAD[0], "injured_sentence": LEAD[0]},
                "category": "natural_disaster",
                "killed": 14,
                "injured": 37,
                "qualifier": "at_least",
                "location": {
                    "place": "Kestrava",
                    "region": "Orvan Highlands",
                    "country": None,
                    "country_code": None,
                },
                "weapons": ["landslide"],
                "headline": "At least 14 killed, 37 injured in landslide in Kestrava",
                "summary": "A landslide buried part of the mining town of Kestrava, killing at "
                "least 14 people and injuring 37.",
            }
        ),
    )


async def test_a_long_article_is_summarized_not_refused(make_settings):
    text = long_article(15_000)
    llm = ScriptedLLM(landslide_turn())
    settings = make_settings(max_article_tokens=2000)
    async with running_app(settings, llm) as client:
        response = await client.post("/v1/summaries", json={"text": text})
        record = response.json()
        stored = (await client.get(f"/v1/summaries/{record['id']}/article")).json()["text"]
    assert response.status_code == 200, response.text
    casualties = record["incident"]["casualties"]
    assert (casualties["killed"], casualties["injured"]) == (14, 37)
    for evidence in record["incident"]["evidence"]:
        assert text[evidence["start"] : evidence["end"]] == evidence["quote"]
    assert stored == text
    total = len(read_article(text, title=None, published=None, language="en").sentences)
    read = len(numbered_sentences(llm.requests[-1]))
    assert 3 < read < total
    assert f"long article: read {read} of {total} sentences" in " ".join(record["warnings"])
    # Within the budget, and the relevance call read the same lead as the record call.
    assert estimate_tokens(llm.requests[-1]["messages"][-1]["content"]) < 2000 * 1.5
    lead_read = numbered_sentences(llm.requests[0])
    assert lead_read == numbered_sentences(llm.requests[-1])[: len(lead_read)]


async def test_an_article_within_the_budget_is_read_whole(make_settings):
    text = long_article(400)
    llm = ScriptedLLM(landslide_turn())
    async with running_app(make_settings(max_article_tokens=4000), llm) as client:
        response = await client.post("/v1/summaries", json={"text": text})
    assert response.status_code == 200, response.text
    total = len(read_article(text, title=None, published=None, language="en").sentences)
    assert len(numbered_sentences(llm.requests[-1])) == total
    assert not any(w.startswith("long article") for w in response.json()["warnings"])


async def test_only_a_body_over_the_byte_limit_is_too_large(make_settings):
    llm = ScriptedLLM(landslide_turn())
    async with running_app(make_settings(max_body_bytes=50_000), llm) as client:
        response = await client.post("/v1/summaries", json={"text": long_article(15_000)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert llm.calls == 0
