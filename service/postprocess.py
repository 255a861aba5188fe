"""Deterministic checks and fixes applied to every validated draft.

Nothing here calls a model: ISO codes come from pycountry, relative dates are resolved against
the publication date with dateparser, evidence offsets are found in the article text.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

import pycountry
from dateparser.date import DateDataParser

from schemas.evidence import is_background
from schemas.incident import (
    HEADLINE_MAX,
    NO_PERPETRATOR,
    Casualties,
    Category,
    EventDate,
    Evidence,
    Incident,
    IncidentDraft,
    Location,
    Perpetrator,
    Precision,
)
from schemas.numbers import numbers_in
from schemas.quotes import find_quote, sentences

# An event this many days before publication is background, not news (see ``finalize``).
STALE_AFTER_DAYS = 60

_HAS_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_LAST = re.compile(r"\b(last|ago|week|semana|settimana|minggu|тижня)\b", re.I)
_PERIOD_PRECISION: dict[str, Precision] = {"day": "day", "month": "month", "year": "year"}

# ISO 3166-1 has no entry under these everyday English names.
_COUNTRY_ALIASES = {
    "uk": "GB",
    "britain": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "america": "US",
    "united states of america": "US",
    "ivory coast": "CI",
    "russia": "RU",
    "turkey": "TR",
    "south korea": "KR",
    "north korea": "KP",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "vietnam": "VN",
    "czech republic": "CZ",
    "the netherlands": "NL",
    "holland": "NL",
    "democratic republic of congo": "CD",
    "dr congo": "CD",
    "drc": "CD",
    "burma": "MM",
    "palestine": "PS",
    "gaza": "PS",
    "west bank": "PS",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "macedonia": "MK",
}


def country_code_for(name: str | None, code: str | None) -> tuple[str | None, str | None]:
    """(country name, alpha-2 code), each checked against ISO 3166-1; unknown -> None."""
    by_code = pycountry.countries.get(alpha_2=code.upper()) if code else None
    by_name = None
    alias = _COUNTRY_ALIASES.get(name.strip().lower()) if name else None
    if alias:
        by_name = pycountry.countries.get(alpha_2=alias)
    elif name:
        try:
            by_name = pycountry.countries.lookup(name.strip())
        except LookupError:
            matches = _fuzzy_country(name)
            by_name = matches[0] if len(matches) == 1 else None
    chosen = by_name or by_code
    if chosen is None:
        return name, None
    return (name or getattr(chosen, "common_name", None) or chosen.name), chosen.alpha_2


def _fuzzy_country(name: str) -> list[Any]:
    try:
        return list(pycountry.countries.search_fuzzy(name.strip()))
    except LookupError:
        return []


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
        elif base is None and not _HAS_YEAR.search(event.text):
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
    if base is None and not _HAS_YEAR.search(text):
        return None
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
    if base is not None and day == base - timedelta(days=7) and not _LAST.search(text):
        day = base  # "on Thursday" in Thursday's paper is that same Thursday
    if precision == "month":
        day = day.replace(day=1)
    elif precision == "year":
        day = day.replace(month=1, day=1)
    return day.isoformat(), precision


# The article's own words for the day of the event, in English: "yesterday", "last night",
# "on Tuesday". A day right after a verb of saying is the day of a statement, not of the event
# ("police said Saturday").
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_PHRASE = re.compile(
    r"\b(yesterday|last\s+night|today|tonight|this\s+(?:morning|afternoon|evening)|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b",
    re.I,
)
_SAID_BEFORE = re.compile(
    r"\b(?:said|says|told|announced|reported|added|confirmed|stated|statement)\s+"
    r"(?:on\s+)?(?:(?:late|early)\s+)?$",
    re.I,
)


def day_from_article(
    event: EventDate, text: str, published: str | None
) -> tuple[EventDate, str | None]:
    """The event's day from the article's own words, when the model's date says nothing of it.

    A model often copies the page's date ("2022-06-24") or a time of day ("midday") as the
    date, which resolves to the publication day. When its date is that day (or none) and its
    words name no day, the first day the article names for an event ("a man wounded four
    people ... yesterday", "killed ... on Tuesday") is the day.
    """
    if published is None or event.iso not in (None, published) or _names_a_day(event.text):
        return event, None
    base = date.fromisoformat(published)
    for start, end in sentences(text):
        sentence = text[start:end]
        if is_background(sentence):
            continue
        for match in _DAY_PHRASE.finditer(sentence):
            if _SAID_BEFORE.search(sentence[: match.start()]):
                continue
            day = _day_before(match.group(1).lower(), base)
            if day >= base:
                return event, None  # "today", or a weekday that is the publication day
            fixed = EventDate(text=match.group(1), iso=day.isoformat(), precision="day")
            return fixed, (
                f"event date {day.isoformat()} from the article's {match.group(1)!r}: the "
                f"model's date {event.text!r} names no day"
            )
    return event, None


def _names_a_day(words: str | None) -> bool:
    """Whether the model's words for the date name a day ("on Tuesday", "today", "June 24")
    rather than copy the page's date ("2022-06-24") or give a time of day ("midday")."""
    if not words or re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", words):
        return False
    return bool(_DAY_PHRASE.search(words) or re.search(r"\d", words))


def _day_before(word: str, base: date) -> date:
    """The day a word names, counted back from the publication day ``base``."""
    if word == "yesterday" or word.startswith("last"):
        return base - timedelta(days=1)
    if word in _WEEKDAYS:
        return base - timedelta(days=(base.weekday() - _WEEKDAYS.index(word)) % 7)
    return base  # today, tonight, this morning


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


# Commemorations and business news mention disasters and attacks without reporting one.
_COMMEMORATION = [
    re.compile(p)
    for p in (
        r"(?i)\banniversar",
        r"(?i)\bcommemorat",
        r"\bmemorials?\b",  # lower case: "Memorial Hospital" is a name
        r"(?i)\bremembrance\b",
        r"(?i)\byears\s+(?:ago|since|after|on)\b",
        r"(?i)\bmark(?:s|ed|ing)?\s+(?:\w+\s+)?years\b",
        r"(?i)\bceremon(?:y|ies)\b",
        r"(?i)\bto\s+remember\b|\bremembered\b",
        r"(?i)\bin\s+memory\s+of\b",
        r"(?i)\btributes?\b",
    )
]
_BUSINESS = [
    re.compile(p, re.I)
    for p in (
        r"\bquarter(?:ly)?\b",
        r"\bper\s+share\b",
        r"\bearnings\b",
        r"\bprofit(?:s|able)?\b",
        r"\bnet\s+(?:loss|income)\b",
        r"\boperating\s+(?:loss|income|profit)\b",
        r"\brevenues?\b",
        r"\banalysts?\b",
        r"\bestimates?\b",
        r"\bshares?\b",
        r"\bstocks?\b",
        r"\bdividends?\b",
        r"\bbuy-?back\b",
        r"\binvestors?\b",
        r"\bfiscal\b",
        r"\bguidance\b",
        r"\b(?:Dow\s+Jones|Nasdaq|S&P\s+500|stock\s+exchange)\b",
        r"\binsurers?\b",
    )
]
COMMEMORATION_SIGNS = 2  # distinct signs of a commemoration that make a piece one
BUSINESS_SIGNS = 5  # distinct terms of financial reporting that make a piece business news


def _signs(patterns: list[re.Pattern[str]], text: str) -> int:
    return sum(1 for pattern in patterns if pattern.search(text))


def looks_like_commemoration(event: EventDate, text: str, published: str | None) -> bool:
    """An anniversary or memorial piece with no publication date: the event is dated with its
    year (news of a current event says "on Tuesday"), and the article speaks of remembering
    it. With a publication date, the stale-event rule decides instead."""
    return (
        published is None
        and bool(event.text and _HAS_YEAR.search(event.text))
        and _signs(_COMMEMORATION, text) >= COMMEMORATION_SIGNS
    )


def looks_like_business(draft: IncidentDraft, text: str) -> bool:
    """Business news (quarterly results, an insurer's losses) that mentions a disaster but
    reports no dead or injured: the piece is about money, not about the event."""
    return (
        draft.killed is None and draft.injured is None and _signs(_BUSINESS, text) >= BUSINESS_SIGNS
    )


def finalize(
    draft: IncidentDraft,
    *,
    text: str,
    published: str | None,
    stale_after_days: int | None = STALE_AFTER_DAYS,
) -> tuple[Incident, list[str]]:
    """Turn a validated draft into the contract's record, plus warnings for the editor.

    An event that ended more than ``stale_after_days`` before publication is background (a
    trial, an anniversary, a look back), not news: the record says it is not an incident.
    """
    warnings: list[str] = draft.withheld
    if not draft.is_incident:
        return _not_an_incident(draft), warnings

    event, date_warnings = resolve_date(draft.date, published)
    warnings += date_warnings
    event, day_note = day_from_article(event, text, published)
    event, weekday_note = date_after_weekday(event, text)
    warnings += [note for note in (day_note, weekday_note) if note]
    if looks_like_commemoration(event, text, published):
        warnings.append(
            f"not reported as an incident: the article commemorates an event of {event.iso} "
            "and gives no publication date"
        )
        return _not_an_incident(draft), warnings
    if looks_like_business(draft, text):
        warnings.append(
            "not reported as an incident: the article is business news and reports no dead "
            "or injured"
        )
        return _not_an_incident(draft), warnings
    age = _days_before(event, published)
    if stale_after_days is not None and age is not None and age > stale_after_days:
        warnings.append(
            f"not reported as an incident: the event ({event.iso}) ended {age} days before "
            f"publication ({published}), so the article is not news of it"
        )
        return _not_an_incident(draft), warnings
    name, code = country_code_for(draft.location.country, draft.location.country_code)
    if draft.location.country_code and code != draft.location.country_code:
        warnings.append(
            f"country code {draft.location.country_code!r} replaced by {code!r} for {name!r}"
        )
    place, region = draft.location.place, draft.location.region
    for label, value in (("place", place), ("region", region)):
        if value and not named_in(value, text):
            warnings.append(f"{label} {value!r} dropped: the article does not name it")
    place = place if place and named_in(place, text) else None
    region = region if region and named_in(region, text) else None
    if region and region.casefold() in {(place or "").casefold(), (name or "").casefold()}:
        region = None  # "Liberia, Liberia": the region says nothing the record lacks
    if region and place and _only_a_direction(region, name):
        # "north-eastern Nigeria": a direction within the country is not a region.
        region = None
    location = Location(place=place, region=region, country=name, country_code=code)
    figures = (draft.killed, draft.injured, draft.missing)
    if not any((place, region, code, event.iso, *figures)) and 0 not in figures:
        warnings.append(
            "not reported as an incident: the article gives no place, no date and no toll for it"
        )
        return _not_an_incident(draft), warnings

    # A weapon named as the perpetrator ("drones") is the cause, not who used it.
    perpetrators, weapons = [], list(draft.weapons)
    for p in draft.perpetrators:
        if _STRIKE.search(p.name) or _NATURAL.search(p.name):
            weapons.append(p.name)
            warnings.append(f"perpetrator {p.name!r} is a weapon or cause, not who used it")
        else:
            perpetrators.append(p)
    if draft.perpetrators and not perpetrators:
        perpetrators = [Perpetrator(name="unknown", attribution="unknown")]
    weapons = list(dict.fromkeys(weapons))

    category, category_note = category_from_cause(draft.category, weapons)
    if category_note:
        warnings.append(category_note)
    category, strike_note = strike_the_article_never_describes(category, text)
    if strike_note:
        warnings.append(strike_note)
    if (
        category in NO_PERPETRATOR
        and perpetrators
        and not _ARSON.search(" ".join([draft.perpetrator_quote or "", *weapons]))
    ):
        kind = category.value.replace("_", " ")
        names = [p.name for p in perpetrators]
        warnings.append(f"perpetrators {names} dropped: a {kind} has none")
        perpetrators = []

    groups = [
        g.model_copy(update={"nationality_code": country_code_for(None, g.nationality_code)[1]})
        for g in draft.groups
    ]
    casualties = Casualties(
        killed=draft.killed,
        injured=draft.injured,
        missing=draft.missing,
        qualifier=(draft.qualifier or "exact") if draft.killed is not None else None,
        groups=groups,
    )

    evidence = []
    for field, quote in draft.quotes():
        if field == "perpetrators" and not perpetrators:
            continue
        span = find_quote(text, quote)
        if span is None:  # validation already re-asked for this; never store a false quote
            warnings.append(f"dropped a quote not found in the article: {quote[:60]!r}")
            continue
        start, end = span
        evidence.append(Evidence(field=field, quote=text[start:end], start=start, end=end))

    headline = casualty_first(draft.headline, casualties)
    if headline != draft.headline:
        warnings.append("headline completed with the toll")

    incident = Incident(
        is_incident=True,
        headline=headline,
        summary=draft.summary,
        category=category,
        date=event,
        location=location,
        casualties=casualties,
        perpetrators=perpetrators,
        weapons=weapons,
        responses=list(dict.fromkeys(draft.responses)),
        evidence=evidence,
    )
    return incident, warnings


# The cause settles the kind when the model's category contradicts it ("earthquake" filed as a
# bombing, drones filed as a bombing). Only these two clear-cut families are corrected.
_NATURAL = re.compile(
    r"earthquake|quake|tsunami|flood|mudslide|landslide|storm|typhoon|hurricane|cyclone|"
    r"tornado|volcan|avalanche|monsoon|heavy rain",
    re.I,
)
_STRIKE = re.compile(
    r"rocket|missile|drone|\bUAV\b|mortar|artillery|shelling|air ?strike|airstrike|"
    r"warplane|\bjets?\b|БпЛА|дрон|ракет",
    re.I,
)
_ARSON = re.compile(r"arson|set (?:on )?fire|set alight|torched|firebomb|molotov", re.I)


_DIRECTION = re.compile(
    r"(?:far|the|of|(?:north|south)?(?:-?(?:east|west))?(?:ern)?|north(?:ern)?|south(?:ern)?|"
    r"central|upper|lower|coastal|interior)",
    re.I,
)


def _only_a_direction(region: str, country: str | None) -> bool:
    """Whether ``region`` is only a direction, alone or within the country ("northern
    Iraq", "the north-east", "south-western Nigeria")."""
    words = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", region)
    country_words = {w.casefold() for w in re.findall(r"[^\W\d_]+", country or "")}
    rest = [w for w in words if w.casefold() not in country_words]
    return bool(rest) and all(_DIRECTION.fullmatch(w) for w in rest)


def category_from_cause(
    category: Category | None, weapons: list[str]
) -> tuple[Category | None, str | None]:
    """The category, corrected when the cause the record names plainly says otherwise."""
    cause = " ".join(weapons)
    fixed = category
    if _NATURAL.search(cause) and category != Category.natural_disaster:
        fixed = Category.natural_disaster
    elif _STRIKE.search(cause) and category in {Category.explosion_bombing, Category.other}:
        fixed = Category.air_or_missile_strike
    if fixed == category or fixed is None:
        return category, None
    old = category.value if category else None
    return fixed, f"category {old!r} replaced by {fixed.value!r}: the cause is {cause!r}"


_TRANSPORT = re.compile(
    r"\b(?:planes?|aircraft|airliner|flights?|runway|landing|take-?off|trains?|derail\w*|"
    r"bus|coach|ferry|boat|ship|vessel|truck|lorry|cars?|motorcycle|collision|collided)\b",
    re.I,
)


def strike_the_article_never_describes(
    category: Category | None, text: str
) -> tuple[Category | None, str | None]:
    """An air or missile strike in an article that names no strike weapon (rocket, missile,
    drone, shelling, air strike, warplane...) but speaks of planes, trains or road vehicles is
    a transport accident: a plane skidding off a runway is not an air strike."""
    if category != Category.air_or_missile_strike or _STRIKE.search(text):
        return category, None
    if not _TRANSPORT.search(text):
        return category, None
    return Category.transport_accident, (
        "category 'air_or_missile_strike' replaced by 'transport_accident': the article names "
        "no strike weapon and speaks of vehicles"
    )


def _folded_words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return {w for w in re.findall(r"[a-z0-9]+", plain.casefold()) if len(w) > 2}


def named_in(name: str, text: str) -> bool:
    """Whether the article names a place: one of its words occurs in the text (accents and
    case aside). Articles in other scripts are not checked: the place is transliterated."""
    letters = [c for c in text[:2000] if c.isalpha()]
    latin = sum(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in letters)
    if not letters or latin < 0.5 * len(letters):
        return True
    words = _folded_words(name)
    return not words or bool(words & _folded_words(text))


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


def casualty_first(headline: str, toll: Casualties) -> str:
    """Lead with the toll when the headline does not state the death toll."""
    said = numbers_in(headline)
    parts = {g.killed for g in toll.groups} - {None}
    if not toll.killed or toll.killed in said or (parts and parts <= said):
        return headline
    prefix = "at least " if toll.qualifier == "at_least" else ""
    toll_words = [f"{prefix}{toll.killed} killed"]
    if toll.injured:
        toll_words.append(f"{toll.injured} injured")
    lead = ", ".join(toll_words)
    lead = lead[0].upper() + lead[1:]
    combined = f"{lead}: {headline}"
    if len(combined) > HEADLINE_MAX:
        combined = combined[: HEADLINE_MAX - 1].rstrip() + "…"
    return combined


def _not_an_incident(draft: IncidentDraft) -> Incident:
    return Incident(
        is_incident=False,
        headline=draft.headline,
        summary=draft.summary,
        category=None,
        date=EventDate(text=None, iso=None, precision=None),
        location=Location(place=None, region=None, country=None, country_code=None),
        casualties=Casualties(killed=None, injured=None, missing=None, qualifier=None, groups=[]),
        perpetrators=[],
        weapons=[],
        responses=[],
        evidence=[],
    )
