"""Build the one OpenAI client the extractor talks through, whatever the backend.

The bundled model and any OpenAI-compatible server meet here: both are an ``httpx`` transport
under an ``openai.AsyncOpenAI`` client. The transient-retry layer is a transport too, so it
retries exactly the HTTP exchange that failed (a re-ask already sent is never repeated) and
it is the only retry loop: the OpenAI client is built with ``max_retries=0``. Its budget is
shared by every call one summary makes (``Ledger``), and it never sleeps past the deadline.
"""

from __future__ import annotations

import contextvars
import email.utils
import logging
import time
from dataclasses import dataclass

import aiohttp
import httpx
import openai
import orjson
from httpx_aiohttp import AiohttpTransport
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from service.config import Settings

log = logging.getLogger("service.llm")

TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

# Monotonic time by which the current request must be answered; set by the extractor so the
# retry layer never sleeps past it.
deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)
# HTTP exchanges made for the current request (attempts and retries), for usage accounting.
upstream_calls: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "upstream_calls", default=None
)


@dataclass
class Ledger:
    """What one summary has spent upstream, and the transient retries it has left.

    The retry budget is per summary, not per HTTP call: re-asks after invalid answers share
    it, so a request never makes more than ``max_attempts + transient_retries`` calls. Tokens
    are counted from every answer that carries usage, including answers that were then
    rejected, so a failed request still accounts for what it cost.
    """

    retries_left: int
    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def spend(self, body: bytes) -> None:
        try:
            usage = orjson.loads(body).get("usage") or {}
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            pass  # not a JSON completion (an error page, a stream): no usage to count


# Set by the summarizer for each extraction; absent (None) means per-call budgets only.
ledger: contextvars.ContextVar[Ledger | None] = contextvars.ContextVar("ledger", default=None)


def refused_request(status: int, body: bytes) -> bool:
    """Whether an upstream error answer says the request itself is wrong (not transient).

    A 400 or 422 says so; llama-cpp-python's server answers a request its pydantic model
    rejects with a 500 carrying the validation error, which a retry would only repeat.
    """
    if status in (400, 422):
        return True
    return status == 500 and b"validation error" in body


