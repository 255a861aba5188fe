"""Sentences addressed to a machine are never evidence, and their presence is on the record.

The model was shown them as withheld (``service.article``), so a reference to one can only be a
mistake; it is dropped with whatever it backed.
"""

from __future__ import annotations

from service.pipeline.context import Context
from service.pipeline.record import Record

_BACKED = {
    "killed_sentence": "killed",
    "injured_sentence": "injured",
    "perpetrator_sentence": None,
    "event_sentence": None,
}


def refuse_machine_sentences(record: Record, context: Context) -> list[str]:
    article = context.article
    if not article.directives and not article.title_is_directive:
        return []
    numbers = ", ".join(str(n) for n in sorted(article.directives)) or "title"
    warnings = [
        f"the article contains text addressed to a machine (sentence {numbers}); it was not "
        "shown to the model as news and is never evidence"
    ]
    for name, figure in _BACKED.items():
        if getattr(record, name) in article.directives:
            setattr(record, name, None)
            if figure and getattr(record, figure) is not None:
                warnings.append(
                    f"{figure} figure {getattr(record, figure)} withheld: its sentence is "
                    "addressed to a machine"
                )
                setattr(record, figure, None)
    return warnings
