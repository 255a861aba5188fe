"""Deterministic corrections of the record: the category against its cause, accidents without
perpetrators, redundant regions."""

from __future__ import annotations

import pytest

from schemas.incident import Category, IncidentDraft
from service.postprocess import category_from_cause, finalize
from tests.drafts import draft_payload

TEXT = (
    "A strong earthquake struck the coast near Porto Lenz in Valdoria on Monday, killing 12 "
    "people, the Civil Protection Agency said. The agency blamed old buildings for the toll."
)


@pytest.mark.parametrize(
    ("category", "weapons", "expected"),
    [
        (Category.explosion_bombing, ["earthquake"], Category.natural_disaster),
        (Category.explosion_bombing, ["mudslide"], Category.natural_disaster),
        (Category.explosion_bombing, ["drones"], Category.air_or_missile_strike),
        (Category.other, ["artillery shells"], Category.air_or_missile_strike),
        (Category.explosion_bombing, ["car bomb"], Category.explosion_bombing),
        (Category.shooting, ["rifles"], Category.shooting),
        (Category.armed_attack, ["rockets", "gunmen"], Category.armed_attack),
    ],
)
def test_category_follows_a_plain_cause(category, weapons, expected):
    fixed, note = category_from_cause(category, weapons)
    assert fixed == expected
    assert (note is None) == (fixed == category)


QUAKE = {
    "category": "explosion_bombing",
    "deaths_quote": TEXT.split(", the")[0],
    "killed": 12,
    "perpetrator_quote": "The agency blamed old buildings for the toll.",
    "perpetrators": [{"name": "Civil Protection Agency", "attribution": "suspected"}],
    "date": {"text": "on Monday", "iso": None, "precision": None},
    "location": {
        "place": "Porto Lenz",
        "region": "Valdoria",
        "country": "Valdoria",
        "country_code": None,
    },
    "weapons": ["earthquake"],
    "summary": "An earthquake near Porto Lenz killed 12 people.",
    "headline": "12 killed in earthquake near Porto Lenz",
}


def _draft(**changes):
    return draft_payload(QUAKE, **changes)


def test_a_disaster_has_no_perpetrator_and_no_perpetrator_evidence():
    draft = IncidentDraft.model_validate(_draft(), context={"text": TEXT})
    record, warnings = finalize(draft, text=TEXT, published="2025-01-07")
    assert record.category == Category.natural_disaster
    assert record.perpetrators == []
    assert [e.field for e in record.evidence] == ["casualties.killed"]
    assert record.location.region is None  # the same as the country
    assert any("dropped: a natural disaster has none" in w for w in warnings)


def test_an_arson_keeps_its_perpetrator():
    text = "Police said the Blue Hand gang set fire to the market in Porto Lenz, killing 2 people."
    draft = IncidentDraft.model_validate(
        _draft(
            category="fire",
            deaths_quote=text,
            killed=2,
            headline="2 killed in market fire",
            perpetrator_quote=text,
            perpetrators=[{"name": "Blue Hand gang", "attribution": "suspected"}],
            weapons=["arson"],
        ),
        context={"text": text},
    )
    record, _ = finalize(draft, text=text, published=None)
    assert record.category == Category.fire
    assert [p.name for p in record.perpetrators] == ["Blue Hand gang"]


def test_an_incident_without_place_date_or_toll_is_not_reported_as_one():
    text = "Researchers found more evidence that a huge impact wiped out most species."
    draft = IncidentDraft.model_validate(
        _draft(
            deaths_quote=None,
            killed=None,
            perpetrator_quote=None,
            perpetrators=[],
            date={"text": "unknown", "iso": None, "precision": None},
            location={"place": None, "region": None, "country": None, "country_code": None},
            weapons=["asteroid"],
            headline="Evidence of an ancient impact",
        ),
        context={"text": text},
    )
    record, warnings = finalize(draft, text=text, published=None)
    assert record.is_incident is False
    assert any("no place, no date and no toll" in w for w in warnings)


