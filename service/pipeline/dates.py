"""The event's day, resolved against the publication date in the article's language
(dateparser reads relative days in some 200 languages), never after publication."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from dateparser.date import DateDataParser
from dateparser.languages.loader import default_loader

from schemas.incident import EventDate, Precision
from service.languages import day_parts, names_week_before
from service.pipeline.context import Context
from service.pipeline.placeholders import is_placeholder
from service.pipeline.record import Record

_HAS_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def names_year(text: str) -> bool:
    """Whether the words of a date write its year ("3 May 2011", not "on Tuesday")."""
    return _HAS_YEAR.search(text) is not None


_PERIOD_PRECISION: dict[str, Precision] = {"day": "day", "month": "month", "year": "year"}


def resolve_event_date(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    article = context.article
    warnings: list[str] = []
    if is_placeholder(record.date.text):
        warnings.append(f"date text {record.date.text!r} dropped: it names no time")
        record.date = record.date.model_copy(update={"text": None})
    event, resolved = resolve_date(record.date, article.published)
    warnings += resolved
    fixed, note = date_after_weekday(event, article.text)
    if note is None and article.published and fixed.iso in (None, article.published):
        # The sentences cited for the event and its figures, and those the model pointed at
        # before a figure's evidence moved: a pointer moved for its figure still marks a
        # sentence that reports the event ("the blast took place Saturday evening").
        cited = {record.event_sentence, record.killed_sentence, record.injured_sentence}
        numbers = sorted({n for n in cited if n is not None} | record.pointed)
        sentences = [s for n in numbers if (s := article.sentence(n)) is not None]
        texts = [s.text for s in sentences if s.number not in article.directives]
        fixed, note = day_the_article_names(fixed, texts, article.published, article.language)
    record.date = fixed
    return warnings + ([note] if note else [])


# The days before publication an article names in words ("yesterday", "on Tuesday"): a week.
_RELATIVE_DAYS = 7


def day_the_article_names(
    event: EventDate, sentences: list[str], published: str, language: str | None
) -> tuple[EventDate, str | None]:
    """The day the sentences reporting the event name in words, when the model gave only the
    publication day (or none): a report written "yesterday" or "on Tuesday" is dated by its
    page, the event by its sentence. The words are dateparser's own for the article's language
    (weekdays, "yesterday", "the day before yesterday"), resolved to a day of the week before
    publication. Of several days named, the earliest: a report names the event's day and the
    days after it ("the blast took place Saturday", "officials said Sunday", "rescuers searched
    Friday"), not days before it."""
    base = date.fromisoformat(published)
    words = _day_words((language or "").split("-")[0].lower())
    if words is None:
        return event, None
    named: list[tuple[date, str]] = []
    for sentence in sentences:
        for match in words.finditer(sentence):
            parsed = _parse(match.group(1), base)
            if parsed is None or parsed[1] != "day":
                continue
            day = date.fromisoformat(parsed[0])
            if base - timedelta(days=_RELATIVE_DAYS) <= day < base:
                named.append((day, match.group()))
    if not named:
        return event, None
    day, words_used = min(named, key=lambda pair: pair[0])
    return (
        EventDate(text=words_used, iso=day.isoformat(), precision="day"),
        f"event date {day.isoformat()} from the article's {words_used!r}, not the publication day",
    )


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS_AGO = re.compile(r"[12] day ago|last \w+day")


@cache
def _day_words(code: str) -> re.Pattern[str] | None:
    try:
        info = default_loader.get_locale(code).info
    except (KeyError, ValueError):  # a language dateparser does not read
        return None
    # Abbreviations ("mar", "tu") are ordinary words too often; full names only.
    names = [n for day in _WEEKDAYS for n in info.get(day, []) if len(n) >= 4]
    relative = info.get("relative-type", {})
    names += [n for key, values in relative.items() if _DAYS_AGO.fullmatch(key) for n in values]
    if not names:
        return None
    alternation = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))
    # "Donnerstagabend": the weekday, with a part of the day written onto it.
    parts = "|".join(day_parts(code))
    tail = f"(?:{parts})?" if parts else ""
    return re.compile(rf"(?<!\w)({alternation}){tail}(?!\w)", re.IGNORECASE)


