"""Find a model's quote in the article, forgiving whitespace and quote-mark style only."""

from __future__ import annotations

import re
from functools import lru_cache

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
