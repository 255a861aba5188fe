"""HTTP routes of the contract. Routes only: the work happens in ``service.summarize``."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.incident import SCHEMA_VERSION, Category, Incident, incident_json_schema
from service.deps import StoreDep, get_summarizer
from service.errors import (
    InvalidInput,
    MalformedRequest,
    NotFound,
    NotReady,
    UnsupportedMediaType,
)
from service.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from service.store import ListQuery, Store
from service.summarize import Article, Summarizer, with_cached


async def single_query_values(request: Request) -> None:
    """Every query parameter is one value: refuse ``?q=a&q=b`` rather than read one of them."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise InvalidInput(f"query parameter {name!r} is given more than once")
        seen.add(name)


# Needs an API key when keys are configured: service.access.KeyGuard checks it before the
# body is read. ``health`` below is open. Every route checks ``single_query_values``: as a
# dependency, except the summary POST, which calls it (see there).
router = APIRouter()
ONE_VALUE_EACH = [Depends(single_query_values)]


async def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            f"send the article as application/json, not {media_type or 'no content type'}"
        )


health = APIRouter()
# ``/metrics``: needs a key like the API unless SUMMARIZER_METRICS_OPEN (see app.py). Not in the
# OpenAPI document: it is for Prometheus, not for integrators.
operations = APIRouter(include_in_schema=False)


def _iso_date_only(value: Any) -> Any:
    # Pydantic also reads numbers and numeric strings as Unix times ("0" is 1970-01-01).
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


class ArticleIn(BaseModel):
    """An article to summarize: exactly one of ``text`` (the body as plain text), ``html`` (its
    web page) or ``url`` (fetched by the service). From a page, the main text, the title and
    the publication date are extracted; an explicit ``title`` or ``published`` wins."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["text"]}, {"required": ["html"]}, {"required": ["url"]}],
            "examples": [
                {
                    "title": "Three killed in rocket strike on base",
                    "text": "Three soldiers were killed and 12 wounded when rockets hit...",
                    "published": "2020-03-12",
                },
                {"url": "https://news.example/2020/03/12/rocket-strike-camp-taji"},
            ],
        }
    )

    # Not-only-whitespace is checked by the service (a clear "text is empty"); the schema says
    # it too, so that clients and API fuzzers know.
    text: str | SkipJsonSchema[None] = Field(
        default=None,
        description="The article body, plain text. Evidence offsets point into it.",
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )
    html: str | SkipJsonSchema[None] = Field(
        default=None,
        description="The article's web page (HTML) instead of its text: the main text is "
        "extracted (navigation, captions, related links and comments left out) and the "
        "evidence offsets point into that text (GET /v1/summaries/{id}/article).",
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )
    url: Annotated[str, Field(max_length=2000)] | SkipJsonSchema[None] = Field(
        default=None,
        description="The article's address (http or https) instead of its text: the service "
        "fetches the page and reads it as ``html``. Private, loopback and link-local addresses "
        "are refused (422 url_not_allowed); a page that cannot be had is 502 fetch_failed.",
        json_schema_extra={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://"},
    )
    title: str | None = Field(default=None, max_length=1000)
    published: IsoDate | None = Field(
        default=None, description="Publication date (YYYY-MM-DD); relative dates resolve to it."
    )
    source_url: str | None = Field(
        default=None,
        max_length=4000,
        description="Stored, never fetched (defaults to ``url`` when the article was fetched).",
    )
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$", description="ISO 639-1 hint.")

    @model_validator(mode="after")
    def _one_source(self) -> ArticleIn:
        for name in ("text", "html", "url"):
            # Absent is None too; a null sent as the value is not an article.
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} must be a string, not null")
        given = [name for name in ("text", "html", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            said = ", ".join(given) if given else "none of them"
            raise ValueError(f"give exactly one of text, html or url (got {said})")
        return self


def _json(
    content: Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _error(name: str, text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {
            "application/json": {
                "example": {"error": {"code": name, "message": "…", "request_id": "…"}}
            }
        },
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _error(name, text)
    for code, name, text in [
        (400, "malformed_request", "Malformed body"),
        (401, "unauthorized", "Missing or invalid API key"),
        (404, "not_found", "No summary with this id"),
        (413, "body_too_large", "Body too large"),
        (415, "unsupported_media_type", "The body is not application/json"),
        (422, "invalid_input", "Well-formed but invalid input"),
        (429, "rate_limited", "Rate limited"),
        (502, "model_invalid_output", "No valid record within the retry budget"),
        (503, "model_unavailable", "Model backend unavailable, queue full or model loading"),
        (504, "deadline_exceeded", "Deadline exceeded"),
    ]
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: _ERRORS[status] for status in statuses}


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    latency_ms: int


class SummaryOut(BaseModel):
    """The summary resource, as the contract specifies it (documentation only: routes serve
    the stored bytes)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    content_sha256: str
    cached: bool
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    model: str
    prompt_version: str
    schema_version: str
    usage: UsageOut
    title: str | None
    published: str | None = Field(json_schema_extra={"format": "date"})
    source_url: str | None
    language: str | None
    incident: Incident
    warnings: list[str]


