"""The counts a sentence writes, as digits of any script or as number words.

Number words become digits first (text2num for the languages it reads, number-parser for
those it reads well, the data file's table otherwise; English always, since wire copy mixes),
then every number is read once with its neighbours: a year, a date, a time, an age or a share
is not a count of people.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

import number_parser
from text_to_num import alpha2digit

from service.languages.lexicon import MARKS, WORD_CHARS, NumberWords, fold, lexicon, token

# "one" and its kin are articles as often as numerals ("un hombre", "one of the"): a number word
# is read as a count from 2 up. A single victim is figure_stated's business.
_THRESHOLD = 2
_YEARS = range(1900, 2100)
_DAYS = range(1, 32)
_AGES = range(1, 120)

_FOREIGN_DIGIT = re.compile(r"(?![0-9])\d")
_SEPARATORS = str.maketrans({"\u066c": ",", "\u066b": ".", "\u060c": ","})
_DASH_DATE = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}-\d{1,2}-\d{4}\b")
# Shares, money and measures in any language.
_UNITS = r"%|٪|‰|°|km\b|kms\b|kg\b|mph\b|km/h"
_UNIT_BEFORE = r"[$€£¥₹₽₺]|US\$|Rs\.?|%|٪"
# Number-parser stops reading at a word that has punctuation stuck to it ("पांच,").
_STUCK = re.compile(rf"(?:(?<=[^\W\d_])|(?<=[{MARKS}]))([,;:.!?\u0964\u0965\u060c\u061b])")
_LETTERS = rf"[^\W\d_]|[{MARKS}]"
_WORD = re.compile(rf"(?:{_LETTERS})+(?:'(?:{_LETTERS})+)*")


@lru_cache(maxsize=4096)
def numbers_in(sentence: str, code: str | None) -> frozenset[int]:
    text = _ascii_digits(fold(sentence))
    context = _context(code)
    found = context.counts(text)
    for variant in _word_readings(text, code):
        found |= {n for n in context.counts(variant) if n >= _THRESHOLD}
    return frozenset(found)


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    text = text.translate(_SEPARATORS)
    return _FOREIGN_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)


def _word_readings(text: str, code: str | None) -> list[str]:
    variants = [_text2num(text, "en")]
    if code is None or code == "en":
        return variants
    numbers = lexicon(code).numbers
    for reader in numbers.readers:
        variants.append(_READERS[reader](text, code))
    if numbers.words:
        variants.append(_read_words(text, numbers))
    return variants


def _text2num(text: str, code: str) -> str:
    try:
        return str(alpha2digit(text, code, threshold=_THRESHOLD))
    except Exception:  # a parser's failure costs the words it would have read, nothing more
        return text


def _number_parser(text: str, code: str) -> str:
    try:
        return str(number_parser.parse(_STUCK.sub(r" \1", text), language=code))
    except Exception:
        return text


_READERS: dict[str, Callable[[str, str], str]] = {
    "text2num": _text2num,
    "number_parser": _number_parser,
}


def _read_words(text: str, numbers: NumberWords) -> str:
    """``text`` with each run of the data file's number words replaced by its value."""
    out: list[str] = []
    run: list[tuple[int, bool]] = []
    run_start = run_end = cursor = 0
    for match in _WORD.finditer(text):
        word = token(match.group())
        parts = _number_word(word, numbers, joined=bool(run))
        gap = text[run_end : match.start()]
        if parts and run and gap.strip(" -") == "":
            run.extend(parts)
            run_end = match.end()
            continue
        if run:
            out += [text[cursor:run_start], str(_compose(run))]
            cursor, run = run_end, []
        if parts and any(not scale for _, scale in parts):
            run, run_start, run_end = list(parts), match.start(), match.end()
    if run:
        out += [text[cursor:run_start], str(_compose(run))]
        cursor = run_end
    out.append(text[cursor:])
    return "".join(out)


