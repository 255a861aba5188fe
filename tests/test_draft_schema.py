"""What the decoder is given: the record's draft schema closes every string and every list
within the contract's limits, and those limits shape decoding only, never validation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from schemas.incident import (
    HEADLINE_MAX,
    LIST_MAX,
    SHORT_MAX,
    SUMMARY_MAX,
    IncidentDraft,
    latin_text,
)
from service.prompts import load_prompts
from tests.drafts import draft_payload

# A pattern bounds its string when every repetition in it is bounded: ``{m,n}`` yes, ``*`` or
# ``+`` no.
_UNBOUNDED_REPEAT = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def _open_ends(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "string" and "enum" not in node:
            pattern = node.get("pattern")
            if pattern is None and "maxLength" not in node:
                found.append(f"{path}: a string without maxLength")
            elif pattern is not None and _UNBOUNDED_REPEAT.search(pattern):
                found.append(f"{path}: a pattern with an unbounded repetition")
        if kind == "array" and "maxItems" not in node:
            found.append(f"{path}: a list without maxItems")
        for key, value in node.items():
            found += _open_ends(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _open_ends(value, f"{path}[{i}]")
    return found


def test_every_string_and_list_the_model_writes_has_a_bound() -> None:
    assert _open_ends(IncidentDraft.model_json_schema()) == []


def test_the_summary_and_headline_patterns_are_latin_text_within_the_contracts_limits() -> None:
    properties = IncidentDraft.model_json_schema()["properties"]
    summary = re.compile(properties["summary"]["pattern"])
    headline = re.compile(properties["headline"]["pattern"])
    assert summary.fullmatch("é" * SUMMARY_MAX)
    assert not summary.fullmatch("e" * (SUMMARY_MAX + 1))
    assert headline.fullmatch("3 killed in Łódź")
    assert not headline.fullmatch("x" * (HEADLINE_MAX + 1))
    assert not headline.fullmatch("Пожар в Москве")  # not Latin script
    assert re.fullmatch(latin_text(3), "abc") and not re.fullmatch(latin_text(3), "abcd")
    assert properties["weapons"]["maxItems"] == LIST_MAX
    assert properties["weapons"]["items"]["maxLength"] == SHORT_MAX


def test_the_decoders_bounds_are_not_validated_so_a_long_answer_is_reduced_not_refused() -> None:
    # A server without a grammar can write past them: the pipeline's bounds step shortens
    # what it must, instead of the whole answer failing validation.
    draft = IncidentDraft.model_validate(
        draft_payload(
            {"weapons": ["w" * (SHORT_MAX + 50)] * (LIST_MAX + 2), "summary": "s" * 900},
        )
    )
    assert len(draft.weapons) == LIST_MAX + 2
    assert len(draft.summary) == 900


def test_a_bound_changed_in_the_schema_changes_the_prompt_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The model never reads the bounds (the outline leaves them out), but the decoder's grammar
    # is made from them: records decoded under other bounds are not served for these.
    schema = IncidentDraft.model_json_schema()
    schema["properties"]["summary"]["pattern"] = latin_text(SUMMARY_MAX // 2)
    before = load_prompts()
    load_prompts.cache_clear()
    try:
        monkeypatch.setattr(IncidentDraft, "model_json_schema", lambda *a, **k: schema)
        changed = load_prompts()
        assert changed.system == before.system
        assert changed.version != before.version
    finally:
        monkeypatch.undo()
        load_prompts.cache_clear()
