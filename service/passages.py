"""What the model reads of an article longer than its context: the lead, then the passages most
likely to carry the incident, up to a token budget.

News puts its incident in the lead; features and live blogs run on for thousands of words of
background, reaction and history. The lead (the sentences the relevance call reads) is always
read. The other sentences are ranked by what reports an incident, in the article's own
language (``service.languages``): words of death or injury, figures, dates (month names,
years), the places and names of the lead (capitalised words it shares), and how early they
come. A sentence dated to a year before the article's is history and never read: its toll is
an earlier disaster's. The best are taken until the budget is spent, then put back in the
article's order: the model reads a shorter article whose sentences keep their offsets into
the full text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

from service.article import ArticleText, lead
from service.languages import numbers_in, reports_casualties
from service.languages.lexicon import SUPPORTED, fold, lexicon
from service.sentences import Sentence

# Weights of what a sentence carries (a casualty word is the strongest sign of the incident).
CASUALTY, FIGURE, FIGURE_WITH_CASUALTY, DATE, NAME, MAX_NAMES = 4.0, 1.0, 2.0, 1.0, 0.75, 3
# News tells its incident first and its background last: the first sentence after the lead
# gains as much as a word of death or injury, the last nothing.
EARLY = 4.0

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_CAPITALISED = re.compile(r"\b[^\W\d_][\w'\u2019-]{3,}", re.UNICODE)


def read_within(
    text: ArticleText, *, budget: int, count: Callable[[str], int], lead_chars: int
) -> tuple[ArticleText, tuple[str, ...]]:
    """``text`` as a model with ``budget`` tokens for the article reads it (``count``: the
    tokens of a text): whole, or its lead (``lead_chars``) and the passages most likely to
    report the incident, with a note saying how much was read."""
    if count(text.prompt()) <= budget:
        return text, ()
    chosen = select(
        text.sentences,
        lead=lead(text.sentences, lead_chars),
        language=text.language,
        published=text.published,
        budget=budget,
        cost=lambda s: count(f"[{s.number}] {s.text}\n"),
        skip=text.directives,
    )
    note = (
        f"long article: read {len(chosen)} of {len(text.sentences)} sentences (the lead "
        "and the passages most likely to report the incident); the rest was not read"
    )
    return text.reading(chosen), (note,)


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` when no tokenizer is at hand (a model server): a generous guess, as
    tokenizers cut most languages into pieces of three or more characters."""
    return len(text) // 3 + 1


def select(
    sentences: Sequence[Sentence],
    *,
    lead: Sequence[Sentence],
    language: str | None,
    budget: int,
    cost: Callable[[Sentence], int],
    skip: frozenset[int] = frozenset(),
    published: str | None = None,
) -> tuple[Sentence, ...]:
    """The sentences to read, in the article's order: ``lead`` first, whatever it costs, then
    the best-ranked others that fit in ``budget`` (``cost`` of each). ``skip``: numbers of
    sentences never worth reading (those addressed to a machine). A sentence of ``history``
    (dated to a year before the article's, ``published`` or its lead's latest) is not read,
    whatever budget is left."""
    chosen = {s.number for s in lead}
    spent = sum(cost(s) for s in lead)
    names = lead_names(lead)
    now = _reference_year(published, lead)
    total = len(sentences)
    ranked = sorted(
        (
            s
            for s in sentences
            if s.number not in chosen and s.number not in skip and not history(s.text, now)
        ),
        key=lambda s: -(score(s.text, language, names) + EARLY * (1 - s.number / total)),
    )
    for sentence in ranked:
        price = cost(sentence)
        if spent + price <= budget:
            chosen.add(sentence.number)
            spent += price
    return tuple(s for s in sentences if s.number in chosen)


def score(text: str, language: str | None, names: frozenset[str]) -> float:
    """How likely a sentence is to report the incident."""
    casualty = reports_any_casualty(text, language)
    figures = bool(numbers_in(text, language))
    value = CASUALTY * casualty
    if figures:
        value += FIGURE_WITH_CASUALTY if casualty else FIGURE
    if _YEAR.search(text) or _months(language).search(fold(text)):
        value += DATE
    shared = len(set(_capitalised(text)) & names)
    return value + NAME * min(shared, MAX_NAMES)


def reports_any_casualty(text: str, language: str | None) -> bool:
    """Whether a sentence has a word of death or of injury in ``language``."""
    return any(reports_casualties(text, language, kind) for kind in ("killed", "injured"))


def history(text: str, now: int | None) -> bool:
    """Whether a sentence dates itself to a year before the article's (``now``): history or
    an earlier disaster, whose toll is not this incident's."""
    return now is not None and any(int(y) < now - 1 for y in _YEAR.findall(text))


def _reference_year(published: str | None, lead: Sequence[Sentence]) -> int | None:
    """The article's year: its publication's, else the latest its lead names."""
    if published and published[:4].isdigit():
        return int(published[:4])
    years = [int(y) for s in lead for y in _YEAR.findall(s.text)]
    return max(years, default=None)


def lead_names(lead: Sequence[Sentence]) -> frozenset[str]:
    """Capitalised words of the lead not at a sentence's start: its places and names."""
    return frozenset(w for s in lead for w in _capitalised(s.text)[1:])


def _capitalised(text: str) -> list[str]:
    return [m.group() for m in _CAPITALISED.finditer(text) if m.group()[0].isupper()]


@cache
def _months(language: str | None) -> re.Pattern[str]:
    codes = [language] if language in SUPPORTED else sorted(SUPPORTED)
    if "en" not in codes:
        codes.append("en")  # wire copy mixes English in
    union = "|".join(lexicon(code).numbers.months for code in codes)
    return re.compile(rf"(?<!\w)(?:{union})", re.IGNORECASE)
