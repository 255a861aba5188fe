"""The incident record of the public contract, and what the model writes to make one.

Three models share one vocabulary:

* ``RelevanceAnswer`` is the short first answer: what the article is (a new incident or one of
  the kinds of ordinary news), its category and the sentence that reports it.
* ``IncidentDraft`` is the full record the model fills for an incident. It points at the
  article's numbered sentences instead of copying them: the service turns the numbers into
  verbatim quotes with offsets (``service.pipeline.evidence``). Its fields are ordered so the
  model names the sentence before the figure it reads from it, and writes the headline last,
  after the numbers it must agree with (grammar-constrained decoding emits properties in
  schema order).
* ``Incident`` is the record the API returns, in the contract's order.

Docstrings and field descriptions of the first two are prompt text: the model reads them
through the JSON schema. All are strict (``extra="forbid"``) with every field required
(nullable where the contract allows null), so an OpenAI ``strict`` schema, a llama.cpp grammar
and a vLLM guided decoder accept the same schema. The drafts check shape only: bounds and
everything that needs the article are the pipeline's (``service.pipeline``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import JsonDict

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


Headline = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=HEADLINE_MAX)
]
Summary = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)
]
Strings = Annotated[list[ShortText], Field(max_length=LIST_MAX)]

# What the model writes is checked for shape only; bounds are the pipeline's to enforce
# (``service.pipeline.bounds``), so an over-long headline or an absurd figure is reduced to
# what can be trusted instead of failing the whole answer.
DraftCount = Annotated[int, Field(ge=0)]
SentenceRef = Annotated[int, Field(ge=1)]
DraftText = Annotated[str, StringConstraints(strip_whitespace=True)]
# The contract's limits, given to the decoder only (the JSON schema's ``maxLength`` and
# ``maxItems``, like ``LATIN_TEXT`` below) and never validated: a grammar-constrained decoder
# must close every string and list within them, so a small model that loops inside one (a
# summary in a script it cannot write, a list it keeps extending) ends its answer instead of
# running to max_tokens and being cut off; an answer from a server without a grammar is
# reduced by ``service.pipeline.bounds`` instead of failing.
DraftItem = Annotated[DraftText, Field(json_schema_extra={"maxLength": SHORT_MAX})]
_AT_MOST_A_LIST: JsonDict = {"maxItems": LIST_MAX}
#: Printable Latin script: ASCII without the two characters a JSON string escapes, Latin-1 and
#: Latin Extended letters, general punctuation (curly quotes included). Given to the decoder as
#: the JSON schema's ``pattern`` only: a grammar-constrained decoder (the bundled model, vLLM,
#: llama.cpp's server) cannot write anything else, so the headline and summary come out in
#: Latin script by construction, and a small model that starts a summary in the article's
#: script can no longer repeat itself in it until max_tokens. Not validated here: an answer
#: from a server without a grammar is judged by the pipeline (``english_wording``) instead.
LATIN_TEXT = r"^[ -!#-\[\]-~\u00a0-\u024f\u1e00-\u1eff\u2010-\u2027\u2030-\u205e]*$"


def latin_text(max_chars: int) -> str:
    """``LATIN_TEXT`` of at most ``max_chars`` characters (a pattern carries its own bound:
    a decoder given a ``pattern`` ignores ``maxLength``)."""
    return LATIN_TEXT.removesuffix("*$") + f"{{0,{max_chars}}}$"


class ArticleKind(StrEnum):
    new_incident = "new_incident"
    past_event = "past_event"
    drill_or_exercise = "drill_or_exercise"
    study_or_statistics = "study_or_statistics"
    forecast_or_warning = "forecast_or_warning"
    obituary = "obituary"
    politics = "politics"
    business_or_technology = "business_or_technology"
    sports = "sports"
    culture_or_other = "culture_or_other"


#: What the relevance call may answer: the kind of incident the article reports as news, or
#: the kind of ordinary news it is. Naming the incident's own kind ("riot_or_unrest") rather
#: than a bare "incident" lets a small model match the article to a word it contains.
ReportKind = StrEnum(  # type: ignore[misc]
    "ReportKind",
    {
        **{c.value: c.value for c in Category if c != Category.other},
        **{k.value: k.value for k in ArticleKind if k != ArticleKind.new_incident},
    },
)


def category_of(kind: str) -> Category | None:
    """The incident category a relevance answer names, or None for ordinary news."""
    return Category(kind) if kind in Category.__members__ else None


class RelevanceAnswer(_Strict):
    """What the article is, read from its lead.

    If it reports, as news, a specific violent event, accident or disaster that has just
    happened, kind is that incident's kind (armed_attack ... natural_disaster). Otherwise kind
    says what ordinary news it is: past_event (an anniversary, memorial, trial, verdict,
    inquiry or look back at an earlier event), drill_or_exercise, study_or_statistics
    (research, reports, yearly figures, policy reviews quoting old tolls), forecast_or_warning
    (what may happen), obituary (a death from illness or old age), politics,
    business_or_technology, sports, culture_or_other.
    """

    kind: ReportKind = Field(description="The incident's kind, or what ordinary news it is.")
    sentence: SentenceRef | None = Field(
        description="Number of the sentence that reports the incident; null for ordinary news."
    )


class IncidentDraft(_Strict):
    """The record of the incident a news article reports, as the model writes it.

    The article is given as numbered sentences. Point at sentences by number; never copy
    them. Report only the main incident (the first one described): earlier attacks and
    background tolls are not it. Write every text field in English and in Latin script.
    """

    category: Category = Field(
        description="Kind of incident, read from the whole article. air_or_missile_strike "
        "covers rockets, missiles, mortars, artillery, drones and air strikes; "
        "explosion_bombing covers bombs, IEDs, suicide and gas explosions; a crowd crush is "
        "other."
    )
    killed_sentence: SentenceRef | None = Field(
        description="Number of the sentence that says how many people died in this incident; "
        "null if no sentence gives a number of dead."
    )
    killed: DraftCount | None = Field(
        description="Dead that sentence states (add up groups: 'two soldiers and a civilian' "
        "= 3). null if not stated; 0 only if the article says nobody died."
    )
    injured_sentence: SentenceRef | None = Field(
        description="Number of the sentence that says how many were injured or wounded; null "
        "if none."
    )
    injured: DraftCount | None = Field(description="Injured that sentence states, or null.")
    missing: DraftCount | None = Field(description="Missing people, if a figure is given.")
    qualifier: Qualifier | None = Field(
        description='"at least 12" -> at_least, "about 12" -> approximate, else exact; null '
        "when killed is null."
    )
    groups: list[CasualtyGroup] = Field(
        description="Breakdown of the dead or injured by group when the article gives one; [].",
        json_schema_extra=_AT_MOST_A_LIST,
    )
    perpetrator_sentence: SentenceRef | None = Field(
        description="Number of the sentence naming who carried out the attack or saying "
        "nobody claimed it; null for accidents and disasters."
    )
    perpetrators: list[Perpetrator] = Field(
        description="Attackers; [] for accidents and disasters.",
        json_schema_extra=_AT_MOST_A_LIST,
    )
    date: EventDate
    location: Location
    weapons: list[DraftItem] = Field(
        description='Means or cause ("rockets", "car bomb", "earthquake").',
        json_schema_extra=_AT_MOST_A_LIST,
    )
    responses: list[DraftItem] = Field(
        description="Reactions reported (condemnations, reprisals).",
        json_schema_extra=_AT_MOST_A_LIST,
    )
    summary: DraftText = Field(
        description="2-3 neutral English sentences: what happened, where, when, who, the toll.",
        json_schema_extra={"pattern": latin_text(SUMMARY_MAX)},
    )
    headline: DraftText = Field(
        description="One English line that starts with the toll and uses the same numbers, "
        'e.g. "3 killed, 12 wounded in rocket strike on Camp Taji, Iraq".',
        json_schema_extra={"pattern": latin_text(HEADLINE_MAX)},
    )

    def references(self) -> dict[str, int | None]:
        return {
            "casualties.killed": self.killed_sentence,
            "casualties.injured": self.injured_sentence,
            "perpetrators": self.perpetrator_sentence,
        }


# Accidents and disasters: nobody carries them out (an arson aside, see service.pipeline).
NO_PERPETRATOR = frozenset(
    {
        Category.transport_accident,
        Category.industrial_accident,
        Category.structural_collapse,
        Category.natural_disaster,
        Category.fire,
    }
)


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
