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
from service.pipeline.record import Record


def unsure(odds: KindOdds | None, minimum: float) -> bool:
    """Whether the relevance call named an incident with less than ``minimum`` probability
    (never, when the server gave no odds)."""
    return odds is not None and odds.incident < minimum


def unsure_incident(record: Record, context: Context) -> list[str]:
    """An incident kind the relevance call named while the ordinary kinds were nearly as
    probable (``service.kind_odds``) is not reported: an anniversary, a study of deaths or a
    sentencing is answered with its event's kind about as often as it is read right, a new
    incident rarely so. The article is the likeliest ordinary kind instead."""
    minimum = context.min_incident_probability
    if not record.is_incident or record.odds is None or not unsure(record.odds, minimum):
        return []
    named, odds = record.category, record.odds
    record.not_an_incident(odds.ordinary)
    return [
        f"not reported as an incident: the relevance call named {named} with probability "
        f"{odds.incident:.2f}, below {minimum:.2f}; the likeliest ordinary kind is "
        f"{odds.ordinary}"
    ]


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
