"""What the model reads of an article longer than its context: the lead, then the passages most
likely to carry the incident, up to a token budget.

News puts its incident in the lead; features and live blogs run on for thousands of words of
background, reaction and history. The lead (the sentences the relevance call reads) is always
read. The other sentences are ranked by what reports an incident, in the article's own
language (``service.languages``): words of death or injury, figures, dates (month names,
years), and the places and names of the lead (capitalised words it shares). The best are
taken until the budget is spent, then put back in the article's order: the model reads a
shorter article whose sentences keep their offsets into the full text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

from service.languages import numbers_in, reports_casualties
from service.languages.lexicon import SUPPORTED, fold, lexicon
from service.sentences import Sentence

# Weights of what a sentence carries (a casualty word is the strongest sign of the incident).
CASUALTY, FIGURE, FIGURE_WITH_CASUALTY, DATE, NAME, MAX_NAMES = 4.0, 1.0, 2.0, 1.0, 0.75, 3
# Among equals, earlier sentences win: news tells its incident first.
EARLY = 0.5

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_CAPITALISED = re.compile(r"\b[^\W\d_][\w'\u2019-]{3,}", re.UNICODE)


def select(
    sentences: Sequence[Sentence],
    *,
    lead: Sequence[Sentence],
    language: str | None,
    budget: int,
    cost: Callable[[Sentence], int],
    skip: frozenset[int] = frozenset(),
) -> tuple[Sentence, ...]:
    """The sentences to read, in the article's order: ``lead`` first, whatever it costs, then
    the best-ranked others that fit in ``budget`` (``cost`` of each). ``skip``: numbers of
    sentences never worth reading (those addressed to a machine)."""
    chosen = {s.number for s in lead}
    spent = sum(cost(s) for s in lead)
    names = lead_names(lead)
    total = len(sentences)
    ranked = sorted(
        (s for s in sentences if s.number not in chosen and s.number not in skip),
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
    casualty = any(reports_casualties(text, language, kind) for kind in ("killed", "injured"))
    figures = bool(numbers_in(text, language))
    value = CASUALTY * casualty
    if figures:
        value += FIGURE_WITH_CASUALTY if casualty else FIGURE
    if _YEAR.search(text) or _months(language).search(fold(text)):
        value += DATE
    shared = len(set(_capitalised(text)) & names)
    return value + NAME * min(shared, MAX_NAMES)


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