class SummaryPage(BaseModel):
    items: list[SummaryOut]
    next_cursor: str | None


class SchemaOut(BaseModel):
    schema_version: str
    schema_: dict[str, Any] = Field(alias="schema")


def parse_article(body: bytes) -> ArticleIn:
    """The JSON body as an ``ArticleIn``, parsed and validated in one pass (pydantic-core).

    FastAPI's own body handling decodes the JSON to Python objects first and then validates
    those: twice the work, on the path every cache hit takes.
    """
    try:
        return ArticleIn.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "model_type" for e in errors):  # JSON, but not an object
            raise MalformedRequest("the body must be a JSON object") from exc
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


# --- what the two hit paths answer ---------------------------------------------------------------
# One implementation each: the routes below call these, and so does ``FastLane``, which answers
# the plain requests before FastAPI routes them.

SUMMARIES = "/v1/summaries"
SUMMARY = "/v1/summaries/{summary_id}"


async def summary_of(summarizer: Summarizer, body: bytes, *, refresh: bool) -> tuple[bytes, str]:
    """``POST /v1/summaries``: the response body and its ``X-Cache`` value.

    A body sent before as it is now (byte for byte, under the same limits and versions) is
    answered by its request key: one hash of the bytes and one read, without parsing,
    checking or normalizing the article again. Any other body is read as usual, and a text
    article's request key is stored once the model has answered it, or the second time it
    is answered from the cache (``Summarizer._remember_hit``).
    """
    request_key = summarizer.request_key(body)
    if not refresh:
        resent = await summarizer.resent_json(request_key)
        if resent is not None:
            return resent, "hit"
    article = parse_article(body)
    answer, hit = await summarizer.summarize_json(
        _article(article), refresh=refresh, request_key=request_key
    )
    return answer, "hit" if hit else "miss"


async def stored_summary(store: Store, summary_id: str) -> bytes:
    """``GET /v1/summaries/{summary_id}``: the response body."""
    body = await store.get_async(summary_id)
    if body is None:
        raise NotFound(f"no summary with id {summary_id!r}")
    return with_cached(body, True)


@router.post(
    SUMMARIES,
    summary="Summarize an article",
    description="Send the article as exactly one of `text`, `html` (its web page) or `url` (an "
    "http(s) address the service fetches; loopback, private, link-local, multicast and "
    "reserved addresses are refused, on every redirect too). From a page, the main text, "
    "title and publication date are extracted; the record's evidence offsets point into that "
    "text (`GET /v1/summaries/{id}/article`). The same article as text, page or link is one "
    "cached record. An article longer than the model's context is read as its lead and the "
    "passages most likely to report the incident, and a warning says how much was read.",
    responses={
        200: {"model": SummaryOut},
        **_errors(400, 413, 415, 503, 504),
        422: _error(
            "invalid_input",
            "Well-formed but invalid input (invalid_input: not exactly one of text, html, url; "
            "empty text; a bad date), a page without an article (no_article_text), or a URL "
            "the service may not fetch (url_not_allowed)",
        ),
        502: _error(
            "model_invalid_output",
            "No valid record within the retry budget (model_invalid_output), or the page at "
            "url could not be had: error status, too big, too slow, not HTML (fetch_failed)",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ArticleIn.model_json_schema()}},
        }
    },
)
async def create_summary(
    request: Request,
    refresh: Annotated[bool, Query(description="Re-extract even when cached.")] = False,
) -> Response:
    # Not dependencies (SummarizerDep, the body, the query check): FastAPI's resolution of
    # those took about half of a cache hit's CPU time. The checks and the errors are the same.
    await single_query_values(request)
    summarizer = await get_summarizer(request)
    await require_json(request)
    body, cache = await summary_of(summarizer, await request.body(), refresh=refresh)
    request.state.cache = cache
    return Response(body, media_type="application/json", headers={"X-Cache": cache})


