"""What a model writes in a field when the article gives nothing for it ("unknown", "not
stated"): never a value, in any article's language, because the fields are English."""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(
    r"(?:unknown|unspecified|unclear|undisclosed|none|null|n/?a|-+|\?+"
    r"|not\s+(?:stated|specified|given|known|mentioned|reported|named)"
    r"|(?:unknown|unspecified|undisclosed)\s+(?:place|location|city|town|area|region|country"
    r"|date|day|time))",
    re.I,
)


def is_placeholder(value: str | None) -> bool:
    return value is not None and _PLACEHOLDER.fullmatch(value.strip()) is not None
