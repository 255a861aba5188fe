"""The record while the pipeline works on it: the model's answers, before the contract's shape.

Figures keep the number of the sentence they were read from until ``evidence`` turns the
numbers into verbatim quotes with offsets; steps compare, move or withhold them on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.incident import (
    ArticleKind,
    CasualtyGroup,
    Category,
    EventDate,
    Evidence,
    IncidentDraft,
    Location,
    Perpetrator,
    Qualifier,
    RelevanceAnswer,
    category_of,
)
from service.kind_odds import KindOdds
from service.languages import Kind


@dataclass
class Record:
    kind: ArticleKind
    category: Category | None
    event_sentence: int | None
    killed: int | None = None
    killed_sentence: int | None = None
    injured: int | None = None
    injured_sentence: int | None = None
    missing: int | None = None
    qualifier: Qualifier | None = None
    groups: list[CasualtyGroup] = field(default_factory=list)
    perpetrators: list[Perpetrator] = field(default_factory=list)
    perpetrator_sentence: int | None = None
    date: EventDate = field(default_factory=lambda: EventDate(text=None, iso=None, precision=None))
    location: Location = field(
        default_factory=lambda: Location(place=None, region=None, country=None, country_code=None)
    )
    weapons: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    headline: str = ""
    summary: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    # How sure the relevance call was (``service.kind_odds``); None: the server gave no odds.
    odds: KindOdds | None = None
    # The kinds ("killed", "injured") whose figure the model gave and no sentence states.
    unstated: set[Kind] = field(default_factory=set)
    # The sentences the model's answers pointed at for the event and its figures, as answered
    # (steps move a figure's pointer to the sentence that states it; the first still reports
    # the event).
    pointed: frozenset[int] = frozenset()

    @property
    def is_incident(self) -> bool:
        return self.kind == ArticleKind.new_incident

    def not_an_incident(self, kind: ArticleKind) -> None:
        """Everything but the headline and summary emptied, as the contract has it."""
        blank = Record(kind=kind, category=None, event_sentence=None)
        for name in self.__dataclass_fields__:
            if name not in ("headline", "summary", "odds"):
                setattr(self, name, getattr(blank, name))


def record_from_answers(
    relevance: RelevanceAnswer, draft: IncidentDraft | None, odds: KindOdds | None = None
) -> Record:
    """The record of the relevance answer and, when the record call was made, its draft: for
    an incident the relevance call named, or for ordinary news it named in doubt
    (``relevance.doubtful``), whose record the pipeline then judges."""
    category = category_of(relevance.kind)
    kind = ArticleKind.new_incident if category is not None else ArticleKind(relevance.kind)
    record = Record(kind=kind, category=category, event_sentence=relevance.sentence, odds=odds)
    if draft is None:
        return record
    record.kind = ArticleKind.new_incident
    # The record call read the whole article; the relevance call only its lead.
    record.category = draft.category
    record.killed, record.killed_sentence = draft.killed, draft.killed_sentence
    record.injured, record.injured_sentence = draft.injured, draft.injured_sentence
    record.missing, record.qualifier = draft.missing, draft.qualifier
    # Copies: steps change the record in place, and the answers may be judged again (an
    # ablation runs the pipeline several times on the same answers).
    record.groups = [g.model_copy() for g in draft.groups]
    record.perpetrators = [p.model_copy() for p in draft.perpetrators]
    record.perpetrator_sentence = draft.perpetrator_sentence
    record.date, record.location = draft.date, draft.location
    record.weapons, record.responses = list(draft.weapons), list(draft.responses)
    record.headline, record.summary = draft.headline, draft.summary
    answered = (relevance.sentence, draft.killed_sentence, draft.injured_sentence)
    record.pointed = frozenset(n for n in answered if n is not None)
    return record
