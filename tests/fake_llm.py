"""A scripted OpenAI-compatible backend, faked at the HTTP boundary.

It is handed to the app as the model backend's ``httpx`` transport, so the OpenAI client and
instructor run for real: they build the request, parse the reply and re-ask on errors.
Each scripted step is a dict (the JSON the model "writes"), a string (raw content), an int
(an HTTP error status), or an exception instance to raise.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx

Step = dict[str, Any] | str | int | Exception | Callable[[dict[str, Any]], Any]


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
        self.headers: list[httpx.Headers] = []
        self._counter = itertools.count()

    @property
    def calls(self) -> int:
        return len(self.requests)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(request.headers)
        index = next(self._counter)
        if index < len(self.steps):
            step = self.steps[index]
        elif self.repeat_last and self.steps:
            step = self.steps[-1]
        else:
            raise AssertionError(f"unscripted model call #{index + 1}")
        if self.delay:
            await asyncio.sleep(self.delay)
        if callable(step) and not isinstance(step, Exception):
            step = step(body)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            headers = {"Retry-After": "0"} if step == 429 else {}
            return httpx.Response(step, json={"error": {"message": "scripted"}}, headers=headers)
        if isinstance(step, httpx.Response):
            return step
        content = step if isinstance(step, str) else json.dumps(step)
        return httpx.Response(200, json=completion(content))


def draft_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The model's draft for an expected record: quotes beside their figures, no offsets."""

    def quote(field: str) -> str | None:
        return next((e["quote"] for e in record["evidence"] if e["field"] == field), None)

    toll = record["casualties"]
    return {
        "is_incident": record["is_incident"],
        "category": record["category"],
        "deaths_quote": quote("casualties.killed"),
        "killed": toll["killed"],
        "injuries_quote": quote("casualties.injured"),
        "injured": toll["injured"],
        "missing": toll["missing"],
        "qualifier": toll["qualifier"],
        "groups": toll["groups"],
        "perpetrator_quote": quote("perpetrators"),
        "perpetrators": record["perpetrators"],
        "date": record["date"],
        "location": record["location"],
        "weapons": record["weapons"],
        "responses": record["responses"],
        "summary": record["summary"],
        "headline": record["headline"],
    }