class FastLane:
    """Answers the two hit paths before FastAPI routes the request.

    A cache hit and a read by id are what an archive replay or a reader does thousands of
    times; FastAPI's routing and dependency machinery was most of their cost (and it parsed
    the POST body a second time). This layer sits inside the request-id, body-limit and
    API-key layers, so those apply as before. It answers only a plain request (no query
    string; for a POST, a JSON body that parses and the model loaded) by calling the same
    function as the route (``summary_of``, ``stored_summary``) and sending the same bytes and
    headers. Their errors are the route's too: a ``SummarizerError`` is answered by
    ``RequestContext`` with the one error body (``app.error_response``). Anything else goes on
    to the route (a POST with its body replayed), which answers or refuses it exactly as
    without this layer. The route template it answered is left in ``scope["state"]["route"]``
    for the access log and the metrics, as FastAPI leaves its route in ``scope["route"]``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._by_id = SUMMARY[: SUMMARY.index("{")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["query_string"]:
            path = scope["path"]
            if path == SUMMARIES and scope["method"] == "POST":
                await self._post(scope, receive, send)
                return
            if path.startswith(self._by_id) and scope["method"] == "GET":
                summary_id = path[len(self._by_id) :]
                if summary_id and "/" not in summary_id:
                    scope.setdefault("state", {})["route"] = SUMMARY
                    body = await stored_summary(scope["app"].state.store, summary_id)
                    await _send_json(send, body, [])
                    return
        await self.app(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        summarizer = getattr(state, "summarizer", None)
        if summarizer is None or not getattr(state, "ready", False) or not _json_body(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody to answer
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        scope.setdefault("state", {})["route"] = SUMMARIES
        try:
            body, cache = await summary_of(summarizer, b"".join(chunks), refresh=False)
        except RequestValidationError:
            # The route refuses it, with the route's error body.
            await self.app(scope, _replay(chunks, receive), send)
            return
        scope["state"]["cache"] = cache
        await _send_json(send, body, [(b"x-cache", cache.encode())])


async def _send_json(send: Send, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """What ``Response(body, media_type="application/json", headers=...)`` sends."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _json_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


def _replay(chunks: list[bytes], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read yet."""
    pending: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    pending[-1]["more_body"] = False

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _article(article: ArticleIn) -> Article:
    return Article(
        text=article.text or "",
        title=article.title,
        published=article.published.isoformat() if article.published else None,
        source_url=article.source_url,
        language=article.language,
        html=article.html,
        url=article.url,
    )


class ArticleTextOut(BaseModel):
    id: str
    text: str = Field(description="The text the record's evidence offsets point into.")


@router.get(
    "/v1/summaries/{summary_id}/article",
    summary="The text a stored summary was made from",
    description="The article text the record's evidence offsets point into: as sent, or as "
    "extracted from the page for an article sent as html or url.",
    responses={200: {"model": ArticleTextOut}, **_errors(404)},
    dependencies=ONE_VALUE_EACH,
)
async def get_summary_article(summary_id: str, store: StoreDep) -> Response:
    text = await asyncio.to_thread(store.article_text, summary_id)
    if text is None:
        raise NotFound(f"no article text stored for summary {summary_id!r}")
    return _json({"id": summary_id, "text": text})


@router.get(
    SUMMARY,
    summary="Get a stored summary",
    responses={200: {"model": SummaryOut}, **_errors(404)},
    dependencies=ONE_VALUE_EACH,
)
async def get_summary(summary_id: str, store: StoreDep) -> Response:
    return Response(await stored_summary(store, summary_id), media_type="application/json")


@router.get(
    SUMMARIES,
    summary="List stored summaries, newest first (best match first with q)",
    description="Each article once, as its newest record (a refresh or a new prompt makes "
    "another record of the same article); `versions=all` lists every stored record.",
    responses={200: {"model": SummaryPage}, **_errors(422)},
    dependencies=ONE_VALUE_EACH,
)
async def list_summaries(
    store: StoreDep,
    country_code: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    category: Category | None = None,
    is_incident: bool | None = None,
    since: Annotated[IsoDate | None, Query(description="Event date on or after.")] = None,
    until: Annotated[IsoDate | None, Query(description="Event date on or before.")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Full-text search over headline, summary, place and perpetrators: "
            'every word must occur (as a word or the start of one; a number whole), "quoted '
            'words" as a phrase. Results come best match first.',
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    versions: Annotated[
        Literal["current", "all"],
        Query(description="current: each article's newest record; all: every stored record."),
    ] = "current",
) -> Response:
    query = ListQuery(
        country_code=country_code,
        category=category.value if category else None,
        is_incident=is_incident,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        q=q,
        limit=limit,
        cursor=cursor,
        versions=versions,
    )
    bodies, next_cursor = await asyncio.to_thread(store.list, query)
    items = [{**orjson.loads(b), "cached": True} for b in bodies]
    return _json({"items": items, "next_cursor": next_cursor})


@router.get(
    "/v1/schema",
    summary="JSON Schema of the incident record",
    responses={200: {"model": SchemaOut}},
    dependencies=ONE_VALUE_EACH,
)
async def get_schema() -> Response:
    return _json({"schema_version": SCHEMA_VERSION, "schema": incident_json_schema()})


@health.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="The model is loaded and the database reachable",
    responses={503: {"description": "Not ready yet (or the database is unreachable)"}},
)
async def readyz(request: Request) -> dict[str, Any]:
    state = request.app.state
    if not getattr(state, "ready", False):
        raise NotReady(getattr(state, "not_ready_reason", "starting"), retry_after=5)
    try:
        await asyncio.to_thread(state.store.check)
    except Exception as exc:
        raise NotReady(f"database unreachable: {exc}", retry_after=5) from exc
    return {"status": "ready", "model": state.summarizer.model}


@operations.get("/metrics")
async def metrics(request: Request) -> Response:
    # With several workers this reads every worker's file: off the event loop.
    body = await asyncio.to_thread(request.app.state.metrics.exposition)
    return Response(body, media_type=METRICS_CONTENT_TYPE)
