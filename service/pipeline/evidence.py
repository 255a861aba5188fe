"""Alignment to the source: the sentence numbers the model pointed at become verbatim quotes
with their offsets in the article. Every quote is exact by construction."""

from __future__ import annotations

from schemas.incident import Evidence
from service.pipeline.context import Context
from service.pipeline.record import Record


def attach_evidence(record: Record, context: Context) -> list[str]:
    record.evidence = []
    if not record.is_incident:
        return []
    article = context.article
    pointers = (
        ("casualties.killed", record.killed_sentence if record.killed is not None else None),
        ("casualties.injured", record.injured_sentence if record.injured is not None else None),
        # For "unknown" too, when the model pointed at the sentence saying nobody claimed it.
        ("perpetrators", record.perpetrator_sentence if record.perpetrators else None),
    )
    for field, number in pointers:
        sentence = article.sentence(number)
        if sentence is None or sentence.number in article.directives:
            continue
        record.evidence.append(
            Evidence(field=field, quote=sentence.text, start=sentence.start, end=sentence.end)
        )
    return []
