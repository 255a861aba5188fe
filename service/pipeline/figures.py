"""Every figure on the record is one the article states as news, in the article's language.

A figure stays only when the sentence the model pointed at states it (as digits or number words,
next to a word of death or injury of that language), or when another sentence of the article
does, which then becomes its evidence. 0 needs a sentence saying nobody was killed or hurt. A
total made of groups needs each group's figure in its sentence, none of them written as the
other kind of casualty; a sentence counting some and then others ("4 seriously injured and 51
others lightly") states their total, and every step reads it so (``sentence_counts``). A
figure filed under the wrong kind (the injured given as dead) is moved to the kind its sentence
gives it. Sentences addressed to a machine are never read. Anything else is withheld, never
guessed; a withheld figure is replaced only by the article's one count of that kind, when it
has exactly one (``read_missed_figures``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from service.article import ArticleText
from service.languages import (
    counts_by_clause,
    counts_of_kind,
    figure_stated,
    names_others,
    numbers_in,
    reports_casualties,
    says_nobody,
    stated_as_other_kind,
)
from service.pipeline.context import Context
from service.pipeline.perpetrators import folded_words
from service.pipeline.record import Record
from service.sentences import Sentence

Kind = Literal["killed", "injured"]
KINDS: tuple[Kind, ...] = ("killed", "injured")


def _states(
    sentence: Sentence, figure: int, parts: list[int], kind: Kind, lang: str | None
) -> bool:
    text = sentence.text
    if figure == 0:
        return says_nobody(text, lang, kind)
    if figure_stated(text, figure, lang, kind):
        return True
    if (counted := _with_others(text, lang, kind)) is not None and sum(counted) == figure:
        return True  # "4 seriously injured and 51 others lightly" states 55
    if len(parts) > 1 and sum(parts) == figure and reports_casualties(text, lang, kind):
        stated = numbers_in(text, lang)
        # "two soldiers and a civilian": a group of one is often written without a number.
        # "one man was killed and two were hurt" does not make 3 dead.
        return (
            all(p in stated or p == 1 for p in parts)
            and any(p in stated for p in parts)
            and not any(stated_as_other_kind(text, p, lang, kind) for p in parts)
        )
    return False


def other_kind(kind: Kind) -> Kind:
    return "injured" if kind == "killed" else "killed"


def _clear_breakdown(record: Record, kind: Kind) -> None:
    """The groups' counts of ``kind`` go when its figure is withheld or replaced."""
    for g in record.groups:
        setattr(g, kind, None)


