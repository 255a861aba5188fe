"""The model's answers to evaluation articles, kept in a JSON Lines file and reused.

``eval --ablation --answers FILE`` asks the model only for articles the file has no answer
for under the same model, prompts and article (its text, title and date); every other
article reuses the answer on file. A change to the pipeline can then be scored on every dev
file in seconds, while a change to the prompts or the model asks again by itself (the prompt
version is part of the key, as it is of the cache key of stored summaries).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import orjson

from schemas.incident import IncidentDraft, RelevanceAnswer
from service.extract import Answer, Usage
from service.kind_odds import KindOdds


def answer_key(
    article_id: str,
    text: str,
    model: str,
    prompt_version: str,
    *,
    title: str | None = None,
    published: str | None = None,
) -> str:
    """Everything the model reads: the text, and the title and date the prompt shows with it
    (the same text sent as a page comes with the page's title and date)."""
    shown = orjson.dumps([text, title, published])
    content = hashlib.sha256(shown).hexdigest()[:16]
    return f"{article_id}/{content}/{model}/{prompt_version}"


def _answer_json(answer: Answer[Any] | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "value": answer.value.model_dump(mode="json"),
        "usage": dataclasses.asdict(answer.usage),
        "repairs": answer.repairs,
        "odds": answer.odds.as_json() if answer.odds else None,
    }


def _answer_of(data: dict[str, Any] | None, model: type[Any]) -> Answer[Any] | None:
    if data is None:
        return None
    return Answer(
        value=model.model_validate(data["value"]),
        usage=Usage(**data["usage"]),
        repairs=list(data["repairs"]),
        odds=KindOdds.from_json(data.get("odds")),
    )


@dataclasses.dataclass
class Recorded:
    """One article's answers as the model gave them (``record`` None: not an incident). Errors
    are not kept: the next run asks again."""

    relevance: Answer[RelevanceAnswer]
    record: Answer[IncidentDraft] | None


class AnswerBook:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._entries: dict[str, Recorded] = {}
        if path.exists():
            for line in path.read_bytes().splitlines():
                if line.strip():
                    row = orjson.loads(line)
                    relevance = _answer_of(row["relevance"], RelevanceAnswer)
                    assert relevance is not None
                    self._entries[row["key"]] = Recorded(
                        relevance=relevance, record=_answer_of(row["record"], IncidentDraft)
                    )

    def get(self, key: str) -> Recorded | None:
        return self._entries.get(key)

    def put(self, key: str, recorded: Recorded) -> None:
        self._entries[key] = recorded
        self._path.parent.mkdir(parents=True, exist_ok=True)
        row = {
            "key": key,
            "relevance": _answer_json(recorded.relevance),
            "record": _answer_json(recorded.record),
        }
        with self._path.open("ab") as fh:
            fh.write(orjson.dumps(row) + b"\n")
