"""The model's two answers for an article, through instructor and the OpenAI client: what the
article is (``RelevanceAnswer``, read from its lead) and, for an incident, its record
(``IncidentDraft``).

Two retry layers and no more: instructor re-asks when an answer fails validation (the error
text goes back to the model), and ``service.llm.RetryingTransport`` retries transient HTTP
failures. Every backend is reached the same way; only the client differs.

The answers are validated for shape only. One that still breaks the schema after the last
attempt (a control character inside a string, an unknown key, a value of the wrong type) is
not an error for the newsroom: it is parsed leniently and reduced to its valid part
(``reduce_to_valid``), and the pipeline judges what is left like any other answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar, cast

import instructor
import openai
from instructor.v2.core.errors import IncompleteOutputException, InstructorRetryException
from instructor.v2.core.function_calls import ResponseSchema
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import from_json

from schemas.incident import IncidentDraft, RelevanceAnswer
from service import llm
from service.config import Settings
from service.errors import (
    DeadlineExceeded,
    ModelInvalidOutput,
    ModelRequestRejected,
    ModelUnavailable,
    SummarizerError,
)
from service.kind_odds import TOP_LOGPROBS, KindOdds, kind_odds
from service.prompts import PromptSet, Task

log = logging.getLogger("service.extract")

# json_object and auto ask instructor for json_schema too: service.llm's transport sends the
# schema in the dialect of the server.
_MODES = {
    "auto": instructor.Mode.JSON_SCHEMA,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json_object": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "tools": instructor.Mode.TOOLS,
}


def _response_schema(model: type[BaseModel]) -> type[Any]:
    """``model`` as instructor's response model, with its JSON schema generated once.

    Given a plain model, instructor derives such a class and regenerates its schema on every
    call; given a ``ResponseSchema`` it uses the class as it is. The request carries exactly the
    model's schema (same name, title and description: the docstring is the model's
    instructions), which a test checks.
    """

    class Response(model, ResponseSchema):  # type: ignore[valid-type,misc]
        __doc__ = model.__doc__
        model_config = ConfigDict(title=model.__name__)

        @classmethod
        @cache
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
            return super().model_json_schema(*args, **kwargs)

    Response.__name__ = Response.__qualname__ = model.__name__
    return Response


DraftResponse = _response_schema(IncidentDraft)
RelevanceResponse = _response_schema(RelevanceAnswer)

M = TypeVar("M", bound=BaseModel)
RELEVANCE_MAX_TOKENS = 64


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    upstream_calls: int = 0
    latency_ms: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            attempts=self.attempts + other.attempts,
            upstream_calls=self.upstream_calls + other.upstream_calls,
            latency_ms=self.latency_ms + other.latency_ms,
        )

    def public(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "attempts": self.attempts,
            "latency_ms": self.latency_ms,
        }


@dataclass
class Answer(Generic[M]):
    """One validated answer of the model, what it cost, and what had to be repaired."""

    value: M
    usage: Usage
    repairs: list[str]
    # A relevance answer's odds of naming an incident, when the server sent log-probabilities.
    odds: KindOdds | None = None


_attempts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "attempts", default=None
)


def _count_attempt(*_args: Any, **_kwargs: Any) -> None:
    attempts = _attempts.get()
    if attempts is not None:
        attempts.append(1)


class Extractor:
    def __init__(self, settings: Settings, client: openai.AsyncOpenAI, prompts: PromptSet):
        self._settings = settings
        self._openai = client
        self._client = instructor.from_openai(client, mode=_MODES[settings.llm_mode])
        self._client.on("completion:kwargs", _count_attempt)
        self.prompts = prompts
        self.model = settings.model_name

    async def aclose(self) -> None:
        await self._openai.close()

    async def relevance(
        self, *, sentences: str, title: str | None, published: str | None, deadline: float
    ) -> Answer[RelevanceAnswer]:
        """What the article is, from its lead (``sentences``, numbered)."""
        return await self._ask(
            RelevanceResponse, "relevance", sentences, title, published, deadline
        )

    async def record(
        self, *, sentences: str, title: str | None, published: str | None, deadline: float
    ) -> Answer[IncidentDraft]:
        """The incident's record, from the whole article (``sentences``, numbered)."""
        return await self._ask(DraftResponse, "record", sentences, title, published, deadline)

    async def _ask(
        self,
        response_model: type[M],
        task: Task,
        sentences: str,
        title: str | None,
        published: str | None,
        deadline: float,
    ) -> Answer[M]:
        """One answer within ``deadline`` (a ``time.monotonic()`` instant)."""
        settings = self._settings
        attempts: list[int] = []
        calls: list[int] = []
        _attempts.set(attempts)
        llm.upstream_calls.set(calls)
        llm.deadline.set(deadline)
        started = time.monotonic()
        messages = self.prompts.messages(
            task=task, sentences=sentences, title=title, published=published
        )
        repairs: list[str] = []
        # A relevance answer is a dozen tokens; a cap keeps a runaway one short.
        max_tokens = (
            min(settings.max_tokens, RELEVANCE_MAX_TOKENS)
            if task == "relevance"
            else (settings.max_tokens)
        )
        # The relevance answer's alternatives say how sure it is (``service.kind_odds``).
        weigh = task == "relevance" and settings.min_incident_probability > 0
        extra: dict[str, Any] = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if weigh else {}
        completion: Any = None
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                value, completion = await self._client.create_with_completion(
                    model=self.model,
                    response_model=response_model,
                    messages=cast(Any, messages),
                    max_retries=settings.attempts - 1,
                    max_tokens=max_tokens,
                    temperature=settings.llm_temperature,
                    **extra,
                )
            total = getattr(value, "_total_usage", None) or completion.usage
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"no record within the {settings.request_deadline_s:g} s deadline"
            ) from exc
        except InstructorRetryException as exc:
            value = self._salvage(exc, response_model, attempts, calls)
            cut_off = isinstance(exc.__cause__, IncompleteOutputException)
            how = f"was cut off at {max_tokens} tokens" if cut_off else "broke the schema"
            repairs.append(f"the model's {task} answer {how} and was reduced to its valid part")
            total = exc.total_usage
        except IncompleteOutputException as exc:
            value = self._salvage_cut_off(exc, response_model)
            repairs.append(
                f"the model's {task} answer was cut off at {max_tokens} tokens and was reduced "
                "to its valid part"
            )
            total = getattr(exc.last_completion, "usage", None)
        except openai.APIError as exc:
            raise _transport_failure(exc) from exc
        usage = Usage(
            prompt_tokens=getattr(total, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(total, "completion_tokens", 0) or 0,
            attempts=max(1, len(attempts)),
            upstream_calls=len(calls),
            latency_ms=round((time.monotonic() - started) * 1000),
        )
        odds = None
        if weigh and completion is not None and not repairs:
            logprobs = getattr(completion.choices[0], "logprobs", None)
            odds = kind_odds(getattr(logprobs, "content", None))
        return Answer(value=cast(M, value), usage=usage, repairs=repairs, odds=odds)

    def _salvage_cut_off(self, exc: IncompleteOutputException, response_model: type[M]) -> M:
        content = _content(exc.last_completion)
        salvaged = reduce_to_valid(response_model, content, partial=True) if content else None
        if salvaged is None:
            raise ModelInvalidOutput(
                f"the model's answer was cut off at max_tokens={self._settings.max_tokens}"
            ) from exc
        log.warning("a cut-off answer reduced to its valid part")
        return salvaged

    def _salvage(
        self,
        exc: InstructorRetryException,
        response_model: type[M],
        attempts: list[int],
        calls: list[int],
    ) -> M:
        """The valid part of the last answer, or the error the request fails with."""
        cause = exc.__cause__
        if isinstance(cause, openai.APIError):
            raise self._failure(exc, attempts, calls) from exc
        content = _content(exc.last_completion)
        partial = isinstance(cause, IncompleteOutputException)
        salvaged = reduce_to_valid(response_model, content, partial=partial) if content else None
        if salvaged is None:
            raise self._failure(exc, attempts, calls) from exc
        log.warning(
            "answer reduced to its valid part",
            extra={"attempts": len(attempts), "last_error": _short(cause or exc)},
        )
        return salvaged

    def _failure(
        self, exc: InstructorRetryException, attempts: list[int], calls: list[int]
    ) -> SummarizerError:
        cause = exc.__cause__
        if isinstance(cause, openai.APIError):
            return _transport_failure(cause)
        if isinstance(cause, IncompleteOutputException):
            return ModelInvalidOutput(
                f"the model's answer was cut off at max_tokens={self._settings.max_tokens}"
            )
        usage = exc.total_usage
        log.warning(
            "no valid record after %d attempts",
            len(attempts),
            extra={
                "attempts": len(attempts),
                "upstream_calls": len(calls),
                "prompt_tokens": getattr(usage, "prompt_tokens", None),
                "completion_tokens": getattr(usage, "completion_tokens", None),
                "last_error": str(cause or exc)[:500],
            },
        )
        return ModelInvalidOutput(
            f"the model gave no valid record in {len(attempts)} attempts; last error: "
            f"{_short(cause or exc)}"
        )


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


def _transport_failure(exc: openai.APIError) -> SummarizerError:
    if isinstance(exc, openai.APITimeoutError):
        return DeadlineExceeded("the model server did not answer in time")
    if isinstance(exc, openai.APIStatusError) and llm.refused_request(
        exc.status_code, exc.response.content
    ):
        return ModelRequestRejected(
            f"the model server refused the request ({exc.status_code}: "
            f"{llm.upstream_message(exc.response.content)}); if it does not take "
            "response_format json_schema, set SUMMARIZER_LLM_MODE to json_object "
            "(llama-cpp-python's server) or json"
        )
    if isinstance(exc, openai.APIStatusError):
        retry_after = llm.retry_after_seconds(cast(Any, exc.response))
        return ModelUnavailable(
            f"the model server answered {exc.status_code} after retries",
            retry_after=retry_after if retry_after is not None else 5.0,
        )
    return ModelUnavailable(f"the model server is unreachable: {_short(exc)}", retry_after=5.0)


def _loop_time(monotonic_deadline: float) -> float:
    # asyncio's clock is time.monotonic() on every platform we run on; convert defensively.
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


def _content(completion: Any) -> str | None:
    try:
        content = completion.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def reduce_to_valid(model: type[M], content: str, *, partial: bool = False) -> M | None:
    """``content`` as ``model``, keeping what is valid: JSON parsed leniently (control
    characters inside strings allowed; with ``partial``, an answer cut off midway keeps what
    it completed), unknown keys dropped, invalid list items removed and other invalid values
    set to null, or to empty where the field cannot be null."""
    start, end = content.find("{"), content.rfind("}")
    if start < 0:
        return None
    try:
        if end < start:
            raise json.JSONDecodeError("no closing brace", content, len(content))
        data = json.loads(content[start : end + 1], strict=False)
    except json.JSONDecodeError:
        if not partial:
            return None
        try:
            # A string cut off midway is dropped, not kept half-written.
            data = from_json(_without_controls(content[start:]), allow_partial=True)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    schema = model.model_json_schema()
    for _ in range(8):  # each round clears every error reported; nested ones may need more
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
        # Deepest first, and list items from the end, so earlier positions stay valid.
        for error in sorted(
            errors, key=lambda e: [str(k).zfill(6) for k in e["loc"]], reverse=True
        ):
            _clear(data, schema, tuple(error["loc"]), error["type"])
    return None


def _without_controls(text: str) -> str:
    # Strict JSON forbids raw control characters inside strings; as data they are spaces.
    return "".join(" " if ord(ch) < 0x20 else ch for ch in text)


def _clear(data: Any, schema: dict[str, Any], loc: tuple[Any, ...], kind: str) -> None:
    parent = data
    for key in loc[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1] if loc else None
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        del parent[last]
    elif isinstance(parent, dict):
        empty = None if kind == "extra_forbidden" else _empty_value(schema, loc)
        items = [i for i, key in enumerate(loc) if isinstance(key, int)]
        if kind != "extra_forbidden" and empty is not None and items:
            # A list item with a field that cannot be emptied ("name": "") goes as a whole.
            _clear(data, schema, loc[: items[-1] + 1], kind)
        elif kind == "extra_forbidden":
            parent.pop(last, None)
        else:
            parent[last] = empty


def _empty_value(schema: dict[str, Any], loc: tuple[Any, ...]) -> Any:
    """null where the schema allows it, else the empty value of the field's type."""
    node: dict[str, Any] = schema
    for key in loc:
        node = _resolve(schema, node)
        if isinstance(key, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(key, {})
    node = _resolve(schema, node)
    if "enum" in node:  # a required choice: the most neutral one
        return "other" if "other" in node["enum"] else node["enum"][0]
    types = {_resolve(schema, n).get("type") for n in node.get("anyOf", [node])}
    if "null" in types:
        return None
    if "array" in types:
        return []
    if "string" in types:
        return ""
    if "object" in types:
        properties = _resolve(schema, node).get("properties", {})
        return {key: _empty_value(schema, (*loc, key)) for key in properties}
    return None


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node
