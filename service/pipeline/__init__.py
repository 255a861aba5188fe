"""The deterministic steps that make the model's answers an honest record, in a fixed order.

Each step is a function ``(record, context) -> warnings`` in a module named for its concern; it
changes the record in place and says what it changed. ``run`` applies them in ``STEPS`` order,
and the record's ``warnings`` are simply what the steps said. Any step can be switched off by
name (``Context.disabled``), which is how ``eval --ablation`` measures what each one is worth.

``RULES_VERSION`` is a hash of this package's source and of the language resources: a rule
change gives stored records a new cache key, so no record made under older rules is served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from schemas.incident import Casualties, Incident
from service.pipeline import (
    bounds,
    categories,
    compose,
    dates,
    evidence,
    figures,
    machine_text,
    perpetrators,
    places,
    relevance,
    wording,
)
from service.pipeline.context import Context
from service.pipeline.record import Record, record_from_answers
from service.source_version import source_digest

Step = Callable[[Record, Context], list[str]]


@dataclass(frozen=True)
class NamedStep:
    name: str
    run: Step


STEPS: tuple[NamedStep, ...] = tuple(
    NamedStep(name, step)
    for name, step in (
        ("bounds", bounds.enforce_bounds),
        ("machine_text", machine_text.refuse_machine_sentences),
        ("figures", figures.check_figures),
        ("breakdown", figures.check_breakdown),
        ("others", figures.add_others),
        ("paired_injured", figures.pair_injured),
        ("missed_figures", figures.read_missed_figures),
        ("categories", categories.category_from_description),
        ("perpetrators", perpetrators.check_perpetrators),
        ("dates", dates.resolve_event_date),
        ("stale_event", relevance.stale_event),
        ("commemoration", relevance.commemoration),
        ("unsure_incident", relevance.unsure_incident),
        ("places", places.check_places),
        ("nothing_to_report", relevance.nothing_to_report),
        ("latin_names", wording.latin_names),
        ("neutral_wording", wording.neutral_wording),
        ("english_wording", wording.english_wording),
        ("copied_text", wording.no_copied_text),
        ("headline_figures", wording.headline_agrees),
        ("summary_figures", wording.summary_agrees),
        ("visible_text", wording.visible_text),
        ("complete_wording", wording.complete_wording),
        ("evidence", evidence.attach_evidence),
    )
)
STEP_NAMES = tuple(step.name for step in STEPS)


@dataclass(frozen=True)
class StepOutcome:
    name: str
    changed: tuple[str, ...]  # the record's fields the step changed
    warnings: tuple[str, ...]


def run(record: Record, context: Context) -> tuple[Incident, list[StepOutcome]]:
    outcomes = []
    # Nothing touches the record between two steps: what one step left is what the next
    # starts from, so one snapshot per step serves as both.
    before = _snapshot(record)
    for step in STEPS:
        if step.name in context.disabled:
            continue
        said = step.run(record, context)
        after = _snapshot(record)
        changed = tuple(name for name in before if before[name] != after[name])
        outcomes.append(StepOutcome(step.name, changed, tuple(said)))
        before = after
    return to_incident(record), outcomes


def warnings_of(outcomes: list[StepOutcome]) -> list[str]:
    return [w for outcome in outcomes for w in outcome.warnings]


def _snapshot(record: Record) -> dict[str, object]:
    return {f.name: repr(getattr(record, f.name)) for f in fields(record)}


def to_incident(record: Record) -> Incident:
    """The contract's record. A headline or summary still empty (their steps switched off) is
    written from the record, so every variant of an ablation is a valid record."""
    incident = record.is_incident
    if incident:
        headline = record.headline or compose.headline(record)
        summary = record.summary or compose.summary(record)
    else:
        headline = record.headline or compose.neutral_headline(record.kind, None)
        summary = record.summary or compose.neutral_summary(record.kind)
    return Incident(
        is_incident=incident,
        headline=headline,
        summary=summary,
        category=record.category if incident else None,
        date=record.date,
        location=record.location,
        casualties=Casualties(
            killed=record.killed,
            injured=record.injured,
            missing=record.missing,
            qualifier=record.qualifier if record.killed is not None else None,
            groups=record.groups,
        ),
        perpetrators=record.perpetrators,
        weapons=record.weapons,
        responses=record.responses,
        evidence=record.evidence,
    )


def _source_digest() -> str:
    roots = [Path(__file__).parent, Path(str(resources.files("service.languages")))]
    service = Path(__file__).parents[1]
    files = [service / "article.py", service / "sentences.py", service / "kind_odds.py"]
    for root in roots:
        files += sorted(p for p in root.rglob("*") if p.suffix in {".py", ".toml"})
    return source_digest(files)


RULES_VERSION = _source_digest()

__all__ = [
    "RULES_VERSION",
    "STEPS",
    "STEP_NAMES",
    "Context",
    "Record",
    "StepOutcome",
    "record_from_answers",
    "run",
    "warnings_of",
]
