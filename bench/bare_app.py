"""The baseline: a bare FastAPI app answering the two hit paths with fixed bytes.

``POST /v1/summaries`` reads the request body and returns the service's cache-hit body and
headers; ``GET /v1/summaries/{summary_id}`` returns the service's answer for a stored id, with
its headers (files named by ``BENCH_BARE_BODY``, ``BENCH_BARE_HEADERS``,
``BENCH_BARE_GET_BODY`` and ``BENCH_BARE_GET_HEADERS``). Nothing else: no parsing, no
validation, no middleware, no database, no log line. The distance between it and the service
is what the service's own hit paths cost on top of uvicorn + FastAPI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

BODY = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()
HEADERS: dict[str, str] = json.loads(Path(os.environ["BENCH_BARE_HEADERS"]).read_text())
GET_BODY = Path(os.environ.get("BENCH_BARE_GET_BODY", os.environ["BENCH_BARE_BODY"])).read_bytes()
GET_HEADERS: dict[str, str] = json.loads(
    Path(os.environ.get("BENCH_BARE_GET_HEADERS", os.environ["BENCH_BARE_HEADERS"])).read_text()
)

app = FastAPI()


@app.post("/v1/summaries")
async def summaries(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json", headers=HEADERS)


@app.get("/v1/summaries/{summary_id}")
async def summary(summary_id: str) -> Response:
    return Response(GET_BODY, media_type="application/json", headers=GET_HEADERS)
