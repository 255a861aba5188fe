"""Where draft tokens come from: what followed the last tokens where they occurred before."""

from __future__ import annotations

import numpy as np

from service.greedy_grammar import lookup


def ids(*tokens: int) -> np.ndarray:
    return np.asarray(tokens, dtype=np.intc)


def test_the_most_recent_earlier_occurrence_is_continued() -> None:
    # "a b c X Y ... a b c Z W ... a b c" -> continue after the latest earlier "a b c": Z W ...
    context = ids(1, 2, 3, 40, 41, 9, 1, 2, 3, 50, 51, 52, 9, 1, 2, 3)
    assert lookup(context, ngram=3, max_tokens=3).tolist() == [50, 51, 52]
    assert lookup(context, ngram=3, max_tokens=8).tolist() == [50, 51, 52, 9, 1, 2, 3]


def test_no_earlier_occurrence_no_draft() -> None:
    assert lookup(ids(1, 2, 3, 4, 5, 6), ngram=3, max_tokens=4).size == 0
    assert lookup(ids(1, 2), ngram=3, max_tokens=4).size == 0
