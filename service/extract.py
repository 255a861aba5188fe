"""One article in, one validated ``IncidentDraft`` out, through instructor and the OpenAI client.

Two retry layers and no more: instructor re-asks when the answer fails validation (the error
text goes back to the model), and ``service.llm.RetryingTransport`` retries transient HTTP
failures. Every backend is reached the same way; only the client differs.

What does not depend on the article is done once, not per call: the response model instructor
would otherwise rebuild (a new class and its JSON schema on every call) is built here, and the
article reaches the draft's validators through ``schemas.incident.validation_context`` rather
than instructor's ``context``, which would also render every message as a Jinja template.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import instructor
import openai
from instructor.v2.core.errors import IncompleteOutputException, InstructorRetryException
from instructor.v2.core.function_calls import ResponseSchema
from pydantic import ConfigDict

from schemas.incident import IncidentDraft, validation_context
from service import llm
from service.config import Settings
from service.errors import (
    DeadlineExceeded,
    ModelInvalidOutput,
    ModelUnavailable,
    SummarizerError,
)
from service.prompts import PromptSet

log = logging.getLogger("service.extract")

_MODES = {
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "tools": instructor.Mode.TOOLS,
}


# ``IncidentDraft`` as instructor's response model, with its JSON schema generated once. Given
# a plain model, instructor derives such a class and regenerates its schema on every call;
# given a ``ResponseSchema`` it uses the class as it is. The request carries exactly the
# draft's schema (same name, title and description: the docstring is the model's
# instructions), which a test checks.
class DraftResponse(IncidentDraft, ResponseSchema):
    __doc__ = IncidentDraft.__doc__
    model_config = ConfigDict(title=IncidentDraft.__name__)

    @classmethod
    @cache
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return super().model_json_schema(*args, **kwargs)


DraftResponse.__name__ = DraftResponse.__qualname__ = IncidentDraft.__name__


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    upstream_calls: int = 0
    latency_ms: int = 0

    def public(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "attempts": self.attempts,
            "latency_ms": self.latency_ms,
        }


@dataclass
class Extraction:
    draft: IncidentDraft
    usage: Usage
    model: str
    errors: list[str] = field(default_factory=list)


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

    async def extract(
        self, *, text: str, title: str | None, published: str | None, deadline: float
    ) -> Extraction:
        """Extract within ``deadline`` (a ``time.monotonic()`` instant)."""
        settings = self._settings
        attempts: list[int] = []
        calls: list[int] = []
        _attempts.set(attempts)
        llm.upstream_calls.set(calls)
        llm.deadline.set(deadline)
        # On the last attempt the validator withholds what the article does not support
        # instead of failing the record.
        context = validation_context.set(
            {"text": text, "final": lambda: len(attempts) >= settings.attempts}
        )
        started = time.monotonic()
        usage = Usage()
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                draft, completion = await self._client.create_with_completion(
                    model=self.model,
                    response_model=DraftResponse,
                    messages=cast(
                        Any, self.prompts.messages(text=text, title=title, published=published)
                    ),
                    max_retries=settings.attempts - 1,
                    max_tokens=settings.max_tokens,
                    temperature=settings.llm_temperature,
                )
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"no record within the {settings.request_deadline_s:g} s deadline"
            ) from exc
        except InstructorRetryException as exc:
            raise self._failure(exc, attempts, calls) from exc
        except IncompleteOutputException as exc:
            raise ModelInvalidOutput(
                f"the model's answer was cut off at max_tokens={settings.max_tokens}"
            ) from exc
        except openai.APIError as exc:
            raise _transport_failure(exc) from exc
        finally:
            validation_context.reset(context)
        total = getattr(draft, "_total_usage", None) or completion.usage
        usage.prompt_tokens = getattr(total, "prompt_tokens", 0) or 0
        usage.completion_tokens = getattr(total, "completion_tokens", 0) or 0
        usage.attempts = max(1, len(attempts))
        usage.upstream_calls = len(calls)
        usage.latency_ms = round((time.monotonic() - started) * 1000)
        return Extraction(draft=draft, usage=usage, model=self.model)

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
