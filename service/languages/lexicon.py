"""One language's data file, read once: the words and patterns the checks look for.

The files hold regular-expression fragments (``data/<code>.toml``; ``data/README.md`` says
what each key means). Here they become compiled patterns. A fragment matches from the start of
a word and may run on into it, so a stem ("погиб") covers its inflections; a fragment that must
end a word says so with ``\\b``.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

Kind = Literal["killed", "injured"]
KINDS: tuple[Kind, ...] = ("killed", "injured")

# \w lacks the combining marks that Indic and Arabic words are partly made of (Devanagari vowel
# signs, Arabic harakat): without them a boundary would fall inside a word.
MARKS = r"\u0300-\u036f\u0483-\u0489\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0900-\u0dff"
WORD_CHARS = rf"\w{MARKS}"
START = rf"(?<![{WORD_CHARS}])"

_FILES = resources.files(__package__) / "data"
SUPPORTED: frozenset[str] = frozenset(
    entry.name.removesuffix(".toml") for entry in _FILES.iterdir() if entry.name.endswith(".toml")
)


@dataclass(frozen=True, slots=True)
class NumberWords:
    readers: tuple[str, ...]  # libraries that read this language's number words
    words: dict[str, int]  # where no library reads the language, or forms a library misses
    scales: dict[str, int]
    joiners: tuple[str, ...]  # "and" inside a number, also as a prefix (Arabic "و")
    units: str  # words after a number that make it an age, a time or a share, not a count
    unit_before: str
    year_before: str
    year_after: str
    months: str
    space_thousands: bool


@dataclass(frozen=True, slots=True)
class Lexicon:
    code: str
    prefix: str  # what may precede a term inside its word: a compound's head, a proclitic
    terms: dict[Kind, tuple[str, ...]]
    conjunctions: tuple[str, ...]  # words that join two clauses: "and", "while"
    # "and" written onto the next word (Arabic "و"): a clause starts where it joins a verb or
    # noun of death or injury ("وأصيب 20", "and 20 were injured"); empty where none is.
    conjunction_prefix: str
    others: tuple[str, ...]  # "others", "more": a count of people besides those counted before
    # Parts of a day written onto a weekday's name ("Donnerstag|abend", "zaterdag|avond").
    day_parts: tuple[str, ...]
    # Words that put a named weekday in the week before publication ("last", "ago", "pasado").
    week_before: tuple[str, ...]
    # Words that mark an article as a commemoration of an old event ("anniversary", "years ago").
    commemoration: tuple[str, ...]
    nobody: dict[Kind, tuple[str, ...]]
    one: dict[Kind, tuple[str, ...]]  # one person killed or hurt, said without a numeral
    directive: tuple[str, ...]
    machine: tuple[str, ...]  # nouns that can only name a machine reader: AI, chatbot
    machine_labels: tuple[str, ...]  # nouns that name one only as a label: "System:"
    to_machine: tuple[str, ...]  # words that address one: "note to", "instructions for"
    numbers: NumberWords
    # The kinds of event a sentence names, keyed by the contract's category names; the words
    # under "armed_attack" are the generic ones ("attack", "Anschlag").
    events: dict[str, tuple[str, ...]]


def language_code(language: str | None) -> str | None:
    """The data file's code for a language tag ("uk-UA", "pt_BR" -> "uk", "pt"); None for a
    language without one."""
    if not language:
        return None
    code = language.strip().replace("_", "-").split("-")[0].lower()
    return code if code in SUPPORTED else None


def fold(text: str) -> str:
    """Text as the patterns are written: compatibility forms unified (full-width letters,
    presentation forms), invisible format characters gone, one kind of apostrophe and quote."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
        text = text.translate(_QUOTES)
    return text


_QUOTES = str.maketrans(
    "\u2018\u2019\u02bc\u00b4\u0060\u201c\u201d\u00ab\u00bb\u201e", "'''''\"\"\"\"\""
)


@cache
def lexicon(code: str) -> Lexicon:
    with (_FILES / f"{code}.toml").open("rb") as f:
        raw = tomllib.load(f)
    one = raw.get("one", {})
    person = _group(one.get("person", []))
    return Lexicon(
        code=code,
        prefix=fold(raw.get("prefix", "")),
        terms={kind: _fragments(raw.get(kind, [])) for kind in KINDS},
        conjunctions=_fragments(raw.get("conjunctions", [])),
        conjunction_prefix=fold(raw.get("conjunction_prefix", "")),
        others=_fragments(raw.get("others", [])),
        day_parts=_fragments(raw.get("day_parts", [])),
        week_before=_fragments(raw.get("week_before", [])),
        commemoration=_fragments(raw.get("commemoration", [])),
        nobody={kind: _fragments(raw.get("nobody", {}).get(kind, [])) for kind in KINDS},
        one={
            kind: tuple(f.replace("{person}", person) for f in _fragments(one.get(kind, [])))
            for kind in KINDS
        },
        directive=_fragments(raw.get("directive", [])),
        machine=_fragments(raw.get("machine", {}).get("nouns", [])),
        machine_labels=_fragments(raw.get("machine", {}).get("labels", [])),
        to_machine=_fragments(raw.get("machine", {}).get("addressing", [])),
        numbers=_numbers(raw),
        events={kind: _fragments(words) for kind, words in raw.get("events", {}).items()},
    )


def alternation(fragments: tuple[str, ...], prefix: str = "") -> str:
    """One pattern matching any of ``fragments`` from the start of a word."""
    if not fragments:
        return r"(?!x)x"  # matches nothing
    return f"{START}{prefix}{_group(fragments)}"


def _numbers(raw: dict[str, Any]) -> NumberWords:
    settings = raw.get("numbers", {})
    return NumberWords(
        readers=tuple(settings.get("readers", [])),
        words={token(k): int(v) for k, v in raw.get("number_words", {}).items()},
        scales={token(k): int(v) for k, v in raw.get("number_scales", {}).items()},
        joiners=tuple(token(j) for j in settings.get("joiners", [])),
        units=_group(_fragments(settings.get("units", []))),
        unit_before=_group(_fragments(settings.get("unit_before", []))),
        year_before=_group(_fragments(settings.get("year_before", []))),
        year_after=_group(_fragments(settings.get("year_after", []))),
        months=_group(_fragments(settings.get("months", []))),
        space_thousands=bool(settings.get("space_thousands", False)),
    )


def _fragments(values: list[str]) -> tuple[str, ...]:
    return tuple(fold(v) for v in values)


def _group(fragments: tuple[str, ...] | list[str]) -> str:
    if not fragments:
        return r"(?!x)x"
    return "(?:" + "|".join(f"(?:{f})" for f in fragments) + ")"


def token(word: str) -> str:
    """A word as number-word tables are keyed: folded, lower case."""
    # Turkish capital İ folds to i + combining dot; the tables are written without it.
    return fold(word).casefold().replace("\u0307", "")
