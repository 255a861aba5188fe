"""Latin script for names written in another.

English writes a Ukrainian name by Ukraine's official romanization (the Cabinet of Ministers'
system of 2010: "Kharkiv", "Zhytomyr", "Mykolaiv", "Bohodukhiv"), not by Russian conventions;
a name from a Ukrainian article, or one written with letters only Ukrainian has (є, ї, ґ), is
romanized so (``translitua``). Every other script is transliterated letter by letter
(``anyascii``).
"""

from __future__ import annotations

import unicodedata

from anyascii import anyascii
from translitua import UkrainianKMU, translit

from service.languages.lexicon import language_code

_UKRAINIAN_ONLY = frozenset("єїґЄЇҐ")


def is_latin_letter(char: str) -> bool:
    return char.isascii() or "LATIN" in unicodedata.name(char, "")


def latin_share(text: str) -> float | None:
    """The share of ``text``'s letters that are Latin; None when it has no letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    return sum(is_latin_letter(c) for c in letters) / len(letters)


def latin(text: str | None, language: str | None = None) -> str | None:
    """``text`` in Latin script: transliterated when it has letters of another script,
    by the romanization of ``language`` where English follows one."""
    if text is None or text.isascii() or latin_share(text) == 1.0:
        return text
    if language_code(language) == "uk" or _UKRAINIAN_ONLY & set(text):
        text = translit(text, UkrainianKMU)
    return anyascii(text)
