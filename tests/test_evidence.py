"""Finding the article's own sentence for a figure or a name, and the stale-event rule."""

from __future__ import annotations

import pytest

from schemas.evidence import claimant, sentence_for_figure, sentence_naming
from schemas.incident import EventDate, IncidentDraft
from schemas.numbers import figures_of_kind, none_kinds, states_figure, supports_figure
from schemas.quotes import sentences
from service.postprocess import finalize
from tests.drafts import draft_payload

ARTICLE = (
    "LORVAN, Estria (June 2) - A bus carrying 40 passengers left the road near Lorvan on "
    "Sunday. Police said 7 people died at the scene and 18 others were injured. Two of the "
    "dead were children. Officials said 18 ambulances were sent. The Drivers' Union blamed "
    "the road's condition."
)


def test_sentences_cover_the_article_verbatim():
    spans = sentences(ARTICLE)
    assert len(spans) == 5
    for start, end in spans:
        assert ARTICLE[start:end].strip() == ARTICLE[start:end]
    assert ARTICLE[spans[1][0] : spans[1][1]].startswith("Police said 7")


def test_a_run_without_full_stops_is_cut_at_clause_boundaries():
    text = ", ".join(f"clause number {i} of a long list" for i in range(40))
    spans = sentences(text)
    assert len(spans) > 1
    assert all(end - start <= 400 for start, end in spans)


@pytest.mark.parametrize(
    ("figure", "kind", "expected"),
    [
        (7, "killed", "Police said 7 people died"),
        (18, "injured", "Police said 7 people died"),
        (18, "killed", None),  # 18 ambulances, 18 injured: never 18 dead
        (40, "killed", None),  # 40 passengers is not a toll
    ],
)
def test_sentence_for_a_figure(figure, kind, expected):
    found = sentence_for_figure(ARTICLE, figure, [], kind)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.startswith(expected) and found in ARTICLE


def test_groups_that_add_up_to_the_figure():
    text = "A mortar round hit the camp. Two soldiers and a civilian were killed, the army said."
    assert sentence_for_figure(text, 3, [2, 1], "killed") == (
        "Two soldiers and a civilian were killed, the army said."
    )


def test_figures_of_kind_keep_death_and_injury_apart():
    sentence = "Three people were killed and 12 wounded."
    assert figures_of_kind(sentence, "killed") == {3}
    assert 12 in figures_of_kind(sentence, "injured")


def test_non_english_sentences_need_a_word_of_that_kind():
    assert states_figure("Morreram 5 pessoas no incêndio.", 5, [], "killed")
    assert not states_figure("O incêndio começou às 5 horas.", 5, [], "killed")
    assert states_figure("Sebanyak 9 orang luka-luka.", 9, [], "injured")


def test_sentence_naming_prefers_a_claim_or_blame():
    text = (
        "The Drivers' Union held a meeting in March. Officials said the Drivers' Union was "
        "blamed for the blockade."
    )
    assert sentence_naming(text, "Drivers' Union") == (
        "Officials said the Drivers' Union was blamed for the blockade."
    )
    assert sentence_naming(text, "Blue Hand") is None


BUS_CRASH = {
    "category": "transport_accident",
    "deaths_quote": "Seven passengers perished when the coach overturned.",  # invented
    "killed": 7,
    "injured": 18,
    "date": {"text": "on Sunday", "iso": None, "precision": None},
    "location": {"place": "Lorvan", "region": None, "country": "Estria", "country_code": None},
    "summary": "A bus left the road near Lorvan.",
    "headline": "7 killed, 18 injured in bus crash near Lorvan",
}


def _draft(**changes):
    return draft_payload(BUS_CRASH, **changes)


def test_the_draft_takes_the_articles_sentence_for_its_figures():
    draft = IncidentDraft.model_validate(_draft(), context={"text": ARTICLE})
    assert draft.deaths_quote is not None and draft.deaths_quote.startswith("Police said 7")
    assert draft.injuries_quote == draft.deaths_quote


def test_a_figure_no_sentence_states_is_still_reasked():
    with pytest.raises(ValueError, match=r"casualties\.killed quote"):
        IncidentDraft.model_validate(
            _draft(killed=9, headline="9 killed in bus crash"), context={"text": ARTICLE}
        )


