"""Who carried it out: named in the article, never a victim, a weapon or an accident's cause."""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

from schemas.incident import NO_PERPETRATOR, Perpetrator
from service.languages.script import latin_share
from service.pipeline.context import Context
from service.pipeline.record import Record

# Perpetrator names that name nobody.
NOBODY = frozenset({"unknown", "unidentified", "none", "not stated", "unknown attackers"})
# A weapon or a natural cause written where the attacker goes ("drones", "an earthquake").
STRIKE = re.compile(
    r"rocket|missile|drone|\bUAV\b|mortar|artillery|shelling|air ?strike|airstrike|"
    r"warplane|\bjets?\b",
    re.I,
)
NATURAL = re.compile(
    r"earthquake|quake|tsunami|flood|mudslide|landslide|storm|typhoon|hurricane|cyclone|"
    r"tornado|volcan|avalanche|monsoon|heavy rain",
    re.I,
)
# Officials and spokespeople report an attack; they are not its perpetrators.
SOURCE = re.compile(
    r"\b(minister|ministry|president|governor|spokes(?:man|woman|person)|mayor|secretary|"
    r"officials?|police|authorities)\b",
    re.I,
)
ARSON = re.compile(r"arson|set (?:on )?fire|set alight|torched|firebomb|molotov", re.I)


def folded_words(text: str) -> set[str]:
    """Words of ``text`` in Latin letters, without accents or case: names compare across
    scripts ("Хамас" and "Hamas" share no letters, but "Boko Haram" and "Boko-Haram" do)."""
    plain = anyascii(unicodedata.normalize("NFC", text)).casefold()
    return {w for w in re.findall(r"[a-z0-9]+", plain) if len(w) > 2}


def named_in(name: str, text: str) -> bool:
    """Whether ``text`` names ``name``: a word of it, transliterated, occurs there. A name
    transliterated differently from the article's script passes when the text is not Latin."""
    words = folded_words(name)
    if not words:
        return True
    if words & folded_words(text):
        return True
    share = latin_share(text)
    return share is not None and share < 0.5


def check_perpetrators(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    warnings = []
    kept, weapons = [], list(record.weapons)
    victims = {g.group.casefold() for g in record.groups}
    given_as_weapons = {w.strip().casefold() for w in record.weapons}
    article = context.article
    pointed = article.news_sentence(record.perpetrator_sentence)
    evidence = pointed.text if pointed is not None else None
    for p in record.perpetrators:
        name = p.name.strip()
        if name.casefold() in NOBODY:
            kept.append(Perpetrator(name="unknown", attribution="unknown"))
        elif STRIKE.search(name) or NATURAL.search(name):
            weapons.append(name)
            warnings.append(f"perpetrator {name!r} is a weapon or cause, not who used it")
        elif name.casefold() in given_as_weapons:
            # One name cannot be both who did it and what it was done with ("БпЛА", a drone,
            # in both): in any language, it names no attacker.
            warnings.append(f"perpetrator {name!r} dropped: the record gives it as the weapon")
        elif name.casefold() in victims or SOURCE.search(name):
            warnings.append(f"perpetrator {name!r} dropped: a victim or a source, not an attacker")
        elif evidence is not None and named_in(name, evidence):
            kept.append(p)
        else:
            found = next((s for s in article.news_sentences() if named_in(name, s.text)), None)
            if found is None:
                warnings.append(f"perpetrator {name!r} dropped: the article does not name it")
                continue
            kept.append(p)
            record.perpetrator_sentence = found.number
    kept = list({(p.name.casefold(), p.attribution): p for p in kept}.values())
    if len(kept) > 1:
        kept = [p for p in kept if p.name != "unknown"]
    if record.perpetrators and not kept:
        kept = [Perpetrator(name="unknown", attribution="unknown")]
    if record.category in NO_PERPETRATOR and kept and not ARSON.search(" ".join(weapons)):
        if any(p.name != "unknown" for p in kept):
            kind = record.category.value.replace("_", " ") if record.category else ""
            warnings.append(f"perpetrators {[p.name for p in kept]} dropped: a {kind} has none")
        kept = []
    if not any(p.name != "unknown" for p in kept):
        record.perpetrator_sentence = (
            record.perpetrator_sentence if kept and evidence is not None else None
        )
    record.perpetrators = kept
    record.weapons = list(dict.fromkeys(weapons))
    return warnings
