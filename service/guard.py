"""Model output is untrusted: the last checks a record passes before it is stored.

The schema already bounds the shape and the lengths, and the validators tie every figure to
the article. What they cannot see:

* a model that obeyed an article asking for its instructions and copied them into a field.
  Any run of 8 words from the prompt it was sent (instructions, schema outline, worked
  examples) found in a field the model wrote, and not in the article itself, refuses the
  record. Quoted strings in the prompt are left out: they are examples of good output
  ("3 killed, 12 wounded in rocket strike on Camp Taji, Iraq"), which a correct record for
  a similar article may well repeat;
* invisible formatting characters (bidirectional overrides, zero-width characters, tag
  characters) that make a headline read differently on screen from what it says. They are
  removed from every field the model wrote. Evidence quotes stay verbatim: their offsets
  point into the article.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import ValidationError

from schemas.incident import Incident
from service.errors import ModelInvalidOutput
from service.prompts import PromptSet

WINDOW = 8
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"[^"\n]*"')


def _windows(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    return {tuple(words[i : i + WINDOW]) for i in range(len(words) - WINDOW + 1)}


def _instruction_windows(prompt: str) -> set[tuple[str, ...]]:
    # Runs of words between quoted strings: no window spans an example.
    return {w for part in _QUOTED.split(prompt) for w in _windows(part)}


# Joiners stay: scripts and emoji need them, and they cannot reorder or hide text.
_JOINERS = frozenset("\u200c\u200d")


def _visible(text: str) -> str:
    # Category Cf: formatting characters with no glyph of their own.
    return "".join(ch for ch in text if ch in _JOINERS or unicodedata.category(ch) != "Cf")


class OutputGuard:
    def __init__(self, prompts: PromptSet) -> None:
        self._prompt = _instruction_windows(prompts.system)
        self._prompt |= _instruction_windows(prompts.user_template.template)

    def check(
        self, incident: Incident, *, text: str, title: str | None
    ) -> tuple[Incident, list[str]]:
        """The record with invisible characters removed, and warnings; raises on a leak."""
        written = incident.model_dump(mode="json")
        evidence = written.pop("evidence")
        leaked = self._leak(written, f"{title or ''}\n{text}")
        if leaked:
            raise ModelInvalidOutput(
                f"the model's {leaked} repeated its instructions instead of describing the "
                "article; no record was stored"
            )
        cleaned = _scrub(written)
        if cleaned == written:
            return incident, []
        try:
            scrubbed = Incident.model_validate({**cleaned, "evidence": evidence})
        except ValidationError as exc:  # a field was nothing but invisible characters
            raise ModelInvalidOutput(
                "the model's answer was empty once invisible characters were removed"
            ) from exc
        return scrubbed, ["invisible formatting characters removed from the model's text"]

    def _leak(self, written: dict[str, Any], article: str) -> str | None:
        own: set[tuple[str, ...]] | None = None
        for path, value in _strings(written, ""):
            found = _windows(value) & self._prompt
            if not found:
                continue
            own = own if own is not None else _windows(article)
            if found - own:
                return path
        return None


def _strings(node: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, f"{path}.{k}" if path else k)]
    if isinstance(node, list):
        return [s for i, v in enumerate(node) for s in _strings(v, f"{path}[{i}]")]
    return []


def _scrub(node: Any) -> Any:
    if isinstance(node, str):
        return _visible(node)
    if isinstance(node, dict):
        return {k: _scrub(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(v) for v in node]
    return node
