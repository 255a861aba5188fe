"""Where it happened: places the article names, in Latin script, with a checked country code."""

from __future__ import annotations

import re
from typing import Any

import pycountry

from schemas.incident import Location
from service.languages.script import latin
from service.pipeline.context import Context
from service.pipeline.perpetrators import named_in
from service.pipeline.placeholders import is_placeholder
from service.pipeline.record import Record

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
    by_name = _country_named(name) if name else None
    if name and by_name is None:
        matches = _fuzzy_country(name)
        by_name = matches[0] if len(matches) == 1 else None
    chosen = by_name or by_code
    if chosen is None:
        return name, None
    return _in_english(chosen)


def _country_named(name: str) -> Any:
    """The ISO 3166-1 country ``name`` is exactly (an everyday alias, a name or a code)."""
    name = name.strip()
    alias = _COUNTRY_ALIASES.get(name.casefold())
    try:
        return pycountry.countries.lookup(alias or name)
    except LookupError:
        return None


def _in_english(country: Any) -> tuple[str, str]:
    """The country in English, as ISO 3166-1 names it ("Brasil" is Brazil), and its code."""
    return (getattr(country, "common_name", None) or country.name), country.alpha_2


def _fuzzy_country(name: str) -> list[Any]:
    try:
        return list(pycountry.countries.search_fuzzy(name.strip()))
    except LookupError:
        return []


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


def _country_the_place_names(
    place: str | None, region: str | None, code: str | None
) -> tuple[str, str] | None:
    """The country written as a part of the place or region itself ("Belgorod, Russia"), when
    they name one country only: the model's own reading of where the place is, which its
    country field can contradict (the attacker's country given for the target's). A part that
    is also a region of the record's country ("Atlanta, Georgia" in the US) names no other
    country; codes ("IN", "PER") are not read as countries, only names."""
    found = set()
    for value in (place, region):
        for part in (value or "").split(","):
            part = part.strip()
            if (len(part) <= 3 and part.casefold() not in _COUNTRY_ALIASES) or _region_of(
                part, code
            ):
                continue
            if (country := _country_named(part)) is not None:
                found.add(_in_english(country))
    return found.pop() if len(found) == 1 else None


def _region_of(name: str, code: str | None) -> bool:
    """Whether ``name`` is one of the ISO 3166-2 subdivisions of the country ``code``."""
    subdivisions = pycountry.subdivisions.get(country_code=code) if code else None
    return any(s.name.casefold() == name.casefold() for s in subdivisions or ())


def check_places(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    text, language = context.article.text, context.article.language
    warnings = []
    location = record.location
    for label in ("place", "region", "country"):
        value = getattr(location, label)
        if is_placeholder(value):
            location = location.model_copy(update={label: None})
            warnings.append(f"{label} {value!r} dropped: it names no place")
    name, code = country_code_for(latin(location.country, language), location.country_code)
    if location.country_code and code != location.country_code:
        warnings.append(f"country code {location.country_code!r} replaced by {code!r} for {name!r}")
    place, region = location.place, location.region
    for label, value in (("place", place), ("region", region)):
        if value and not named_in(value, text):
            warnings.append(f"{label} {value!r} dropped: the article does not name it")
    place = latin(place, language) if place and named_in(place, text) else None
    region = latin(region, language) if region and named_in(region, text) else None
    named = _country_the_place_names(
        latin(location.place, language), latin(location.region, language), code
    )
    if named is not None and named[1] != code:
        warnings.append(
            f"country {name!r} replaced by {named[0]!r}: the place is given as in {named[0]}"
        )
        name, code = named
    if region and region.casefold() in {(place or "").casefold(), (name or "").casefold()}:
        region = None  # "Liberia, Liberia": the region says nothing the record lacks
    if region and place and _only_a_direction(region, name):
        region = None  # "north-eastern Nigeria": a direction within the country is not a region
    record.location = Location(place=place, region=region, country=name, country_code=code)
    return warnings
