"""Find the article's own sentence for a figure or a name the model gave.

A small model often gets a figure right and its quote wrong: a sentence that sounds like the
article but is not in it, or the sentence of another figure. Before re-asking (30-50 s per
answer on a laptop CPU), the service looks for the sentence itself: the first sentence of the
article that states that figure next to a word of that kind, or that names that perpetrator.
Nothing here invents a figure or a name: it only finds evidence for one the model gave, and a
figure or name the article does not support still goes back to the model.
"""

from __future__ import annotations

import re

from schemas.numbers import states_figure
from schemas.quotes import sentences


def sentence_for_figure(text: str, figure: int, parts: list[int], kind: str) -> str | None:
    """The first sentence of ``text`` stating ``figure`` people ``kind``, or None."""
    for start, end in sentences(text):
        if states_figure(text[start:end], figure, parts, kind):
            return text[start:end]
    return None


_ATTRIBUTION = re.compile(
    r"claim|blam|suspect|accus|responsib|attack|carried out|gunmen|militant|behind", re.I
)


def sentence_naming(text: str, name: str) -> str | None:
    """The sentence of ``text`` that names ``name``: one that also speaks of a claim, blame or
    attack if there is one, else the first that names it; None when the article never does."""
    wanted = name.casefold().strip()
    words = [w for w in re.findall(r"\w+", wanted) if len(w) > 2]
    naming = []
    for start, end in sentences(text):
        sentence = text[start:end]
        folded = sentence.casefold()
        if wanted in folded or (words and all(w in folded for w in words)):
            naming.append(sentence)
    for sentence in naming:
        if _ATTRIBUTION.search(sentence):
            return sentence
    return naming[0] if naming else None
