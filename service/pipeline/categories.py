"""The category, corrected when the cause on the record plainly says otherwise."""

from __future__ import annotations

from schemas.incident import Category
from service.pipeline.context import Context
from service.pipeline.perpetrators import NATURAL, STRIKE
from service.pipeline.record import Record


def category_from_cause(record: Record, context: Context) -> list[str]:
    """An earthquake filed as a bombing is a natural disaster; drones or rockets filed as a
    bombing are a strike. The cause is the record's own English ``weapons``; only these two
    clear-cut families are corrected."""
    if not record.is_incident:
        return []
    if record.category is None:
        record.category = Category.other  # an incident always has a kind
    category = record.category
    cause = " ".join(record.weapons)
    fixed = category
    if NATURAL.search(cause) and category != Category.natural_disaster:
        fixed = Category.natural_disaster
    elif STRIKE.search(cause) and category in {Category.explosion_bombing, Category.other}:
        fixed = Category.air_or_missile_strike
    if fixed == category:
        return []
    record.category = fixed
    return [f"category {category.value!r} replaced by {fixed.value!r}: the cause is {cause!r}"]
