"""Headline, summary and names fit to store: English, Latin script, the record's own figures,
nothing copied from the prompt, its invented examples or a sentence addressed to a machine,
no invisible characters. What is not fit is written again from the record
(``service.pipeline.compose``), never stored."""

from __future__ import annotations

import re
import unicodedata

from schemas.incident import CasualtyGroup, Perpetrator
from service.language import reads_as_english
from service.languages import counts_of_kind, figure_stated, numbers_in
from service.languages.script import latin, latin_share
from service.pipeline import compose
from service.pipeline.context import Context, windows
from service.pipeline.figures import KINDS, Kind, other_kind
from service.pipeline.record import Record
from service.sentences import split_sentences

# Joiners stay: scripts and emoji need them, and they cannot reorder or hide text.
_JOINERS = frozenset("\u200c\u200d")


def is_english(text: str, article_language: str | None) -> bool:
    """Latin script, and English rather than the article's own language."""
    if latin_share(text) != 1.0:
        return False
    return reads_as_english(text, article_language)


def neutral_wording(record: Record, context: Context) -> list[str]:
    """Ordinary news gets a neutral headline (its English title when it has one) and summary."""
    if record.is_incident:
        return []
    article = context.article
    title = article.title
    # The title is the article's own: English when the article is.
    english = article.language == "en" and title is not None and is_english(title, "en")
    usable = title if english and not article.title_is_directive else None
    record.headline = compose.neutral_headline(record.kind, usable)
    record.summary = compose.neutral_summary(record.kind)
    return []


def latin_names(record: Record, context: Context) -> list[str]:
    language = context.article.language
    changed = False
    people = []
    for p in record.perpetrators:
        name = latin(p.name, language) or p.name
        changed |= name != p.name
        people.append(Perpetrator(name=name, attribution=p.attribution))
    groups = []
    for g in record.groups:
        name = latin(g.group, language) or g.group
        changed |= name != g.group
        groups.append(g.model_copy(update={"group": name}))
    weapons = [latin(w, language) or w for w in record.weapons]
    responses = [latin(r, language) or r for r in record.responses]
    changed |= weapons != record.weapons or responses != record.responses
    record.perpetrators, record.groups = people, groups
    record.weapons, record.responses = weapons, responses
    return ["names transliterated to Latin script"] if changed else []


