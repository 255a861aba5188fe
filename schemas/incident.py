"""The incident record of the public contract, and the draft the model writes.

Two models share one vocabulary:

* ``IncidentDraft`` is what the model fills. Its docstrings and field descriptions are prompt
  text: the model reads them through the JSON schema. Its fields are ordered so the model
  writes the evidence before the figures it supports and the headline last, after the numbers
  it must agree with (grammar-constrained decoding emits properties in schema order).
* ``Incident`` is the record the API returns: the same fields in the contract's order, with
  evidence offsets computed by the service.

Both are strict (``extra="forbid"``) and every field is required (nullable where the contract
allows null), so an OpenAI ``strict`` schema, a llama.cpp grammar and a vLLM guided decoder
all accept the same schema and every field is always present.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from schemas.evidence import (
    claimant,
    first_figure,
    none_sentence,
    sentence_around,
    sentence_for_figure,
    sentence_naming,
)
from schemas.numbers import (
    casualty_numbers,
    figures_of_kind,
    says_none,
    stated_figures,
    subcount_figures,
    supports_figure,
)
from schemas.quotes import align_quote, find_quote

SCHEMA_VERSION = "1"

HEADLINE_MAX = 160
SUMMARY_MAX = 600
QUOTE_MAX = 400
NAME_MAX = 120
SHORT_MAX = 120
LIST_MAX = 8


class Category(StrEnum):
    armed_attack = "armed_attack"
    explosion_bombing = "explosion_bombing"
    air_or_missile_strike = "air_or_missile_strike"
    shooting = "shooting"
    stabbing_or_assault = "stabbing_or_assault"
    kidnapping_or_hostage = "kidnapping_or_hostage"
    riot_or_unrest = "riot_or_unrest"
    transport_accident = "transport_accident"
    industrial_accident = "industrial_accident"
    structural_collapse = "structural_collapse"
    fire = "fire"
    natural_disaster = "natural_disaster"
    other = "other"


Precision = Literal["day", "month", "year"]
Qualifier = Literal["exact", "at_least", "approximate"]
Attribution = Literal["confirmed", "claimed", "suspected", "unknown"]
EvidenceField = Literal["casualties.killed", "casualties.injured", "perpetrators"]

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=SHORT_MAX)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Alpha2 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
IsoDate = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventDate(_Strict):
    """When the incident happened."""

    text: ShortText | None = Field(
        description='The words the article uses for when it happened ("on Wednesday", '
        '"March 11"). null if the article does not say.'
    )
    iso: IsoDate | None = Field(
        description="YYYY-MM-DD of the event day if the article states it; null otherwise "
        "(the service resolves weekdays and 'yesterday' against the publication date)."
    )
    precision: Precision | None = Field(description="day, month or year; null if no date.")


class Location(_Strict):
    """Where the incident happened (not where the reporter filed from)."""

    place: ShortText | None = Field(
        description="The most specific place the article names, as a proper name copied from "
        'it ("Camp Taji"), not a description ("a market near the port").'
    )
    region: ShortText | None = Field(
        description="Province, state or city around the place, when the article names it."
    )
    country: ShortText | None = Field(description="Country name in English.")
    country_code: Alpha2 | None = Field(description="ISO 3166-1 alpha-2 code of that country.")


class CasualtyGroup(_Strict):
    """One group in the breakdown of the toll."""

    group: Name = Field(description='Who they were ("US servicemen", "civilians").')
    nationality_code: Alpha2 | None = Field(
        description="ISO 3166-1 alpha-2 code of the group's nationality, or null."
    )
    killed: Count | None
    injured: Count | None


class Casualties(_Strict):
    """The toll of this incident only (not earlier or other incidents in the article)."""

    killed: Count | None = Field(
        description="Total dead in this incident: the latest or most authoritative figure, "
        "summing groups. null if no figure is given; 0 only if the article says nobody died."
    )
    injured: Count | None = Field(
        description="Total injured or wounded, same rules. Missing or rescued people are not "
        "injured."
    )
    missing: Count | None = Field(description="Missing people, if a figure is given.")
    qualifier: Qualifier | None = Field(
        description='How the killed figure is worded: "at least 12" -> at_least, "about 12" '
        "-> approximate, otherwise exact; null when killed is null."
    )
    groups: list[CasualtyGroup] = Field(
        max_length=LIST_MAX,
        description="Breakdown by group when the article gives one; [] otherwise.",
    )


class Perpetrator(_Strict):
    """Who carried out the attack."""

    name: Name = Field(
        description='Named group or person; "unknown" when the attack is unclaimed and nobody '
        "is named."
    )
    attribution: Attribution = Field(
        description="confirmed (by authorities), claimed (by the group), suspected (blamed or "
        "suspected), unknown."
    )


class Evidence(_Strict):
    """A verbatim quote from the article supporting one field, with its position."""

    field: EvidenceField = Field(description="The field this quote supports.")
    quote: str = Field(description="The words exactly as they appear in the article.")
    start: int = Field(ge=0, description="Offset of the quote's first character in the text.")
    end: int = Field(ge=0, description="Offset just past the quote's last character.")


QuoteText = Annotated[str, StringConstraints(min_length=1, max_length=QUOTE_MAX)]
Headline = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=HEADLINE_MAX)
]
Summary = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)
]
Strings = Annotated[list[ShortText], Field(max_length=LIST_MAX)]


#: What the draft's validators check against, for callers that cannot pass pydantic a
#: validation context: ``{"text": article, "final": () -> bool}``. ``final()`` is true on the
#: last answer the model may give, when unsupported values are withheld instead of re-asked.
#: A context passed to ``model_validate`` takes precedence.
validation_context: ContextVar[dict[str, Any] | None] = ContextVar(
    "draft_validation_context", default=None
)


class IncidentDraft(_Strict):
    """The incident a news article reports, as the model writes it.

    Report only what the article states about its main incident (the first one described).
    Background events, earlier attacks and anniversaries are not the incident. Each figure
    follows the sentence it comes from, copied exactly.
    """

    is_incident: bool = Field(
        description="true only if the article reports a specific violent event, accident or "
        "disaster as news; false for business, sports, science, court cases about old events, "
        "anniversaries and opinion."
    )
    category: Category | None = Field(
        description="Kind of incident; null if not an incident. air_or_missile_strike covers "
        "rockets, missiles, mortars, artillery, drones and air strikes; explosion_bombing "
        "covers bombs, IEDs, suicide and gas explosions; a crowd crush is other."
    )
    deaths_quote: QuoteText | None = Field(
        description="The sentence, copied exactly, that says how many people died in this "
        "incident; null if no sentence gives a number of dead."
    )
    killed: Count | None = Field(
        description="Number of dead that sentence states (add up groups: 'two soldiers and a "
        "civilian' = 3). null if not stated; 0 only if the article says nobody died."
    )
    injuries_quote: QuoteText | None = Field(
        description="The sentence, copied exactly, that says how many were injured or wounded; "
        "null if none."
    )
    injured: Count | None = Field(description="Number of injured that sentence states, or null.")
    missing: Count | None = Field(description="Number of missing people, if stated.")
    qualifier: Qualifier | None = Field(
        description='"at least 12" -> at_least, "about 12" -> approximate, else exact; null '
        "when killed is null."
    )
    groups: list[CasualtyGroup] = Field(
        max_length=LIST_MAX,
        description="Breakdown of the dead or injured by group when the article gives one; [].",
    )
    perpetrator_quote: QuoteText | None = Field(
        description="The sentence, copied exactly, naming who carried out the attack or saying "
        "nobody claimed it; null for accidents and disasters."
    )
    perpetrators: list[Perpetrator] = Field(
        max_length=LIST_MAX,
        description="Attackers; [] for accidents and disasters.",
    )
    date: EventDate
    location: Location
    weapons: Strings = Field(description='Means or cause ("rockets", "car bomb", "earthquake").')
    responses: Strings = Field(description="Reactions reported (condemnations, reprisals).")
    summary: Summary = Field(
        description="2-3 neutral sentences: what happened, where, when, who, the toll."
    )
    headline: Headline = Field(
        description="One line that starts with the toll and uses the same numbers, e.g. "
        '"3 killed, 12 wounded in rocket strike on Camp Taji, Iraq".'
    )

    def quotes(self) -> list[tuple[EvidenceField, str]]:
        pairs: list[tuple[EvidenceField, str | None]] = [
            ("casualties.killed", self.deaths_quote),
            ("casualties.injured", self.injuries_quote),
            ("perpetrators", self.perpetrator_quote),
        ]
        return [(f, q) for f, q in pairs if q]

    # What the service withheld from the model's last answer, for the record's warnings.
    _withheld: list[str] = PrivateAttr(default_factory=list)

    @property
    def withheld(self) -> list[str]:
        return list(self._withheld)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> IncidentDraft:
        context = info.context or validation_context.get() or {}
        text = context.get("text")
        if text is not None:
            self._align_quotes(text)
            self._find_evidence(text)
            self._prefer_stated_totals(text)
            self._fill_from_article(text)
            self._claimed_in_article(text)
        self._complete_totals()
        problems = self._problems(text)
        final = context.get("final")
        if problems and final is not None and final():
            # Out of re-asks: keep what the article supports and withhold the rest, rather
            # than refusing the whole record or storing a figure nobody can check.
            self._withhold_unsupported(text)
            if text is not None:
                self._fill_from_article(text)
                self._claimed_in_article(text)
            problems = self._problems(text)
        if problems:
            # Each message says what to change: it goes back to the model as the re-ask.
            raise ValueError("; ".join(problems))
        return self

    def _problems(self, text: str | None) -> list[str]:
        problems = self._toll_problems() + self._headline_problems()
        if text is not None:
            problems += self._evidence_problems(text)
        return problems

    def _withhold_unsupported(self, text: str | None) -> None:
        notes = self._withheld
        if text is not None:
            for name in ("deaths_quote", "injuries_quote", "perpetrator_quote"):
                quote = getattr(self, name)
                if quote and find_quote(text, quote) is None:
                    setattr(self, name, None)
                    notes.append(f"{name.replace('_', ' ')} withheld: not found in the article")
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            figure, quote = getattr(self, kind), getattr(self, quote_field)
            parts = [p for p in (getattr(g, kind) for g in self.groups) if p]
            if figure and (quote is None or not supports_figure(quote, figure, parts, kind)):
                stated = figures_of_kind(quote, kind) if quote else set()
                if len(stated) == 1:
                    # The sentence was written first and is the article's own: trust it over
                    # the number written after it.
                    (corrected,) = stated
                    setattr(self, kind, corrected)
                    notes.append(
                        f"{kind} figure {figure} replaced by {corrected}, the figure its quote "
                        "states"
                    )
                    continue
                setattr(self, kind, None)
                setattr(self, quote_field, None)
                notes.append(
                    f"{kind} figure {figure} withheld: no sentence of the article states it"
                )
        if self._toll_problems():
            self.groups = []
            notes.append("casualty breakdown withheld: it did not match the totals")
        if self.killed is None:
            self.qualifier = None
        victims = {g.group.casefold() for g in self.groups}
        kept = [
            p
            for p in self.perpetrators
            if p.name.lower() == "unknown"
            or (
                p.name.casefold() not in victims
                and not _is_source(p.name, self.perpetrator_quote)
                and self.perpetrator_quote
                and _mentions(self.perpetrator_quote, p.name)
            )
        ]
        if len(kept) < len(self.perpetrators):
            notes.append("perpetrators withheld: the article does not name them as such")
            self.perpetrators = kept or [Perpetrator(name="unknown", attribution="unknown")]
        if self._headline_problems():
            self.headline = self._plain_headline()
            notes.append("headline rewritten from the record: it stated other figures")

    def _plain_headline(self) -> str:
        toll = [f"{n} {w}" for n, w in ((self.killed, "killed"), (self.injured, "injured")) if n]
        what = (self.category or Category.other).value.replace("_", " ")
        where = ", ".join(x for x in (self.location.place, self.location.country) if x)
        head = f"{', '.join(toll)} in {what}" if toll else what.capitalize()
        return (f"{head} in {where}" if where else head)[:HEADLINE_MAX]

    def _align_quotes(self, text: str) -> None:
        for name in ("deaths_quote", "injuries_quote", "perpetrator_quote"):
            quote = getattr(self, name)
            span = align_quote(text, quote) if quote else None
            if span is not None:
                setattr(self, name, text[span[0] : span[1]])

    def _find_evidence(self, text: str) -> None:
        """Replace a quote that does not back its figure or name with the article's own
        sentence that does, when there is one: surer and far cheaper than a re-ask."""
        if not self.is_incident:
            return
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            figure, quote = getattr(self, kind), getattr(self, quote_field)
            if not figure:
                continue
            parts = [p for p in (getattr(g, kind) for g in self.groups) if p]
            if quote and find_quote(text, quote) and supports_figure(quote, figure, parts, kind):
                continue
            found = sentence_for_figure(text, figure, parts, kind)
            if found is not None:
                setattr(self, quote_field, found)
                continue
            # "a bomb injured 28 people" written as killed = 28: the article gives the figure
            # as the other kind, and the model left that one empty.
            other, other_quote = _OTHER_KIND[kind]
            moved = sentence_for_figure(text, figure, parts, other)
            if moved is not None and getattr(self, other) is None:
                setattr(self, other, figure)
                setattr(self, other_quote, moved)
                setattr(self, kind, None)
                setattr(self, quote_field, None)
                for g in self.groups:  # the breakdown moves with its total
                    if getattr(g, other) is None:
                        setattr(g, other, getattr(g, kind))
                    setattr(g, kind, None)
                self._withheld.append(
                    f"{kind} figure {figure} moved to {other}: the article gives it as {other}"
                )
        victims = {g.group.casefold() for g in self.groups}
        named = [
            p.name
            for p in self.perpetrators
            if p.name.lower() != "unknown"
            and p.name.casefold() not in victims
            and not _is_source(p.name, self.perpetrator_quote)
        ]
        quote = self.perpetrator_quote
        if len(named) == 1 and not (
            quote and find_quote(text, quote) and _mentions(quote, named[0])
        ):
            found = sentence_naming(text, named[0])
            if found is not None:
                self.perpetrator_quote = found

    def _prefer_stated_totals(self, text: str) -> None:
        """A sub-count taken for the total ("28 people were injured, and three were in
        serious condition" read as 3 injured): the larger total its sentence states wins."""
        if not self.is_incident:
            return
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            figure, quote = getattr(self, kind), getattr(self, quote_field)
            if not (figure and quote and figure in subcount_figures(quote)):
                continue
            sentence = sentence_around(text, quote)
            if sentence is None:
                continue
            parts = subcount_figures(sentence)
            if figure not in parts:
                continue
            totals = {f for f in stated_figures(sentence, kind) - parts if f > figure}
            if totals:
                setattr(self, kind, max(totals))
                setattr(self, quote_field, sentence)
                self._withheld.append(
                    f"{kind} figure {figure} replaced by {max(totals)}: its sentence gives "
                    f"{figure} as part of a total of {max(totals)}"
                )

    def _fill_from_article(self, text: str) -> None:
        """A toll the model left empty that the article states is taken from the article: 0
        when a sentence says nobody died (or was hurt) and no figure says otherwise, else the
        first figure of that kind the article gives for the incident, with its sentence."""
        if not self.is_incident:
            return
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            if getattr(self, kind) is not None or any(
                getattr(g, kind) is not None for g in self.groups
            ):
                continue
            nobody = none_sentence(text, kind)
            if nobody is not None:
                setattr(self, kind, 0)
                setattr(self, quote_field, nobody)
                self._withheld.append(f"{kind} set to 0: the article says nobody was {kind}")
                continue
            found = first_figure(text, kind)
            if found is not None:
                figure, sentence = found
                setattr(self, kind, figure)
                setattr(self, quote_field, sentence)
                self._withheld.append(
                    f"{kind} figure {figure} taken from the article, which states it: the "
                    "record had none"
                )

    def _claimed_in_article(self, text: str) -> None:
        """An attack the record attributes to nobody, in an article that says who claimed it
        ("X has claimed responsibility for ..."), is attributed to the claimant, with that
        sentence as the quote. Accidents and disasters are never claimed."""
        if not self.is_incident or self.category in NO_PERPETRATOR:
            return
        if any(p.name.strip().casefold() not in _NOBODY for p in self.perpetrators):
            return
        found = claimant(text)
        if found is None:
            return
        name, sentence = found
        if len(sentence) > QUOTE_MAX:
            return
        self.perpetrators = [Perpetrator(name=name, attribution="claimed")]
        self.perpetrator_quote = sentence
        self._withheld.append(f"perpetrator {name!r} taken from the article's claim")

    def _complete_totals(self) -> None:
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            # 0 means the article says nobody was; without a sentence saying so, it is unknown.
            quote = getattr(self, quote_field)
            if getattr(self, kind) == 0 and not (quote and says_none(quote)):
                setattr(self, kind, None)
        # A total that leaves out groups its own quote names ("two US troops and a British
        # service member" -> 2 + 1) is completed here: cheaper and surer than a re-ask.
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            parts = [p for p in (getattr(g, kind) for g in self.groups) if p]
            total, quote = getattr(self, kind), getattr(self, quote_field)
            stated = bool(total and quote and total in figures_of_kind(quote, kind))
            overlap = bool(quote and _INCLUDING.search(quote))
            if (
                len(parts) > 1
                and quote
                and not overlap
                and (total or 0) < sum(parts)
                and supports_figure(quote, sum(parts), parts, kind)
            ):
                setattr(self, kind, sum(parts))
            elif stated and parts and sum(parts) > (total or 0):
                # "at least 12 dead, including the owner and two lawmakers": the groups overlap
                # the total its sentence states; the stated total wins, the breakdown goes.
                for g in self.groups:
                    setattr(g, kind, None)
                self._withheld.append(
                    f"{kind} breakdown withheld: its groups add up to {sum(parts)}, more than "
                    f"the {total} the article states"
                )
        self.groups = [g for g in self.groups if g.killed is not None or g.injured is not None]

    def _toll_problems(self) -> list[str]:
        problems = []
        for kind in ("killed", "injured"):
            total = getattr(self, kind)
            parts = [getattr(g, kind) for g in self.groups if getattr(g, kind) is not None]
            if parts and total is None:
                problems.append(f"{kind} is null but the groups add up to {sum(parts)}")
            elif parts and total is not None and sum(parts) > total:
                problems.append(
                    f"the groups' {kind} add up to {sum(parts)}, more than {kind} = {total}: "
                    "the total must include every group"
                )
        return problems

    def _headline_problems(self) -> list[str]:
        if not self.is_incident:
            return []
        # A headline that leaves a figure out is completed by the service; one that states a
        # figure the record does not have is wrong, and goes back to the model.
        figures = {self.killed, self.injured, self.missing}
        for g in self.groups:
            figures |= {g.killed, g.injured}
        return [
            f"the headline says {n} {word} but no figure in the record is {n}; use the "
            "record's numbers"
            for n, word in casualty_numbers(self.headline)
            if n not in figures
        ]

    def _evidence_problems(self, text: str) -> list[str]:
        problems = [
            f"{field} quote {quote[:80]!r} is not in the article; copy the sentence exactly"
            for field, quote in self.quotes()
            if find_quote(text, quote) is None
        ]
        if problems or not self.is_incident:
            return problems
        for kind, quote_field in (("killed", "deaths_quote"), ("injured", "injuries_quote")):
            figure = getattr(self, kind)
            if not figure:
                continue
            quote = getattr(self, quote_field)
            parts = [p for p in (getattr(g, kind) for g in self.groups) if p]
            if quote is None:
                problems.append(
                    f"{quote_field} is null but {kind} is {figure}: copy the "
                    f"sentence that gives the {kind} figure"
                )
            elif not supports_figure(quote, figure, parts, kind):
                problems.append(
                    f"{quote_field} does not state {figure} {kind}; set {kind} to the number of "
                    f"people the sentence says were {kind}, or quote the sentence that says "
                    f"{figure} were {kind}"
                )
        named = [p.name for p in self.perpetrators if p.name.lower() != "unknown"]
        if named and not self.perpetrator_quote:
            problems.append("perpetrator_quote is null: copy the sentence naming the perpetrator")
        victims = {g.group.casefold() for g in self.groups}
        for name in named:
            if _is_source(name, self.perpetrator_quote):
                problems.append(
                    f"{name!r} reported the attack, not carried it out: list the group or person "
                    "that carried it out or claimed it, or unknown"
                )
            elif name.casefold() in victims:
                problems.append(
                    f"{name!r} are victims, not perpetrators: list who attacked them, or "
                    '[{"name": "unknown", "attribution": "unknown"}] if the article does not say'
                )
            elif self.perpetrator_quote and not _mentions(self.perpetrator_quote, name):
                problems.append(
                    f"perpetrator_quote does not name {name!r}: quote the sentence that names "
                    "who carried it out, or use unknown"
                )
        return problems


# "12 dead, including two lawmakers": the groups named are part of the total, not added to it.
_INCLUDING = re.compile(
    r"\b(including|among (?:them|whom|the dead|those)|of (?:them|whom))\b", re.I
)

# Officials and spokesmen are the sources of a report, not its perpetrators.
_SOURCE = re.compile(
    r"\b(minister|president|governor|spokes(?:man|woman|person)|mayor|secretary|official|"
    r"officials|ministry|told|said)\b",
    re.I,
)

_SAID = re.compile(r"^\W*(?:\S+\s+){0,8}?(?:said|says|told|reported|announced|stated)\b", re.I)
_CLAIM = re.compile(r"claim|responsib", re.I)
_ACTED = re.compile(
    r"\b(launch|fire|attack|strik|struck|hit|kill|carri|detonat|shot|shoot|storm|shell|target|"
    r"bomb|ambush|abduct|kidnap|stab)\w*",
    re.I,
)


def _is_source(name: str, quote: str | None) -> bool:
    """Whether a name is who reported the attack rather than who carried it out: an official
    by title, or the subject of "said" in its own quote, which claims nothing."""
    if _SOURCE.search(name):
        return True
    if not quote or _CLAIM.search(quote):
        return False
    at = quote.casefold().find(name.casefold())
    said = _SAID.search(quote[at + len(name) :]) if at >= 0 else None
    # "X fired a missile at the town, the ministry said": X acted; someone else said so.
    return said is not None and not _ACTED.search(said.group())


# Perpetrator names that name nobody.
_NOBODY = frozenset({"unknown", "unidentified", "none", "not stated", "unknown attackers"})
# Accidents and disasters: nobody carries them out (an arson aside, see service.postprocess).
NO_PERPETRATOR = frozenset(
    {
        Category.transport_accident,
        Category.industrial_accident,
        Category.structural_collapse,
        Category.natural_disaster,
        Category.fire,
    }
)

_OTHER_KIND = {"killed": ("injured", "injuries_quote"), "injured": ("killed", "deaths_quote")}


def _mentions(quote: str, name: str) -> bool:
    words = {w for w in re.findall(r"\w+", name.casefold()) if len(w) > 2}
    text = quote.casefold()
    return not words or any(w in text for w in words)


class Incident(_Strict):
    """The incident record of the contract, as stored and returned."""

    is_incident: bool
    headline: Headline
    summary: Summary
    category: Category | None
    date: EventDate
    location: Location
    casualties: Casualties
    perpetrators: list[Perpetrator]
    weapons: list[str]
    responses: list[str]
    evidence: list[Evidence]


def incident_json_schema() -> dict[str, object]:
    return Incident.model_json_schema()
