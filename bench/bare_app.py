"""The baseline: a bare FastAPI app answering ``POST /v1/summaries`` with fixed bytes.

It returns the service's cache-hit body and headers (read from the files named by
``BENCH_BARE_BODY`` and ``BENCH_BARE_HEADERS``) after reading the request body, and does
nothing else: no parsing, no validation, no middleware, no database. The distance between it
and the service is what the service's own hit path costs on top of uvicorn + FastAPI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

BODY = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()
HEADERS: dict[str, str] = json.loads(Path(os.environ["BENCH_BARE_HEADERS"]).read_text())

app = FastAPI()


@app.post("/v1/summaries")
async def summaries(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json", headers=HEADERS)
