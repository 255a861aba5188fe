"""Numbers in text, whether written as digits or words ("three", "twenty-one"), and which
figures a sentence gives as dead or injured.

A figure belongs to the nearest word of death or injury on either side of it, counted in
words, with no other figure and no sentence end in between, and a comma counting as a word:
"7 people died at the scene and 18 others were injured" gives 7 dead and 18 injured;
"killing 9 and wounding 14" gives 9 dead and 14 injured; "18 rockets" gives nothing. Ages,
times, distances and the like are never figures ("a 31-year-old man was killed" gives no dead),
a negated word takes no figure ("nobody was injured, and 32 stalls burned"), and a range gives
its lower bound ("three or four were injured" gives 3).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from text_to_num import alpha2digit

Kind = Literal["killed", "injured"]

_DEATH_WORDS = (
    r"killed|killing|kills|dead|deaths?|die[sd]?|dying|perish(?:ed|ing)?|lives|bodies|"
    r"fatalit(?:y|ies)|toll|slain|massacred|murdered|drowned"
)
_INJURY_WORDS = r"wounded|wounding|injured|injuring|injur(?:y|ies)|hurt|hospitali[sz]ed|burns?"
_DEATH = re.compile(rf"^(?:{_DEATH_WORDS})$", re.I)
_INJURY = re.compile(rf"^(?:{_INJURY_WORDS})$", re.I)
# Any word of death or injury: a sentence without one states no figure (a quick test first).
_KIND_WORD = re.compile(rf"\b(?:{_DEATH_WORDS}|{_INJURY_WORDS})\b", re.I)
_BOTH = re.compile(r"^casualt(?:y|ies)$", re.I)  # dead and injured together
_OTHER = re.compile(r"^(?:missing|abducted|kidnapped|rescued|trapped|evacuated|displaced)$", re.I)
_CASUALTY = (
    r"(?:killed|killing|kills|dead|deaths?|die[sd]?|dying|perish(?:ed)?|lives|bodies|"
    r"fatalit(?:y|ies)|toll|wounded|wounding|injured|injuring|injur(?:y|ies)|hurt|"
    r"hospitali[sz]ed|missing|casualt(?:y|ies))"
)
_NUM = r"(\d+(?:,\d{3})*)"
_GAP = r"\s+(?:[^\W\d]+\s+){0,7}?"
# Headlines: "12 wounded", "3 US soldiers killed": a figure, up to seven words, a casualty word.
_BEFORE = re.compile(rf"\b{_NUM}{_GAP}({_CASUALTY})\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:,\d{3})*\b")
_TOKEN = re.compile(r"\d+(?:,\d{3})*|[^\W\d_]+|[,;:.!?()]")
_ONE = re.compile(r"(?<!\bno )\b(a|an|one)\s", re.I)
_REACH = 12  # words between a figure and its casualty word, at most
_JOINS = {"and", "or", "but", "while", "whereas", ","}
# A number that measures something other than people: an age, a time, a distance, a share, a
# sum of money, a year ("a 31-year-old", "at 11 a.m.", "68 km", "$5", "in 2005"). It is replaced
# by a plain word before figures are read.
_MEASURE = re.compile(
    r"\b\d+(?:,\d{3})*(?=\s*-?\s*(?:years?|yrs?|months?|weeks?|days?|hours?|hrs?|minutes?|"
    r"mins?|seconds?|km|kilomet(?:re|er)s?|miles?|met(?:re|er)s?|feet|foot|ft|inch(?:es)?|"
    r"per ?cent|percent|tons?|tonnes?|kg|kilograms?|a\.m\.|p\.m\.|am|pm|o'clock|"
    r"stor(?:e?y|eys|ies)|floors?|magnitude|acres?|hectares?|degrees?)(?!\w)|\s*%)",
    re.I,
)
_AFTER_PREFIX = re.compile(
    r"([$€£¥]\s*|\b(?:aged|magnitude(?: of)?)\s+|"
    r"\b(?:in|since|during|until)\s+(?=(?:1[89]|20)\d\d\b)|"
    r"\b(?-i:(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec))\b\.?\s+)\d+(?:,\d{3})*",
    re.I,
)
# Dates written with digits ("2021-04-21", "25/6/2022", "11:21") and names with digits in them
# ("the A4 highway", "F-16 jets", "5km", "the 2nd floor").
_DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{1,2}:\d{2}\b|"
    r"\b[^\W\d_]+-?\d+\b|\b\d+[^\W\d_]+\b"
)
# "three or four": the lower bound of a range is the figure.
_RANGE = re.compile(r"\b(\d+(?:,\d{3})*)\s+or\s+\d+(?:,\d{3})*\b")
# A casualty word this close after one of these is negated ("nobody was injured").
_NEGATIONS = {"no", "nobody", "none"}
_NEGATION_REACH = 4


# "no one" is nobody, not the figure 1.
_NO_ONE = re.compile(r"\bno[- ]one\b", re.I)


def _digits(text: str) -> str:
    # threshold=0: small numbers too ("two soldiers"); "a dozen" is not a figure.
    return alpha2digit(_NO_ONE.sub("nobody", text), "en", threshold=0)


def _int(value: str) -> int:
    return int(value.replace(",", ""))


def numbers_in(text: str) -> set[int]:
    return {_int(m.group()) for m in _NUMBER.finditer(_digits(text))}


def casualty_numbers(text: str) -> list[tuple[int, str]]:
    """(figure, casualty word) pairs such as (12, "wounded"), figure first, as in headlines."""
    return [(_int(m.group(1)), m.group(2).lower()) for m in _BEFORE.finditer(_digits(text))]


@lru_cache(maxsize=4096)  # each sentence of an article is read several times, for each kind
def _count_tokens(text: str) -> tuple[str, ...]:
    """Words, figures and punctuation of a text, with numbers that count no one removed."""
    plain = _DATE.sub("some", _digits(text))
    plain = _AFTER_PREFIX.sub(r"\1some", _MEASURE.sub("some", plain))
    plain = _RANGE.sub(r"\1", plain)
    return tuple(_TOKEN.findall(plain))


def _kinds_of(word: str) -> frozenset[str] | None:
    if _DEATH.match(word):
        return frozenset({"killed"})
    if _INJURY.match(word):
        return frozenset({"injured"})
    if _BOTH.match(word):
        return frozenset({"killed", "injured"})
    if _OTHER.match(word):
        return frozenset()
    return None


def _negated(tokens: tuple[str, ...], j: int) -> bool:
    """Whether the casualty word at ``j`` is negated: "nobody was injured", "no deaths", but
    not "none of the 12 injured" nor "no fewer than 5 killed" (a figure in between)."""
    for k in range(j - 1, max(-1, j - 1 - _NEGATION_REACH), -1):
        token = tokens[k]
        if token[0].isdigit() or token in ".;:!?":
            return False
        if token.lower() in _NEGATIONS:
            return not (k + 1 < j and tokens[k + 1].lower() == "of")
    return False


def _nearest(tokens: tuple[str, ...], i: int, step: int) -> tuple[int, frozenset[str]] | None:
    # Distance in words; a conjunction or comma in between weighs three words, so in "killed
    # at least 2 people and wounded 5 others" the 2 goes with "killed", not "wounded".
    j, words, distance = i + step, 0, 0
    while 0 <= j < len(tokens) and words <= _REACH:
        token = tokens[j]
        if token[0].isdigit() or token in ".;:!?":
            return None
        kinds = _kinds_of(token)
        if kinds is not None:
            return distance, (frozenset() if _negated(tokens, j) else kinds)
        words += 1
        distance += 3 if token.lower() in _JOINS else 1
        j += step
    return None


def figures_by_kind(text: str) -> dict[str, set[int]]:
    """{"killed": {...}, "injured": {...}}: the figures an English text gives as each."""
    return {kind: set(figures) for kind, figures in _figures_by_kind(text).items()}


@lru_cache(maxsize=4096)
def _figures_by_kind(text: str) -> dict[str, frozenset[int]]:
    found: dict[str, set[int]] = {"killed": set(), "injured": set()}
    tokens = _count_tokens(text)
    for i, token in enumerate(tokens):
        if not token[0].isdigit():
            continue
        after, before = _nearest(tokens, i, 1), _nearest(tokens, i, -1)
        options = [o for o in (after, before) if o is not None]
        if options:
            _, kinds = min(options, key=lambda o: o[0])  # a tie goes to the word after
            for kind in kinds:
                found[kind].add(_int(token))
    return {kind: frozenset(figures) for kind, figures in found.items()}


def figures_of_kind(text: str, kind: str) -> set[int]:
    """The figures an English text gives as dead (kind "killed") or injured ("injured")."""
    return figures_by_kind(text)[kind]


_LANGUAGES = ("en", "es", "fr", "pt", "de", "it", "nl")
_CASUALTY_WORD = re.compile(rf"\b{_CASUALTY}\b", re.I)
_ENGLISH = re.compile(r"\b(the|and|of|was|were|have|has|been|with|after|said)\b", re.I)

# Stems of death and injury words in other languages the service meets in wire copy (Spanish,
# Portuguese, French, Italian, German, Indonesian, Ukrainian, Russian, Hindi). They only help
# find the sentence for a figure the model gave; they never create a figure.
_KIND_STEMS = {
    "killed": re.compile(
        r"muert|morre|mort[oia]|falec|vítima|tué|décéd|ucci|\btoten?\b|getötet|starb|tewas|"
        r"meninggal|korban jiwa|загин|вбит|убит|погиб|загибл|मौत|मारे|मृत",
        re.I,
    ),
    "injured": re.compile(
        r"herid|ferid|bless|feriti|verletzt|luka|поранен|ранен|травм|घायल|जख्मी", re.I
    ),
}


def numbers_in_any_language(text: str) -> set[int]:
    found: set[int] = set()
    for lang in _LANGUAGES:
        converted = alpha2digit(text, lang, threshold=0)
        found |= {_int(m.group()) for m in _NUMBER.finditer(converted)}
    return found


def is_english(text: str) -> bool:
    return bool(_CASUALTY_WORD.search(text) or _ENGLISH.search(text))


def supports_figure(quote: str, figure: int, parts: list[int], kind: str | None = None) -> bool:
    """Whether a quote states ``figure`` (dead or injured as ``kind`` says; either when None),
    directly or as the sum of the group ``parts`` ("Two US troops and a British service
    member" supports 3 from parts [2, 1]).

    In English the figure must be given as dead or injured ("18 rockets" does not support 18
    killed); in other languages it must at least occur in the quote.
    """
    if is_english(quote):
        by_kind = figures_by_kind(quote)
        given = by_kind[kind] if kind else by_kind["killed"] | by_kind["injured"]
        if figure in given:
            return True
        stated = numbers_in(quote)
        if kind:
            # "One man was killed and two other people were wounded" does not make 3 dead:
            # a part the quote gives only as the other kind is not part of this total.
            other = by_kind["injured" if kind == "killed" else "killed"]
            stated -= other - by_kind[kind]
    else:
        stated = numbers_in_any_language(quote)
        if figure in stated:
            return True
    if len(parts) > 1 and sum(parts) == figure:
        stated |= {1} if _ONE.search(quote) else set()
        return all(p in stated for p in parts)
    return False


def states_figure(sentence: str, figure: int, parts: list[int], kind: str) -> bool:
    """Whether a sentence of the article states ``figure`` people ``kind``: stricter than
    ``supports_figure`` for other languages, where the sentence must also have a word of that
    kind. Used to find the evidence for a figure the model gave."""
    if is_english(sentence):
        by_kind = figures_by_kind(sentence)
        if figure in by_kind[kind]:
            return True
        summed = len(parts) > 1 and sum(parts) == figure and bool(_CASUALTY_WORD.search(sentence))
        return summed and supports_figure(sentence, figure, parts, kind)
    if not _KIND_STEMS[kind].search(sentence):
        return False
    return figure in numbers_in_any_language(sentence)


_NONE = re.compile(
    r"\b(no ?one|nobody|none|no (?:one|people|person|deaths?|injuries|casualties|fatalities)|"
    r"unharmed|unhurt|escaped unhurt|without injur(?:y|ies))\b|\b0\b",
    re.I,
)


def says_none(quote: str) -> bool:
    """Whether a quote says that nobody was killed or hurt ("Nobody was injured")."""
    return bool(_NONE.search(quote) or none_kinds(quote))


# Sentences saying that nobody died or was hurt, by kind. English is read with "no one" already
# turned into "nobody"; "no one was seriously hurt" and "no further injuries" say no such thing.
_NOBODY_WORDS = r"(?:nobody|none(?:\s+of\s+(?:the|them|those)(?:\s+[^\W\d_]+)?)?)"
_AUXILIARY = (
    r"(?:was|were|is|are|has|have|had|been|be|being|got|reportedly|appears?|appeared|to|else)"
)
_DEATH_WORD = (
    r"(?:killed|died|dead|perished|deaths?|fatalities|lives\s+(?:were\s+)?lost|"
    r"loss\s+of\s+life)"
)
_INJURY_WORD = r"(?:injured|hurt|wounded|harmed|injuries)"
_ANY_WORD = rf"(?:{_DEATH_WORD}|{_INJURY_WORD}|casualties)"
_NONE_ENGLISH = re.compile(
    rf"\b(?:{_NOBODY_WORDS}(?:\s+{_AUXILIARY}){{0,4}}|no(?:\s+reports?\s+of)?"
    r"(?:\s+(?:reported|known|confirmed|human))?)"
    rf"\s+(?P<first>{_ANY_WORD})(?:\s+(?:or|nor|and)\s+(?:(?:was|were)\s+)?(?P<second>{_ANY_WORD}))?\b",
    re.I,
)
# Matched against the lower-cased sentence (much faster than a case-insensitive search).
_NONE_OTHER = {
    "killed": re.compile(
        r"\b(?:no hubo (?:víctimas mortales|muertos|fallecidos)|sin víctimas mortales|"
        r"ningún (?:muerto|fallecido)|não houve (?:mortos|vítimas fatais|óbitos)|"
        r"sem vítimas fatais|nenhum morto|nessun (?:morto|decesso)|aucun (?:mort|décès)|"
        r"keine (?:toten|todesopfer)|niemand (?:wurde getötet|starb|kam ums leben)|"
        r"tidak ada korban jiwa)"
    ),
    "injured": re.compile(
        r"\b(?:no hubo (?:heridos|lesionados)|sin heridos|ningún herido|nadie resultó herido|"
        r"não houve feridos|sem feridos|nenhum ferido|ninguém (?:ficou )?ferido|nessun ferito|"
        r"non ci sono (?:stati )?feriti|aucun blessé|pas de blessés|personne n'a été blessé|"
        r"keine verletzten|niemand wurde verletzt|tidak ada korban luka)"
    ),
}


def _kinds_of_phrase(word: str | None) -> set[str]:
    if not word:
        return set()
    if word.lower().startswith("casualt"):
        return {"killed", "injured"}
    return {"killed"} if re.fullmatch(_DEATH_WORD, word, re.I) else {"injured"}


def none_kinds(sentence: str) -> set[str]:
    """The kinds a sentence says nobody was: "Nobody died and no one was injured" gives both,
    "No deaths were reported" gives killed, "There were no casualties" gives both."""
    kinds: set[str] = set()
    for match in _NONE_ENGLISH.finditer(_NO_ONE.sub("nobody", sentence)):
        kinds |= _kinds_of_phrase(match["first"]) | _kinds_of_phrase(match["second"])
    lower = sentence.lower()
    for kind, pattern in _NONE_OTHER.items():
        if pattern.search(lower):
            kinds.add(kind)
    return kinds


# Stems for figures read from sentences in other languages: a number right before a word of
# death or injury ("5 morti", "43 feridos", "3 orang meninggal"). Stricter than _KIND_STEMS:
# "vítima" (victim) says neither dead nor injured.
_FIGURE_STEMS = {
    "killed": re.compile(
        r"muert|mort[oia]|falec|tué|décéd|toten?\b|getötet|tewas|meninggal|загин|загибл|вбит|"
        r"убит|погиб",
        re.I,
    ),
    "injured": re.compile(r"herid|ferid|ferit|bless|verletzt|luka|поранен|ранен", re.I),
}
# Any word of death or injury, in English or another language: only a sentence with one can
# state a toll, so the others are passed over without being read. Matched against the
# lower-cased text (much faster than a case-insensitive search).
_TOLL_WORD = re.compile(
    rf"\b(?:(?:{_DEATH_WORDS}|{_INJURY_WORDS})\b|"
    rf"{_FIGURE_STEMS['killed'].pattern}|{_FIGURE_STEMS['injured'].pattern})".lower()
)


def toll_word_starts(text: str) -> list[int]:
    """Where the words of death or injury of a text start."""
    lower = text.lower()
    if len(lower) != len(text):  # a letter whose lower case is longer: offsets would shift
        return [m.start() for m in re.compile(_TOLL_WORD.pattern, re.I).finditer(text)]
    return [m.start() for m in _TOLL_WORD.finditer(lower)]


_NUMBER_THEN_WORDS = re.compile(r"\b(\d+(?:,\d{3})*)\s+(?:([^\W\d_]+)\s+)?([^\W\d_]+)")


def stated_figures(sentence: str, kind: str, *, only: bool = False) -> set[int]:
    """The figures a sentence of an article states as ``kind`` (none of them 0). English goes
    by the nearest casualty word; other languages need the word right after the number.
    ``only``: leave out figures given as both kinds ("12 casualties")."""
    if is_english(sentence):
        if not _KIND_WORD.search(sentence):
            return set()
        by_kind = figures_by_kind(sentence)
        other = by_kind["injured" if kind == "killed" else "killed"] if only else set()
        return by_kind[kind] - other - {0}
    if not _FIGURE_STEMS[kind].search(sentence):
        return set()
    found: set[int] = set()
    for lang in _LANGUAGES:
        converted = alpha2digit(sentence, lang, threshold=0)
        for match in _NUMBER_THEN_WORDS.finditer(converted):
            words = [w for w in match.groups()[1:] if w]
            if any(_FIGURE_STEMS[kind].match(w) for w in words):
                found.add(_int(match[1]))
    return found - {0}


# Figures that count part of a toll: "three were in serious condition", "10 of them",
# "including 10 tourists", "two critically", "seven were still in hospital".
_SUBCOUNT = re.compile(
    r"\b(\d+(?:,\d{3})*)\s+(?:[^\W\d_]+\s+){0,3}?(?:(?:was|were|is|are|remains?|remained)\s+)?"
    r"(?:still\s+)?(?:in\s+)?(?:an?\s+)?(?:serious|critical|grave|stable|intensive|"
    r"life-threatening)"
    r"|\b(\d+(?:,\d{3})*)\s+(?:[^\W\d_]+\s+){0,2}?(?:were|are|remains?|remained)\s+still\s+"
    r"(?:in\s+(?:the\s+)?hospital|hospitali[sz]ed)"
    r"|\b(\d+(?:,\d{3})*)\s+(?:(?:were|are)\s+)?(?:seriously|critically|severely|gravely|badly)\b"
    r"|\b(\d+(?:,\d{3})*)\s+of\s+(?:them|whom|those|the\s+(?:injured|wounded|dead|victims))\b"
    r"|\bof\s+the\s+\d+(?:,\d{3})*\s+[^\W\d_]+\s*,\s*(\d+(?:,\d{3})*)",
    re.I,
)
_INCLUDING = re.compile(r"\b(?:including|among\s+(?:them|whom))\b", re.I)


def subcount_figures(sentence: str) -> set[int]:
    """Figures an English sentence gives as part of a larger toll rather than as a total,
    among them every figure after "including" ("12 dead, including two lawmakers")."""
    digits = _digits(sentence)
    found = {_int(next(g for g in m.groups() if g)) for m in _SUBCOUNT.finditer(digits)}
    head_and_tail = _INCLUDING.split(digits, maxsplit=1)
    if len(head_and_tail) > 1:
        found |= {_int(m.group()) for m in _NUMBER.finditer(head_and_tail[1])}
    return found


def mentions_kind(sentence: str, kind: str) -> bool:
    """Whether an English sentence speaks of people ``kind`` ("a policeman was killed", "the
    injured were taken to hospital"), with or without a figure; a negated word does not count,
    nor does "casualties", which says neither kind."""
    if not _KIND_WORD.search(sentence):
        return False
    tokens = _count_tokens(sentence)
    return any(
        _kinds_of(token) == frozenset({kind}) and not _negated(tokens, j)
        for j, token in enumerate(tokens)
    )


# "two soldiers and a civilian were killed", "a policeman and 3 civilians died": groups counted
# by an article rather than a figure, so the sentence's figure is only part of the toll.
_UNCOUNTED = re.compile(
    r"\b(?:and|plus)\s+(?:a|an|one)\s+(?:[^\W\d_]+\s+){0,4}?(?:(?:was|were)\s+)?"
    r"(?:killed|died|dead|perished|injured|wounded|hurt)\b|"
    r"\b(?:a|an|one)\s+(?:[^\W\d_]+\s+){1,3}?and\s+\d",
    re.I,
)


def lists_uncounted(sentence: str) -> bool:
    """Whether a sentence adds a group without a figure to a figure; groups after "including"
    are part of the total, not added to it."""
    head = _INCLUDING.split(sentence, maxsplit=1)[0]
    return bool(_UNCOUNTED.search(_digits(head)))


# "2 gunmen were killed", "killing 3 militants": a toll of attackers, not of the attack.
_ATTACKERS = re.compile(
    r"\b(\d+)\s+(?:[^\W\d_]+\s+)?(?:attackers?|gunm[ae]n|militants?|assailants?|suspects?|"
    r"(?:suicide\s+)?bombers?|insurgents?|terrorists?|rebels?|fighters?|jihadists?|shooters?)\b",
    re.I,
)


def attacker_counts(sentence: str) -> set[int]:
    """The figures an English sentence gives to attackers ("two gunmen were shot dead")."""
    return {_int(m[1]) for m in _ATTACKERS.finditer(_digits(sentence))}
