"""HTTP routes of batches. Routes only: the work happens in ``service.batches``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api import ONE_VALUE_EACH, ArticleIn, SummaryOut, _article, _error, _errors, _json
from service.batches import Batches, ItemIn
from service.deps import get_summarizer
from service.errors import InvalidBatchItem, InvalidInput, MalformedRequest, UnsupportedMediaType

BATCHES = "/v1/batches"
NDJSON = "application/x-ndjson"

router = APIRouter()


async def get_batches(request: Request) -> Batches:
    return request.app.state.batches


BatchesDep = Annotated[Batches, Depends(get_batches)]


class BatchItemIn(ArticleIn):
    """An article of a batch: as ``POST /v1/summaries`` takes it, and the client's own id."""

    external_id: str | None = Field(
        default=None, max_length=500, description="The client's id of the article, echoed back."
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItemIn] = Field(description="The articles, in the order they are listed.")
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Called with the batch resource (POST, signed) when the batch ends.",
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="Kept with the batch and returned as sent."
    )


class BatchCounts(BaseModel):
    total: int
    done: int = Field(description="Answered, from the store included.")
    cached: int = Field(description="Of the done ones, answered from the store.")
    failed: int
    pending: int = Field(description="Not answered yet: waiting or in work.")
    cancelled: int


class WebhookAttemptOut(BaseModel):
    attempt: int
    at: str
    outcome: Literal["delivered", "http_error", "timeout", "connection_error", "refused"]
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookOut(BaseModel):
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[WebhookAttemptOut]


class BatchOut(BaseModel):
    id: str
    status: Literal["queued", "running", "cancelling", "done", "cancelled"] = Field(
        description="`cancelling`: cancelled while articles were in work; it is `cancelled`, "
        "and its webhook sent, once they have finished."
    )
    created_at: str
    started_at: str | None
    finished_at: str | None
    counts: BatchCounts
    items_per_second: float | None = Field(description="Articles answered per second so far.")
    eta_seconds: float | None = Field(description="Estimated time left at that rate.")
    metadata: dict[str, Any] | None
    webhook: WebhookOut | None


class BatchPage(BaseModel):
    items: list[BatchOut]
    next_cursor: str | None


class ItemError(BaseModel):
    status: int
    code: str
    message: str


class BatchItemOut(BaseModel):
    index: int = Field(description="Position in the batch as sent, from 0.")
    external_id: str | None
    status: Literal["pending", "running", "done", "failed", "cancelled"]
    summary_id: str | None
    cached: bool | None
    error: ItemError | None
    summary: SummaryOut | None = Field(default=None, description="With include=summary.")


class BatchItemPage(BaseModel):
    items: list[BatchItemOut]
    next_cursor: str | None