def english_wording(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    warnings = []
    language = context.article.language
    if not is_english(record.summary, language):
        record.summary = compose.summary(record)
        warnings.append("summary written from the record: the model's was not in English")
    if not is_english(record.headline, language):
        record.headline = compose.headline(record)
        warnings.append("headline written from the record: the model's was not in English")
    return warnings


def no_copied_text(record: Record, context: Context) -> list[str]:
    """Text the model copied from its instructions (8 words in a row not in the article), a
    name from the invented examples the article does not contain, or words of a sentence
    addressed to a machine: the field is written again from the record, or dropped."""
    if not record.is_incident:
        return []
    article = context.article
    machine = set()
    for number in article.directives:
        sentence = article.sentence(number)
        if sentence is not None:
            machine |= windows(sentence.text)

    def copied(value: str) -> bool:
        found = windows(value)
        if (found & context.prompt_windows) - context.article_windows:
            return True
        if found & machine:
            return True
        return any(re.search(rf"\b{re.escape(n)}\b", value) for n in context.foreign_example_names)

    warnings = []
    if copied(record.headline):
        record.headline = compose.headline(record)
        warnings.append("headline written from the record: the model's copied text it must not")
    if copied(record.summary):
        record.summary = compose.summary(record)
        warnings.append("summary written from the record: the model's copied text it must not")
    for name in ("weapons", "responses"):
        values = getattr(record, name)
        kept = [v for v in values if not copied(v)]
        if len(kept) < len(values):
            setattr(record, name, kept)
            warnings.append(f"{name} dropped: copied from text the model must not repeat")
    return warnings


def headline_agrees(record: Record, context: Context) -> list[str]:
    """The headline states only the record's figures, and leads with the death toll."""
    if not record.is_incident:
        return []
    figures = {record.killed, record.injured, record.missing}
    figures |= {g.killed for g in record.groups} | {g.injured for g in record.groups}
    stated = numbers_in(record.headline, "en")
    if stated - figures:
        record.headline = compose.headline(record)
        return ["headline written from the record: it stated figures the record does not have"]
    if record.killed and record.killed not in stated:
        parts = {g.killed for g in record.groups} - {None}
        if not (parts and parts <= stated):
            lead = compose.toll(record)
            record.headline = compose.shorten_headline(
                f"{lead[0].upper()}{lead[1:]}: {record.headline}"
            )
            return ["headline completed with the toll"]
    return []


def summary_agrees(record: Record, context: Context) -> list[str]:
    """The summary counts the dead and the injured as the record does. A count of a kind it
    writes must be the record's figure of that kind (or a group's), or one a sentence of the
    article states for that kind (an earlier toll the summary tells as such), or a number the
    article uses otherwise (its clause may count cars, not people). The record's count of the
    other kind (the injured told as dead), or a count the article never writes (one the model
    made up), is no part of a trusted record: the summary is written again from the record."""
    if not record.is_incident:
        return []
    article = context.article
    lang = article.language
    sentences = article.news_sentences()
    for kind in KINDS:
        other = other_kind(kind)
        counted = set().union(
            *(counts_of_kind(s.text, "en", kind) for s in split_sentences(record.summary, "en"))
        )
        for figure in sorted(counted - _on_record(record, kind)):
            if 1900 <= figure <= 2099:
                continue  # "killed in 2019": a year, whatever words stand beside it
            if any(figure_stated(s.text, figure, lang, kind) for s in sentences):
                continue
            misfiled = figure in _on_record(record, other)
            if not misfiled and any(figure in numbers_in(s.text, lang) for s in sentences):
                continue
            record.summary = compose.summary(record)
            how = f"the record's {other}" if misfiled else "the article never writes it"
            return [f"summary written from the record: it counted {figure} {kind}, {how}"]
    return []


def _on_record(record: Record, kind: Kind) -> set[int | None]:
    """The record's figure of ``kind`` and its groups' figures of that kind."""
    return {getattr(record, kind)} | {getattr(g, kind) for g in record.groups}


def visible_text(record: Record, context: Context) -> list[str]:
    """Invisible formatting characters (bidirectional overrides, zero-width and tag
    characters) make a headline read differently on screen from what it says."""

    def clean(text: str) -> str:
        return "".join(ch for ch in text if ch in _JOINERS or unicodedata.category(ch) != "Cf")

    before = (record.headline, record.summary, record.weapons, record.responses)
    record.headline, record.summary = clean(record.headline), clean(record.summary)
    record.weapons = [w for w in (clean(w) for w in record.weapons) if w.strip()]
    record.responses = [r for r in (clean(r) for r in record.responses) if r.strip()]
    record.perpetrators = [
        Perpetrator(name=clean(p.name), attribution=p.attribution)
        for p in record.perpetrators
        if clean(p.name).strip()
    ]
    record.groups = [
        CasualtyGroup(
            group=clean(g.group),
            nationality_code=g.nationality_code,
            killed=g.killed,
            injured=g.injured,
        )
        for g in record.groups
        if clean(g.group).strip()
    ]
    if (record.headline, record.summary, record.weapons, record.responses) != before:
        return ["invisible formatting characters removed from the model's text"]
    return []


# A text of this many words or more that uses fewer distinct words than this share of them is
# one phrase said over and over (a small model looping until its length bound), not wording:
# English prose of two or three sentences uses well over half of its words once.
_LOOP_MIN_WORDS = 8
_LOOP_DISTINCT_SHARE = 0.3


def is_loop(text: str) -> bool:
    """The same few words repeated, in any language (words are what spaces separate)."""
    words = text.casefold().split()
    return len(words) >= _LOOP_MIN_WORDS and len(set(words)) < _LOOP_DISTINCT_SHARE * len(words)


def complete_wording(record: Record, context: Context) -> list[str]:
    """A headline or summary the model left empty, or filled with one phrase repeated, is
    written from the record."""
    warnings = []
    for name, write in (("headline", compose.headline), ("summary", compose.summary)):
        text = getattr(record, name)
        if not text.strip():
            setattr(record, name, write(record))
            warnings.append(f"{name} written from the record: the model gave none")
        elif is_loop(text):
            setattr(record, name, write(record))
            warnings.append(f"{name} written from the record: the model's repeated itself")
    return warnings
