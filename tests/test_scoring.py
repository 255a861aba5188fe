import json
from pathlib import Path
from typing import Any

import pytest

from service.scoring import (
    FIELDS,
    Report,
    fuzzy_match,
    known_perpetrator_names,
    normalise,
    score,
    tokens,
)

DEV_SET = Path(__file__).resolve().parents[1] / ".." / "shared" / "dev" / "articles.jsonl"


def gold_item(item_id: str = "x1", **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "is_incident": True,
        "category": "fire",
        "category_alt": [],
        "country": "FR",
        "country_alt": [],
        "location": "Old Mill warehouse, Westbury",
        "event_date": "2031-02-03",
        "event_date_alt": [],
        "killed": 2,
        "killed_alt": [],
        "injured": 7,
        "injured_alt": [],
        "perpetrator": None,
        "perpetrator_descriptive": False,
    }
    item.update(overrides)
    return item


def negative_item(item_id: str = "n1") -> dict[str, Any]:
    return gold_item(
        item_id,
        is_incident=False,
        category=None,
        country=None,
        location=None,
        event_date=None,
        killed=None,
        injured=None,
    )


def prediction_from(gold: dict[str, Any]) -> dict[str, Any]:
    name = gold["perpetrator"]
    incident = {
        "is_incident": gold["is_incident"],
        "category": gold["category"],
        "location": {"place": gold["location"], "region": None, "country_code": gold["country"]},
        "date": {"iso": gold["event_date"]},
        "casualties": {"killed": gold["killed"], "injured": gold["injured"]},
        "perpetrators": [] if name is None else [{"name": name, "attribution": "confirmed"}],
    }
    return {"id": gold["id"], "response": {"incident": incident}}


def with_incident(gold: dict[str, Any], **changes: Any) -> dict[str, Any]:
    prediction = prediction_from(gold)
    prediction["response"]["incident"].update(changes)
    return prediction


def one(gold: dict[str, Any], prediction: dict[str, Any] | None) -> Report:
    return score([gold], {gold["id"]: prediction})


def correct(report: Report) -> dict[str, tuple[int, int]]:
    return {name: (s.correct, s.scored) for name, s in report.fields.items()}


def perpetrator_ok(gold: dict[str, Any], names: list[Any]) -> bool:
    perpetrators = [{"name": n, "attribution": "claimed"} for n in names]
    report = one(gold, with_incident(gold, perpetrators=perpetrators))
    return report.fields["perpetrator"].correct == 1


# --- the development set fed back as predictions ---------------------------------------------


def test_dev_set_gold_as_predictions_scores_perfectly() -> None:
    if not DEV_SET.is_file():
        pytest.skip(f"development set not found at {DEV_SET}")
    gold = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    report = score(gold, {g["id"]: prediction_from(g) for g in gold})

    expected_scored = {
        "is_incident": 30,
        "category": 25,
        "country": 25,
        "location": 25,
        "event_date": 10,
        "killed": 20,
        "injured": 20,
        "perpetrator": 25,
    }
    assert {name: s.scored for name, s in report.fields.items()} == expected_scored
    assert all(s.accuracy == 1.0 for s in report.fields.values()), report.failures
    assert report.failures == []
    assert (report.overall.correct, report.overall.scored) == (180, 180)
    assert {name: (s.correct, s.scored) for name, s in report.lenient.items()} == {
        "killed": (20, 20),
        "injured": (20, 20),
    }


# --- normalisation, tokens, fuzzy matching ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Zürich-Old Town!  ", "zurich old town"),
        # non-ASCII goes before punctuation becomes a space, so the dash joins the words
        ("Zürich—Old", "zurichold"),
        ("São Tomé", "sao tome"),
        ("N/A", "n a"),
        # only the run outside [a-z0-9 ] is replaced, so an existing space is kept beside it
        ("A.B.C. 12", "a b c  12"),
        ("Київ", ""),
        ("ﬁre", "fire"),  # NFKD splits the ligature
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_tokens_drop_stop_words() -> None:
    assert tokens("The Harbour District of Eastport City") == {"harbour", "eastport"}
    assert tokens("near the province and a state in an region") == set()
    assert tokens("Theatre Anderson") == {"theatre", "anderson"}


