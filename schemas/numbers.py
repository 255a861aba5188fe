"""Numbers in text, whether written as digits or words ("three", "twenty-one"), and which
figures a sentence gives as dead or injured.

A figure belongs to the nearest word of death or injury on either side of it, counted in
words, with no other figure and no sentence end in between, and a comma counting as a word:
"7 people died at the scene and 18 others were injured" gives 7 dead and 18 injured;
"killing 9 and wounding 14" gives 9 dead and 14 injured; "18 rockets" gives nothing.
"""

from __future__ import annotations

import re
from typing import Literal

from text_to_num import alpha2digit

Kind = Literal["killed", "injured"]

_DEATH = re.compile(
    r"^(?:killed|killing|kills|dead|deaths?|die[sd]?|dying|perish(?:ed|ing)?|lives|bodies|"
    r"fatalit(?:y|ies)|toll|slain|massacred|murdered|drowned)$",
    re.I,
)
_INJURY = re.compile(
    r"^(?:wounded|wounding|injured|injuring|injur(?:y|ies)|hurt|hospitali[sz]ed|burns?)$", re.I
)
_BOTH = re.compile(r"^casualt(?:y|ies)$", re.I)  # dead and injured together
_OTHER = re.compile(r"^(?:missing|abducted|kidnapped|rescued|trapped|evacuated|displaced)$", re.I)
_CASUALTY = (
    r"(?:killed|killing|kills|dead|deaths?|die[sd]?|dying|perish(?:ed)?|lives|bodies|"
    r"fatalit(?:y|ies)|toll|wounded|wounding|injured|injuring|injur(?:y|ies)|hurt|"
    r"hospitali[sz]ed|missing|casualt(?:y|ies))"
)
_NUM = r"(\d+(?:,\d{3})*)"
_GAP = r"\s+(?:[^\W\d]+\s+){0,7}?"
# Headlines: "12 wounded", "3 US soldiers killed": a figure, up to seven words, a casualty word.
_BEFORE = re.compile(rf"\b{_NUM}{_GAP}({_CASUALTY})\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:,\d{3})*\b")
_TOKEN = re.compile(r"\d+(?:,\d{3})*|[^\W\d_]+|[,;:.!?()]")
_ONE = re.compile(r"\b(a|an|one)\s", re.I)
_REACH = 12  # words between a figure and its casualty word, at most
_JOINS = {"and", "or", "but", "while", "whereas", ","}


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


def _kinds_of(word: str) -> frozenset[str] | None:
    if _DEATH.match(word):
        return frozenset({"killed"})
    if _INJURY.match(word):
        return frozenset({"injured"})
    if _BOTH.match(word):
        return frozenset({"killed", "injured"})
    if _OTHER.match(word):
        return frozenset()
    return None


def _nearest(tokens: list[str], i: int, step: int) -> tuple[int, frozenset[str]] | None:
    # Distance in words; a conjunction or comma in between weighs three words, so in "killed
    # at least 2 people and wounded 5 others" the 2 goes with "killed", not "wounded".
    j, words, distance = i + step, 0, 0
    while 0 <= j < len(tokens) and words <= _REACH:
        token = tokens[j]
        if token[0].isdigit() or token in ".;:!?":
            return None
        kinds = _kinds_of(token)
        if kinds is not None:
            return distance, kinds
        words += 1
        distance += 3 if token.lower() in _JOINS else 1
        j += step
    return None


def figures_by_kind(text: str) -> dict[str, set[int]]:
    """{"killed": {...}, "injured": {...}}: the figures an English text gives as each."""
    found: dict[str, set[int]] = {"killed": set(), "injured": set()}
    tokens = _TOKEN.findall(_digits(text))
    for i, token in enumerate(tokens):
        if not token[0].isdigit():
            continue
        after, before = _nearest(tokens, i, 1), _nearest(tokens, i, -1)
        options = [o for o in (after, before) if o is not None]
        if options:
            _, kinds = min(options, key=lambda o: o[0])  # a tie goes to the word after
            for kind in kinds:
                found[kind].add(_int(token))
    return found


def figures_of_kind(text: str, kind: str) -> set[int]:
    """The figures an English text gives as dead (kind "killed") or injured ("injured")."""
    return figures_by_kind(text)[kind]


_LANGUAGES = ("en", "es", "fr", "pt", "de", "it", "nl")
_CASUALTY_WORD = re.compile(rf"\b{_CASUALTY}\b", re.I)
_ENGLISH = re.compile(r"\b(the|and|of|was|were|have|has|been|with|after|said)\b", re.I)

# Stems of death and injury words in other languages the service meets in wire copy (Spanish,
# Portuguese, French, Italian, German, Indonesian, Ukrainian, Russian, Hindi). They only help
# find the sentence for a figure the model gave; they never create a figure.
_KIND_STEMS = {
    "killed": re.compile(
        r"muert|morre|mort[oia]|falec|vítima|tué|décéd|ucci|\btoten?\b|getötet|starb|tewas|"
        r"meninggal|korban jiwa|загин|вбит|убит|погиб|загибл|मौत|मारे|मृत",
        re.I,
    ),
    "injured": re.compile(
        r"herid|ferid|bless|feriti|verletzt|luka|поранен|ранен|травм|घायल|जख्मी", re.I
    ),
}


def numbers_in_any_language(text: str) -> set[int]:
    found: set[int] = set()
    for lang in _LANGUAGES:
        converted = alpha2digit(text, lang, threshold=0)
        found |= {_int(m.group()) for m in _NUMBER.finditer(converted)}
    return found


def _is_english(text: str) -> bool:
    return bool(_CASUALTY_WORD.search(text) or _ENGLISH.search(text))


def supports_figure(quote: str, figure: int, parts: list[int], kind: str | None = None) -> bool:
    """Whether a quote states ``figure`` (dead or injured as ``kind`` says; either when None),
    directly or as the sum of the group ``parts`` ("Two US troops and a British service
    member" supports 3 from parts [2, 1]).

    In English the figure must be given as dead or injured ("18 rockets" does not support 18
    killed); in other languages it must at least occur in the quote.
    """
    if _is_english(quote):
        by_kind = figures_by_kind(quote)
        given = by_kind[kind] if kind else by_kind["killed"] | by_kind["injured"]
        if figure in given:
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


def states_figure(sentence: str, figure: int, parts: list[int], kind: str) -> bool:
    """Whether a sentence of the article states ``figure`` people ``kind``: stricter than
    ``supports_figure`` for other languages, where the sentence must also have a word of that
    kind. Used to find the evidence for a figure the model gave."""
    if _is_english(sentence):
        by_kind = figures_by_kind(sentence)
        if figure in by_kind[kind]:
            return True
        summed = len(parts) > 1 and sum(parts) == figure and bool(_CASUALTY_WORD.search(sentence))
        return summed and supports_figure(sentence, figure, parts, kind)
    if not _KIND_STEMS[kind].search(sentence):
        return False
    return figure in numbers_in_any_language(sentence)


_NONE = re.compile(
    r"\b(no ?one|nobody|none|no (?:one|people|person|deaths?|injuries|casualties|fatalities)|"
    r"unharmed|unhurt|escaped unhurt|without injur(?:y|ies))\b|\b0\b",
    re.I,
)


def says_none(quote: str) -> bool:
    """Whether a quote says that nobody was killed or hurt ("Nobody was injured")."""
    return bool(_NONE.search(quote))
