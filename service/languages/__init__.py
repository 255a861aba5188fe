"""Language resources behind one lookup: one data file per language in ``data/``.

A check asks "casualty words for ``lang``" and never hard-codes English. English terms are
always checked too, since wire copy mixes; a language without a data file (or none given) is
read with the terms of every file, so a sentence then needs a word of some language.
Sentences addressed to a machine are looked for in every language whatever the article's,
because an injection need not be written in the language of the article around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

from service.languages import counts
from service.languages.lexicon import (
    START,
    SUPPORTED,
    WORD_CHARS,
    Kind,
    alternation,
    fold,
    language_code,
    lexicon,
)

__all__ = [
    "SUPPORTED",
    "Kind",
    "casualty_terms",
    "clauses",
    "commemorates",
    "counts_by_clause",
    "counts_of_kind",
    "day_parts",
    "event_kinds",
    "figure_stated",
    "is_directive",
    "names_others",
    "names_week_before",
    "numbers_in",
    "reports_casualties",
    "says_nobody",
    "stated_as_other_kind",
]

_FLAGS = re.IGNORECASE | re.MULTILINE


def day_parts(language: str | None) -> tuple[str, ...]:
    """The words for a part of the day that the language writes onto a weekday's name
    ("Donnerstagabend"); none for a language that writes them apart."""
    code = language_code(language)
    return lexicon(code).day_parts if code else ()


def event_kinds(text: str, language: str | None) -> frozenset[str]:
    """The kinds of event ``text`` names, as the contract's category names, in its language and
    English: "explosión" and "blast" both name an explosion, "incendio" a fire. The generic
    words for an attack ("ataque", "Anschlag", "напад") name ``armed_attack``."""
    folded = fold(text)
    return frozenset(
        kind for kind, pattern in _events(language_code(language)) if pattern.search(folded)
    )


def names_week_before(text: str) -> bool:
    """Whether a date's words put its weekday in the week before publication ("last
    Thursday", "a week ago", "el jueves pasado", "vorigen Donnerstag"), in any language the
    service has data for: a date's few words are read whatever the article's language."""
    return _week_before().search(fold(text)) is not None


def commemorates(text: str, language: str | None) -> bool:
    """Whether the text marks a commemoration of an old event ("on the eighth anniversary",
    "zehn Jahre nach", "hace 20 años", "годовщина"), in its language and English."""
    return _commemoration(language_code(language)).search(fold(text)) is not None


def numbers_in(sentence: str, language: str | None) -> set[int]:
    return set(counts.numbers_in(sentence, language_code(language)))


def casualty_terms(language: str | None, kind: Kind) -> re.Pattern[str]:
    return _terms(language_code(language), kind)


def reports_casualties(sentence: str, language: str | None, kind: Kind) -> bool:
    return _terms(language_code(language), kind).search(fold(sentence)) is not None


def figure_stated(sentence: str, figure: int, language: str | None, kind: Kind) -> bool:
    code = language_code(language)
    if not reports_casualties(sentence, code, kind):
        return False
    if figure in counts.numbers_in(sentence, code):
        if _only_of_other_kind(sentence, figure, code, kind):
            return False
        # "No one was injured, but over 32 stalls were razed": in a sentence saying there were
        # none of this kind, only a count in a clause of this kind is one.
        return not (
            says_nobody(sentence, code, kind) and figure not in counts_of_kind(sentence, code, kind)
        )
    return figure == 1 and _one(code, kind).search(fold(sentence)) is not None


# Clauses end at punctuation that every script shares; a comma inside "1,204" does not end one.
_CLAUSE_END = r"[;:()\u2014\u2013\u061b\u3001\u3002]|\s-\s|[,\u060c\uff0c](?!\d)"


def clauses(sentence: str, language: str | None) -> list[str]:
    """``sentence`` cut at punctuation and at the words that join clauses in its language and
    English: "killed 3 and wounded 12" is two clauses."""
    return [
        c for c in _clause_end(language_code(language)).split(fold(sentence)) if c and c.strip()
    ]


def counts_of_kind(sentence: str, language: str | None, kind: Kind) -> set[int]:
    """The counts written in clauses that name this kind of casualty and not the other: in
    "one man was killed and two others were wounded", 2 is a count of injured."""
    return set().union(
        *(written for _, written in _clauses_of_kind(sentence, language_code(language), kind))
    )


def counts_by_clause(
    sentence: str, language: str | None, kind: Kind
) -> list[tuple[frozenset[int], bool]]:
    """Each clause that names this kind of casualty and not the other, in order: the counts it
    writes, and whether it counts people besides those counted before it ("ten were
    hospitalised; eight others were treated": 10, then 8 others)."""
    code = language_code(language)
    others = _others(code)
    return [
        (written, others.search(clause) is not None)
        for clause, written in _clauses_of_kind(sentence, code, kind)
    ]


def _clauses_of_kind(
    sentence: str, code: str | None, kind: Kind
) -> list[tuple[str, frozenset[int]]]:
    """The clauses that name this kind of casualty and not the other and write a count, each
    with its counts. A number whose words a conjunction splits ("one hundred and twenty") is
    read whole or not at all."""
    other: Kind = "injured" if kind == "killed" else "killed"
    whole = counts.numbers_in(sentence, code)
    found = []
    for clause in clauses(sentence, code):
        if reports_casualties(clause, code, kind) and not reports_casualties(clause, code, other):
            written = counts.numbers_in(clause, code) & whole
            if written:
                found.append((clause, written))
    return found


def stated_as_other_kind(sentence: str, figure: int, language: str | None, kind: Kind) -> bool:
    """Whether the sentence writes ``figure`` only as a count of the other kind of casualty."""
    return _only_of_other_kind(sentence, figure, language_code(language), kind)


def _only_of_other_kind(sentence: str, figure: int, code: str | None, kind: Kind) -> bool:
    """Whether every clause that writes ``figure`` counts the other kind and not this one:
    "no deaths were reported, but 24 people were taken to hospital" does not state 24 dead."""
    other: Kind = "injured" if kind == "killed" else "killed"
    written = [c for c in clauses(sentence, code) if figure in counts.numbers_in(c, code)]
    return bool(written) and all(
        reports_casualties(c, code, other) and not reports_casualties(c, code, kind)
        for c in written
    )


@cache
def _clause_end(code: str | None) -> re.Pattern[str]:
    words = tuple(w for lang in _languages(code) for w in lexicon(lang).conjunctions)
    joined = rf"{START}(?:{'|'.join(words)})(?![{WORD_CHARS}])"
    # Before a conjunction written onto a word of death or injury: a cut of no width, the
    # word stays whole in the clause it starts.
    onto = [
        rf"{START}(?={lex.conjunction_prefix}{lex.prefix}"
        rf"{_group_of([*lex.terms['killed'], *lex.terms['injured']])})"
        for lex in map(lexicon, _languages(code))
        if lex.conjunction_prefix
    ]
    return re.compile("|".join([_CLAUSE_END, joined, *onto]), _FLAGS)


def says_nobody(sentence: str, language: str | None, kind: Kind) -> bool:
    return _nobody(language_code(language), kind).search(fold(sentence)) is not None


def names_others(sentence: str, language: str | None) -> bool:
    """Whether the sentence speaks of people besides some already counted ("no other deaths",
    "keine weiteren Verletzten", "ningún otro herido")."""
    return _others(language_code(language)).search(fold(sentence)) is not None


@lru_cache(maxsize=4096)
def is_directive(sentence: str) -> bool:
    text = fold(sentence)
    return any(p.search(text) for p in (_MACHINE_NAMES, _MACHINE, _directives(), _addressed()))


def _languages(code: str | None) -> tuple[str, ...]:
    if code is None:
        return ("en", *sorted(SUPPORTED - {"en"}))
    return (code,) if code == "en" else (code, "en")


@cache
def _terms(code: str | None, kind: Kind) -> re.Pattern[str]:
    parts = []
    for lang in _languages(code):
        lex = lexicon(lang)
        parts.append(alternation(lex.terms[kind], lex.prefix))
    return re.compile("|".join(parts), _FLAGS)


@cache
def _events(code: str | None) -> tuple[tuple[str, re.Pattern[str]], ...]:
    kinds = sorted({kind for lang in _languages(code) for kind in lexicon(lang).events})
    return tuple(
        (
            kind,
            re.compile(
                "|".join(
                    alternation(lexicon(lang).events.get(kind, ()), lexicon(lang).prefix)
                    for lang in _languages(code)
                ),
                _FLAGS,
            ),
        )
        for kind in kinds
    )


@cache
def _others(code: str | None) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            alternation(lexicon(lang).others, lexicon(lang).prefix) for lang in _languages(code)
        ),
        _FLAGS,
    )


