"""``incident-summarizer ingest``: hand a file or a directory of articles to the service as one
batch, follow it with a progress bar, and write the results as JSON Lines.

It speaks the public API only (``POST /v1/batches``, ``GET /v1/batches/{id}`` and its items),
to a running server or to one started in this process (the same app, with its batches run by
this process on SQLite, or by a worker started beside it on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from service.config import Settings

NDJSON = "application/x-ndjson"


class IngestError(Exception):
    pass


def read_articles(path: Path) -> Iterator[dict[str, Any]]:
    """The articles of a JSON Lines file, or of a directory: every ``*.jsonl`` (one article a
    line), ``*.json`` (one article) and ``*.txt`` (its text; the first line is the title when
    a blank line follows it) in it, by name. A file's articles get its name as
    ``external_id`` unless they carry one."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".json", ".txt"))
        if not files:
            raise IngestError(f"{path} holds no .jsonl, .json or .txt file")
    elif path.is_file():
        files = [path]
    else:
        raise IngestError(f"{path} does not exist")
    for file in files:
        if file.suffix == ".txt":
            title, text = _split_title(file.read_text(encoding="utf-8"))
            yield {"text": text, "title": title, "external_id": file.name}
        elif file.suffix == ".json":
            yield {"external_id": file.name, **orjson.loads(file.read_bytes())}
        else:
            with file.open("rb") as lines:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        item = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise IngestError(f"{file}:{number}: not a JSON object") from None
                    if isinstance(item, dict):
                        item.setdefault("external_id", f"{file.name}:{number}")
                    yield item


def _split_title(raw: str) -> tuple[str | None, str]:
    head, sep, rest = raw.lstrip().partition("\n")
    if sep and rest.startswith("\n") and len(head) <= 300:
        return head.strip(), rest.strip()
    return None, raw.strip()


def _raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            said = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            said = response.text[:300]
        raise IngestError(f"{response.request.method} {response.request.url.path}: {said}")


async def submit(client: httpx.AsyncClient, path: Path, webhook_url: str | None) -> str:
    body = b"".join(orjson.dumps(item) + b"\n" for item in read_articles(path))
    params = {"webhook_url": webhook_url} if webhook_url else None
    response = await client.post(
        "/v1/batches", content=body, params=params, headers={"Content-Type": NDJSON}
    )
    _raise_for(response)
    return response.json()["id"]


async def follow(
    client: httpx.AsyncClient, batch_id: str, console: Console, poll_s: float = 1.0
) -> dict[str, Any]:
    """Show the batch's progress until it ends; its last resource."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}"),
        TextColumn("[red]{task.fields[failed]:,} failed"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[left]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(batch_id[:8], total=None, done="", failed=0, rate="", left="")
        while True:
            response = await client.get(f"/v1/batches/{batch_id}")
            _raise_for(response)
            body = response.json()
            counts = body["counts"]
            rate, eta = body["items_per_second"], body["eta_seconds"]
            finished = counts["done"] + counts["failed"] + counts["cancelled"]
            progress.update(
                task,
                total=counts["total"],
                completed=finished,
                done=f"{counts['done']:,}/{counts['total']:,} done",
                failed=counts["failed"],
                rate=f"{rate:,.2f}/s" if rate else "",
                left=f"{_duration(eta)} left" if eta is not None else "",
                description=f"{batch_id[:8]} {body['status']}",
            )
            if body["status"] in ("done", "cancelled"):
                return body
            await asyncio.sleep(poll_s)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02}:{rest % 60:02}"


async def write_results(client: httpx.AsyncClient, batch_id: str, out: IO[bytes]) -> int:
    """Each item as one JSON line (its summary, or its error); returns how many failed."""
    failed, cursor = 0, None
    while True:
        params: dict[str, Any] = {"include": "summary", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(f"/v1/batches/{batch_id}/items", params=params)
        _raise_for(response)
        page = response.json()
        for item in page["items"]:
            failed += item["status"] == "failed"
            line = {
                "index": item["index"],
                "external_id": item["external_id"],
                "status": item["status"],
            }
            line["summary" if item["status"] == "done" else "error"] = (
                item["summary"] if item["status"] == "done" else item["error"]
            )
            out.write(orjson.dumps(line) + b"\n")
        cursor = page["next_cursor"]
        if cursor is None:
            out.flush()
            return failed


@contextlib.asynccontextmanager
async def embedded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service in this process, reached through its ASGI app."""
    from service.app import create_app
    from service.queue import run_worker

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        while not app.state.ready:
            reason = app.state.not_ready_reason or ""
            if "failed" in reason:
                raise IngestError(reason)
            await asyncio.sleep(0.1)
        worker = None
        if app.state.store.backend == "postgresql":  # no worker may be running: be one
            worker = asyncio.create_task(run_worker(settings, install_signal_handlers=False))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
                yield client
        finally:
            if worker is not None:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)


async def ingest(
    path: Path | None,
    *,
    server: str | None,
    key: str | None,
    batch_id: str | None,
    out: Path | None,
    webhook_url: str | None,
    settings: Settings | None = None,
    poll_s: float = 1.0,
) -> int:
    """Submit (or re-attach to) a batch, follow it, write its results; how many failed."""
    console = Console(stderr=True)
    headers = {"X-API-Key": key} if key else {}
    clients: contextlib.AbstractAsyncContextManager[httpx.AsyncClient]
    if server:
        clients = httpx.AsyncClient(base_url=server, headers=headers, timeout=300)
    else:
        clients = embedded(settings or Settings())
    async with clients as client:
        client.headers.update(headers)
        if batch_id is None:
            assert path is not None
            batch_id = await submit(client, path, webhook_url)
            console.print(f"batch {batch_id} submitted")
        await follow(client, batch_id, console, poll_s)
        if out is None:
            return await write_results(client, batch_id, sys.stdout.buffer)
        with out.open("wb") as sink:
            failed = await write_results(client, batch_id, sink)
        console.print(f"results written to {out}")
        return failed
