"""The model's two answers for tests: a relevance answer and a record draft with every field
of ``IncidentDraft`` present (the model must write them all), empty unless a scenario fills it."""

from __future__ import annotations

import copy
from typing import Any

_EMPTY: dict[str, Any] = {
    "category": "other",
    "killed_sentence": None,
    "killed": None,
    "injured_sentence": None,
    "injured": None,
    "missing": None,
    "qualifier": None,
    "groups": [],
    "perpetrator_sentence": None,
    "perpetrators": [],
    "date": {"text": None, "iso": None, "precision": None},
    "location": {"place": None, "region": None, "country": None, "country_code": None},
    "weapons": [],
    "responses": [],
    "summary": "",
    "headline": "",
}


def draft_payload(scenario: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The scenario's draft with ``changes`` applied, as the model would send it."""
    return {**copy.deepcopy(_EMPTY), **scenario, **changes}


def relevance(kind: str = "armed_attack", sentence: int | None = 1) -> dict[str, Any]:
    """A relevance answer: an incident's kind (a category), or a kind of ordinary news (then
    without a sentence)."""
    from schemas.incident import category_of

    return {"kind": kind, "sentence": sentence if category_of(kind) is not None else None}
