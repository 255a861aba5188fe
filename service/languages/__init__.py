"""Language resources behind one lookup: words of death and injury, phrases saying nobody was
hurt, sentences addressed to a machine, and reading numbers, for each language the service
supports. The words are data, one file per language (``data/<code>.toml``); number words come
from maintained libraries (text2num, number-parser) where they read the language.

A check asks "casualty words for ``lang``", never hard-codes English. For a language without a
file, or none detected, the words of every language are used.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

from number_parser import parse as parse_numbers
from text_to_num import alpha2digit

Kind = Literal["killed", "injured"]

# Languages text2num reads (its alpha2digit), and those number-parser reads well.
_TEXT2NUM = frozenset({"en", "fr", "es", "pt", "de", "nl", "it", "da"})
_NUMBER_PARSER = frozenset({"ru", "uk", "hi"})


@dataclass(frozen=True)
class LanguageTerms:
    killed: re.Pattern[str]
    injured: re.Pattern[str]
    nobody_killed: re.Pattern[str] | None
    nobody_injured: re.Pattern[str] | None
    directive: re.Pattern[str] | None
    number_words: dict[str, int]


def _files() -> dict[str, dict[str, object]]:
    folder = resources.files("service.languages").joinpath("data")
    return {
        entry.name.removesuffix(".toml"): tomllib.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


def _compile(parts: object) -> re.Pattern[str] | None:
    if not parts:
        return None
    assert isinstance(parts, list)
    # Words, not parts of words: a term must start at a word boundary.
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.I)


@cache
def _all_terms() -> dict[str, LanguageTerms]:
    terms = {}
    for code, data in _files().items():
        terms[code] = LanguageTerms(
            killed=_compile(data["killed"]) or re.compile("(?!)"),
            injured=_compile(data["injured"]) or re.compile("(?!)"),
            nobody_killed=_compile(data.get("nobody_killed")),
            nobody_injured=_compile(data.get("nobody_injured")),
            directive=_compile(data.get("directive")),
            number_words=dict(data.get("number_words") or {}),  # type: ignore[call-overload]
        )
    return terms


SUPPORTED: frozenset[str] = frozenset(_all_terms())


def _for(language: str | None) -> list[LanguageTerms]:
    """The terms to read a text of ``language`` with: its own and English (wire copy mixes
    them), or every language's when the language has no file."""
    terms = _all_terms()
    if language in terms:
        return [terms[language]] + ([terms["en"]] if language != "en" else [])
    return list(terms.values())


@cache
def casualty_terms(language: str | None, kind: Kind) -> re.Pattern[str]:
    parts = [getattr(t, kind).pattern for t in _for(language)]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


def reports_casualties(sentence: str, language: str | None, kind: Kind) -> bool:
    return bool(casualty_terms(language, kind).search(sentence))


def says_nobody(sentence: str, language: str | None, kind: Kind) -> bool:
    name = "nobody_killed" if kind == "killed" else "nobody_injured"
    return any(
        (p := getattr(t, name)) is not None and p.search(sentence) for t in _for(language)
    )


# Numbers that count no one: dates, times, ages, years, percentages, measures.
_NOT_COUNTS = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{1,2}[:h]\d{2}\b|"
    r"\b\d+(?:[.,]\d+)?\s*(?:%|per ?cent|percent|km|m\b|kg|mm|cm)|"
    r"\b\d+\s*-?\s*(?:year|años|ans|jahre|anni|anos|tahun|лет|год|yaş|سنة|عاما|वर्ष)\w*|"
    r"\b(?:1[89]|20)\d\d\b",
    re.I,
)
_DIGITS = re.compile(r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?!\d)|\d+")


def _ascii_digits(text: str) -> str:
    """Digits of any script (Arabic-Indic, Devanagari...) as ASCII digits."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(c)) if c.isdigit() and not c.isascii() else c for c in text
    )


@lru_cache(maxsize=4096)
def numbers_in(sentence: str, language: str | None) -> set[int]:
    """Every count a sentence writes, in digits of any script or in number words."""
    texts = {_ascii_digits(sentence)}
    base = next(iter(texts))
    languages = {language, "en"} if language else {"en"}
    for lang in languages:
        if lang in _TEXT2NUM:
            try:
                texts.add(alpha2digit(base, lang, threshold=0))
            except (ValueError, IndexError):
                pass
        elif lang in _NUMBER_PARSER:
            try:
                texts.add(parse_numbers(base, language=lang))
            except (ValueError, IndexError, KeyError):
                pass
    words = {w: n for t in _for(language) for w, n in t.number_words.items()}
    found: set[int] = set()
    for text in texts:
        plain = _NOT_COUNTS.sub(" ", text)
        for match in _DIGITS.finditer(plain):
            found.add(int(re.sub(r"\D", "", match.group())))
        lower = plain.casefold()
        found |= {n for w, n in words.items() if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lower)}
    return found


def figure_stated(sentence: str, figure: int, language: str | None, kind: Kind) -> bool:
    return figure in numbers_in(sentence, language) and reports_casualties(sentence, language, kind)


# Signs of text addressed to a machine, in any language: chat markup, role labels, record
# fields given values.
_MACHINE = re.compile(
    r"<\|im_(?:start|end)\|>|\[/?INST\]|###\s*(?:instruction|system)|^\s*(?:system|assistant)\s*:|"
    r'"?\b(?:killed|injured|is_incident|headline|summary|casualties)"?\s*[:=]\s*["\d]|'
    r"\b(?:prompt|chatgpt|llm|gpt-\d|large language model|language model)\b",
    re.I | re.M,
)


def is_directive(sentence: str) -> bool:
    """Whether a sentence speaks to a machine instead of reporting news, in any language."""
    if _MACHINE.search(sentence):
        return True
    return any(t.directive is not None and t.directive.search(sentence) for t in _all_terms().values())