def _envelope(body: bytes) -> tuple[list[Any], str | None, dict[str, Any] | None]:
    """The raw items, the webhook URL and the metadata of a JSON body."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedRequest("the body is not valid JSON") from None
    if not isinstance(raw, dict):
        raise MalformedRequest("the body must be a JSON object with items")
    items = raw.get("items")
    if not isinstance(items, list):
        raise InvalidInput("items: a list of articles is required")
    try:
        envelope = BatchIn.model_validate({**raw, "items": []})
    except ValidationError as exc:
        raise InvalidInput(_said(exc)) from None
    return items, envelope.webhook_url, envelope.metadata


def _items_of_lines(body: bytes) -> list[ItemIn]:
    items = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise InvalidBatchItem(f"line {number}: not a JSON object") from None
            items.append(_item(value, f"line {number}"))
    return items


def _item(value: Any, where: str) -> ItemIn:
    if not isinstance(value, dict):
        raise InvalidBatchItem(f"{where}: an article is a JSON object")
    try:
        item = BatchItemIn.model_validate(value)
    except ValidationError as exc:
        raise InvalidBatchItem(f"{where}: {_said(exc)}") from None
    return ItemIn(where=where, external_id=item.external_id, article=_article(item))


def _said(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors(include_url=False)[:5]:
        field = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{field or 'body'}: {e.get('msg', '').removeprefix('Value error, ')}")
    return "; ".join(parts)


def _count_lines(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line.strip())


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` written in place: a request body given as OpenAPI extra is
    read from the OpenAPI document's root, where ``#/$defs/...`` does not resolve."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return cast(dict[str, Any], resolve(schema))


@router.post(
    BATCHES,
    status_code=202,
    summary="Submit a batch of articles",
    description='The articles as `{"items": [...], "webhook_url"?, "metadata"?}` '
    "(application/json) or one article per line (application/x-ndjson; then `webhook_url` "
    "as a query parameter). Each article is what `POST /v1/summaries` takes, plus an optional "
    "`external_id`. Answers at once with the batch resource and its `Location`; the articles "
    "are summarized in the background, each article once however many batches ask for it.",
    responses={
        202: {"model": BatchOut},
        **_errors(400, 415, 503),
        413: _error("batch_too_large", "More articles than SUMMARIZER_BATCH_MAX_ITEMS"),
        422: _error(
            "invalid_batch_item",
            "An article is not one POST /v1/summaries takes (invalid_batch_item, naming its "
            "index or line), the batch is empty (invalid_input), or the webhook_url may not be "
            "called (webhook_url_not_allowed)",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _inlined(BatchIn.model_json_schema())},
                NDJSON: {"schema": {"type": "string", "description": "one article per line"}},
            },
        }
    },
    dependencies=ONE_VALUE_EACH,
)
async def submit_batch(
    request: Request,
    batches: BatchesDep,
    webhook_url: Annotated[
        str | None, Query(max_length=2000, description="For application/x-ndjson bodies.")
    ] = None,
) -> Response:
    summarizer = await get_summarizer(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    metadata = None
    if media_type == "application/json":
        raw_items, given_url, metadata = _envelope(body)
        batches.check_size(len(raw_items))  # before validating thousands of articles
        items = [_item(item, f"items[{n}]") for n, item in enumerate(raw_items)]
        webhook_url = given_url or webhook_url
    elif media_type in (NDJSON, "application/jsonl", "application/json-lines"):
        batches.check_size(_count_lines(body))  # before validating thousands of articles
        items = _items_of_lines(body)
    else:
        raise UnsupportedMediaType(
            f"send the batch as application/json or {NDJSON}, not {media_type or 'nothing'}"
        )
    resource = await batches.submit(
        summarizer,
        items,
        webhook_url=webhook_url,
        metadata=metadata,
        api_key=request.scope.get("state", {}).get("api_key"),
    )
    return _json(resource, status_code=202, headers={"Location": f"{BATCHES}/{resource['id']}"})


@router.get(
    BATCHES,
    summary="List batches, newest first",
    responses={200: {"model": BatchPage}, **_errors(422)},
    dependencies=ONE_VALUE_EACH,
)
async def list_batches(
    batches: BatchesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    return _json(await batches.list_batches(limit, cursor))


@router.get(
    BATCHES + "/{batch_id}",
    summary="A batch: its status, counts and estimated time left",
    responses={200: {"model": BatchOut}, **_errors(404)},
    dependencies=ONE_VALUE_EACH,
)
async def get_batch(batch_id: str, batches: BatchesDep) -> Response:
    return _json(await batches.resource(batch_id))


@router.get(
    BATCHES + "/{batch_id}/items",
    summary="The articles of a batch, in the order sent",
    description="Each with its `external_id` and its `summary_id`, or the error body it "
    "failed with. `include=summary` adds each summary resource.",
    responses={200: {"model": BatchItemPage}, **_errors(404, 422)},
    dependencies=ONE_VALUE_EACH,
)
async def get_batch_items(
    batch_id: str,
    batches: BatchesDep,
    status: Literal["pending", "running", "done", "failed", "cancelled"] | None = None,
    include: Literal["summary"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    page = await batches.items(
        batch_id, status=status, limit=limit, cursor=cursor, with_summaries=include == "summary"
    )
    return _json(page)


@router.delete(
    BATCHES + "/{batch_id}",
    summary="Cancel a batch",
    description="Articles not yet started are cancelled; those in work finish. The batch is "
    "`cancelled` at once when none was in work, else `cancelling` until they have finished; "
    "its webhook is sent then. Cancelling a `cancelling` batch again answers it as it is.",
    responses={
        200: {"model": BatchOut},
        **_errors(404),
        409: _error("batch_finished", "The batch has ended already"),
    },
    dependencies=ONE_VALUE_EACH,
)
async def cancel_batch(batch_id: str, batches: BatchesDep) -> Response:
    return _json(await batches.cancel(batch_id))
