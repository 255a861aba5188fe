"""Memory of the service process: RSS after rounds of cache hits and of misses, and its peak
with the bundled model loaded.

    uv run python -m bench.memory [--hits 10000] [--misses 1000] [--rounds 4]
    uv run python -m bench.memory --with-model      # loads the real bundled model

Default run, all on loopback, in front of the scripted model server (``tests.scripted_openai``,
mode ``ok``, 50 ms delay) like ``bench.fast_server``: after a warm-up (500 hits, 200 misses)
the RSS of the service process is read from ``/proc/PID/status``; then ``--rounds`` rounds of
``--hits`` cache hits (the seed article, 32 connections) and as many rounds of ``--misses``
distinct articles (64 connections), reading RSS after each. A leak shows as every round
growing as much as the first; a warm-up effect (SQLite's page cache filling as the database
grows, allocator arenas) as growth that shrinks round after round.

``--with-model``: the service on the bundled model (the model file assembled into
``SUMMARIZER_DATA_DIR`` or the default data directory if not there yet; SQLite in a temporary
directory): it waits for ``/readyz``, summarizes the seed article once (a miss: one or more
model answers, about a minute on 2 cores), serves it 1,000 times from the cache, and reports
the process's peak RSS (``VmHWM``) and RSS at each step.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench import report
from bench.cache_hits import (
    ROOT,
    SEED,
    Server,
    clean_env,
    free_port,
    serve,
    uvicorn_command,
    wait_until,
)
from bench.fast_server import stack

SECTION = "## Memory"
MODEL_SECTION = "## Memory with the bundled model"
PATH = "/v1/summaries"


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS), RssAnon... of a process, in kB, from /proc/PID/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith(("Vm", "Rss")) and value.strip().endswith("kB"):
            out[key] = int(value.split()[0])
    return out


def load(url: str, *, concurrency: int, requests: int, body: Path | None = None, tag: str = ""):
    """Exactly ``requests`` requests from ``bench.loadgen`` in its own process."""
    cmd = [sys.executable, "-m", "bench.loadgen", "--url", url, "--requests", str(requests)]
    cmd += ["--body", str(body)] if body else ["--distinct", tag]
    cmd += ["--concurrency", str(concurrency)]
    done = subprocess.run(cmd, cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    if out["errors"] or out["requests"] != requests:
        raise RuntimeError(f"load run failed: {out}")
    return out


def mb(kb: int) -> str:
    return f"{kb / 1024:,.1f}"


def scripted_run(args: argparse.Namespace) -> list[str]:
    """RSS after rounds of hits and misses against the scripted model server."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    steps: list[tuple[str, dict[str, int], float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        body = work / "seed.json"
        body.write_text(json.dumps(seed["request"]))
        with stack(work, 0.05) as (_model, service):
            url = service.url + PATH
            pid = service.proc.pid
            started = time.monotonic()
            steps.append(("ready", status_kb(pid), 0.0))
            load(url, concurrency=1, requests=1, body=body)  # the miss that stores the seed
            load(url, concurrency=32, requests=500, body=body)
            load(url, concurrency=64, requests=200, tag=f"warm-{time.time_ns()}")
            steps.append(("after warm-up: 500 hits, 200 misses", status_kb(pid), 0.0))
            for n in range(1, args.rounds + 1):
                t = time.monotonic()
                load(url, concurrency=32, requests=args.hits, body=body)
                label = f"after {args.hits:,} more hits (round {n})"
                steps.append((label, status_kb(pid), time.monotonic() - t))
                print(f"  {label}: RSS {mb(steps[-1][1]['VmRSS'])} MB", file=sys.stderr)
            for n in range(1, args.rounds + 1):
                t = time.monotonic()
                load(url, concurrency=64, requests=args.misses, tag=f"m{n}-{time.time_ns()}")
                label = f"after {args.misses:,} more misses (round {n})"
                steps.append((label, status_kb(pid), time.monotonic() - t))
                print(f"  {label}: RSS {mb(steps[-1][1]['VmRSS'])} MB", file=sys.stderr)
            service.check_alive()
            total = time.monotonic() - started
    rows = [
        "| step | RSS MB | change MB | peak RSS MB | round took s |",
        "|---|---:|---:|---:|---:|",
    ]
    previous = None
    for label, kb, took in steps:
        change = "" if previous is None else f"{(kb['VmRSS'] - previous) / 1024:+,.1f}"
        rows.append(
            f"| {label} | {mb(kb['VmRSS'])} | {change} | {mb(kb['VmHWM'])} "
            f"| {f'{took:.1f}' if took else ''} |"
        )
        previous = kb["VmRSS"]
    rss = [kb["VmRSS"] for _, kb, _ in steps]
    changes = [b - a for a, b in itertools.pairwise(rss[1:])]  # per round, after warm-up
    hits, misses = changes[: args.rounds], changes[args.rounds :]

    def mbs(changes: list[int]) -> str:
        return ", ".join(f"{c / 1024:+.1f}" for c in changes)

    verdict = (
        f"Change per round, MB: hits {mbs(hits)}; misses {mbs(misses)} "
        f"({misses[-1] / args.misses:+.2f} kB per miss in the last round). Whole run: "
        f"{total:.0f} s."
    )
    return [
        "Resident memory of the service process (`VmRSS`, `VmHWM` from `/proc/PID/status`) "
        "under repeated cache hits and misses, in front of the scripted model server "
        "(`tests.scripted_openai --mode ok --delay 0.05`), one uvicorn worker, SQLite in a "
        "temporary directory. Hits: the seed article, 32 connections; misses: distinct "
        "invented articles, 64 connections (`bench.loadgen --requests N`).",
        "",
        *rows,
        "",
        verdict,
    ]


