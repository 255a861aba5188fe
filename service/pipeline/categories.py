"""The category agrees with what the record itself says happened.

A small model picks the category before it has written anything else, and often files a
stabbing, a riot or an air strike as a shooting; its own headline, written last, names the
event correctly far more often. The headline and the cause (``weapons``) are the record's English
text whatever the article's language, so the words below are those of the record, not of the
article: each category's common English names for the event.

The category stays when the headline names it (or, with a headline that names no kind of event,
the cause does). Otherwise, when the headline names exactly one kind of event, that is the
category. A bare "attack" is an armed attack only when no more specific kind is named ("missile
attack" is a strike).
"""

from __future__ import annotations

import re

from schemas.incident import Category
from service.pipeline.context import Context
from service.pipeline.record import Record

_WORDS: dict[Category, str] = {
    Category.shooting: r"shooting|shootings|shot|shots|gunman|gunmen|gunfire|gunshots?|"
    r"opened fire|shootout|sniper|handgun|rifle|pistol|guns?",
    Category.stabbing_or_assault: r"stab\w*|knife|knives|machete|axe|beaten|beating|assault\w*|"
    r"lynch\w*|hacked",
    Category.explosion_bombing: r"bomb|bombs|bombing|bombings|bomber|blast|blasts|explosion|"
    r"explosions|explosive|explosives|ied|grenade|detonat\w*|car bomb",
    Category.air_or_missile_strike: r"air ?strikes?|air raids?|missiles?|rockets?|drones?|uav|"
    r"shelling|shells?|shelled|artillery|mortars?|bombardment|warplanes?",
    Category.kidnapping_or_hostage: r"kidnap\w*|abduct\w*|hostages?|captives?|captivity|ransom",
    Category.riot_or_unrest: r"riots?|rioting|rioters|protests?|protesters|clash|clashes|"
    r"unrest|demonstrat\w*|mob",
    Category.transport_accident: r"crash|crashes|crashed|collision|collided|derail\w*|"
    r"capsiz\w*|sank|plane|planes|aircraft|bus|buses|train|trains|ferry|boat|truck|lorry|"
    r"runway|road accident|car accident|traffic accident",
    Category.industrial_accident: r"factory|factories|mine|mines|mining|miners|plant|refinery|"
    r"industrial|workplace|construction site|boiler",
    Category.structural_collapse: r"collapse|collapses|collapsed",
    Category.fire: r"(?<!opened )(?<!open )fire|fires|blaze|inferno|burned|burnt|wildfire",
    Category.natural_disaster: r"earthquakes?|quakes?|tsunami|floods?|flooding|mudslides?|"
    r"landslides?|storms?|typhoon|hurricane|cyclone|tornado|volcan\w*|eruption|avalanche|"
    r"monsoon|heavy rain|wildfire",
    Category.other: r"stampede|crush",
}
_PATTERNS = {
    category: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for category, words in _WORDS.items()
}
_ATTACK = re.compile(r"\b(?:attacks?|attacked|ambush\w*|raids?|massacre|stormed|siege)\b", re.I)


def named_kinds(text: str) -> set[Category]:
    """The kinds of event an English phrase names ("stabbing rampage" names a stabbing)."""
    found = {category for category, pattern in _PATTERNS.items() if pattern.search(text)}
    if not found and _ATTACK.search(text):
        found.add(Category.armed_attack)
    return found


def category_from_description(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    if record.category is None:
        record.category = Category.other  # an incident always has a kind
    category = record.category
    headline = named_kinds(record.headline or "")
    said = headline or named_kinds(" ; ".join(record.weapons))
    if category in said or len(said) != 1:
        return []
    (fixed,) = said
    record.category = fixed
    where = "headline" if headline else "cause"
    return [
        f"category {category.value!r} replaced by {fixed.value!r}: the record's {where} names it"
    ]