def test_on_the_last_answer_the_figure_its_quote_states_wins():
    draft = IncidentDraft.model_validate(
        _draft(
            killed=9,
            deaths_quote="Police said 7 people died at the scene and 18 others were injured.",
            headline="9 killed in bus crash",
        ),
        context={"text": ARTICLE, "final": lambda: True},
    )
    assert draft.killed == 7
    assert any("replaced by 7" in note for note in draft.withheld)


def test_a_perpetrator_quote_is_found_for_a_named_perpetrator():
    draft = IncidentDraft.model_validate(
        _draft(
            category="armed_attack",
            perpetrator_quote="The union admitted it.",
            perpetrators=[{"name": "Drivers' Union", "attribution": "suspected"}],
        ),
        context={"text": ARTICLE},
    )
    assert draft.perpetrator_quote == "The Drivers' Union blamed the road's condition."


@pytest.mark.parametrize(
    ("date", "published", "incident"),
    [
        ({"text": "in 2015", "iso": None, "precision": None}, "2025-03-01", False),
        ({"text": "on Sunday", "iso": None, "precision": None}, "2025-03-04", True),
        ({"text": "March 2015", "iso": None, "precision": None}, "2015-04-10", True),
        ({"text": "in 2015", "iso": None, "precision": None}, None, True),
    ],
)
def test_an_event_long_before_publication_is_not_an_incident(date, published, incident):
    draft = IncidentDraft.model_validate(_draft(date=date), context={"text": ARTICLE})
    record, warnings = finalize(draft, text=ARTICLE, published=published)
    assert record.is_incident is incident
    if not incident:
        assert record.casualties.killed is None and record.evidence == []
        assert any("not reported as an incident" in w for w in warnings)
    assert isinstance(record.date, EventDate)


def test_a_place_the_article_never_names_is_dropped():
    draft = IncidentDraft.model_validate(
        _draft(
            location={
                "place": "Mount Ferro",
                "region": "Lorvan",
                "country": "Estria",
                "country_code": None,
            }
        ),
        context={"text": ARTICLE},
    )
    record, warnings = finalize(draft, text=ARTICLE, published="2025-06-02")
    assert record.location.place is None
    assert record.location.region == "Lorvan"
    assert any("'Mount Ferro' dropped" in w for w in warnings)


def test_places_in_other_scripts_are_not_checked():
    text = "Унаслідок обстрілу Харкова загинули троє людей, ще семеро поранені."
    from service.postprocess import named_in

    assert named_in("Kharkiv", text)
    assert named_in("Lorván", "A fire broke out in Lorvan on Monday.")
    assert not named_in("Kharkiv", "A fire broke out in Lorvan on Monday.")


def test_a_figure_given_as_the_other_kind_moves_there():
    text = "A bomb outside a bar injured 28 people on Saturday, officials said."
    draft = IncidentDraft.model_validate(
        _draft(
            deaths_quote="A bomb killed 28 people.",
            killed=28,
            groups=[{"group": "tourists", "nationality_code": None, "killed": 10, "injured": None}],
            injured=None,
            headline="28 injured in bombing",
            location={"place": None, "region": None, "country": None, "country_code": None},
        ),
        context={"text": text},
    )
    assert (draft.killed, draft.injured) == (None, 28)
    assert [(g.killed, g.injured) for g in draft.groups] == [(None, 10)]
    assert draft.injuries_quote == text
    assert any("moved to injured" in note for note in draft.withheld)


def test_killed_at_least_two_and_wounded_five_are_told_apart():
    sentence = "A missile attack killed at least two people and wounded five others."
    assert sentence_for_figure(sentence, 2, [], "killed") == sentence
    assert sentence_for_figure(sentence, 5, [], "injured") == sentence
    assert sentence_for_figure(sentence, 2, [], "injured") is None


HOTEL = (
    "The Red Dawn Brigades claimed an attack on a hotel in Merida on Sunday, leaving at least "
    "12 people dead, including the owner of the hotel and two lawmakers. Interior Minister "
    "Ana Ruiz told reporters the attackers wore police uniforms."
)


def test_groups_included_in_a_stated_total_do_not_inflate_it():
    draft = IncidentDraft.model_validate(
        _draft(
            category="armed_attack",
            deaths_quote=HOTEL.split(". ")[0] + ".",
            killed=12,
            injured=None,
            groups=[
                {"group": "hotel guests", "nationality_code": None, "killed": 12, "injured": None},
                {"group": "lawmakers", "nationality_code": None, "killed": 2, "injured": None},
            ],
            headline="12 killed in attack on Merida hotel",
            location={"place": "Merida", "region": None, "country": None, "country_code": None},
        ),
        context={"text": HOTEL},
    )
    assert draft.killed == 12
    assert draft.groups == []
    assert any("breakdown withheld" in note for note in draft.withheld)


