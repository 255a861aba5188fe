"""Whether the record reports an incident as news, beyond what the model's first answer said:
an incident kind named without conviction is not enough, an event dated long before
publication is background, so is one an undated article commemorates, and an "incident" with
no place, no date and no toll is nothing a newsroom can file."""

from __future__ import annotations

from datetime import date, timedelta

from schemas.incident import ArticleKind, EventDate
from service.kind_odds import KindOdds
from service.languages import commemorates
from service.pipeline.context import Context
from service.pipeline.dates import names_year
from service.pipeline.figures import KINDS
from service.pipeline.record import Record


def unsure(odds: KindOdds | None, minimum: float) -> bool:
    """Whether the relevance call named an incident with less than ``minimum`` probability
    (never, when the server gave no odds)."""
    return odds is not None and odds.incident < minimum


def doubtful(odds: KindOdds | None, minimum: float) -> bool:
    """Whether the relevance call hesitated between an incident and ordinary news, whichever
    it named: the incident kinds' share of its alternatives is below ``minimum`` and at
    least ``1 - minimum``, the band around an even chance that ``minimum`` leaves open. Such
    an article gets the record call, and its record decides (``unsure_incident``)."""
    return odds is not None and 1 - minimum <= odds.incident < minimum


# A doubted incident stands when its record dates it within this many days of publication.
RECENT_DAYS = 7


def unsure_incident(record: Record, context: Context) -> list[str]:
    """An incident the relevance call named without conviction, or ordinary news it named
    while the incident kinds were nearly as probable, is reported only when its record shows
    news of a toll: a count of dead or injured that a sentence of the article states (the
    figure steps ran before), on a day the article tells as recent (within ``RECENT_DAYS``
    of publication, or in words that name no year: "on Tuesday", "gestern"). An anniversary,
    a study of deaths or a sentencing is answered with its event's kind about as often as it
    is read right, a new incident rarely so; the record of one dates its event by its year, or
    counts no one. Otherwise the article is the likeliest ordinary kind. Below the band of
    doubt no record was asked for, and the incident kind alone is not enough."""
    minimum = context.min_incident_probability
    odds = record.odds
    if not record.is_incident or odds is None or not unsure(odds, minimum):
        return []
    named = record.category.value if record.category else "an incident"
    said = (
        f"the relevance call gave an incident probability {odds.incident:.2f}, below {minimum:.2f}"
    )
    toll = _recent_toll(record, context) if doubtful(odds, minimum) else None
    if toll is not None:
        return [f"reported as an incident although {said}: the record counts {toll}"]
    record.not_an_incident(odds.ordinary)
    return [
        f"not reported as an incident ({named}): {said}, and the record shows no toll on a "
        f"recent day; the likeliest ordinary kind is {odds.ordinary}"
    ]


def _recent_toll(record: Record, context: Context) -> str | None:
    """What the record counts on a recent day ("3 killed on 'Tuesday'"), or None."""
    counted = [f"{figure} {kind}" for kind in KINDS if (figure := getattr(record, kind))]
    day = record.date.text
    age = _days_before(record.date, context.article.published)
    recent = age <= RECENT_DAYS if age is not None else bool(day) and not names_year(day or "")
    if not (counted and recent):
        return None
    return f"{' and '.join(counted)} on {day!r}"


def stale_event(record: Record, context: Context) -> list[str]:
    published = context.article.published
    age = _days_before(record.date, published)
    limit = context.stale_after_days
    if not record.is_incident or limit is None or age is None or age <= limit:
        return []
    return _background(
        record,
        f"the event ({record.date.iso}) ended {age} days before publication ({published}), so "
        "the article is not news of it",
    )


# The lead a commemoration announces itself in: the title and the first sentences.
LEAD_SENTENCES = 5


def commemoration(record: Record, context: Context) -> list[str]:
    """An article whose lead marks a commemoration ("on the eighth anniversary", "ten years
    after", "годовщина") and whose event is dated with its year, when no publication date
    lets ``stale_event`` weigh the event's age: an anniversary piece names the old disaster
    with its kind and its toll, and only these words tell it from news of it. A news report
    without a dateline names its event's day ("on Tuesday"), rarely the year."""
    article = context.article
    if not record.is_incident or article.published is not None:
        return []
    if not (record.date.text and names_year(record.date.text)):
        return []
    lead = [article.title or "", *(s.text for s in article.news_sentences()[:LEAD_SENTENCES])]
    if not any(commemorates(text, article.language) for text in lead):
        return []
    return _background(
        record,
        f"the article's lead marks a commemoration, and the event is dated "
        f"{record.date.text!r}: the article remembers it, it does not report it",
    )


def _background(record: Record, why: str) -> list[str]:
    """The record of an article that tells of a past event: ordinary news, saying why."""
    record.not_an_incident(ArticleKind.past_event)
    return [f"not reported as an incident: {why}"]


def nothing_to_report(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    location, figures = record.location, (record.killed, record.injured, record.missing)
    if any((location.place, location.region, location.country_code, record.date.iso, *figures)):
        return []
    if 0 in figures:
        return []
    record.not_an_incident(ArticleKind.culture_or_other)
    return ["not reported as an incident: the article gives no place, no date and no toll for it"]


def _days_before(event: EventDate, published: str | None) -> int | None:
    """Days from the end of the event's day, month or year to the publication day."""
    if not (event.iso and published):
        return None
    day = date.fromisoformat(event.iso)
    if event.precision == "year":
        day = day.replace(month=12, day=31)
    elif event.precision == "month":
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return (date.fromisoformat(published) - day).days
