"""Scoring of predicted incident records against the hand-labelled development set.

The rules are those of the "Scoring rules" section in the development set's README.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

FIELDS: tuple[str, ...] = (
    "is_incident",
    "category",
    "country",
    "location",
    "event_date",
    "killed",
    "injured",
    "perpetrator",
)
LENIENT_FIELDS: tuple[str, ...] = ("killed", "injured")

STOP_WORDS = frozenset(
    {"the", "of", "in", "a", "an", "and", "province", "city", "district", "state", "region", "near"}
)
NOBODY_NAMES = frozenset(
    {
        "unknown",
        "unidentified",
        "none",
        "null",
        "n a",
        "not stated",
        "not specified",
        "no group",
        "unknown perpetrator",
        "unknown attackers",
        "unknown gunmen",
        "unidentified gunmen",
    }
)

_NON_ALNUM_RUN = re.compile(r"[^a-z0-9 ]+")

# Stand-ins for "got" in failures when there is no incident object to read a value from.
MISSING = "<missing prediction>"
NO_INCIDENT = "<no incident object>"


def normalise(s: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM_RUN.sub(" ", ascii_only.lower()).strip()


def tokens(s: str) -> set[str]:
    return {t for t in normalise(s).split() if t not in STOP_WORDS}


def fuzzy_match(a: str, b: str) -> bool:
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return False
    na, nb = normalise(a), normalise(b)
    if na in nb or nb in na:
        return True
    return len(ta & tb) / min(len(ta), len(tb)) >= 0.5


def means_nobody(name: str) -> bool:
    norm = normalise(name)
    return not norm or norm in NOBODY_NAMES


def _perpetrator_names(incident: dict) -> list[str]:
    perpetrators = incident.get("perpetrators")
    if not isinstance(perpetrators, list):
        return []
    names = [p.get("name") for p in perpetrators if isinstance(p, dict)]
    return [n for n in names if isinstance(n, str)]


def known_perpetrator_names(incident: dict) -> list[str]:
    return [n for n in _perpetrator_names(incident) if not means_nobody(n)]


class Failure(NamedTuple):
    id: str
    field: str
    expected: Any
    got: Any


@dataclass
class FieldScore:
    correct: int = 0
    scored: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None

    def add(self, ok: bool) -> None:
        self.scored += 1
        self.correct += int(ok)

    def to_dict(self) -> dict[str, Any]:
        return {"correct": self.correct, "scored": self.scored, "accuracy": self.accuracy}


def _field_scores(names: Iterable[str]) -> dict[str, FieldScore]:
    return {name: FieldScore() for name in names}


@dataclass
class Report:
    fields: dict[str, FieldScore] = field(default_factory=lambda: _field_scores(FIELDS))
    lenient: dict[str, FieldScore] = field(default_factory=lambda: _field_scores(LENIENT_FIELDS))
    failures: list[Failure] = field(default_factory=list)

    @property
    def overall(self) -> FieldScore:
        # Pooled over fields, so fields scored on more items weigh more than in a mean.
        return FieldScore(
            correct=sum(s.correct for s in self.fields.values()),
            scored=sum(s.scored for s in self.fields.values()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": {name: s.to_dict() for name, s in self.fields.items()},
            "overall": self.overall.to_dict(),
            "lenient": {name: s.to_dict() for name, s in self.lenient.items()},
            "failures": [f._asdict() for f in self.failures],
        }

    def to_markdown(self) -> str:
        rows = [(name, s) for name, s in self.fields.items()]
        rows.append(("**overall**", self.overall))
        rows += [(f"{name} (lenient)", s) for name, s in self.lenient.items()]
        lines = ["| field | correct | scored | accuracy |", "|---|---:|---:|---:|"]
        for name, s in rows:
            lines.append(f"| {name} | {s.correct} | {s.scored} | {_format_accuracy(s)} |")
        return "\n".join(lines)


def _format_accuracy(s: FieldScore) -> str:
    return "n/a" if s.accuracy is None else f"{s.accuracy:.3f}"


def _incident_of(prediction: dict | None) -> tuple[dict | None, str]:
    """Return the prediction's incident object, or None and what to report as "got" instead."""
    if not isinstance(prediction, dict):
        return None, MISSING
    if "error" in prediction:
        return None, f"<error: {prediction['error']!r}>"
    response = prediction.get("response")
    incident = response.get("incident") if isinstance(response, dict) else None
    if not isinstance(incident, dict):
        return None, NO_INCIDENT
    return incident, ""