def test_an_official_who_reported_the_attack_is_not_its_perpetrator():
    bad = _draft(
        category="armed_attack",
        deaths_quote=None,
        killed=None,
        injured=None,
        headline="Attack on Merida hotel",
        perpetrator_quote=HOTEL.split(". ")[1],
        perpetrators=[{"name": "Interior Minister Ana Ruiz", "attribution": "claimed"}],
        location={"place": "Merida", "region": None, "country": None, "country_code": None},
    )
    with pytest.raises(ValueError, match="reported the attack, not carried it out"):
        IncidentDraft.model_validate(bad, context={"text": HOTEL})
    last = IncidentDraft.model_validate(bad, context={"text": HOTEL, "final": lambda: True})
    assert [p.name for p in last.perpetrators] == ["unknown"]


def test_whoever_only_reported_the_attack_is_not_its_perpetrator():
    text = (
        "Two rockets hit the camp on Monday, killing 3 soldiers. A total of 18 rockets struck "
        "the area, the regional command said in a statement."
    )
    bad = _draft(
        category="air_or_missile_strike",
        deaths_quote=None,
        killed=None,
        injured=None,
        headline="Rocket strike on camp",
        perpetrator_quote=text.split(". ")[1],
        perpetrators=[{"name": "regional command", "attribution": "claimed"}],
        location={"place": None, "region": None, "country": None, "country_code": None},
    )
    with pytest.raises(ValueError, match="reported the attack"):
        IncidentDraft.model_validate(bad, context={"text": text})
    claimed = "The Red Dawn Brigades claimed responsibility in a statement, police said."
    ok = IncidentDraft.model_validate(
        {
            **bad,
            "perpetrator_quote": claimed,
            "perpetrators": [{"name": "Red Dawn Brigades", "attribution": "claimed"}],
        },
        context={"text": text + " " + claimed},
    )
    assert [p.name for p in ok.perpetrators] == ["Red Dawn Brigades"]


def test_an_attacker_reported_by_someone_else_stays_the_perpetrator():
    text = (
        "The Northern Army fired two missiles at the market in Lorvan on Sunday, killing 7 "
        "people, the defence ministry said."
    )
    draft = IncidentDraft.model_validate(
        _draft(
            category="air_or_missile_strike",
            deaths_quote=text,
            killed=7,
            injured=None,
            headline="7 killed in missile strike on Lorvan market",
            perpetrator_quote=text,
            perpetrators=[{"name": "Northern Army", "attribution": "suspected"}],
        ),
        context={"text": text, "final": lambda: True},
    )
    assert [p.name for p in draft.perpetrators] == ["Northern Army"]


# Figures are counts of people: not measures, not dates, not negated words (invented sentences).
@pytest.mark.parametrize(
    ("sentence", "killed", "injured"),
    [
        ("Nobody was injured, but 32 market stalls burned down.", set(), set()),
        ("No one was hurt in the fire.", set(), set()),
        ("None of the 12 injured were in serious condition.", set(), {12}),
        ("No fewer than 5 people were killed.", {5}, set()),
        ("A 31-year-old man was killed at 11 a.m. about 68 km from Lorvan.", set(), set()),
        ("date 2025-06-21 Gunman flees after killing a guard in Lorvan.", set(), set()),
        ("A tanker exploded on the A4 motorway near Lorvan, killing 2 drivers.", {2}, set()),
        ("Three or four other people were injured, witnesses said.", set(), {3}),
    ],
)
def test_figures_count_people_not_measures_dates_or_negations(sentence, killed, injured):
    assert figures_of_kind(sentence, "killed") == killed
    assert figures_of_kind(sentence, "injured") == injured


def test_a_total_does_not_add_a_figure_of_the_other_kind():
    quote = "One guard was killed and two visitors were wounded in the attack on Lorvan."
    assert not supports_figure(quote, 3, [1, 2], "killed")
    assert supports_figure("Two guards and a visitor were killed in Lorvan.", 3, [2, 1], "killed")