def test_an_unknown_place_does_not_make_an_incident():
    text = "Researchers found more evidence that a huge impact wiped out most species."
    draft = IncidentDraft.model_validate(
        _draft(
            deaths_quote=None,
            killed=None,
            perpetrator_quote=None,
            perpetrators=[],
            date={"text": "unknown", "iso": None, "precision": None},
            location={
                "place": "unknown",
                "region": "unknown",
                "country": None,
                "country_code": None,
            },
            weapons=["asteroid"],
            headline="Evidence of an ancient impact",
        ),
        context={"text": text},
    )
    record, _ = finalize(draft, text=text, published=None)
    assert record.is_incident is False


def test_a_weapon_named_as_perpetrator_becomes_the_cause():
    text = "Drones struck a warehouse in Porto Lenz overnight, killing 3 workers, officials said."
    draft = IncidentDraft.model_validate(
        _draft(
            deaths_quote=text,
            killed=3,
            headline="3 killed in strike on Porto Lenz warehouse",
            perpetrator_quote=None,
            perpetrators=[{"name": "drones", "attribution": "unknown"}],
            weapons=[],
        ),
        context={"text": text},
    )
    record, warnings = finalize(draft, text=text, published=None)
    assert record.category == Category.air_or_missile_strike
    assert [p.name for p in record.perpetrators] == ["unknown"]
    assert record.weapons == ["drones"]
    assert any("is a weapon or cause" in w for w in warnings)


# 2025-06-21 is a Saturday.
@pytest.mark.parametrize(
    ("model_text", "article", "expected"),
    [
        # the model copied the page's date: the article's "yesterday" is the day
        (
            "2025-06-21",
            "date 2025-06-21 A man stabbed three people in Porto Lenz yesterday.",
            "2025-06-20",
        ),
        # a time of day names no day; a day of a statement is not the event's
        ("midday", "Police said Saturday that a gunman shot two guards on Thursday.", "2025-06-19"),
        # the model named the day itself
        ("today", "A man stabbed three people in Porto Lenz yesterday.", "2025-06-21"),
        # the model's own date names its day
        (
            "June 21",
            "Last Monday a storm hit. A man stabbed three people in Porto Lenz.",
            "2025-06-21",
        ),
        # the article's first day is the publication day
        ("2025-06-21", "A fire broke out this morning, a day after Friday's storm.", "2025-06-21"),
    ],
)
def test_the_event_day_is_the_articles_own_when_the_model_names_none(model_text, article, expected):
    draft = IncidentDraft.model_validate(
        _draft(
            category="stabbing_or_assault",
            deaths_quote=None,
            killed=None,
            perpetrator_quote=None,
            perpetrators=[],
            date={"text": model_text, "iso": None, "precision": None},
            weapons=[],
            headline="Attack in Porto Lenz",
        ),
        context={"text": article},
    )
    record, warnings = finalize(draft, text=article, published="2025-06-21")
    assert record.date.iso == expected
    assert any("from the article's" in w for w in warnings) == (expected != "2025-06-21")


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [("Sabtu", "2024-07-06"), ("Jumat", None)],  # 6 July 2024 is a Saturday (Sabtu)
)
def test_a_weekday_followed_by_its_date_gives_the_date(weekday, expected):
    text = f"Sebuah bus terguling di Porto Lenz, {weekday} (6/7/2024) dini hari. {TEXT}"
    draft = IncidentDraft.model_validate(
        _draft(date={"text": weekday, "iso": None, "precision": None}), context={"text": text}
    )
    record, _ = finalize(draft, text=text, published=None)
    assert record.date.iso == expected


MEMORIAL = (
    "On March 14, 1998 a flood swept through the valley above Porto Lenz in Valdoria, killing "
    "212 people. Hundreds gathered on Sunday at a memorial by the river for a ceremony to "
    "remember the victims."
)