def upstream_message(body: bytes) -> str:
    """The error message of an upstream error answer, shortened, for the service's own error."""
    try:
        error = orjson.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (orjson.JSONDecodeError, AttributeError):
        message = body.decode(errors="replace")
    text = " ".join(str(message or "").split())
    return text if len(text) <= 300 else text[:297] + "..."


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retry one HTTP exchange on 429, 5xx, timeouts and connection errors, within budget."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, retries: int, max_wait: float):
        self._inner = inner
        self._retries = retries
        self._max_wait = max_wait
        self._backoff = wait_random_exponential(multiplier=0.5, max=max_wait)

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        wait = self._backoff(state)
        if outcome is not None and not outcome.failed:
            hinted = retry_after_seconds(outcome.result())
            if hinted is not None:
                wait = hinted
        return wait

    def _stop(self, state: RetryCallState) -> bool:
        if stop_after_attempt(self._retries + 1)(state):
            return True
        # Give up at once when the next wait would run past the request's deadline.
        limit = deadline.get()
        if limit is not None and time.monotonic() + self._wait(state) >= limit:
            return True
        spent = ledger.get()
        if spent is not None:
            if spent.retries_left <= 0:
                return True
            spent.retries_left -= 1
            spent.retries += 1
        return False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=(
                retry_if_exception_type(TRANSIENT_ERRORS)
                | retry_if_result(
                    lambda r: (
                        r.status_code in TRANSIENT_STATUS
                        and not refused_request(r.status_code, r.content)
                    )
                )
            ),
            retry_error_callback=_last_outcome,
            reraise=True,
        )
        return await retrying(self._exchange, request)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        calls = upstream_calls.get()
        if calls is not None:
            calls.append(1)
        spent = ledger.get()
        if spent is not None:
            spent.calls += 1
        response = await self._inner.handle_async_request(request)
        try:
            # Read the body here so a server that stalls mid-body is retried like any timeout.
            body = await response.aread()
        finally:
            await response.aclose()
        if spent is not None and response.status_code == 200:
            spent.spend(body)
        if response.status_code in TRANSIENT_STATUS and not refused_request(
            response.status_code, body
        ):
            log.warning(
                "upstream %s, retrying", response.status_code, extra={"upstream": str(request.url)}
            )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class StructuredOutputTransport(httpx.AsyncBaseTransport):
    """Send the schema in the structured-output dialect the model server speaks.

    instructor asks for ``response_format: {"type": "json_schema", "json_schema": {...}}``:
    what vLLM, llama.cpp's llama-server, Ollama and OpenAI take. llama-cpp-python's server
    takes the same schema as ``{"type": "json_object", "schema": {...}}`` and refuses
    ``json_schema`` (a validation error, answered as HTTP 500), and it takes
    ``repeat_penalty``, which it otherwise sets to 1.1. ``dialect`` is the one to
    send: ``json_schema``, ``json_object``, or ``None`` until a first answer tells (auto): a
    refusal naming ``response_format`` switches to ``json_object`` for good and sends the
    request again, once.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, dialect: str | None) -> None:
        self._inner = inner
        self.dialect = dialect

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dialect == "json_schema":
            return await self._inner.handle_async_request(request)
        body = _json_body(request)
        schema = _json_schema_of(body)
        if schema is None:
            return await self._inner.handle_async_request(request)
        if self.dialect == "json_object":
            return await self._inner.handle_async_request(_as_json_object(request, body, schema))
        response = await self._inner.handle_async_request(request)
        if response.status_code < 400:
            self.dialect = "json_schema"
            return response
        content = await _read_and_close(response)
        if refused_request(response.status_code, content) and b"response_format" in content:
            log.warning(
                "the model server refused response_format json_schema; sending the schema as "
                "json_object from now on (SUMMARIZER_LLM_MODE=json_object says so up front)",
                extra={"upstream": str(request.url), "upstream_error": upstream_message(content)},
            )
            self.dialect = "json_object"
            return await self._inner.handle_async_request(_as_json_object(request, body, schema))
        return _answered(response, content, request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class LogprobsTransport(httpx.AsyncBaseTransport):
    """Ask for log-probabilities only from a server that gives them.

    The relevance call asks for ``logprobs`` (``service.kind_odds``). A server that refuses a
    request naming them (an error answer whose text says ``logprobs``) gets the request again
    without them, and no request asks for them from then on: its relevance answers are judged
    on their kind alone.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.supported = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Most requests ask for none: those are passed on without parsing their body.
        body = _json_body(request) if b'"logprobs"' in request.content else None
        if body is None or "logprobs" not in body:
            return await self._inner.handle_async_request(request)
        if not self.supported:
            return await self._inner.handle_async_request(_without_logprobs(request, body))
        response = await self._inner.handle_async_request(request)
        if response.status_code < 400:
            return response
        content = await _read_and_close(response)
        if response.status_code in (400, 422, 500, 501) and b"logprobs" in content:
            log.warning(
                "the model server refused logprobs; relevance answers are judged on their kind "
                "alone from now on (SUMMARIZER_MIN_INCIDENT_PROBABILITY=0 says so up front)",
                extra={"upstream": str(request.url), "upstream_error": upstream_message(content)},
            )
            self.supported = False
            return await self._inner.handle_async_request(_without_logprobs(request, body))
        return _answered(response, content, request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _without_logprobs(request: httpx.Request, body: dict[str, object]) -> httpx.Request:
    kept = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")}
    return _with_body(request, kept)


async def _read_and_close(response: httpx.Response) -> bytes:
    """An upstream error answer's body, read so a transport can judge it before passing it on
    (``_answered``) or sending the request again."""
    try:
        return await response.aread()
    finally:
        await response.aclose()


def _answered(response: httpx.Response, content: bytes, request: httpx.Request) -> httpx.Response:
    """``response`` again, with the body ``_read_and_close`` read from it."""
    return httpx.Response(
        response.status_code, headers=response.headers, content=content, request=request
    )


def _json_body(request: httpx.Request) -> dict[str, object] | None:
    if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
        return None
    try:
        body = orjson.loads(request.content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _json_schema_of(body: dict[str, object] | None) -> object | None:
    fmt = body.get("response_format") if body else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema")
    return spec.get("schema") if isinstance(spec, dict) else None


def _as_json_object(
    request: httpx.Request, body: dict[str, object] | None, schema: object
) -> httpx.Request:
    # That server also penalises repeated tokens by default (repeat_penalty 1.1), which other
    # servers do not: a record repeats names and figures by design, and greedy decoding is
    # what the service asks for.
    return _with_body(
        request,
        {
            "repeat_penalty": 1.0,
            **(body or {}),
            "response_format": {"type": "json_object", "schema": schema},
        },
    )


def _with_body(request: httpx.Request, body: dict[str, object]) -> httpx.Request:
    content = orjson.dumps(body)
    headers = httpx.Headers(request.headers)
    headers["content-length"] = str(len(content))
    return httpx.Request(
        request.method, request.url, headers=headers, content=content, extensions=request.extensions
    )


class AiohttpHTTPTransport(AiohttpTransport):
    """httpx-aiohttp's transport, with connection failures reported as what they are.

    It maps every ``aiohttp.ClientConnectionError`` to ``httpx.ConnectTimeout``: a refused
    connection or a server hanging up would reach the caller as "did not answer in time".
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(cause), request=request) from cause
            raise


def _last_outcome(state: RetryCallState) -> httpx.Response:
    # Out of retries on a transient status: hand the last response to the OpenAI client, which
    # turns it into its typed error (RateLimitError, InternalServerError...).
    assert state.outcome is not None
    return state.outcome.result()


def build_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> openai.AsyncOpenAI:
    """The OpenAI client for the configured backend.

    ``transport`` is the innermost HTTP transport: the bundled model's in-process transport,
    or (in tests) a scripted one; by default, real HTTP to ``llm_base_url``.
    """
    if transport is None:
        limits = httpx.Limits(
            max_connections=settings.concurrency + 8,
            max_keepalive_connections=settings.concurrency,
        )
        # aiohttp's connection pool and C parser: httpx's own pool scans every pooled
        # connection for each request, which cost more CPU per call than the rest of a miss
        # with a few hundred calls in flight (BENCHMARKS.md).
        transport = AiohttpHTTPTransport(limits=limits)
    transport = LogprobsTransport(transport)
    dialects = {"json_schema": "json_schema", "json_object": "json_object", "auto": None}
    if settings.llm_mode in dialects:
        transport = StructuredOutputTransport(transport, dialect=dialects[settings.llm_mode])
    http_client = httpx.AsyncClient(
        transport=RetryingTransport(
            transport, retries=settings.transient_retries, max_wait=settings.retry_max_wait_s
        ),
        timeout=httpx.Timeout(settings.llm_call_timeout_s, connect=10.0),
    )
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
    return openai.AsyncOpenAI(
        base_url=settings.llm_base_url or "http://bundled-model.invalid/v1",
        api_key=api_key,
        max_retries=0,
        # openai accepts an httpx client as well as its own httpx2 fork at run time.
        http_client=http_client,  # type: ignore[arg-type]
    )
