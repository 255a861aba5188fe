"""The relevance gate on its own: ``eval --relevance-only``.

Only the short first call is made for each article (what the article is, from its lead), so a
change of the gate's prompt or schema is scored on a whole labelled set in minutes instead of
the hour a full extraction of every article takes. The score is the gate's alone: the record's
own steps (a stale event, nothing to report) can still turn an incident answer into ordinary
news afterwards, and the full ``eval`` measures that.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from schemas.incident import category_of
from service.config import Settings
from service.evaluate import EvaluationError, percentile, text_article, until_ready
from service.pipeline.relevance import unsure


@dataclass(frozen=True)
class GateAnswer:
    id: str
    file: str
    is_incident: bool  # the label
    kind: str | None  # the gate's answer; None when the call failed
    seconds: float
    error: str | None = None
    # The answer's odds of naming an incident (``service.kind_odds``), and whether they are
    # below the service's minimum, which makes an incident kind ordinary news.
    probability: float | None = None
    unsure: bool = False

    @property
    def answered_incident(self) -> bool:
        return self.kind is not None and category_of(self.kind) is not None and not self.unsure

    @property
    def right(self) -> bool:
        return self.kind is not None and self.answered_incident == self.is_incident

    @property
    def right_on_kind(self) -> bool:
        """Right when judged on the kind alone, without the odds (the gate before them)."""
        named = self.kind is not None and category_of(self.kind) is not None
        return self.kind is not None and named == self.is_incident


async def predict_relevance(
    files: dict[str, list[dict[str, Any]]],
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_answer: Callable[[GateAnswer], None] | None = None,
) -> list[GateAnswer]:
    """The gate's answer for every article, through the service's own ``Summarizer``."""
    from service.app import create_app
    from service.errors import SummarizerError

    app = create_app(settings, llm_transport=transport)
    results: list[GateAnswer] = []
    async with app.router.lifespan_context(app):
        await until_ready(app)
        summarizer = app.state.summarizer
        for name, items in files.items():
            for item in items:
                if item.get("text") is None:
                    raise EvaluationError(f"{item['id']}: --relevance-only reads text articles")
                article = text_article(item)
                started = time.perf_counter()
                probability, doubted = None, False
                try:
                    answer = await summarizer.relevance(
                        article, time.monotonic() + settings.request_deadline_s
                    )
                    kind: str | None = str(answer.value.kind)
                    error = None
                    if answer.odds is not None:
                        probability = answer.odds.incident
                        doubted = unsure(answer.odds, settings.min_incident_probability)
                except SummarizerError as exc:
                    kind, error = None, exc.code
                result = GateAnswer(
                    id=item["id"],
                    file=name,
                    is_incident=bool(item.get("is_incident")),
                    kind=kind,
                    seconds=time.perf_counter() - started,
                    error=error,
                    probability=probability,
                    unsure=doubted,
                )
                results.append(result)
                if on_answer is not None:
                    on_answer(result)
    return results


def relevance_text(answers: list[GateAnswer]) -> str:
    """Per file: incidents kept, negatives let through, failures, seconds; then every wrong
    answer with the kind the gate gave."""
    lines = [
        "| file | incidents answered as incidents | negatives answered as ordinary news | "
        "the same on the kind alone (incidents, negatives) | errors | seconds p50 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    files = list(dict.fromkeys(a.file for a in answers))
    for name in [*files, "all"]:
        part = [a for a in answers if name in ("all", a.file)]
        incidents = [a for a in part if a.is_incident]
        negatives = [a for a in part if not a.is_incident]
        kept = sum(a.right for a in incidents)
        refused = sum(a.right for a in negatives)
        kind_kept = sum(a.right_on_kind for a in incidents)
        kind_refused = sum(a.right_on_kind for a in negatives)
        errors = sum(a.kind is None for a in part)
        p50 = percentile([a.seconds for a in part], 0.5)
        seconds = "" if p50 is None else f"{p50:.1f}"
        lines.append(
            f"| {name} | {kept}/{len(incidents)} | {refused}/{len(negatives)} | "
            f"{kind_kept}/{len(incidents)}, {kind_refused}/{len(negatives)} | {errors} | "
            f"{seconds} |"
        )
    wrong = [a for a in answers if not (a.right and a.right_on_kind)]
    if wrong:
        lines += ["", "Wrong answers (with the odds, or on the kind alone):"]
        lines += [
            f"- {a.id} ({a.file}): {'incident' if a.is_incident else 'ordinary news'} answered "
            f"{a.kind or 'error ' + str(a.error)}{_odds(a)}"
            for a in wrong
        ]
    kept_odds = [a.probability for a in answers if a.is_incident and a.right and a.probability]
    if kept_odds:
        lines += ["", f"Lowest odds of an incident kept: {min(kept_odds):.3f}"]
    kinds = Counter(a.kind for a in answers if not a.is_incident and a.kind)
    lines += [
        "",
        "Kinds given to negatives: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()),
    ]
    return "\n".join(lines)


def _odds(answer: GateAnswer) -> str:
    if answer.probability is None:
        return ""
    verdict = ", below the minimum: ordinary news" if answer.unsure else ""
    return f" (incident probability {answer.probability:.3f}{verdict})"