def check_figures(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    article = context.article
    lang = article.language
    warnings = []
    misfiled: list[tuple[Kind, int, int]] = []
    for kind in KINDS:
        figure = getattr(record, kind)
        if figure is None:
            continue
        ref = f"{kind}_sentence"
        parts = [p for p in (getattr(g, kind) for g in record.groups) if p]
        pointed = article.sentence(getattr(record, ref))
        usable = article.news_sentence(getattr(record, ref))
        if usable is not None and _states(usable, figure, parts, kind, lang):
            continue
        # The sentence the model pointed at writes the figure as the other kind ("a man
        # wounded four people" given as 4 dead): the figure was filed under the wrong kind.
        # Another sentence of the article writing the same number next to a word of this kind
        # (an earlier attack, "four counts of attempted murder") is not its evidence.
        misfiled_here = (
            usable is not None
            and stated_as_other_kind(usable.text, figure, lang, kind)
            and figure in counts_of_kind(usable.text, lang, other_kind(kind))
        )
        found = None
        if not misfiled_here:
            found = next(
                (s for s in article.news_sentences() if _states(s, figure, parts, kind, lang)),
                None,
            )
        if found is not None:
            setattr(record, ref, found.number)
            if pointed is not None:
                warnings.append(
                    f"{kind} figure {figure}: evidence moved from sentence {pointed.number} to "
                    f"sentence {found.number}, which states it"
                )
            continue
        setattr(record, kind, None)
        setattr(record, ref, None)
        _clear_breakdown(record, kind)
        if usable is not None and figure in counts_of_kind(usable.text, lang, other_kind(kind)):
            misfiled.append((kind, figure, usable.number))
            continue
        record.unstated.add(kind)
        warnings.append(f"{kind} figure {figure} withheld: no sentence of the article states it")
    for kind, figure, number in misfiled:
        warnings.append(_refile(record, kind, figure, number))
    if record.killed is None:
        record.qualifier = None
    elif record.qualifier is None:
        record.qualifier = "exact"
    return warnings


def _refile(record: Record, kind: Kind, figure: int, number: int) -> str:
    """Move a figure the model filed as ``kind`` to the kind its sentence gives it. When the
    model gave that kind a figure too, the larger one is the total: a sub-count ("ten of them
    seriously") or a 0 is never more than the toll it is part of."""
    other = other_kind(kind)
    current = getattr(record, other)
    if current is not None and current >= figure:
        return (
            f"{kind} figure {figure} withheld: sentence {number} gives it as {other}, "
            f"whose figure is {current}"
        )
    setattr(record, other, figure)
    setattr(record, f"{other}_sentence", number)
    _clear_breakdown(record, other)
    return f"{kind} figure {figure} moved to {other}: sentence {number} gives it as {other}"


def _names(text: str, group: str) -> bool:
    """Whether ``text`` names ``group``: a word of it, or a word sharing its first five letters
    ("servicemen" and "service member", "soldats" and "soldat"), compared in Latin letters."""
    words = folded_words(text)
    return any(
        w in words or (len(w) >= 5 and any(t[:5] == w[:5] for t in words))
        for w in folded_words(group)
    )


def check_breakdown(record: Record, context: Context) -> list[str]:
    """Groups that do not fit their total go, and so does a breakdown that counts one group
    twice; a total that left out groups its own sentence names and counts is their sum. A
    group with nobody counted in it is no part of a breakdown."""
    if not record.is_incident:
        return []
    warnings = []
    for kind in KINDS:
        names = [g.group.strip().casefold() for g in record.groups if getattr(g, kind)]
        if len(names) != len(set(names)):
            _clear_breakdown(record, kind)
            warnings.append(f"{kind} breakdown withheld: it counts one group more than once")
    for kind in KINDS:
        parts = [p for p in (getattr(g, kind) for g in record.groups) if p is not None]
        total = getattr(record, kind)
        if not parts:
            continue
        sentence = context.article.sentence(getattr(record, f"{kind}_sentence"))
        named = [
            g
            for g in record.groups
            if getattr(g, kind) and sentence is not None and _names(sentence.text, g.group)
        ]
        counted = [getattr(g, kind) for g in named]
        language = context.article.language
        if (
            total is not None
            and len(counted) > 1
            and sum(counted) > total
            and sentence is not None
            and _states(sentence, sum(counted), counted, kind, language)
        ):
            # "Two soldiers and a civilian" read as 2: the total's own sentence names and counts
            # every group. Groups it does not name may repeat one it does, and go.
            warnings.append(
                f"{kind} total {total} completed to {sum(counted)}: its sentence counts every group"
            )
            setattr(record, kind, sum(counted))
            record.groups = [g for g in record.groups if g in named or not getattr(g, kind)]
            continue
        if total is None or sum(parts) > total:
            _clear_breakdown(record, kind)
            warnings.append(
                f"{kind} breakdown withheld: its groups add up to {sum(parts)}, "
                f"{'with no total' if total is None else f'more than the total {total}'}"
            )
    zero = [
        g.group for g in record.groups if not (g.killed or g.injured) and 0 in (g.killed, g.injured)
    ]
    if zero:
        warnings.append(f"groups {zero} dropped: nobody is counted in them")
    record.groups = [g for g in record.groups if g.killed or g.injured]
    return warnings


@lru_cache(maxsize=4096)
def _with_others(text: str, lang: str | None, kind: Kind) -> tuple[int, ...] | None:
    """The counts of a sentence whose clauses of ``kind`` each write one count, the first a
    count of its own and every later one of others ("4 seriously injured and 51 others
    lightly": [4, 51]); None for any other sentence. A sub-count ("12 injured, three of them
    seriously") names no others."""
    clauses = counts_by_clause(text, lang, kind)
    if len(clauses) < 2 or any(len(written) != 1 for written, _ in clauses):
        return None
    marked = [others for _, others in clauses]
    if marked[0] or not all(marked[1:]):
        return None
    return tuple(next(iter(written)) for written, _ in clauses)


@lru_cache(maxsize=4096)
def sentence_counts(text: str, lang: str | None, kind: Kind) -> frozenset[int]:
    """The counts of ``kind`` a sentence states: one total where it counts some and then
    others (``_with_others``), otherwise the counts of its clauses of that kind. Read once
    per sentence, however many steps ask (both are cached)."""
    parts = _with_others(text, lang, kind)
    if parts is not None:
        return frozenset({sum(parts)})
    return frozenset(counts_of_kind(text, lang, kind))


def add_others(record: Record, context: Context) -> list[str]:
    """A total the model took from one clause of a sentence that goes on to count others of the
    same kind: "4 seriously injured and 51 others lightly" is 55 injured, "ten were hospitalised;
    eight others were treated and released" is 18 (``_with_others``)."""
    if not record.is_incident:
        return []
    article = context.article
    warnings = []
    for kind in KINDS:
        figure = getattr(record, kind)
        sentence = article.sentence(getattr(record, f"{kind}_sentence"))
        if figure is None or sentence is None or sentence.number in article.directives:
            continue
        counted = _with_others(sentence.text, article.language, kind)
        if counted is None or figure not in counted:
            continue
        total = sum(counted)
        setattr(record, kind, total)
        written = " + ".join(str(c) for c in counted)
        warnings.append(
            f"{kind} figure {figure} completed to {total}: sentence {sentence.number} counts "
            f"{written}, the later ones as others"
        )
    return warnings


def read_missed_figures(record: Record, context: Context) -> list[str]:
    """A figure the model left out that the sentences it cited for this incident state
    plainly: one count, in a clause naming only that kind of casualty ("killed two and wounded
    five"), or a sentence saying nobody was. Where the model gave a figure that no sentence
    states (withheld by ``figures``), the whole article is read the same way: a toll exists,
    and when the article counts that kind of casualty with one number only, that number is it
    (sentences that count the other kind otherwise than the record are another account and
    are not read).
    Several candidates (a sub-count, an earlier toll) leave the figure out: which is the total
    is the model's to say, never guessed."""
    if not record.is_incident:
        return []
    article = context.article
    cited = {
        s.number: s
        for n in (record.killed_sentence, record.injured_sentence, record.event_sentence)
        if (s := article.news_sentence(n)) is not None
    }
    warnings = []
    for kind in KINDS:
        if getattr(record, kind) is not None:
            continue
        found = _counts(cited, kind, article.language)
        how = "which states it"
        if not found and kind in record.unstated:
            # A sentence counting the other kind otherwise than the record is another account
            # of the toll ("the rebels' TV said 20 died and 10 were wounded"), not this one.
            toll = getattr(record, other_kind(kind))
            every = {
                s.number: s
                for s in article.news_sentences()
                if toll is None
                or not (counted := sentence_counts(s.text, article.language, other_kind(kind)))
                or toll in counted
            }
            found = _counts(every, kind, article.language, nobody=False)
            how = f"the only count of the {kind} in the article"
        elif not found:
            found = _nobody_in_article(article, kind)
            how = f"which says nobody was {kind}, and no sentence of the article counts any"
        figures = {figure for figure, _ in found}
        if len(figures) != 1:
            continue
        figure, number = min(found, key=lambda pair: pair[1])
        setattr(record, kind, figure)
        setattr(record, f"{kind}_sentence", number)
        if kind == "killed" and record.qualifier is None:
            record.qualifier = "exact"
        warnings.append(f"{kind} figure {figure} read from sentence {number}, {how}")
    return warnings


def _nobody_in_article(article: ArticleText, kind: Kind) -> set[tuple[int, int]]:
    """(0, number) for each sentence saying nobody was killed (or hurt), when every sentence
    of the article that speaks of that kind of casualty says so: no count, no one person, no
    "no other deaths" that implies some. The labelling rule newsrooms file by: 0 when the
    article says nobody died, not when it says nothing."""
    lang = article.language
    said = set()
    for s in article.news_sentences():
        nobody = says_nobody(s.text, lang, kind)
        if not (nobody or reports_casualties(s.text, lang, kind)):
            continue  # speaks of no one of this kind
        if (
            not nobody
            or names_others(s.text, lang)
            or sentence_counts(s.text, lang, kind)
            or figure_stated(s.text, 1, lang, kind)
        ):
            return set()
        said.add((0, s.number))
    return said


def _counts(
    sentences: dict[int, Sentence], kind: Kind, lang: str | None, *, nobody: bool = True
) -> set[tuple[int, int]]:
    """(figure, sentence number) for each count of ``kind`` the sentences state; when none,
    and ``nobody``, (0, number) for each sentence saying nobody was."""
    found = {
        (figure, number)
        for number, sentence in sentences.items()
        for figure in sentence_counts(sentence.text, lang, kind)
    }
    if not found and nobody:
        found = {
            (0, number)
            for number, sentence in sentences.items()
            if says_nobody(sentence.text, lang, kind)
        }
    return found


def pair_injured(record: Record, context: Context) -> list[str]:
    """An injured figure from a sentence apart from the death toll, when another sentence gives
    the record's death toll together with one count of the injured: the toll as the article
    states it whole ("39 killed and at least 47 injured", "oito mortos e 43 feridos") against a
    lone count from another account or an earlier report ("a TV channel reported 60 injured",
    "45 injured were counted at first"). The death toll is the anchor: it is the figure the
    article leads with and the model reads best; tolls of the dead are not moved this way (a
    region's or an earlier report's count of the dead is stated with its injured as well)."""
    if not record.is_incident:
        return []
    article = context.article
    lang = article.language
    figure, toll = record.injured, record.killed
    if figure is None or not toll:
        return []
    own = article.sentence(record.injured_sentence)
    if own is not None and toll in sentence_counts(own.text, lang, "killed"):
        return []
    found = {
        (count, s.number)
        for s in article.news_sentences()
        if toll in sentence_counts(s.text, lang, "killed")
        and len(counts := sentence_counts(s.text, lang, "injured")) == 1
        for count in counts
    }
    if len({count for count, _ in found}) != 1:
        return []
    count, number = min(found, key=lambda pair: pair[1])
    if count == figure:
        return []
    record.injured, record.injured_sentence = count, number
    _clear_breakdown(record, "injured")  # a breakdown of the lone count is not one of this one
    record.groups = [g for g in record.groups if g.killed is not None]
    return [
        f"injured figure {figure} replaced by {count}: sentence {number} gives it with the "
        f"death toll {toll}"
    ]
