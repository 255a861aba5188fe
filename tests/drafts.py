"""Draft payloads for validator and post-processing tests: every field of ``IncidentDraft``
present (the model must write them all), empty unless a test's scenario fills it."""

from __future__ import annotations

import copy
from typing import Any

_EMPTY: dict[str, Any] = {
    "is_incident": True,
    "category": None,
    "deaths_quote": None,
    "killed": None,
    "injuries_quote": None,
    "injured": None,
    "missing": None,
    "qualifier": "exact",
    "groups": [],
    "perpetrator_quote": None,
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
