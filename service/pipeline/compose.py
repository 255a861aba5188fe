"""Headline and summary written from the record itself, in English: used when the model's own
are not fit to store (another language, figures the record does not have, text copied from
the prompt or from a sentence addressed to a machine) and for ordinary news."""

from __future__ import annotations

from schemas.incident import HEADLINE_MAX, SUMMARY_MAX, ArticleKind, Category
from service.pipeline.bounds import shorten
from service.pipeline.record import Record

_WHAT = {
    Category.armed_attack: "armed attack",
    Category.explosion_bombing: "explosion",
    Category.air_or_missile_strike: "air or missile strike",
    Category.shooting: "shooting",
    Category.stabbing_or_assault: "assault",
    Category.kidnapping_or_hostage: "kidnapping",
    Category.riot_or_unrest: "unrest",
    Category.transport_accident: "transport accident",
    Category.industrial_accident: "industrial accident",
    Category.structural_collapse: "structural collapse",
    Category.fire: "fire",
    Category.natural_disaster: "natural disaster",
    Category.other: "incident",
}

_KIND = {
    ArticleKind.past_event: "a piece about an earlier event",
    ArticleKind.drill_or_exercise: "a report on a drill or exercise",
    ArticleKind.study_or_statistics: "a report on a study or statistics",
    ArticleKind.forecast_or_warning: "a forecast or warning",
    ArticleKind.obituary: "an obituary",
    ArticleKind.politics: "political news",
    ArticleKind.business_or_technology: "business or technology news",
    ArticleKind.sports: "sports news",
    ArticleKind.culture_or_other: "general news",
    ArticleKind.new_incident: "news",
}


def toll(record: Record) -> str:
    at_least = "at least " if record.qualifier == "at_least" else ""
    parts = []
    if record.killed:
        parts.append(f"{at_least}{record.killed} killed")
    if record.injured:
        parts.append(f"{record.injured} injured")
    return ", ".join(parts)


def where(record: Record) -> str:
    """Place, region and country, each once: "Indonesia, Banda Aceh", not "Indonesia, Banda
    Aceh, Indonesia" when the model gave the country as the place too."""
    location = record.location
    parts: list[str] = []
    for part in (location.place, location.region, location.country):
        if part and part.casefold() not in {p.casefold() for p in parts}:
            parts.append(part)
    return ", ".join(parts)


def headline(record: Record) -> str:
    what = _WHAT[record.category or Category.other]
    lead = toll(record)
    text = f"{lead} in {what}" if lead else what
    place = where(record)
    text = f"{text} in {place}" if place else text
    return shorten(text[0].upper() + text[1:], HEADLINE_MAX)


def summary(record: Record) -> str:
    what = _WHAT[record.category or Category.other]
    place = where(record)
    when = f" on {record.date.iso}" if record.date.iso else ""
    sentences = [
        f"The article reports {'an' if what[0] in 'aeiou' else 'a'} {what}"
        f"{' in ' + place if place else ''}{when}."
    ]
    figures = []
    if record.killed is not None:
        figures.append(f"{toll_word(record.killed, record.qualifier)} killed")
    if record.injured is not None:
        figures.append(f"{toll_word(record.injured, None)} injured")
    if figures:
        sentences.append(" and ".join(figures).capitalize() + ".")
    named = [p.name for p in record.perpetrators if p.name != "unknown"]
    if named:
        sentences.append(f"Attributed to {', '.join(named)}.")
    return shorten(" ".join(sentences), SUMMARY_MAX)


def toll_word(n: int, qualifier: str | None) -> str:
    if n == 0:
        return "nobody was"
    prefix = {"at_least": "at least ", "approximate": "about "}.get(qualifier or "", "")
    return f"{prefix}{n} {'person was' if n == 1 else 'people were'}"


def neutral_headline(kind: ArticleKind, title: str | None) -> str:
    return shorten(title, HEADLINE_MAX) if title else f"Not an incident report: {_KIND[kind]}"


def neutral_summary(kind: ArticleKind) -> str:
    return (
        f"The article is {_KIND[kind]}. It does not report a specific new violent event, "
        "accident or disaster as news."
    )


def shorten_headline(text: str) -> str:
    return shorten(text, HEADLINE_MAX)
