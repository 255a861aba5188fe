"""Numbers in text, whether written as digits or words ("three", "twenty-one")."""

from __future__ import annotations

import re

from text_to_num import alpha2digit

_CASUALTY_WORDS = r"(killed|dead|die[sd]?|deaths?|wounded|injured|injuries|hurt|missing|casualties)"
# "12 wounded", "3 US soldiers killed": a figure, up to four words, then a casualty word.
_FIGURE = re.compile(rf"\b(\d[\d,]*)\s+(?:[^\W\d]+\s+){{0,4}}?{_CASUALTY_WORDS}\b", re.I)
_NUMBER = re.compile(r"\b\d[\d,]*\b")


def _digits(text: str) -> str:
    return alpha2digit(text, "en")


def numbers_in(text: str) -> set[int]:
    return {int(m.group().replace(",", "")) for m in _NUMBER.finditer(_digits(text))}


def casualty_numbers(text: str) -> list[tuple[int, str]]:
    """(figure, casualty word) pairs such as (12, "wounded") in a headline."""
    return [
        (int(m.group(1).replace(",", "")), m.group(2).lower()) for m in _FIGURE.finditer(_digits(text))
    ]