@pytest.mark.parametrize(
    ("sentence", "kinds"),
    [
        ("Nobody died and no one was injured in the blaze.", {"killed", "injured"}),
        ("No deaths were reported, but 9 people were treated for burns.", {"killed"}),
        ("There were no casualties, the fire service said.", {"killed", "injured"}),
        ("Police said no one was killed or injured.", {"killed", "injured"}),
        ("None of the passengers were hurt.", {"injured"}),
        ("No one was seriously hurt.", set()),
        ("There were no immediate reports of casualties.", set()),
        ("There were no further injuries.", set()),
        ("No one has claimed responsibility for the attack.", set()),
        ("Non ci sono stati feriti.", {"injured"}),
        ("No hubo muertos.", {"killed"}),
    ],
)
def test_sentences_that_say_nobody_died_or_was_hurt(sentence, kinds):
    assert none_kinds(sentence) == kinds


FIRE = (
    "A fire swept through the Calder market in Lorvan on Sunday. Nobody died and no one was "
    "injured, but 40 stalls burned down. Traders blamed old wiring."
)


def test_nobody_died_makes_the_empty_toll_zero():
    draft = IncidentDraft.model_validate(
        _draft(
            category="fire",
            deaths_quote=None,
            killed=None,
            injured=None,
            headline="Fire sweeps through Calder market in Lorvan",
        ),
        context={"text": FIRE},
    )
    nobody = "Nobody died and no one was injured, but 40 stalls burned down."
    assert (draft.killed, draft.injured) == (0, 0)
    assert draft.deaths_quote == draft.injuries_quote == nobody
    assert any("killed set to 0" in note for note in draft.withheld)
    record, _ = finalize(draft, text=FIRE, published=None)
    assert (record.casualties.killed, record.casualties.injured) == (0, 0)
    assert [e.quote for e in record.evidence] == [nobody, nobody]


def test_nobody_hurt_in_one_sentence_does_not_undo_a_figure_in_another():
    text = (
        "A bomb exploded at the Lorvan bus station on Sunday, injuring 14 people. No one was "
        "hurt in a second blast an hour later."
    )
    draft = IncidentDraft.model_validate(
        _draft(
            category="explosion_bombing",
            deaths_quote=None,
            killed=None,
            injured=None,
            headline="Bomb at Lorvan bus station",
        ),
        context={"text": text},
    )
    assert draft.injured == 14
    assert draft.injuries_quote == text.split(". ")[0] + "."
    assert draft.killed is None


def test_an_injured_figure_the_model_left_out_is_taken_from_the_article():
    draft = IncidentDraft.model_validate(
        _draft(injured=None, headline="7 killed in bus crash near Lorvan"),
        context={"text": ARTICLE},
    )
    assert draft.injured == 18
    assert draft.injuries_quote is not None and draft.injuries_quote.startswith("Police said 7")
    assert any("injured figure 18 taken from the article" in n for n in draft.withheld)


def test_the_first_figure_of_the_incident_is_taken_not_a_background_one():
    text = (
        "Last year, 30 people were injured in a crash on the same road. A bus left the road "
        "near Lorvan on Sunday, killing 7 passengers and injuring 12. Police said 20 were hurt."
    )
    draft = IncidentDraft.model_validate(
        _draft(deaths_quote=None, injured=None, headline="7 killed in bus crash"),
        context={"text": text},
    )
    assert (draft.killed, draft.injured) == (7, 12)


@pytest.mark.parametrize(
    "text",
    [
        # a toll given by groups, one of them without a figure: the sum is not guessed
        "Two soldiers and a civilian were killed when a shell hit the camp near Lorvan.",
        # the toll comes first without a figure; a later figure may be another count
        "A policeman was killed by a bomb in Lorvan on Sunday. 4 people were killed there.",
        # attackers killed, not victims
        "Police shot dead 2 gunmen after they attacked a checkpoint near Lorvan.",
        # two figures of the kind, neither a part of the other
        "A storm killed 3 people in Lorvan on Monday and killed 2 in Estria on Tuesday.",
    ],
)
def test_no_figure_is_taken_when_the_article_does_not_give_one_plainly(text):
    draft = IncidentDraft.model_validate(
        _draft(deaths_quote=None, killed=None, injured=None, headline="Attack in Lorvan"),
        context={"text": text},
    )
    assert draft.killed is None


