"""How sure the relevance call is that an article reports an incident, read from its answer's
token log-probabilities (OpenAI's ``logprobs`` with ``top_logprobs``).

The relevance answer names one kind: an incident's kind (``shooting``) or an ordinary news
kind (``sports``). A greedy decoder names the likeliest first token, even when the ordinary
kinds together are more probable than that one incident kind, or when the model hesitates
between an incident and a look back at one. Here the alternatives at the token where the kind
begins are summed by the kind they start: the incident kinds against the ordinary ones. The
bundled model's tokenizer starts every kind with a distinct token, so the split is exact
there; with another tokenizer, an alternative that could start kinds of both groups is left
out of both sums.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.incident import ArticleKind, ReportKind, category_of

# OpenAI allows at most 20 alternatives per token.
TOP_LOGPROBS = 20
_KIND_VALUE = re.compile(r'"kind"\s*:\s*"')
# Each kind as its JSON string ends: ``shooting"``.
_QUOTED = {k.value: f'{k.value}"' for k in ReportKind}


class _Alternative(Protocol):
    token: str
    logprob: float


@dataclass(frozen=True)
class KindOdds:
    """``incident``: the probability that the answer's kind is an incident's, among the kinds
    the alternatives start. ``ordinary``: the likeliest ordinary kind."""

    incident: float
    ordinary: ArticleKind

    def as_json(self) -> dict[str, Any]:
        return {"incident": self.incident, "ordinary": self.ordinary.value}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> KindOdds | None:
        if not data:
            return None
        return cls(incident=float(data["incident"]), ordinary=ArticleKind(data["ordinary"]))


def kind_odds(tokens: Sequence[Any] | None) -> KindOdds | None:
    """The odds from an answer's ``logprobs.content`` (entries with ``token``, ``logprob`` and
    ``top_logprobs``); None when the server sent none or the answer names no kind."""
    if not tokens:
        return None
    text = "".join(t.token for t in tokens)
    found = _KIND_VALUE.search(text)
    if found is None:
        return None
    start = 0
    for token in tokens:
        end = start + len(token.token)
        if end > found.end():
            break
        start = end
    else:
        return None
    # The token holding the kind's first character may begin with the opening quote.
    lead = text[start : found.end()]
    alternatives = list(_with_picked(token.top_logprobs or (), token))
    incident = ordinary = 0.0
    by_kind: dict[str, float] = {}
    for alt in alternatives:
        if not alt.token.startswith(lead) or len(alt.token) == len(lead):
            continue
        kinds = _kinds_started_by(alt.token[len(lead) :])
        if not kinds:
            continue
        p = math.exp(alt.logprob)
        if all(category_of(k) is not None for k in kinds):
            incident += p
        elif all(category_of(k) is None for k in kinds):
            ordinary += p
            if len(kinds) == 1:
                by_kind[kinds[0]] = by_kind.get(kinds[0], 0.0) + p
    if incident + ordinary == 0.0:
        return None
    likeliest = max(by_kind, key=by_kind.__getitem__) if by_kind else ArticleKind.culture_or_other
    return KindOdds(incident=incident / (incident + ordinary), ordinary=ArticleKind(likeliest))


def _with_picked(top: Iterable[_Alternative], picked: _Alternative) -> Iterable[_Alternative]:
    seen = set()
    for alt in top:
        seen.add(alt.token)
        yield alt
    if picked.token not in seen:  # a server may list fewer alternatives than the pick
        yield picked


def _kinds_started_by(rest: str) -> list[str]:
    """The kinds whose JSON string (``shooting"``) starts with ``rest``, or that ``rest``
    holds whole (a token running on past the closing quote)."""
    return [k for k, q in _QUOTED.items() if q.startswith(rest) or rest.startswith(q)]