def test_fuzzy_match_by_substring() -> None:
    assert fuzzy_match("Eastport", "Grand Hotel, Eastport")
    assert fuzzy_match("grand hotel eastport", "Grand Hotel")


def test_fuzzy_match_by_token_overlap() -> None:
    # shared {riverside, eastport} / smaller set of 4 = 0.5
    assert fuzzy_match("Riverside market, Eastport, Lowland", "Eastport Riverside bazaar square")
    # shared {eastport} / smaller set of 3 < 0.5
    assert not fuzzy_match("Eastport harbour quay", "quayside Eastport depot yard")


def test_fuzzy_match_false_on_empty_tokens() -> None:
    assert not fuzzy_match("", "Eastport")
    assert not fuzzy_match("Eastport", "the city")
    # substring alone is not enough when one side has only stop words
    assert not fuzzy_match("city", "Eastport city")


# --- perpetrators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Unknown",
        "UNIDENTIFIED",
        "none",
        "null",
        "N/A",
        "not stated",
        "Not specified.",
        "no group",
        "unknown perpetrator",
        "Unknown attackers",
        "unknown gunmen",
        "Unidentified gunmen",
        "",
        "—",
        "Невідомі",
    ],
)
def test_names_that_mean_nobody(name: str) -> None:
    assert known_perpetrator_names({"perpetrators": [{"name": name}]}) == []


def test_known_names_keep_real_strings_only() -> None:
    incident = {
        "perpetrators": [
            {"name": "Crimson Hand Brigade"},
            {"name": "unknown"},
            {"name": 7},
            "not an object",
            {"attribution": "claimed"},
            {"name": "unknown bombers"},
        ]
    }
    assert known_perpetrator_names(incident) == ["Crimson Hand Brigade", "unknown bombers"]
    assert known_perpetrator_names({"perpetrators": None}) == []
    assert known_perpetrator_names({}) == []


def test_null_and_unknown_gold_perpetrator_need_no_known_name() -> None:
    for gold_name in (None, "unknown", "Unknown"):
        gold = gold_item(perpetrator=gold_name)
        assert perpetrator_ok(gold, [])
        assert perpetrator_ok(gold, ["unidentified gunmen", "N/A"])
        assert not perpetrator_ok(gold, ["Crimson Hand Brigade"])


def test_descriptive_gold_perpetrator() -> None:
    gold = gold_item(perpetrator="masked men on motorbikes", perpetrator_descriptive=True)
    assert perpetrator_ok(gold, [])
    assert perpetrator_ok(gold, ["unknown"])
    assert perpetrator_ok(gold, ["two masked men"])
    assert not perpetrator_ok(gold, ["Crimson Hand Brigade"])


def test_named_gold_perpetrator() -> None:
    gold = gold_item(perpetrator="Crimson Hand Brigade (claimed)")
    assert perpetrator_ok(gold, ["crimson hand brigade"])
    assert perpetrator_ok(gold, ["unknown", "Crimson Hand"])
    assert not perpetrator_ok(gold, [])
    assert not perpetrator_ok(gold, ["unknown"])
    assert not perpetrator_ok(gold, ["Silver Lantern Front"])


# --- per-field rules -------------------------------------------------------------------------


def test_perfect_prediction_of_one_incident() -> None:
    gold = gold_item()
    report = one(gold, prediction_from(gold))
    assert correct(report) == {name: (1, 1) for name in FIELDS}
    assert report.failures == []


def test_alternatives_and_case_accepted() -> None:
    gold = gold_item(category_alt=["explosion_bombing"], country_alt=["BE"])
    gold["event_date_alt"] = ["2031-02-02"]
    prediction = with_incident(
        gold,
        category="explosion_bombing",
        location={"place": None, "region": "Westbury", "country_code": "be"},
        date={"iso": "2031-02-02"},
    )
    report = one(gold, prediction)
    assert report.fields["category"].correct == 1
    assert report.fields["country"].correct == 1
    assert report.fields["location"].correct == 1
    assert report.fields["event_date"].correct == 1


