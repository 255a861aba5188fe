"""The service in front of a fast model server: distinct articles at 1, 32 and 256 at once.

    uv run python -m bench.fast_server [--delay 0.5] [--concurrency 1,32,256] [--workers 1,2]

All on loopback, each part in its own process:

1. the scripted OpenAI-compatible server (``tests.scripted_openai``, mode ``ok``): it answers
   every chat completion with a valid draft for the article it was sent, after ``--delay``
   seconds, and holds any number of requests at once;
2. the real service, ``incident-summarizer serve --workers N`` for each N of ``--workers``,
   with its SQLite file in a temporary directory, pointed at that server;
3. the load generator (``bench.loadgen --distinct``): N keep-alive connections in a closed
   loop, each POSTing a new invented article as soon as its previous answer arrives, so every
   request is a cache miss and one model call.

The ideal rate is N / delay: what the clients would get if the service added no time at all.
Beside each level, in the same run, the load generator sends the same number of connections
straight to the scripted server (the chat request the service sends for one of these articles):
that is what the client, the model server and this machine manage without the service in
between. Server CPU comes from ``/proc/PID/stat`` (user + system, all threads, the worker
processes included) over the measured window; CPU per request is the server's CPU rate
divided by the achieved rate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import report
from bench.cache_hits import (
    ROOT,
    Server,
    children_cpu,
    clean_env,
    free_port,
    machine_busy,
    serve,
    versions,
    wait_for_quiet,
    wait_until,
)
from bench.loadgen import article

SECTION = "## In front of a fast model server"
PATH = "/v1/summaries"


@dataclass
class Window:
    """One measured run of the load generator against one target."""

    target: str
    concurrency: int
    requests: int
    errors: int
    statuses: dict[str, int]
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_window_s: float  # wall time over which the CPU figures below were taken
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, over that window
    client_cpu_s: float = 0.0
    busy_cpu_s: float = 0.0  # the whole machine's

    def cores(self, name: str) -> float:
        return self.cpu_s.get(name, 0.0) / self.cpu_window_s

    @property
    def ok_rps(self) -> float:
        """Requests per second answered 200 (a refusal is not a summary)."""
        return self.rps * self.statuses.get("200", 0) / self.requests if self.requests else 0.0

    def ms_per_request(self, name: str) -> float:
        return self.cores(name) / self.rps * 1000 if self.rps else float("nan")

    @property
    def other_cores(self) -> float:
        ours = sum(self.cpu_s.values()) + self.client_cpu_s
        return max(self.busy_cpu_s - ours, 0.0) / self.cpu_window_s


def run_loadgen(
    url: str,
    procs: list[Server],
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    distinct: str | None = None,
    body_file: Path | None = None,
) -> Window:
    """Run ``bench.loadgen`` in its own process; CPU of ``procs`` taken over its window."""
    cmd = [sys.executable, "-m", "bench.loadgen", "--url", url]
    cmd += ["--distinct", distinct] if distinct else ["--body", str(body_file)]
    cmd += ["--concurrency", str(concurrency), "--seconds", str(seconds), "--warmup", str(warmup)]
    for p in procs:
        p.check_alive()
    client0 = children_cpu()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, env=clean_env())
    # The client spends a moment importing before its own clock starts; start the CPU window
    # inside its warm-up and end it at its measured window's end.
    time.sleep(warmup * 0.8)
    t0, busy0 = time.monotonic(), machine_busy()
    cpu0 = {p.name: p.cpu_seconds() for p in procs}
    time.sleep(max(0.0, started + warmup + seconds - time.monotonic()))
    t1, busy1 = time.monotonic(), machine_busy()
    cpu1 = {p.name: p.cpu_seconds() for p in procs}
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.loadgen exited with {proc.returncode}")
    out = json.loads(stdout)
    client = (children_cpu() - client0) * (t1 - t0) / (time.monotonic() - started)
    return Window(
        target=url,
        concurrency=concurrency,
        requests=out["requests"],
        errors=out["errors"],
        statuses=out["statuses"],
        seconds=seconds,
        rps=out["rps"],
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        cpu_window_s=t1 - t0,
        cpu_s={name: cpu1[name] - cpu0[name] for name in cpu0},
        client_cpu_s=client,
        busy_cpu_s=busy1 - busy0,
    )


def chat_body(sample: dict[str, Any], work: Path) -> Path:
    """A chat request like the one the service sends upstream for ``sample`` (its messages
    and its response_format), for the direct runs."""
    from schemas.incident import IncidentDraft
    from service.prompts import load_prompts
    from service.sentences import numbered, split_sentences

    messages = load_prompts().messages(
        task="record",
        sentences=numbered(split_sentences(sample["text"])),
        title=sample.get("title"),
        published=sample.get("published"),
    )
    body = {
        "model": "scripted-model",
        "messages": messages,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "IncidentDraft", "schema": IncidentDraft.model_json_schema()},
        },
        "max_tokens": 1024,
        "temperature": 0.0,
    }
    path = work / "chat.json"
    path.write_text(json.dumps(body))
    return path


def probe(service: Server, sample: dict[str, Any]) -> None:
    r = httpx.post(service.url + PATH, json=sample, timeout=60)
    if r.status_code != 200 or r.headers.get("x-cache") != "miss":
        raise RuntimeError(f"first POST: {r.status_code} {r.headers} {r.text[:300]}")
    if not r.json()["incident"]["is_incident"]:
        raise RuntimeError(f"the probe article was not read as an incident: {r.text[:500]}")


@contextlib.contextmanager
def stack(
    work: Path, delay: float, workers: int = 1, **service_env: str
) -> Iterator[tuple[Server, Server]]:
    """The scripted model server and the service (``serve --workers``) in front of it, ready."""
    model_port = free_port()
    model_cmd = [sys.executable, "-m", "tests.scripted_openai", "--host", "127.0.0.1"]
    model_cmd += ["--port", str(model_port), "--delay", str(delay), "--mode", "ok"]
    with serve("model", model_cmd, clean_env(), work) as model:
        # Generous: on a busy machine start-up alone can take minutes.
        wait_until(model, "/v1/models", timeout=600)
        env = clean_env(
            SUMMARIZER_LLM_BASE_URL=f"{model.url}/v1",
            SUMMARIZER_LLM_MODEL="scripted-model",
            SUMMARIZER_DATA_DIR=str(work),
            SUMMARIZER_DATABASE_URL=f"sqlite:///{work / 'summaries.sqlite3'}",
            SUMMARIZER_LOG_LEVEL="WARNING",
            **service_env,
        )
        cmd = [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())]
        cmd += ["--workers", str(workers)]
        with serve("service", cmd, env, work) as service:
            # Every worker ready: /readyz answers 200 many times in a row, on new connections.
            for _ in range(10 * workers):
                wait_until(service, "/readyz", timeout=600)
            yield model, service


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fast_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--delay", type=float, default=0.5, help="the model server's delay (s)")
    parser.add_argument("--concurrency", default="1,32,256", help="e.g. 1,32,256")
    parser.add_argument("--workers", default="1,2", help="service worker processes, e.g. 1,2")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run")
    parser.add_argument("--wait-idle", type=float, default=30.0, metavar="S")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["uv", "run", "python", "-m", "bench.fast_server", *argv])
    levels = [int(v) for v in args.concurrency.split(",") if v.strip()]

    rows: list[tuple[int, Window, Window]] = []
    for workers in [int(v) for v in args.workers.split(",") if v.strip()]:
        rows += run_stack(args, levels, workers)
    section = render(rows, args, command)
    report.publish(args.output, SECTION, section, write=not args.no_write)
    return section


def run_stack(
    args: argparse.Namespace, levels: list[int], workers: int
) -> list[tuple[int, Window, Window]]:
    rows: list[tuple[int, Window, Window]] = []
    with tempfile.TemporaryDirectory(prefix="bench-fast-server-") as tmp:
        work = Path(tmp)
        with stack(work, args.delay, workers) as (model, service):
            probe(service, article("probe", 0))
            body_file = chat_body(article("probe", 1), work)
            for n, level in enumerate(levels):
                if args.wait_idle > 0:
                    wait_for_quiet(args.wait_idle)
                # The service and the direct run alternate which goes first.
                runs: dict[str, Window] = {}
                order = ["service", "direct"] if n % 2 == 0 else ["direct", "service"]
                for target in order:
                    print(
                        f"  workers={workers} c={level:<4} {target:8}",
                        end=" ",
                        flush=True,
                        file=sys.stderr,
                    )
                    if target == "service":
                        w = run_loadgen(
                            service.url + PATH,
                            [service, model],
                            concurrency=level,
                            seconds=args.seconds,
                            warmup=args.warmup,
                            distinct=f"c{level}-{time.time_ns()}",
                        )
                    else:
                        w = run_loadgen(
                            f"{model.url}/v1/chat/completions",
                            [model],
                            concurrency=level,
                            seconds=args.seconds,
                            warmup=args.warmup,
                            body_file=body_file,
                        )
                    runs[target] = w
                    print(
                        f"{w.rps:7.1f} req/s (ideal {level / args.delay:.0f})  "
                        f"p50 {w.p50_ms:7.1f} ms  p99 {w.p99_ms:7.1f} ms  "
                        f"service CPU {w.ms_per_request('service'):.2f} ms/req  "
                        f"statuses {w.statuses}  other {w.other_cores:.2f} cores",
                        file=sys.stderr,
                    )
                rows.append((workers, runs["service"], runs["direct"]))
            service.check_alive()
    return rows


def render(rows: list[tuple[int, Window, Window]], args: argparse.Namespace, command: str) -> str:
    delay = args.delay
    table = [
        "| workers | clients | ideal req/s | service req/s (200) | service / ideal | direct req/s "
        "| direct / ideal | service p50 / p99 ms | service CPU ms/req | service CPU (cores) "
        "| model server CPU (cores), service / direct run | statuses (service run) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for workers, s, d in rows:
        ideal = s.concurrency / delay
        statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(s.statuses.items()))
        table.append(
            f"| {workers} | {s.concurrency} | {ideal:,.0f} | {s.ok_rps:,.1f} "
            f"| {s.ok_rps / ideal:.2f} "
            f"| {d.rps:,.1f} | {d.rps / ideal:.2f} | {s.p50_ms:,.0f} / {s.p99_ms:,.0f} "
            f"| {s.ms_per_request('service'):.2f} | {s.cores('service'):.2f} "
            f"| {s.cores('model'):.2f} / {d.cores('model'):.2f} | {statuses} |"
        )
    others = [w.other_cores for _, s, d in rows for w in (s, d)]
    noisy = max(others) if others else 0.0
    quiet = (
        f"**Other processes used up to {noisy:.2f} cores during a measured window (see the "
        "note below); the ratios are side by side in one run, the absolute rates are not "
        "from a quiet machine.**"
        if noisy > 0.15
        else "The machine was otherwise quiet."
    )
    return "\n".join(
        [
            SECTION,
            "",
            "Distinct articles (every request a cache miss and one model call) through the "
            f"service to a scripted OpenAI-compatible server that answers after {delay:g} s, "
            "against the ideal rate (clients / delay).",
            "",
            *report.provenance(command),
            f"- Software: {versions()}",
            "- Model server: `python -m tests.scripted_openai --mode ok --delay "
            f"{delay:g}` in its own process (uvicorn, one coroutine per request): a valid "
            "draft built from the article it is sent.",
            "- Service: `incident-summarizer serve --workers N` (one process, or a parent and "
            "N worker processes sharing the port; service CPU counts them all), default "
            "settings (so `SUMMARIZER_MAX_CONCURRENCY` is the default for a model server, "
            "per worker), log level WARNING, SQLite in a temporary directory.",
            "- Client: `bench.loadgen --distinct` in its own process: *clients* keep-alive "
            "connections in a closed loop, each sending a new invented article as soon as its "
            f"previous answer arrives. {args.warmup:g} s warm-up, then {args.seconds:g} s "
            "measured, per level and target; the two targets alternate which runs first.",
            "- Direct: the same client and connections posting the chat request the service "
            "sends for such an article straight to the scripted server, in the same run: what "
            "this machine manages without the service in between.",
            "",
            *table,
            "",
            quiet,
            "",
        ]
    )


if __name__ == "__main__":
    main()
