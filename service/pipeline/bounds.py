"""The contract's bounds, enforced on what the model wrote: too long is shortened, absurd is
dropped, a sentence number that does not exist points at nothing."""

from __future__ import annotations

from schemas.incident import HEADLINE_MAX, LIST_MAX, NAME_MAX, SHORT_MAX, SUMMARY_MAX
from service.pipeline.context import Context
from service.pipeline.placeholders import is_placeholder
from service.pipeline.record import Record

MAX_COUNT = 10_000_000


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def enforce_bounds(record: Record, context: Context) -> list[str]:
    warnings = []
    for kind in ("killed", "injured", "missing"):
        value = getattr(record, kind)
        if value is not None and value > MAX_COUNT:
            setattr(record, kind, None)
            warnings.append(f"{kind} figure {value} withheld: beyond any plausible toll")
    for name in ("killed_sentence", "injured_sentence", "perpetrator_sentence", "event_sentence"):
        number = getattr(record, name)
        if number is not None and context.article.sentence(number) is None:
            setattr(record, name, None)
            warnings.append(
                f"{name.replace('_', ' ')} {number} dropped: the article has no such sentence"
            )
    record.groups = [
        g
        for g in record.groups[:LIST_MAX]
        if all(v is None or v <= MAX_COUNT for v in (g.killed, g.injured))
    ]
    for g in record.groups:
        g.group = shorten(g.group, NAME_MAX)
    record.perpetrators = record.perpetrators[:LIST_MAX]
    for name in ("weapons", "responses"):
        values = getattr(record, name)
        if said := [v for v in values if v.strip() and is_placeholder(v)]:
            warnings.append(f"{name} {said} dropped: they name nothing")
        kept = [shorten(v, SHORT_MAX) for v in values if v.strip() and not is_placeholder(v)]
        setattr(record, name, kept[:LIST_MAX])
    if len(record.headline) > HEADLINE_MAX:
        record.headline = shorten(record.headline, HEADLINE_MAX)
        warnings.append(f"headline shortened to {HEADLINE_MAX} characters")
    if len(record.summary) > SUMMARY_MAX:
        record.summary = shorten(record.summary, SUMMARY_MAX)
        warnings.append(f"summary shortened to {SUMMARY_MAX} characters")
    return warnings
