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

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, model_validator

from schemas.numbers import casualty_numbers, supports_figure
from schemas.quotes import find_quote

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
        description='Most specific place named, copied from the article ("Camp Taji").'
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


class Quote(_Strict):
    """A verbatim quote from the article that supports one field."""

    field: EvidenceField = Field(description="The field this quote supports.")
    quote: Annotated[str, StringConstraints(min_length=1, max_length=QUOTE_MAX)] = Field(
        description="One sentence or clause copied exactly, character for character, from "
        "the article."
    )


class Evidence(Quote):
    """A quote with its position in the article, computed by the service."""

    start: int = Field(ge=0, description="Offset of the quote's first character in the text.")
    end: int = Field(ge=0, description="Offset just past the quote's last character.")


Headline = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=HEADLINE_MAX)
]
Summary = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)
]
Strings = Annotated[list[ShortText], Field(max_length=LIST_MAX)]


class IncidentDraft(_Strict):
    """The incident a news article reports, as the model writes it.

    Report only what the article states about its main incident (the first one described).
    Background events, earlier attacks and anniversaries are not the incident.
    """

    is_incident: bool = Field(
        description="true only if the article reports a specific violent event, accident or "
        "disaster as news; false for business, sports, science, court cases about old events, "
        "anniversaries and opinion."
    )
    category: Category | None = Field(description="Kind of incident; null if not an incident.")
    evidence: list[Quote] = Field(
        max_length=LIST_MAX,
        description="Quotes supporting the killed figure, the injured figure and each named "
        "perpetrator; [] if not an incident.",
    )
    casualties: Casualties
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
        description="Casualty-first one-line headline whose numbers match casualties, e.g. "
        '"3 killed, 12 wounded in rocket strike on Camp Taji, Iraq".'
    )


    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> IncidentDraft:
        # Each message says what to change: it goes back to the model as the re-ask.
        problems = self._toll_problems() + self._headline_problems()
        text = (info.context or {}).get("text")
        if text is not None:
            problems += self._evidence_problems(text)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _toll_problems(self) -> list[str]:
        problems = []
        toll = self.casualties
        for kind in ("killed", "injured"):
            total = getattr(toll, kind)
            parts = [getattr(g, kind) for g in toll.groups if getattr(g, kind) is not None]
            if parts and total is None:
                problems.append(f"casualties.{kind} is null but the groups add up to {sum(parts)}")
            elif parts and total is not None and sum(parts) > total:
                problems.append(
                    f"casualties.groups {kind} add up to {sum(parts)}, more than casualties."
                    f"{kind} = {total}: the total must include every group"
                )
        return problems

    def _headline_problems(self) -> list[str]:
        if not self.is_incident:
            return []
        toll = self.casualties
        # A headline that leaves a figure out is completed by the service; one that states a
        # figure casualties does not have is wrong, and goes back to the model.
        figures = {toll.killed, toll.injured, toll.missing}
        for g in toll.groups:
            figures |= {g.killed, g.injured}
        problems = [
            f"the headline says {n} {word} but casualties has no such figure; use the numbers "
            "in casualties"
            for n, word in casualty_numbers(self.headline)
            if n not in figures
        ]
        return problems

    def _evidence_problems(self, text: str) -> list[str]:
        problems = [
            f"evidence quote {q.quote[:80]!r} is not in the article; copy the sentence exactly"
            for q in self.evidence
            if find_quote(text, q.quote) is None
        ]
        quoted = {q.field for q in self.evidence}
        if self.is_incident:
            for kind in ("killed", "injured"):
                figure = getattr(self.casualties, kind)
                if not figure:
                    continue
                field = f"casualties.{kind}"
                quotes = [q.quote for q in self.evidence if q.field == field]
                parts = [getattr(g, kind) for g in self.casualties.groups]
                if not quotes:
                    problems.append(f"add an evidence quote for {field}")
                elif not supports_figure(" ".join(quotes), figure, [p for p in parts if p]):
                    problems.append(
                        f"no quote for {field} states {figure} {kind}; quote the sentence that "
                        f"gives the {kind} figure and set {field} to the number it states"
                    )
            named = [p for p in self.perpetrators if p.name.lower() != "unknown"]
            if named and "perpetrators" not in quoted:
                problems.append("add an evidence quote naming the perpetrator")
        return problems


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