def test_wrong_values_are_failures() -> None:
    gold = gold_item()
    prediction = with_incident(
        gold,
        category="shooting",
        location={"place": "Somewhere Else", "region": None, "country_code": 33},
        date={"iso": "2031-2-3"},
        casualties={"killed": 2.0, "injured": True},
    )
    report = one(gold, prediction)
    wrong = {"category", "country", "location", "event_date", "killed", "injured"}
    assert {f.field for f in report.failures} == wrong
    assert ("x1", "category", "fire", "shooting") in report.failures
    assert report.fields["is_incident"].correct == 1


def test_place_and_region_are_joined_for_location() -> None:
    gold = gold_item(location="Old Mill warehouse, Westbury")
    split = {"place": "Old Mill warehouse", "region": "Westbury", "country_code": "FR"}
    assert one(gold, with_incident(gold, location=split)).fields["location"].correct == 1
    empty = {"place": None, "region": None, "country_code": "FR"}
    assert one(gold, with_incident(gold, location=empty)).fields["location"].correct == 0


def test_null_gold_fields_are_not_scored() -> None:
    gold = gold_item(country=None, country_alt=["FR"], event_date=None, killed=None)
    report = one(gold, prediction_from(gold))
    assert report.fields["country"].scored == 0
    assert report.fields["event_date"].scored == 0
    assert report.fields["killed"].scored == 0
    assert report.lenient["killed"].scored == 0
    assert report.fields["injured"].scored == 1


def test_zero_is_a_value_not_null() -> None:
    gold = gold_item(killed=0)
    assert one(gold, prediction_from(gold)).fields["killed"].correct == 1
    missed = with_incident(gold, casualties={"killed": None, "injured": 7})
    assert one(gold, missed).fields["killed"].correct == 0


def test_booleans_are_not_counts() -> None:
    gold = gold_item(killed=1, injured=0)
    prediction = with_incident(gold, casualties={"killed": True, "injured": False})
    report = one(gold, prediction)
    assert (report.fields["killed"].correct, report.fields["injured"].correct) == (0, 0)


def test_lenient_counts_accept_alternatives_but_stay_out_of_overall() -> None:
    gold = gold_item(killed=2, killed_alt=[3], injured=7, injured_alt=[9])
    report = one(gold, with_incident(gold, casualties={"killed": 3, "injured": 8}))
    assert (report.fields["killed"].correct, report.lenient["killed"].correct) == (0, 1)
    assert (report.fields["injured"].correct, report.lenient["injured"].correct) == (0, 0)
    assert (report.overall.correct, report.overall.scored) == (6, 8)


def test_negatives_are_scored_only_on_is_incident() -> None:
    gold = negative_item()
    bogus = {
        "is_incident": False,
        "category": "fire",
        "location": {"place": "Nowhere", "region": None, "country_code": "ZZ"},
        "date": {"iso": "1999-01-01"},
        "casualties": {"killed": 40, "injured": 3},
        "perpetrators": [{"name": "Crimson Hand Brigade"}],
    }
    report = one(gold, {"id": "n1", "response": {"incident": bogus}})
    assert correct(report) == {name: (1, 1) if name == "is_incident" else (0, 0) for name in FIELDS}
    assert all(s.scored == 0 for s in report.lenient.values())

    flagged = one(gold, {"id": "n1", "response": {"incident": {**bogus, "is_incident": True}}})
    assert correct(flagged)["is_incident"] == (0, 1)
    assert flagged.overall.scored == 1


def test_is_incident_uses_truthiness() -> None:
    gold = negative_item()
    assert one(gold, {"id": "n1", "response": {"incident": {}}}).fields["is_incident"].correct == 1
    positive = {"id": "n1", "response": {"incident": {"is_incident": "yes"}}}
    assert one(gold, positive).fields["is_incident"].correct == 0