@pytest.mark.parametrize(
    ("text", "published", "incident"),
    [
        (MEMORIAL, None, False),
        # the same event without any sign of a commemoration is reported
        (MEMORIAL.split(" Hundreds")[0], None, True),
        # a hospital named Memorial is not a commemoration
        (MEMORIAL.split(" Hundreds")[0] + " The injured went to Memorial Hospital.", None, True),
    ],
)
def test_a_commemoration_without_a_publication_date_is_not_an_incident(text, published, incident):
    draft = IncidentDraft.model_validate(
        _draft(
            category="natural_disaster",
            deaths_quote=text.split(". ")[0] + ".",
            killed=212,
            perpetrator_quote=None,
            perpetrators=[],
            date={"text": "March 14, 1998", "iso": None, "precision": None},
            weapons=["flood"],
            headline="212 killed in flood near Porto Lenz",
        ),
        context={"text": text},
    )
    record, warnings = finalize(draft, text=text, published=published)
    assert record.is_incident is incident
    assert any("commemorates" in w for w in warnings) is not incident


EARNINGS = (
    "Halvorsen Insurance reported a third-quarter net loss of $210 million, or 95 cents per "
    "share, as claims from the storm that flooded Porto Lenz in August hit its results. "
    "Analysts had expected a profit. The shares fell 4 percent."
)


def test_business_news_about_a_disaster_is_not_an_incident():
    draft = IncidentDraft.model_validate(
        _draft(
            deaths_quote=None,
            killed=None,
            perpetrator_quote=None,
            perpetrators=[],
            weapons=["storm"],
            date={"text": "in August", "iso": None, "precision": None},
            headline="Storm claims push insurer to a loss",
        ),
        context={"text": EARNINGS},
    )
    record, warnings = finalize(draft, text=EARNINGS, published=None)
    assert record.is_incident is False
    assert any("business news" in w for w in warnings)
    # the same words next to a toll: the toll is news
    text = EARNINGS + " The storm killed 12 people in Porto Lenz, officials said."
    draft = IncidentDraft.model_validate(
        _draft(
            deaths_quote="The storm killed 12 people in Porto Lenz, officials said.",
            perpetrator_quote=None,
            perpetrators=[],
            weapons=["storm"],
        ),
        context={"text": text},
    )
    assert finalize(draft, text=text, published=None)[0].is_incident is True


@pytest.mark.parametrize(
    ("region", "kept"),
    [
        ("north-eastern Valdoria", None),
        ("the south-west", None),
        ("Northern", None),
        ("Lenz Highlands", "Lenz Highlands"),
        ("North Lenz", "North Lenz"),
    ],
)
def test_a_direction_within_the_country_is_not_a_region(region, kept):
    text = TEXT + f" The town lies in {region}, close to North Lenz and the Lenz Highlands."
    draft = IncidentDraft.model_validate(
        _draft(
            location={
                "place": "Porto Lenz",
                "region": region,
                "country": "Valdoria",
                "country_code": None,
            }
        ),
        context={"text": text},
    )
    record, _ = finalize(draft, text=text, published="2025-01-07")
    assert record.location.place == "Porto Lenz"
    assert record.location.region == kept


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "A cargo plane skidded off the runway at Lenz airport on Monday while landing in "
            "snow. Nobody was killed; 4 crew members were injured, the airport said.",
            Category.transport_accident,
        ),
        (
            "Warplanes hit a depot at Lenz airport on Monday. Nobody was killed; 4 guards were "
            "injured, the airport said.",
            Category.air_or_missile_strike,
        ),
        (
            "An attack hit a depot near Lenz on Monday. Nobody was killed; 4 guards were "
            "injured, officials said.",
            Category.air_or_missile_strike,
        ),
    ],
)
def test_a_strike_the_article_never_describes_is_not_one(text, category):
    draft = IncidentDraft.model_validate(
        _draft(
            category="air_or_missile_strike",
            deaths_quote=None,
            killed=None,
            injuries_quote=None,
            injured=4,
            perpetrator_quote=None,
            perpetrators=[],
            weapons=["unknown"],
            location={"place": "Lenz", "region": None, "country": None, "country_code": None},
            summary="Something happened at Lenz.",
            headline="4 injured at Lenz",
        ),
        context={"text": text},
    )
    record, _ = finalize(draft, text=text, published="2025-01-07")
    assert record.category == category
