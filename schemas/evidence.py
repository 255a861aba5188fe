"""Find the article's own sentence for a figure or a name the model gave.

A small model often gets a figure right and its quote wrong: a sentence that sounds like the
article but is not in it, or the sentence of another figure. Before re-asking (30-50 s per
answer on a laptop CPU), the service looks for the sentence itself: the first sentence of the
article that states that figure next to a word of that kind, or that names that perpetrator.
Nothing here invents a figure or a name: it only finds evidence for one the model gave, and a
figure or name the article does not support still goes back to the model.
"""

from __future__ import annotations

import re
from functools import lru_cache

from schemas.numbers import (
    attacker_counts,
    is_english,
    lists_uncounted,
    mentions_kind,
    none_kinds,
    stated_figures,
    states_figure,
    subcount_figures,
    toll_word_starts,
)
from schemas.quotes import find_quote, sentences


def sentence_for_figure(text: str, figure: int, parts: list[int], kind: str) -> str | None:
    """The first sentence of ``text`` stating ``figure`` people ``kind``, or None."""
    for start, end in sentences(text):
        if states_figure(text[start:end], figure, parts, kind):
            return text[start:end]
    return None


QUOTE_MAX = 400  # the longest quote the record keeps (as schemas.incident.QUOTE_MAX)

_ATTRIBUTION = re.compile(
    r"claim|blam|suspect|accus|responsib|attack|carried out|gunmen|militant|behind", re.I
)


def sentence_naming(text: str, name: str) -> str | None:
    """The sentence of ``text`` that names ``name``: one that also speaks of a claim, blame or
    attack if there is one, else the first that names it; None when the article never does."""
    wanted = name.casefold().strip()
    words = [w for w in re.findall(r"\w+", wanted) if len(w) > 2]
    naming = []
    for start, end in sentences(text):
        sentence = text[start:end]
        folded = sentence.casefold()
        if wanted in folded or (words and all(w in folded for w in words)):
            naming.append(sentence)
    for sentence in naming:
        if _ATTRIBUTION.search(sentence):
            return sentence
    return naming[0] if naming else None


# A name as news text writes one: capitalized words, "al-Shabab", "Abu-Musab", "M23". An
# apostrophe may be typed either way (U+0027 or U+2019).
_APOSTROPHES = "'\u2019"
_NAME_WORD = (
    rf"(?:[A-Z][\w{_APOSTROPHES}]*(?:-[\w{_APOSTROPHES}]+)*|"
    rf"(?:al|el|ad|as|ash|at|an|ar|ul|ud|bin|ibn|de|da|di)-[A-Z][\w{_APOSTROPHES}]*"
    rf"(?:-[\w{_APOSTROPHES}]+)*)"
)
_NAME = rf"{_NAME_WORD}(?:\s+(?:of\s+|the\s+|al\s+|el\s+|de\s+)*{_NAME_WORD})*"
_GENERIC = (
    r"(?:\s+(?:group|militants?|movement|organi[sz]ation|network|faction|rebels?|insurgents?))?"
)
_SPEAKER = r"(?:spokes(?:man|woman|person)|leader|commander|chief|official|member)"
_CLAIMED = r"(?:(?:has|have|had)\s+)?(?i:claimed|claims|claiming)\s+(?i:the\s+)?(?i:responsibility)"
_CLAIMANT = re.compile(
    rf"(?:(?P<group>{_NAME}){_GENERIC}\s+{_SPEAKER}\s+{_NAME}|(?P<name>{_NAME}){_GENERIC})"
    rf"\s+{_CLAIMED}|(?i:responsibility)\s+(?:[^.]{{0,80}}?\s)?(?:was|has\s+been)\s+"
    rf"claimed\s+by\s+(?:the\s+)?(?P<by>{_NAME})"
)
# Capitalized words that begin a sentence but name nobody: "No group has claimed ...".
_NOT_A_NAME = frozenset(
    [
        "no",
        "none",
        "nobody",
        "neither",
        "it",
        "they",
        "he",
        "she",
        "we",
        "there",
        "this",
        "that",
        "the",
        "a",
        "an",
        "police",
        "officials",
        "authorities",
    ]
)


def claimant(text: str) -> tuple[str, str] | None:
    """Who the article says claimed responsibility, with the sentence that says so.

    "The militant group al-Shabab has claimed responsibility for ..." gives al-Shabab; a
    spokesman's claim ("al-Shabab spokesman Abu Musab claimed responsibility") gives the
    group; "responsibility was claimed by X" gives X. Background sentences (an earlier
    attack) and sentences saying that nobody claimed it give nothing.
    """
    for sentence in _whole_sentences(text):
        if is_background(sentence):
            continue
        for match in _CLAIMANT.finditer(sentence):
            name = match.group("group") or match.group("name") or match.group("by")
            name = re.sub(r"^(?:The|A|An)\s+", "", name)
            if name.casefold() in _NOT_A_NAME or name.split()[0].casefold() in {"no", "not"}:
                continue
            return name, sentence.strip()
    return None


