"""What every step may read besides the record: the article and the prompt the model was sent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from service.article import ArticleText

WINDOW = 8  # words in a row that make a field a copy of the prompt
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"[^"\n]*"')


def windows(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    return {tuple(words[i : i + WINDOW]) for i in range(len(words) - WINDOW + 1)}


@lru_cache(maxsize=4)
def prompt_windows(prompt: str) -> frozenset[tuple[str, ...]]:
    """The prompt's runs of words between quoted strings (no window spans an example of good
    output), computed once per prompt rather than on every extraction."""
    return frozenset(w for part in _QUOTED.split(prompt) for w in windows(part))


@dataclass(frozen=True)
class Context:
    article: ArticleText
    prompt: str  # the instructions and examples the model was sent
    example_names: tuple[str, ...]  # the invented names of its worked examples
    stale_after_days: int | None = 60
    min_incident_probability: float = 0.0
    disabled: frozenset[str] = field(default_factory=frozenset)

    @property
    def prompt_windows(self) -> frozenset[tuple[str, ...]]:
        return prompt_windows(self.prompt)

    @cached_property
    def article_windows(self) -> set[tuple[str, ...]]:
        return windows(f"{self.article.title or ''}\n{self.article.text}")

    @cached_property
    def foreign_example_names(self) -> frozenset[str]:
        """The examples' invented names that the article itself does not contain."""
        text = self.article.text.casefold()
        return frozenset(n for n in self.example_names if n.casefold() not in text)