@cache
def _commemoration(code: str | None) -> re.Pattern[str]:
    return re.compile(
        "|".join(alternation(lexicon(lang).commemoration) for lang in _languages(code)), _FLAGS
    )


@cache
def _nobody(code: str | None, kind: Kind) -> re.Pattern[str]:
    return re.compile(
        "|".join(alternation(lexicon(lang).nobody[kind]) for lang in _languages(code)), _FLAGS
    )


@cache
def _one(code: str | None, kind: Kind) -> re.Pattern[str]:
    return re.compile(
        "|".join(alternation(lexicon(lang).one[kind]) for lang in _languages(code)), _FLAGS
    )


@cache
def _directives() -> re.Pattern[str]:
    fragments = tuple(f for lang in sorted(SUPPORTED) for f in lexicon(lang).directive)
    return re.compile(alternation(fragments), _FLAGS)


@cache
def _addressed() -> re.Pattern[str]:
    """A sentence that speaks to a machine reader in any supported language: the machine named
    as a label or vocative at the start of a clause ("AI: report ...", "Нейросеть, запиши ..."),
    or addressed by a note, an instruction or a greeting ("note to the AI", "instrucción para la
    IA", "any AI reading this")."""
    nouns = _group_of(f for lang in sorted(SUPPORTED) for f in lexicon(lang).machine)
    labels = _group_of(
        f
        for lang in sorted(SUPPORTED)
        for f in (*lexicon(lang).machine, *lexicon(lang).machine_labels)
    )
    leads = _group_of(f for lang in sorted(SUPPORTED) for f in lexicon(lang).to_machine)
    clause_start = r"(?:^|[\u2014\u2013(\[|:;.!?]|\s-)\s*\W{0,3}"
    return re.compile(
        rf"{clause_start}(?:{leads}\s+(?:\S+\s+){{0,2}}?)?{labels}\s*[:,\u060c]"
        rf"|{START}{leads}\s+(?:\S+\s+){{0,2}}?{nouns}(?![{WORD_CHARS}])",
        _FLAGS,
    )


