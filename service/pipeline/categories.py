"""The category agrees with what the article and the record say happened.

A small model picks the category before it has written anything else, and often files a
stabbing, a riot or an air strike as a shooting, or, in a language it reads less well, a fire
as a shooting; the words of the article's own sentence reporting the event (the one the
relevance call pointed at), and the record's headline written last, name the event correctly
far more often. The article's sentence is read in the article's language and English, the
headline and the cause (``weapons``), the record's English text, in English
(``service.languages.event_kinds``: each language's common words for each kind of event).

The kinds named in turn, most trusted first: by both the article's sentence and the headline,
by the article's sentence, by the headline (or, with a headline that names no kind of event,
the cause). The first of these that names any kind decides: the category stays when it is
among them, becomes the kind when exactly one is named, and stays when several are (the
words cannot choose). A bare "attack" is an armed attack only when no more specific kind is
named ("missile attack" is a strike, a "truck attack" both an attack and an accident's
words, which the words cannot choose between).
"""

from __future__ import annotations

from schemas.incident import NO_PERPETRATOR, Category
from service.languages import event_kinds
from service.pipeline.context import Context
from service.pipeline.record import Record


def named_kinds(text: str, language: str | None = "en") -> set[Category]:
    """The kinds of event a phrase names ("stabbing rampage" names a stabbing), in its language
    and English. A bare "attack" is an armed attack unless a more specific kind of attack is
    named ("missile attack" is a strike); beside an accident's words ("truck attack") it is
    still an attack."""
    kinds = {Category(kind) for kind in event_kinds(text, language)}
    if kinds - NO_PERPETRATOR - {Category.armed_attack, Category.other}:
        kinds.discard(Category.armed_attack)
    return kinds


def category_from_description(record: Record, context: Context) -> list[str]:
    if not record.is_incident:
        return []
    if record.category is None:
        record.category = Category.other  # an incident always has a kind
    category = record.category
    article = context.article
    sentence = article.news_sentence(record.event_sentence)
    reported = named_kinds(sentence.text, article.language) if sentence is not None else set()
    in_article = f"the article's sentence {record.event_sentence}"
    headline = named_kinds(record.headline or "")
    said = headline or named_kinds(" ; ".join(record.weapons))
    in_record = f"the record's {'headline' if headline else 'cause'}"
    for kinds, where in (
        (reported & said, f"{in_article} and {in_record} name it"),
        (reported, f"{in_article} names it"),
        (said, f"{in_record} names it"),
    ):
        if not kinds:
            continue
        if category in kinds or len(kinds) != 1:
            return []
        (fixed,) = kinds
        record.category = fixed
        return [f"category {category.value!r} replaced by {fixed.value!r}: {where}"]
    return []