def resolve_date(event: EventDate, published: str | None) -> tuple[EventDate, list[str]]:
    """Resolve ``date.text`` against the publication day; the model's own ISO date is kept only
    when the words cannot be parsed (models miscount weekdays)."""
    warnings: list[str] = []
    base = date.fromisoformat(published) if published else None
    iso, precision = event.iso, event.precision
    if event.text:
        parsed = _parse(event.text, base)
        if parsed is not None:
            iso, precision = parsed
        elif base is None and not names_year(event.text):
            iso, precision = None, None  # "on Tuesday" with no anchor: the day is unknowable
    if iso is not None:
        try:
            day = date.fromisoformat(iso)
        except ValueError:
            warnings.append(f"dropped an invalid event date {iso!r}")
            iso = None
        else:
            if base is not None and day > base:
                warnings.append(f"dropped event date {iso}: it is after publication ({published})")
                iso = None
    return EventDate(
        text=event.text, iso=iso, precision=(precision or "day") if iso else None
    ), warnings


def _parse(text: str, base: date | None) -> tuple[str, Precision] | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        return text.strip(), "day"  # ISO already; dateparser would read it day-first
    if base is None:
        return _read(text, None) if names_year(text) else None
    return _read_on(text, base)


def _read(text: str, base: date | None) -> tuple[str, Precision] | None:
    settings: dict[str, Any] = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    if base is not None:
        settings["RELATIVE_BASE"] = datetime(base.year, base.month, base.day, 12)
    parser = DateDataParser(settings=settings)
    words = text.split()
    # "late on Thursday", "el martes": drop leading words until the rest parses.
    for i in range(min(len(words), 4)):
        data = parser.get_date_data(" ".join(words[i:]))
        if data.date_obj is not None:
            break
    else:
        return None
    precision = _PERIOD_PRECISION.get(data.period or "")
    if precision is None:
        return None  # "last week": no single day
    day = data.date_obj.date()
    if base is not None and day == base - timedelta(days=7) and not names_week_before(text):
        day = base  # "on Thursday" in Thursday's paper is that same Thursday
    if precision == "month":
        day = day.replace(day=1)
    elif precision == "year":
        day = day.replace(month=1, day=1)
    return day.isoformat(), precision


# Against a publication day, the words alone decide (dateparser reads them relative to it, not
# to today), and a day's articles name the same few days ("yesterday", "on Tuesday"): each is
# read once per publication day, as dateparser takes a millisecond or more to read one.
_read_on = lru_cache(maxsize=4096)(_read)


# "Sabtu (25/6/2022)": a weekday followed by the full date, as Indonesian and Malaysian papers
# write it.
_DATE_IN_BRACKETS = r"\s*\(\s*\d{1,2}/\d{1,2}/\d{4}\s*\)"


def date_after_weekday(event: EventDate, text: str) -> tuple[EventDate, str | None]:
    """The full date the article writes right after the weekday the model gave as the date,
    when that weekday alone could not be resolved: "Sabtu" in "Sabtu (25/6/2022)" is
    2022-06-25. The date must fall on that weekday (which also rules out a misread day-first
    or month-first order)."""
    if event.iso is not None or not event.text:
        return event, None
    match = re.search(re.escape(event.text.strip()) + _DATE_IN_BRACKETS, text, re.I)
    parsed = _parse(match.group(), None) if match else None
    named = DateDataParser().get_date_data(event.text).date_obj if parsed else None
    if match is None or parsed is None or named is None:
        return event, None
    if date.fromisoformat(parsed[0]).weekday() != named.weekday():
        return event, None
    fixed = EventDate(text=match.group(), iso=parsed[0], precision="day")
    return fixed, f"event date {parsed[0]} from the article's {match.group()!r}"
