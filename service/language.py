"""The article's language when the request gives no hint (py3langid, an offline n-gram model).

The model reads the article whatever its language; the detected code is stored with the record
so newsroom tools can filter and route by it. A guess below ``MIN_PROBABILITY`` is not a
detection: the record then says null rather than a wrong code.
"""

from __future__ import annotations

from functools import cache

from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

MIN_PROBABILITY = 0.5
_SAMPLE_CHARS = 4_000  # enough for a confident answer; keeps detection under a millisecond


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when it cannot be told with confidence."""
    sample = text[:_SAMPLE_CHARS]
    if not sample.strip():
        return None
    code, probability = _identifier().classify(sample)
    return str(code) if probability >= MIN_PROBABILITY else None


@cache
def _between(languages: frozenset[str]) -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(languages))
    return identifier


def reads_as_english(text: str, other: str | None) -> bool:
    """Whether a short text (a headline, a summary) is English rather than ``other``, the
    article's language. Chosen between the two only: a short text is told apart reliably from
    one known alternative, not from every language there is."""
    if not text.strip():
        return False
    if other in (None, "en"):
        return True
    try:
        identifier = _between(frozenset({"en", other}))
    except ValueError:  # a language the identifier does not know: nothing to compare with
        return True
    code, _ = identifier.classify(text)
    return str(code) == "en"