def _number_word(word: str, numbers: NumberWords, *, joined: bool) -> list[tuple[int, bool]]:
    if word in numbers.words:
        return [(numbers.words[word], False)]
    if word in numbers.scales:
        return [(numbers.scales[word], True)]
    if joined and word in numbers.joiners:
        return [(0, False)]
    for joiner in numbers.joiners:  # Arabic writes "and" onto the next word: وعشرون
        rest = word.removeprefix(joiner)
        if rest != word and (rest in numbers.words or rest in numbers.scales):
            return _number_word(rest, numbers, joined=joined)
    return []


def _compose(parts: list[tuple[int, bool]]) -> int:
    total = current = 0
    for value, scale in parts:
        if not scale:
            current += value
        elif value >= 1000:
            total += max(current, 1) * value
            current = 0
        else:  # "dua ratus tiga puluh": the scale multiplies what came after the last one
            low = current % value
            current += max(low, 1) * value - low
    return total + current


class _Context:
    """The words around a number that say it is not a count, for one language and English."""

    def __init__(self, numbers: tuple[NumberWords, ...], space_thousands: bool) -> None:
        def union(attr: str) -> str:
            return "|".join(getattr(n, attr) for n in numbers)

        sep = r"[,.\u00a0\u202f\u2009'" + (" " if space_thousands else "") + "]"
        # Digits glued to letters ("F-16", "3rd", "10km") or to a decimal or time separator are
        # not counts; 1,234 / 1.234 (and 1 234 where the language writes it) are one number.
        self.number = re.compile(
            rf"(?<![\w.,/:])(?<![^\W\d_]-)(\d{{1,3}}(?:({sep})\d{{3}})(?:\2\d{{3}})*|\d+)"
            rf"(?!\w|[.,:/]\d)"
        )
        months = union("months")
        flags = re.IGNORECASE
        self.unit_after = re.compile(rf"\s*-?\s*(?:{_UNITS}|{union('units')})", flags)
        self.unit_before = re.compile(rf"(?:{_UNIT_BEFORE}|{union('unit_before')})\s*$", flags)
        self.year_before = re.compile(
            rf"(?<![{WORD_CHARS}])(?:{union('year_before')})\s+$|(?:{months})\W{{0,3}}"
            rf"(?:\d{{1,2}}(?:st|nd|rd|th|er|º)?\W{{1,3}})?(?:(?:de|of|del)\s+)?$",
            flags,
        )
        self.year_after = re.compile(rf"\s*(?:{union('year_after')})", flags)
        self.day_after = re.compile(rf"(?:\.|-\w{{1,3}})?\s*(?:(?:de|of)\s+)?(?:{months})", flags)
        self.day_before = re.compile(rf"(?:{months})\.?\s*$", flags)
        self.age_before = re.compile(rf"(?:{_LETTERS}),\s*$")
        self.age_after = re.compile(r"\s*,")

    def counts(self, text: str) -> set[int]:
        text = _DASH_DATE.sub(" ", text)
        found = set()
        for match in self.number.finditer(text):
            value = int(re.sub(r"\D", "", match.group(1)))
            before, after = text[max(0, match.start() - 40) : match.start()], text[match.end() :]
            if not self._other(value, before, after, bool(match.group(2))):
                found.add(value)
        return found

    def _other(self, value: int, before: str, after: str, grouped: bool) -> bool:
        if self.unit_after.match(after) or self.unit_before.search(before):
            return True
        if (
            not grouped
            and value in _YEARS
            and (self.year_before.search(before) or self.year_after.match(after))
        ):
            return True
        if value in _DAYS and (self.day_after.match(after) or self.day_before.search(before)):
            return True
        # "Jane Doe, 31, a nurse": an age set off by commas after a name.
        return value in _AGES and bool(
            self.age_before.search(before) and self.age_after.match(after)
        )


@cache
def _context(code: str | None) -> _Context:
    english = lexicon("en").numbers
    if code is None or code == "en":
        return _Context((english,), english.space_thousands)
    own = lexicon(code).numbers
    return _Context((own, english), own.space_thousands)