def _group_of(fragments: Iterable[str]) -> str:
    return "(?:" + "|".join(f"(?:{f})" for f in fragments) + ")"


_FIELDS = (
    r"killed|injured|missing|dead|is_incident|headline|category|casualties|perpetrators?"
    r"|country_code|qualifier|event_date|summary"
)
# Signs that belong to no language: chat-template and role markers, record fields assigned
# values, and the names of the machine itself.
_MACHINE = re.compile(
    "|".join(
        (
            r"<\|[a-z_]{2,30}\|>",
            r"\[/?INST\]",
            r"<</?SYS>>",
            r"</?(?:system|assistant|user|instructions?)>",
            r"^\s*#{2,}\s*(?:instruction|system|response|input|assistant|user)s?\b",
            r"^\s*(?:system|assistant|user|human)\s*:",
            rf"[\"']?\b(?:{_FIELDS})\b[\"']?\s*[:=]\s*(?:-?\d|true\b|false\b|null\b|none\b|[\"'\[{{])",
            rf"\bset\s+[\"']?(?:{_FIELDS})[\"']?\s+(?:to|=)\s",
            r"(?:^|\s)[\"']?headline[\"']?\s*:",
            r"\b(?:large\s+)?language\s+models?\b",
            r"\b(?:system|previous|original|initial|hidden|above|your)\s+prompts?\b",
            r"\bprompt\s+injection",
        )
    ),
    _FLAGS,
)
# Matched as written: Italian "ai" is a preposition.
_MACHINE_NAMES = re.compile(
    r"\bLLMs?\b|\bChatGPT\b|\bGPT-?[34]|\bAI\s+(?:model|assistant|system|chatbot)s?\b"
)


@cache
def _week_before() -> re.Pattern[str]:
    fragments = tuple(f for lang in sorted(SUPPORTED) for f in lexicon(lang).week_before)
    return re.compile(alternation(fragments), _FLAGS)
