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
