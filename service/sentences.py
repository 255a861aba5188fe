"""An article as numbered sentences with exact offsets, in any language.

Segmentation is sentencex's (Wikimedia's rule-based segmenter: abbreviations, danda, Arabic
and CJK punctuation per language). Around it: every line break ends a sentence, because
headlines, captions and datelines stand on lines of their own without a full stop; and no
sentence is longer than ``MAX_CHARS``, so a pointer to a sentence always names a short quote.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sentencex

MAX_CHARS = 400
# Shorter than this, a piece cut from a long sentence is not worth a number of its own: the cut
# moves on to the next clause boundary or space.
_MIN_PIECE = 80

# Everything str.splitlines() treats as a line boundary.
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_BREAKS = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_CLAUSE = re.compile(r"[,;:\u060c\u061b\u3001\uff0c\uff1b]\s|[\u3001\uff0c\uff1b]")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Sentence:
    number: int
    start: int
    end: int
    text: str


@lru_cache(maxsize=512)
def split_sentences(text: str, language: str | None = None) -> tuple[Sentence, ...]:
    code = _segmenter_code(language)
    spans = [
        piece
        for line in _LINE.finditer(text)
        for start, end in _segments(line.group(), line.start(), code)
        for piece in _bounded(text, start, end)
    ]
    return tuple(
        Sentence(number=i, start=start, end=end, text=text[start:end])
        for i, (start, end) in enumerate(spans, 1)
    )


def numbered(sentences: Sequence[Sentence]) -> str:
    return "".join(f"[{s.number}] {_BREAKS.sub(' ', s.text)}\n" for s in sentences)


def _segmenter_code(language: str | None) -> str:
    # "pt-BR" and "PT" are Portuguese to sentencex too; it falls back to English rules for any
    # code it does not know, which is also the right default when the language is unknown.
    if not language:
        return "en"
    return language.strip().replace("_", "-").split("-")[0].lower() or "en"


def _segments(line: str, offset: int, code: str) -> Iterator[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = 0
    # sentencex returns pieces of the line in order, with or without their surrounding
    # whitespace; each is found again from where the previous one ended.
    for piece in sentencex.segment(code, line):
        body = piece.strip()
        if not body:
            continue
        found = line.find(body, cursor)
        if found < 0:  # the segmenter changed the text: keep the rest of the line whole
            break
        cursor = found + len(body)
        if spans and _continues(line, spans[-1][1], found):
            spans[-1] = (spans[-1][0], cursor)
        else:
            spans.append((found, cursor))
    rest = line[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append((cursor + lead, cursor + len(rest.rstrip())))
    return ((offset + start, offset + end) for start, end in spans)


def _continues(line: str, end: int, start: int) -> bool:
    # An abbreviation the segmenter's list lacks ("approx. five", "ca. ten"): a full stop
    # followed by a lower-case word does not end a sentence in a script with case. A word with
    # a capital inside ("iPhone") may start one.
    word = line[start:].split(maxsplit=1)[0]
    return line[end - 1] == "." and word.islower()


def _bounded(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while end - start > MAX_CHARS:
        cut = _cut(text, start, start + MAX_CHARS)
        piece_end = start + len(text[start:cut].rstrip())
        if piece_end > start:
            yield start, piece_end
        start = cut + len(text[cut:end]) - len(text[cut:end].lstrip())
    if end > start:
        yield start, end


def _cut(text: str, start: int, limit: int) -> int:
    window = text[start:limit]
    for boundary in (_CLAUSE, _SPACE):
        found = [m.end() for m in boundary.finditer(window) if m.end() >= _MIN_PIECE]
        if found:
            return start + found[-1]
    # No space at all (Chinese, Japanese, a URL): cut at the limit, but not between a letter
    # and the mark that belongs to it.
    cut = limit
    while cut > start + 1 and unicodedata.combining(text[cut]):
        cut -= 1
    return cut