def test_a_part_of_the_toll_taken_for_it_gives_way_to_the_total():
    text = (
        "A bomb exploded outside a cafe in Lorvan on Saturday. Hospital officials said 31 people "
        "were treated for injuries, and at least four were in critical condition."
    )
    draft = IncidentDraft.model_validate(
        _draft(
            category="explosion_bombing",
            deaths_quote=None,
            killed=None,
            injuries_quote="at least four were in critical condition.",
            injured=4,
            headline="Bombing outside a Lorvan cafe",
        ),
        context={"text": text},
    )
    assert draft.injured == 31
    assert draft.injuries_quote == text.split(". ")[1]
    assert any("injured figure 4 replaced by 31" in note for note in draft.withheld)
    alone = "A bomb exploded in Lorvan. Four people were critically injured."
    kept = IncidentDraft.model_validate(
        _draft(
            category="explosion_bombing",
            deaths_quote=None,
            killed=None,
            injuries_quote="Four people were critically injured.",
            injured=4,
            headline="Bombing in Lorvan",
        ),
        context={"text": alone},
    )
    assert kept.injured == 4


def test_a_figure_is_taken_from_a_sentence_in_another_language():
    text = "Un'esplosione ha distrutto una casa a Lorvan. Il bilancio è di 2 morti e 7 feriti."
    draft = IncidentDraft.model_validate(
        _draft(
            category="explosion_bombing",
            deaths_quote="Il bilancio è di 2 morti e 7 feriti.",
            killed=2,
            injured=None,
            headline="2 killed in explosion in Lorvan",
        ),
        context={"text": text},
    )
    assert draft.injured == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "A car bomb hit the port on Monday. The militant group Red Dawn Brigades has "
            "claimed responsibility for the blast.",
            "Red Dawn Brigades",
        ),
        (
            "Kestrel Front spokesman Ivo Marek claimed responsibility for the attack.",
            "Kestrel Front",
        ),
        ("Responsibility for the raid was claimed by the Northern Shield.", "Northern Shield"),
        ("Valdor Liberation Army Claims Responsibility for Bridge Blast", "Valdor Liberation Army"),
        ("The Islamic Ridge group claimed responsibility on its channel.", "Islamic Ridge"),
        ("No group has claimed responsibility for the attack.", None),
        ("Nobody has claimed responsibility so far.", None),
        ("Last year the Kestrel Front claimed responsibility for a similar attack.", None),
        ("Police said there was no claim of responsibility.", None),
    ],
)
def test_the_claimant_is_read_from_the_articles_claim(text, expected):
    found = claimant(text)
    assert (found[0] if found else None) == expected
    if found:
        assert found[1] in text


def test_an_attack_attributed_to_nobody_takes_the_articles_claimant():
    text = (
        "Gunmen attacked a hotel in Merida on Sunday, killing 7 people, police said. Interior "
        "Minister Dana Ruiz condemned the attack. The Red Dawn Brigades claimed responsibility "
        "in a statement."
    )
    scenario = {
        "category": "armed_attack",
        "deaths_quote": "Gunmen attacked a hotel in Merida on Sunday, killing 7 people",
        "killed": 7,
        "summary": "Gunmen attacked a hotel.",
        "headline": "7 killed in attack on Merida hotel",
    }
    for perpetrators in ([], [{"name": "unknown", "attribution": "unknown"}]):
        draft = IncidentDraft.model_validate(
            draft_payload(scenario, perpetrators=perpetrators), context={"text": text}
        )
        assert [(p.name, p.attribution) for p in draft.perpetrators] == [
            ("Red Dawn Brigades", "claimed")
        ]
        assert draft.perpetrator_quote == (
            "The Red Dawn Brigades claimed responsibility in a statement."
        )
    # A source named as the claimant is withheld on the last answer; the claim replaces it.
    draft = IncidentDraft.model_validate(
        draft_payload(
            scenario,
            perpetrators=[{"name": "Interior Minister Dana Ruiz", "attribution": "claimed"}],
            perpetrator_quote="Interior Minister Dana Ruiz condemned the attack.",
        ),
        context={"text": text, "final": lambda: True},
    )
    assert [p.name for p in draft.perpetrators] == ["Red Dawn Brigades"]
    # An accident is never claimed.
    draft = IncidentDraft.model_validate(
        draft_payload(scenario, category="fire", perpetrators=[]), context={"text": text}
    )
    assert draft.perpetrators == []
