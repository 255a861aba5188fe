"""What every step may read besides the record: the article and the prompt the model was sent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from service.article import ArticleText

WINDOW = 8  # words in a row that make a field a copy of the prompt
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"[^"\n]*"')


def windows(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    return {tuple(words[i : i + WINDOW]) for i in range(len(words) - WINDOW + 1)}


@dataclass(frozen=True)
class Context:
    article: ArticleText
    prompt: str  # the instructions and examples the model was sent
    example_names: tuple[str, ...]  # the invented names of its worked examples
    stale_after_days: int | None = 60
    disabled: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def prompt_windows(self) -> set[tuple[str, ...]]:
        # Runs of words between quoted strings: no window spans an example of good output.
        return {w for part in _QUOTED.split(self.prompt) for w in windows(part)}

    @cached_property
    def article_windows(self) -> set[tuple[str, ...]]:
        return windows(f"{self.article.title or ''}\n{self.article.text}")

    @cached_property
    def foreign_example_names(self) -> frozenset[str]:
        """The examples' invented names that the article itself does not contain."""
        text = self.article.text.casefold()
        return frozenset(n for n in self.example_names if n.casefold() not in text)
