"""A scripted OpenAI-compatible backend, faked at the HTTP boundary.

It is handed to the app as the model backend's ``httpx`` transport, so the OpenAI client and
instructor run for real: they build the request, parse the reply and re-ask on errors.
Each scripted step is a dict (the JSON the model "writes"), a string (raw content), an int
(an HTTP error status), an exception instance to raise, or a ``Turn``: the model's two answers
for one article. A ``Turn`` answers the relevance call without being used up, and the record
call (which points at the article's sentences by number, found from the prompt) after it;
when its relevance answer says the article is not an incident, no record call follows and the
turn is used up by the relevance call.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from schemas.incident import category_of
from tests.drafts import relevance as relevance_answer


@dataclass
class Turn:
    relevance: dict[str, Any]
    record: dict[str, Any] | None  # quotes under "quotes": {field: quote}; numbers filled in

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if is_relevance_call(body):
            return self.relevance
        assert self.record is not None, "a record call after a negative relevance answer"
        record = {k: v for k, v in self.record.items() if k != "quotes"}
        numbered = numbered_sentences(body)
        for field, quote in self.record.get("quotes", {}).items():
            record[field] = next(
                (n for n, text in numbered if quote and (quote in text or text in quote)), None
            )
        return record


Step = dict[str, Any] | str | int | Exception | Turn | Callable[[dict[str, Any]], Any]

_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.M)


def user_message(body: dict[str, Any]) -> str:
    return next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")


def is_relevance_call(body: dict[str, Any]) -> bool:
    return user_message(body).rstrip().endswith("TASK relevance")


def numbered_sentences(body: dict[str, Any]) -> list[tuple[int, str]]:
    """The article's sentences as the prompt numbers them."""
    return [(int(m[1]), m[2]) for m in _LINE.finditer(user_message(body))]


def completion(content: str, *, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


class ScriptedLLM:
    def __init__(self, *steps: Step, repeat_last: bool = True, delay: float = 0.0):
        self.steps = list(steps)
        self.repeat_last = repeat_last
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.relevance_requests: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []
        self._index = 0

    @property
    def calls(self) -> int:
        """Every call made, relevance calls included."""
        return len(self.requests)

    @property
    def record_calls(self) -> int:
        """Calls for a full record: the long ones."""
        return len(self.requests) - len(self.relevance_requests)

    def _current_step(self) -> Step | None:
        if self._index < len(self.steps):
            return self.steps[self._index]
        return self.steps[-1] if self.repeat_last and self.steps else None

    def _auto_relevance(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The relevance answer for a step scripted as a record only (a draft, an error, raw
        text): the article is an incident of the draft's category, and the step is kept for
        the record call. A ``Turn`` or a relevance-shaped dict answers for itself."""
        step = self._current_step()
        if step is None:
            return None
        if callable(step) and not isinstance(step, Exception | Turn):
            return None  # a function answers every call itself
        if isinstance(step, Turn) or (isinstance(step, dict) and "kind" in step):
            return None
        category = step.get("category") if isinstance(step, dict) else None
        kind = category if category and category != "other" else "armed_attack"
        return relevance_answer(str(kind), 1)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(request.headers)
        if is_relevance_call(body):
            self.relevance_requests.append(body)
            auto = self._auto_relevance(body)
            if auto is not None:
                return httpx.Response(200, json=completion(json.dumps(auto)))
        step = self._current_step()
        if step is None:
            raise AssertionError(f"unscripted model call #{len(self.requests)}")
        if isinstance(step, Turn):
            # A turn is used up by its record call, or by its relevance call when no record
            # call follows.
            negative = category_of(str(step.relevance.get("kind"))) is None
            if not is_relevance_call(body) or negative:
                self._index += 1
            step = step.answer(body)
        else:
            self._index += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if callable(step) and not isinstance(step, Exception | Turn):
            step = step(body)
            if isinstance(step, Turn):
                step = step.answer(body)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            headers = {"Retry-After": "0"} if step == 429 else {}
            return httpx.Response(step, json={"error": {"message": "scripted"}}, headers=headers)
        if isinstance(step, httpx.Response):
            return step
        content = step if isinstance(step, str) else json.dumps(step)
        return httpx.Response(200, json=completion(content))


def draft_from_record(record: dict[str, Any], kind: str = "culture_or_other") -> Turn:
    """The model's answers for an expected record: the relevance answer, then the draft
    pointing at the sentences the record's evidence quotes. ``kind``: what ordinary news the
    relevance answer says a non-incident is."""
    if not record["is_incident"]:
        return Turn(relevance=relevance_answer(kind), record=None)

    def quote(field: str) -> str | None:
        return next((e["quote"] for e in record["evidence"] if e["field"] == field), None)

    toll = record["casualties"]
    draft = {
        "quotes": {
            "killed_sentence": quote("casualties.killed"),
            "injured_sentence": quote("casualties.injured"),
            "perpetrator_sentence": quote("perpetrators"),
        },
        "category": record["category"],
        "killed_sentence": None,
        "killed": toll["killed"],
        "injured_sentence": None,
        "injured": toll["injured"],
        "missing": toll["missing"],
        "qualifier": toll["qualifier"],
        "groups": toll["groups"],
        "perpetrator_sentence": None,
        "perpetrators": record["perpetrators"],
        "date": record["date"],
        "location": record["location"],
        "weapons": record["weapons"],
        "responses": record["responses"],
        "summary": record["summary"],
        "headline": record["headline"],
    }
    # The relevance answer names no "other": such an incident is read as one of the kinds.
    kind = "armed_attack" if record["category"] == "other" else record["category"]
    return Turn(relevance=relevance_answer(kind, 1), record=draft)
