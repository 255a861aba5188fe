"""Closed-loop HTTP/1.1 load generator: N keep-alive connections, each POSTing back to back.

The fallback client of ``bench.cache_hits`` when ``wrk`` is not installed, and the client of
``bench.fast_server`` and ``bench.memory``. Raw asyncio streams (on uvloop when available)
keep the client's own CPU cost low; it still shares the machine's cores with the server under
test.

    python -m bench.loadgen --url http://127.0.0.1:8000/v1/summaries --body body.json \
        --concurrency 32 --seconds 10 --warmup 2
    python -m bench.loadgen --url ... --distinct run1 --concurrency 256 --seconds 10
    python -m bench.loadgen --url ... --body body.json --requests 10000 --concurrency 32
    python -m bench.loadgen --url http://127.0.0.1:8000/v1/summaries/ID --method GET

``--distinct TAG`` sends a new article with every request (``article(TAG, n)``), so each one
is a cache miss; ``--requests N`` sends exactly N requests in all instead of running for a time.

Prints one JSON object: requests and errors counted in the measured window, requests/s and
latency percentiles (ms) of the requests that completed inside it, and the count of each
HTTP status and ``X-Cache`` value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

_PLACES = [
    ("Harrowgate", "the northern highway"),
    ("Port Elsin", "the container terminal"),
    ("Mirefield", "the old textile mill"),
    ("Castor Bay", "the coastal ferry pier"),
    ("Dunmore Vale", "the mountain pass"),
    ("Lowen Cross", "the central bus station"),
    ("Averley", "the chemical depot"),
    ("Saltmere", "the river bridge"),
]
_CAUSES = [
    ("a fuel tanker overturned and caught fire", "the burning tanker"),
    ("a gas explosion tore through a row of shops", "the explosion"),
    ("part of a roof collapsed during a crowded market", "the collapse"),
    ("a passenger train derailed at speed", "the derailment"),
]


def article(tag: str, n: int) -> dict[str, str]:
    """An invented news article, different for every ``(tag, n)``: its own place, cause and
    figures, and its own report number, so every request is a cache miss."""
    town, site = _PLACES[n % len(_PLACES)]
    cause, short = _CAUSES[(n // len(_PLACES)) % len(_CAUSES)]
    killed, injured = 2 + n % 17, 5 + n % 23
    text = (
        f"{killed} people were killed and {injured} injured when {cause} near {site} in "
        f"{town} on Tuesday morning, the regional emergency service said. Rescue teams worked "
        f"through the day to reach people trapped after {short}, and several of the injured "
        f"were taken to hospitals in neighbouring districts. The mayor of {town} declared a "
        "day of mourning and said an inquiry would establish what went wrong. Witnesses "
        "described a loud noise followed by thick smoke that could be seen across the valley. "
        "Roads around the site stayed closed until the evening while investigators collected "
        f"evidence. This is report {tag}-{n} of the regional desk."
    )
    return {"title": f"{killed} killed in {town}", "text": text, "published": "2026-03-12"}


def build_request(host: str, port: int, path: str, body: bytes, method: str = "POST") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if method != "GET":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("ascii") + body


def content_length(head: bytes) -> int:
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError("response without Content-Length (chunked replies are not supported)")
    start = at + len(b"\r\ncontent-length:")
    return int(head[start : lowered.index(b"\r\n", start)])


def x_cache(head: bytes) -> str:
    lowered = head.lower()
    at = lowered.find(b"\r\nx-cache:")
    if at < 0:
        return "-"
    start = at + len(b"\r\nx-cache:")
    return head[start : lowered.index(b"\r\n", start)].strip().decode()


class Requests:
    """Where the next request comes from: one fixed body, or a new article every time."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        body: bytes,
        distinct: str | None,
        total: int,
        method: str = "POST",
    ) -> None:
        self._head = (host, port, path)
        fixed = build_request(host, port, path, body, method) if distinct is None else b""
        self._fixed = fixed
        self._distinct = distinct
        self._left = total or None  # None: no limit
        self._n = 0

    def next(self) -> bytes | None:
        if self._left is not None:
            if self._left == 0:
                return None
            self._left -= 1
        if self._distinct is None:
            return self._fixed
        self._n += 1
        body = json.dumps(article(self._distinct, self._n)).encode()
        return build_request(*self._head, body)


async def worker(
    host: str,
    port: int,
    requests: Requests,
    t_measure: float,
    t_end: float,
    latencies: list[float],
    errors: list[int],
    seen: dict[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    try:
        while True:
            t0 = clock()
            request = requests.next()
            if t0 >= t_end or request is None:
                break
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head))
            t1 = clock()
            if t_measure <= t1 <= t_end:
                latencies.append(t1 - t0)
                status = head[9:12].decode()
                seen[status] = seen.get(status, 0) + 1
                cache = f"x-cache {x_cache(head)}"
                seen[cache] = seen.get(cache, 0) + 1
                if status != "200":
                    errors[0] += 1
    finally:
        writer.close()


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


async def run(
    url: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    warmup: float,
    *,
    distinct: str | None = None,
    total: int = 0,
    method: str = "POST",
) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = Requests(host, port, parts.path or "/", body, distinct, total, method)
    latencies: list[float] = []
    errors = [0]
    seen: dict[str, int] = {}
    start = time.perf_counter()
    if total:  # a fixed number of requests: no warm-up, no time limit
        warmup, seconds = 0.0, float("inf")
    t_measure, t_end = start + warmup, start + warmup + seconds
    await asyncio.gather(
        *(
            worker(host, port, requests, t_measure, t_end, latencies, errors, seen)
            for _ in range(concurrency)
        )
    )
    if total:
        seconds = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "statuses": seen,
        "duration_s": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": (sum(latencies) / len(latencies) * 1000) if latencies else float("nan"),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", choices=["POST", "GET"], default="POST")
    parser.add_argument("--body", type=Path, help="file holding the JSON body")
    parser.add_argument("--distinct", metavar="TAG", help="a new article with every request")
    parser.add_argument("--requests", type=int, default=0, help="send exactly this many")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    if args.method == "POST" and (args.body is None) == (args.distinct is None):
        parser.error("give one of --body and --distinct")
    work = run(
        args.url,
        args.body.read_bytes() if args.body else b"",
        args.concurrency,
        args.seconds,
        args.warmup,
        distinct=args.distinct,
        total=args.requests,
        method=args.method,
    )
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
