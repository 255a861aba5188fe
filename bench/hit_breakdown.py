"""Where a hit's CPU goes, in-process: the whole ASGI app without the HTTP server, and its parts.

    uv run python -m bench.hit_breakdown [--requests N] [--rounds R] [--no-write]

The real app (``create_app``, its lifespan, a SQLite file in a temporary directory, the model
scripted at the HTTP boundary) answers ``POST /v1/summaries`` (a hit) and
``GET /v1/summaries/{id}`` called directly as ASGI, N times each, with the access log (to a
file) and the metrics on, then with either or both off. A POST hit is measured twice: the
same bytes every time (answered by its request key) and the same article in bytes never
sent before (its ``source_url`` numbered per request: read, checked, normalized and keyed;
seen once, so no request key is written). Then the steps of a POST hit alone
(``service.api.summary_of`` and what it calls), new bytes also sent twice each (keyed the
second time, the writes waited for and counted). Figures are process CPU time per request
(``time.process_time``), so other processes' load shows only through shared caches; the
medians of R rounds are kept. Writes the "## Hit paths in-process" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import report

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "seed-camp-taji.json"
SECTION = "## Hit paths in-process"


def per_call(n: int, fn: Callable[[], Any]) -> float:
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) / n * 1e6


async def per_call_async(n: int, fn: Callable[[], Awaitable[Any]]) -> float:
    started = time.process_time()
    for _ in range(n):
        await fn()
    return (time.process_time() - started) / n * 1e6


async def measure(n: int, rounds: int, log_file: Path) -> dict[str, list[float]]:
    sys.path.insert(0, str(ROOT))
    from service import api
    from service.app import create_app
    from service.config import Settings
    from service.logs import JsonFormatter
    from service.metrics import Metrics
    from service.summarize import cache_key, normalize_text
    from tests.fake_llm import ScriptedLLM, draft_from_record

    handler = logging.FileHandler(log_file)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    access = logging.getLogger("service.access")

    seed = json.loads(SEED.read_text(encoding="utf-8"))
    body = json.dumps(seed["request"]).encode()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hit-breakdown-") as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            llm_base_url="http://scripted.test/v1",
            llm_model="scripted-model",
            data_dir=Path(tmp),
        )
        llm = ScriptedLLM(draft_from_record(seed["expected"]))
        app = create_app(settings, llm_transport=llm.transport())
        async with app.router.lifespan_context(app):
            while not app.state.ready:
                await asyncio.sleep(0.01)
            summarizer, store = app.state.summarizer, app.state.store
            first, _ = await api.summary_of(summarizer, body, refresh=False)
            summary_id = json.loads(first)["id"]

            fresh = iter(range(10**9))
            if b'"source_url": null' not in body:
                raise RuntimeError('the seed request has no "source_url": null to vary')

            def new_bytes() -> bytes:
                link = f'"source_url": "https://bench.example/{next(fresh)}"'.encode()
                return body.replace(b'"source_url": null', link)

            async def call(method: str, path: str, payload: bytes | None) -> None:
                if payload is None:
                    payload = new_bytes()
                headers = [(b"host", b"bench")]
                if payload:
                    headers += [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ]
                scope = {
                    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                    "query_string": b"", "root_path": "", "headers": headers,
                    "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
                }  # fmt: skip
                messages = [{"type": "http.request", "body": payload, "more_body": False}]
                sent: list[dict[str, Any]] = []

                async def receive() -> dict[str, Any]:
                    return messages.pop() if messages else {"type": "http.disconnect"}

                async def send(message: dict[str, Any]) -> None:
                    sent.append(message)

                await app(scope, receive, send)
                if sent[0]["status"] != 200:
                    raise RuntimeError(f"{method} {path}: {sent[0]['status']}")

            real_request = Metrics.request
            targets: list[tuple[str, str, str, bytes | None]] = [
                ("POST hit", "POST", "/v1/summaries", body),
                ("POST hit, new bytes", "POST", "/v1/summaries", None),
                ("GET by id", "GET", f"/v1/summaries/{summary_id}", b""),
            ]
            article = api._article(api.parse_article(body))
            normalized = normalize_text(article.text)
            model, prompt = summarizer.model, summarizer.prompt_version
            rules = summarizer.rules_version
            key = cache_key(normalized, article.published, model, prompt, rules)
            request_key = summarizer.request_key(body)
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("request key (`Summarizer.request_key`, SHA-256 of the body)",
                 lambda: summarizer.request_key(body)),
                ("body parsed and validated (`parse_article`)", lambda: api.parse_article(body)),
                ("article checked and normalized (`Summarizer.validate`)",
                 lambda: summarizer.validate(article)),
                ("cache key (`cache_key`, SHA-256)",
                 lambda: cache_key(normalized, article.published, model, prompt, rules)),
            ]  # fmt: skip

            def read() -> Awaitable[bytes | None]:
                return store.current_async(key)

            def read_by_request() -> Awaitable[bytes | None]:
                return store.by_request_async(request_key)

            async def new_summary() -> None:
                await api.summary_of(summarizer, new_bytes(), refresh=False)

            for _ in range(rounds):
                for label, log_on, metrics_on in [
                    ("access log and metrics on", True, True),
                    ("access log off", False, True),
                    ("metrics off", True, False),
                    ("both off", False, False),
                ]:
                    access.setLevel(logging.NOTSET if log_on else logging.WARNING)
                    if not metrics_on:
                        Metrics.request = lambda *args, **kwargs: None  # type: ignore[method-assign]
                    try:
                        for name, method, path, payload in targets:
                            cost = await per_call_async(
                                n, lambda m=method, p=path, b=payload: call(m, p, b)
                            )
                            if payload is None:  # and the request keys it wrote
                                started = time.process_time()
                                await summarizer.request_keys_written()
                                cost += (time.process_time() - started) / n * 1e6
                            results.setdefault(f"{name}, {label}", []).append(cost)
                    finally:
                        Metrics.request = real_request  # type: ignore[method-assign]
                        access.setLevel(logging.NOTSET)
                for name, fn in steps:
                    results.setdefault(name, []).append(per_call(n, fn))
                results.setdefault("SQLite read (`Store.current_async`)", []).append(
                    await per_call_async(n, read)
                )
                results.setdefault(
                    "SQLite read by request key (`Store.by_request_async`)", []
                ).append(await per_call_async(n, read_by_request))
                results.setdefault("the whole of `summary_of`, the same bytes", []).append(
                    await per_call_async(n, lambda: api.summary_of(summarizer, body, refresh=False))
                )
                started = time.process_time()
                for _ in range(n):
                    await new_summary()
                await summarizer.request_keys_written()
                results.setdefault(
                    "the whole of `summary_of`, new bytes (seen once: no request key)", []
                ).append((time.process_time() - started) / n * 1e6)
                started = time.process_time()
                for _ in range(n // 2):
                    twice = new_bytes()
                    for _ in range(2):
                        await api.summary_of(summarizer, twice, refresh=False)
                await summarizer.request_keys_written()
                results.setdefault(
                    "the whole of `summary_of`, new bytes sent twice (keyed the second time)", []
                ).append((time.process_time() - started) / (n // 2 * 2) * 1e6)
        if llm.calls != 2:
            raise RuntimeError(f"the model was called {llm.calls} times, not twice (one miss)")
    return results


def render(results: dict[str, list[float]], n: int, rounds: int, command: str) -> str:
    rows = ["| what | CPU µs per request (median) | rounds |", "|---|---:|---|"]
    for name, values in results.items():
        spread = ", ".join(f"{v:.1f}" for v in values)
        rows.append(f"| {name} | {statistics.median(values):.1f} | {spread} |")
    return "\n".join(
        [
            SECTION,
            "",
            "Process CPU per request of the real app called as ASGI (no HTTP server, no "
            "socket), the access log written to a file and the metrics on or off; then the "
            'steps of a POST hit alone. Where the HTTP figures of "Cache hits" come from.',
            "",
            *report.provenance(command),
            f"- {n:,} requests per figure and round, {rounds} rounds. Process CPU time: other "
            "processes' load shows only through the caches and cores they share.",
            "",
            *rows,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hit_breakdown", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["uv", "run", "python", "-m", "bench.hit_breakdown", *argv])
    with tempfile.TemporaryDirectory(prefix="bench-hit-log-") as logs:
        results = asyncio.run(measure(args.requests, args.rounds, Path(logs) / "service.log"))
    section = render(results, args.requests, args.rounds, command)
    report.publish(args.output, SECTION, section, write=not args.no_write)


if __name__ == "__main__":
    main()