def _sub(obj: dict, key: str) -> dict:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _predicted_location(incident: dict) -> str:
    location = _sub(incident, "location")
    parts = [location.get("place"), location.get("region")]
    return " ".join(p for p in parts if isinstance(p, str))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _country_ok(got: Any, accepted: list[str]) -> bool:
    return isinstance(got, str) and got.upper() in accepted


def _perpetrator_ok(gold: dict, incident: dict) -> bool:
    known = known_perpetrator_names(incident)
    expected = gold.get("perpetrator")
    if expected is None or normalise(expected) == "unknown":
        return not known
    matched = any(fuzzy_match(name, expected) for name in known)
    if gold.get("perpetrator_descriptive"):
        return not known or matched
    return matched


def _count_ok(got: Any, accepted: list[Any]) -> bool:
    return _is_int(got) and got in accepted


# Each check: (field, value to report as "got", whether it is correct), for a gold incident.
Check = tuple[str, Any, bool]


def _incident_checks(gold: dict, incident: dict) -> list[Check]:
    checks: list[Check] = []
    category = incident.get("category")
    categories = [gold["category"], *gold.get("category_alt", [])]
    checks.append(("category", category, category in categories))
    if gold.get("country") is not None:
        code = _sub(incident, "location").get("country_code")
        countries = [gold["country"], *gold.get("country_alt", [])]
        checks.append(("country", code, _country_ok(code, countries)))
    if gold.get("location") is not None:
        place = _predicted_location(incident)
        checks.append(("location", place, fuzzy_match(place, gold["location"])))
    if gold.get("event_date") is not None:
        iso = _sub(incident, "date").get("iso")
        accepted = [gold["event_date"], *gold.get("event_date_alt", [])]
        checks.append(("event_date", iso, isinstance(iso, str) and iso in accepted))
    for name in LENIENT_FIELDS:
        if gold.get(name) is not None:
            count = _sub(incident, "casualties").get(name)
            checks.append((name, count, _count_ok(count, [gold[name]])))
    checks.append(("perpetrator", _perpetrator_names(incident), _perpetrator_ok(gold, incident)))
    return checks


def _scored_fields(gold: dict) -> list[str]:
    if not gold["is_incident"]:
        return ["is_incident"]
    optional = ["country", "location", "event_date", "killed", "injured"]
    present = {name for name in optional if gold.get(name) is not None}
    return [name for name in FIELDS if name in present or name not in optional]


def _score_lenient(report: Report, gold: dict, incident: dict | None) -> None:
    for name in LENIENT_FIELDS:
        if not gold["is_incident"] or gold.get(name) is None:
            continue
        count = _sub(incident, "casualties").get(name) if incident is not None else None
        report.lenient[name].add(_count_ok(count, [gold[name], *gold.get(f"{name}_alt", [])]))


def _record(report: Report, gold_id: str, name: str, expected: Any, got: Any, ok: bool) -> None:
    report.fields[name].add(ok)
    if not ok:
        report.failures.append(Failure(gold_id, name, expected, got))


def _score_item(report: Report, gold: dict, prediction: dict | None) -> None:
    incident, absent = _incident_of(prediction)
    gold_id = gold["id"]
    if incident is None:
        for name in _scored_fields(gold):
            _record(report, gold_id, name, gold.get(name), absent, False)
    else:
        got_incident = incident.get("is_incident")
        ok = bool(got_incident) == bool(gold["is_incident"])
        _record(report, gold_id, "is_incident", gold["is_incident"], got_incident, ok)
        if gold["is_incident"]:
            for name, got, ok in _incident_checks(gold, incident):
                _record(report, gold_id, name, gold.get(name), got, ok)
    _score_lenient(report, gold, incident)


def score(gold: list[dict], predictions: dict[str, dict | None]) -> Report:
    report = Report()
    for item in gold:
        _score_item(report, item, predictions.get(item["id"]))
    return report


__all__ = [
    "FIELDS",
    "LENIENT_FIELDS",
    "Failure",
    "FieldScore",
    "Report",
    "fuzzy_match",
    "known_perpetrator_names",
    "normalise",
    "score",
    "tokens",
]