@contextlib.contextmanager
def bundled_service(work: Path, data_dir: Path | None) -> Iterator[Server]:
    env = clean_env(
        SUMMARIZER_DATABASE_URL=f"sqlite:///{work / 'summaries.sqlite3'}",
        SUMMARIZER_LOG_LEVEL="INFO",
    )
    if data_dir is not None:
        env["SUMMARIZER_DATA_DIR"] = str(data_dir)
    cmd = uvicorn_command("service.app:create_app", free_port(), factory=True)
    with serve("service", cmd, env, work) as service:
        yield service


def model_run(args: argparse.Namespace) -> list[str]:
    """Peak RSS with the bundled model loaded: load, one miss, then hits."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    body = json.dumps(seed["request"]).encode()
    steps: list[tuple[str, dict[str, int]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-model-") as tmp:
        work = Path(tmp)
        (work / "seed.json").write_bytes(body)
        with bundled_service(work, args.data_dir) as service:
            wait_until(service, "/readyz", timeout=3600)
            pid = service.proc.pid
            steps.append(("ready (model loaded, prompt prefix evaluated)", status_kb(pid)))
            miss = httpx.post(
                service.url + PATH,
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=900,
            )
            if miss.status_code != 200:
                raise RuntimeError(f"seed article: {miss.status_code} {miss.text[:500]}")
            steps.append(("after summarizing the seed article (a miss)", status_kb(pid)))
            load(service.url + PATH, concurrency=8, requests=1000, body=work / "seed.json")
            steps.append(("after 1,000 cache hits", status_kb(pid)))
            service.check_alive()
    rows = ["| step | RSS MB | peak RSS MB |", "|---|---:|---:|"]
    rows += [f"| {label} | {mb(kb['VmRSS'])} | {mb(kb['VmHWM'])} |" for label, kb in steps]
    return [
        "With the bundled model: the service on its default backend (`uvicorn "
        "service.app:create_app --factory`, one worker), the model file in "
        f"`{args.data_dir or 'the default data directory'}`.",
        "",
        *rows,
        "",
        f"Peak RSS of the service process with the model loaded: "
        f"**{mb(steps[-1][1]['VmHWM'])} MB**.",
    ]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--hits", type=int, default=10_000, help="cache hits per round")
    parser.add_argument("--misses", type=int, default=1_000, help="misses per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of hits, then of misses")
    parser.add_argument(
        "--with-model",
        action="store_true",
        help="instead: peak RSS with the bundled model loaded (loads the real model)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ["SUMMARIZER_DATA_DIR"])
        if os.environ.get("SUMMARIZER_DATA_DIR")
        else None,
        help="where the bundled model file is (or is assembled); default: the service's",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["uv", "run", "python", "-m", "bench.memory", *argv])

    heading = MODEL_SECTION if args.with_model else SECTION
    lines = [
        heading,
        "",
        *report.provenance(command),
        "",
        *(model_run(args) if args.with_model else scripted_run(args)),
    ]
    section = "\n".join(lines) + "\n"
    report.publish(args.output, heading, section, write=not args.no_write)
    return section


if __name__ == "__main__":
    main()