# A sentence about something else than the incident being reported: an earlier event, a
# yearly statistic, another incident. Its figures are never taken for the incident's toll.
_BACKGROUND = re.compile(
    r"\b(?:last|previous|earlier\s+this)\s+(?:week|month|year|spring|summer|autumn|fall|"
    r"winter|january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\b|\b(?:weeks|months|years|decades|a\s+year)\s+(?:ago|earlier|before)\b|"
    r"\b(?:in|since)\s+(?:1[89]|20)\d\d\b|\bsince\b|\bseparate(?:ly)?\b|\banniversar|"
    r"\b(?:every|each|per|a)\s+year\b|\bannually\b|\bpreviously\b",
    re.I,
)


def is_background(sentence: str) -> bool:
    return bool(_BACKGROUND.search(sentence))


# "Jan.", "Gen.", "U.S.": a full stop that ends an abbreviation, not a sentence.
_ABBREVIATION = re.compile(r"(?:\b[A-Z][a-z]{0,3}|\b(?:[A-Z]\.)+[A-Z]?)\.$")


@lru_cache(maxsize=8)  # read for each kind, by several rules
def _whole_sentences(text: str) -> tuple[str, ...]:
    """The article's sentences, with a piece split off at an abbreviation joined back to the
    one before it ("since Jan. 4, when ...")."""
    spans: list[tuple[int, int]] = []
    for start, end in sentences(text):
        joined = spans and (
            text[start : start + 1].islower()
            or _ABBREVIATION.search(text[spans[-1][0] : start].rstrip())
        )
        if joined and end - spans[-1][0] <= QUOTE_MAX:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return tuple(text[start:end] for start, end in spans)


@lru_cache(maxsize=8)
def _toll_sentences(text: str) -> tuple[str, ...]:
    """The whole sentences that have a word of death or injury, in the article's order: no
    other sentence states a toll or speaks of one."""
    starts = toll_word_starts(text)
    found, at, i = [], 0, 0
    for sentence in _whole_sentences(text):
        begin = text.index(sentence, at)
        at = begin + len(sentence)
        while i < len(starts) and starts[i] < begin:
            i += 1
        if i < len(starts) and starts[i] < at:
            found.append(sentence)
    return tuple(found)


def first_figure(text: str, kind: str) -> tuple[int, str] | None:
    """The figure of ``kind`` the article gives first for the current incident, with its
    sentence: news states the main toll first, and background sentences are skipped. A
    sentence giving a total and its parts ("28 injured, three of them seriously") gives the
    total; one giving two figures otherwise, a figure plus a group without one ("two
    soldiers and a civilian") or a count of attackers gives none: the sum is not guessed."""
    for sentence in _toll_sentences(text):
        if is_background(sentence):
            continue
        figures = stated_figures(sentence, kind, only=True)
        if figures and lists_uncounted(sentence):
            return None  # "two soldiers and a civilian were killed": a sum is not guessed
        if kind == "killed" and figures & attacker_counts(sentence):
            return None  # "two gunmen were shot dead": whether the toll counts them is not guessed
        total = max(figures, default=0)
        if figures and figures - {total} <= subcount_figures(sentence):
            return total, sentence
        if figures:
            return None  # "3 died on Monday and 2 on Tuesday": which is the toll is not guessed
        if is_english(sentence) and mentions_kind(sentence, kind):
            return None  # "a policeman was killed": the toll comes first, without a figure
    return None


def none_sentence(text: str, kind: str) -> str | None:
    """The sentence saying nobody was ``kind`` ("No one was injured"), when the article gives
    no figure of that kind anywhere (a figure elsewhere means the sentence is about someone
    else, or contradicted)."""
    if kind not in none_kinds(text):
        return None  # no sentence says so: no need to read them one by one
    found = None
    for sentence in _whole_sentences(text):
        if stated_figures(sentence, kind):
            return None
        if found is None and kind in none_kinds(sentence) and not is_background(sentence):
            found = sentence
    return found


def sentence_around(text: str, quote: str) -> str | None:
    """The article's whole sentence (or sentences) holding ``quote``, or None."""
    span = find_quote(text, quote)
    if span is None:
        return None
    covering = [(s, e) for s, e in sentences(text) if s < span[1] and e > span[0]]
    return text[covering[0][0] : covering[-1][1]] if covering else None
