"""Numbers in text, whether written as digits or words ("three", "twenty-one")."""

from __future__ import annotations

import re

from text_to_num import alpha2digit

_CASUALTY = (
    r"(?:killed|killing|kills|dead|deaths?|die[sd]?|dying|perish(?:ed)?|lives|bodies|"
    r"fatalit(?:y|ies)|toll|wounded|wounding|injured|injuring|injur(?:y|ies)|hurt|"
    r"hospitali[sz]ed|missing|casualt(?:y|ies))"
)
_NUM = r"(\d[\d,]*)"
_GAP = r"\s+(?:[^\W\d]+\s+){0,7}?"
# "12 wounded", "3 US soldiers killed": a figure, up to seven words, then a casualty word.
_BEFORE = re.compile(rf"\b{_NUM}{_GAP}({_CASUALTY})\b", re.I)
# "the death toll rose to 18", "killing 18": a casualty word, up to seven words, then a figure.
_AFTER = re.compile(rf"\b({_CASUALTY}){_GAP}{_NUM}\b", re.I)
_NUMBER = re.compile(r"\b\d[\d,]*\b")
_ONE = re.compile(r"\b(a|an|one)\s", re.I)


def _digits(text: str) -> str:
    # threshold=0: small numbers too ("two soldiers"); "a dozen" is not a figure.
    return alpha2digit(text, "en", threshold=0)


def _int(value: str) -> int:
    return int(value.replace(",", ""))


def numbers_in(text: str) -> set[int]:
    return {_int(m.group()) for m in _NUMBER.finditer(_digits(text))}


def casualty_numbers(text: str) -> list[tuple[int, str]]:
    """(figure, casualty word) pairs such as (12, "wounded"), figure first, as in headlines."""
    return [(_int(m.group(1)), m.group(2).lower()) for m in _BEFORE.finditer(_digits(text))]


def figures_near_casualty_words(text: str) -> set[int]:
    """Figures standing next to a word of death or injury, on either side."""
    digits = _digits(text)
    found = {_int(m.group(1)) for m in _BEFORE.finditer(digits)}
    found |= {_int(m.group(2)) for m in _AFTER.finditer(digits)}
    return found


_LANGUAGES = ("en", "es", "fr", "pt", "de", "it", "nl")
_CASUALTY_WORD = re.compile(rf"\b{_CASUALTY}\b", re.I)
_ENGLISH = re.compile(r"\b(the|and|of|was|were|have|has|been|with|after|said)\b", re.I)


def numbers_in_any_language(text: str) -> set[int]:
    found: set[int] = set()
    for lang in _LANGUAGES:
        converted = alpha2digit(text, lang, threshold=0)
        found |= {_int(m.group()) for m in _NUMBER.finditer(converted)}
    return found


def supports_figure(quote: str, figure: int, parts: list[int]) -> bool:
    """Whether a quote states ``figure``, directly or as the sum of the group ``parts``
    ("Two US troops and a British service member" supports 3 from parts [2, 1]).

    In English the figure must stand next to a word of death or injury ("18 rockets" does
    not support 18 killed); in other languages it must at least occur in the quote.
    """
    if _CASUALTY_WORD.search(quote) or _ENGLISH.search(quote):
        if figure in figures_near_casualty_words(quote):
            return True
        stated = numbers_in(quote)
    else:
        stated = numbers_in_any_language(quote)
        if figure in stated:
            return True
    if len(parts) > 1 and sum(parts) == figure:
        stated |= {1} if _ONE.search(quote) else set()
        return all(p in stated for p in parts)
    return False


_NONE = re.compile(
    r"\b(no ?one|nobody|none|no (?:one|people|person|deaths?|injuries|casualties|fatalities)|"
    r"unharmed|unhurt|escaped unhurt|without injur(?:y|ies))\b|\b0\b",
    re.I,
)


def says_none(quote: str) -> bool:
    """Whether a quote says that nobody was killed or hurt ("Nobody was injured")."""
    return bool(_NONE.search(quote))