@pytest.mark.parametrize(
    "prediction",
    [
        None,
        {"id": "x1", "error": {"code": "model_invalid_output", "message": "gave up"}},
        {"id": "x1", "response": {"incident": None}},
        {"id": "x1", "response": {"incident": "a string"}},
        {"id": "x1", "response": None},
        {"id": "x1"},
    ],
)
def test_missing_error_or_malformed_predictions_are_wrong_everywhere(
    prediction: dict[str, Any] | None,
) -> None:
    gold = gold_item(perpetrator=None)
    report = one(gold, prediction)
    # even the null-gold perpetrator, which an empty incident would get right, counts wrong
    assert correct(report) == {name: (0, 1) for name in FIELDS}
    assert {f.field for f in report.failures} == set(FIELDS)
    assert all(s.scored == 1 and s.correct == 0 for s in report.lenient.values())


def test_error_line_is_wrong_even_with_a_response() -> None:
    gold = gold_item()
    prediction = {**prediction_from(gold), "error": {"code": "deadline_exceeded"}}
    report = one(gold, prediction)
    assert report.overall.correct == 0
    assert all("deadline_exceeded" in f.got for f in report.failures)


def test_absent_id_counts_wrong_only_on_fields_scored_for_it() -> None:
    incident = gold_item("x1", event_date=None, killed=None)
    negative = negative_item("n1")
    report = score([incident, negative], {})
    scored = {name: s.scored for name, s in report.fields.items()}
    expected = {name: 0 if name in ("event_date", "killed") else 1 for name in FIELDS}
    assert scored == {**expected, "is_incident": 2}
    assert report.overall.correct == 0
    assert ("n1", "is_incident", False, "<missing prediction>") in report.failures


def test_predictions_for_unknown_ids_are_ignored() -> None:
    gold = gold_item()
    predictions = {"x1": prediction_from(gold), "zz": prediction_from(gold_item("zz"))}
    assert score([gold], predictions).overall.scored == len(FIELDS)


# --- the report ------------------------------------------------------------------------------


def test_overall_is_pooled_not_a_mean_of_fields() -> None:
    # is_incident: 3/3 (all three items); every other field 0/1 (the one incident is all wrong)
    gold = [gold_item("x1"), negative_item("n1"), negative_item("n2")]
    wrong = {
        "is_incident": True,
        "category": "other",
        "location": {"place": "Nowhere", "region": None, "country_code": "ZZ"},
        "date": {"iso": None},
        "casualties": {"killed": None, "injured": None},
        "perpetrators": [{"name": "Crimson Hand Brigade"}],
    }
    predictions = {
        "x1": {"id": "x1", "response": {"incident": wrong}},
        "n1": prediction_from(gold[1]),
        "n2": prediction_from(gold[2]),
    }
    report = score(gold, predictions)
    assert (report.overall.correct, report.overall.scored) == (3, 10)
    assert report.overall.accuracy == pytest.approx(0.3)
    mean = sum(s.accuracy or 0.0 for s in report.fields.values()) / len(FIELDS)
    assert mean == pytest.approx(0.125)


def test_report_serialisations() -> None:
    gold = [gold_item("x1", killed=None), negative_item("n1")]
    report = score(gold, {"x1": prediction_from(gold[0])})

    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data["fields"]) == list(FIELDS)
    assert data["fields"]["killed"] == {"correct": 0, "scored": 0, "accuracy": None}
    assert data["fields"]["is_incident"] == {"correct": 1, "scored": 2, "accuracy": 0.5}
    assert data["overall"] == {"correct": 7, "scored": 8, "accuracy": 0.875}
    assert data["lenient"]["injured"] == {"correct": 1, "scored": 1, "accuracy": 1.0}
    assert data["failures"] == [
        {"id": "n1", "field": "is_incident", "expected": False, "got": "<missing prediction>"}
    ]

    table = report.to_markdown().splitlines()
    assert table[0] == "| field | correct | scored | accuracy |"
    assert "| is_incident | 1 | 2 | 0.500 |" in table
    assert "| killed | 0 | 0 | n/a |" in table
    assert "| **overall** | 7 | 8 | 0.875 |" in table
    assert "| injured (lenient) | 1 | 1 | 1.000 |" in table
    assert len(table) == 2 + len(FIELDS) + 1 + 2
