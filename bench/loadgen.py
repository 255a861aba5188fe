"""Closed-loop HTTP/1.1 load generator: N keep-alive connections, each POSTing back to back.

The fallback client of ``bench.cache_hits`` when ``wrk`` is not installed. Raw asyncio streams
(on uvloop when available) keep the client's own CPU cost low; it still shares the machine's
cores with the server under test.

    python -m bench.loadgen --url http://127.0.0.1:8000/v1/summaries --body body.json \
        --concurrency 32 --seconds 10 --warmup 2

Prints one JSON object: requests and errors counted in the measured window, requests/s and
latency percentiles (ms) of the requests that completed inside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def content_length(head: bytes) -> int:
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError("response without Content-Length (chunked replies are not supported)")
    start = at + len(b"\r\ncontent-length:")
    return int(head[start : lowered.index(b"\r\n", start)])


async def worker(
    host: str,
    port: int,
    request: bytes,
    t_measure: float,
    t_end: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    try:
        while True:
            t0 = clock()
            if t0 >= t_end:
                break
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head))
            t1 = clock()
            if t_measure <= t1 <= t_end:
                latencies.append(t1 - t0)
                if head[9:12] != b"200":
                    errors[0] += 1
    finally:
        writer.close()


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


async def run(url: str, body: bytes, concurrency: int, seconds: float, warmup: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = build_request(host, port, parts.path or "/", body)
    latencies: list[float] = []
    errors = [0]
    start = time.perf_counter()
    t_measure, t_end = start + warmup, start + warmup + seconds
    await asyncio.gather(
        *(
            worker(host, port, request, t_measure, t_end, latencies, errors)
            for _ in range(concurrency)
        )
    )
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors[0],
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
    parser.add_argument("--body", type=Path, required=True, help="file holding the JSON body")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    work = run(args.url, args.body.read_bytes(), args.concurrency, args.seconds, args.warmup)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
