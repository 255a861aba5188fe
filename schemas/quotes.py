"""Find a model's quote in the article, forgiving whitespace and quote-mark style only."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

# Characters a model may swap for one another when it copies text (deliberately look-alikes).
_EQUIVALENT = {
    **dict.fromkeys('"“”„‟«»″', '["“”„‟«»″]'),
    **dict.fromkeys("'‘’‚‛′`", "['‘’‚‛′`]"),  # noqa: RUF001
    **dict.fromkeys("-‐‑‒–—―", "[-‐‑‒–—―]"),  # noqa: RUF001
}


@lru_cache(maxsize=1024)
def _pattern(quote: str) -> re.Pattern[str] | None:
    parts: list[str] = []
    for token in re.split(r"(\s+)", quote.strip()):
        if not token:
            continue
        if token.isspace():
            parts.append(r"\s+")
        else:
            parts.append("".join(_EQUIVALENT.get(ch, re.escape(ch)) for ch in token))
    return re.compile("".join(parts)) if parts else None


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """Offsets of ``quote`` in ``text`` (first occurrence), or None when it is not there."""
    pattern = _pattern(quote)
    if pattern is None:
        return None
    match = pattern.search(text)
    return (match.start(), match.end()) if match else None


def align_quote(text: str, quote: str, *, min_score: float = 90.0) -> tuple[int, int] | None:
    """Offsets of the article span a near-copy was taken from, widened to whole words.

    Small models copy sentences with a word or two changed ("died" for "perished"). The span
    they meant is found by fuzzy alignment, and the article's own words replace the model's,
    so a stored quote is always verbatim. Whether that span supports a figure is checked
    afterwards, on the article's words.
    """
    exact = find_quote(text, quote)
    if exact is not None:
        return exact
    needle = quote.strip()
    if len(needle) < 20:  # too short to align without risking a wrong match
        return None
    found = fuzz.partial_ratio_alignment(needle, text, score_cutoff=min_score)
    if found is None:
        return None
    start, end = found.dest_start, found.dest_end
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


# A sentence ends at . ! ? (or their full-width forms, or the Devanagari danda) before a space,
# or at a line break. Abbreviations ("Gen.", "U.S.") may split a sentence early; a split too
# early only shortens a quote, and every quote is checked again against the figure it backs.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？।])[\"'”’)\]]*\s+|\n\s*")  # noqa: RUF001
_SENTENCE_MAX = 400


def sentences(text: str) -> list[tuple[int, int]]:
    """Offsets of the article's sentences, each trimmed of surrounding whitespace and at most
    400 characters long (a longer run without a full stop is cut at a clause boundary)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        _add_sentence(text, start, end, spans)
        if match:
            start = match.end()
    return spans


def _add_sentence(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > _SENTENCE_MAX:
        cut = max(text.rfind(sep, start, start + _SENTENCE_MAX) for sep in (", ", "; ", " "))
        cut = cut if cut > start else start + _SENTENCE_MAX
        spans.append((start, cut))
        start = cut
        while start < end and text[start] in ",; ":
            start += 1
    if end > start:
        spans.append((start, end))
