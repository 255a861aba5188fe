"""Batch throughput against a fast model server: one batch of 10,000 articles, PostgreSQL with
1, 2 and 4 ``incident-summarizer worker`` processes, and SQLite in-process for comparison.

    uv run python -m bench.batch_throughput [--items 10000] [--workers 1,2,4] \
        [--concurrency 32] [--delay 0.5] [--prefetch N] [--backends postgresql,sqlite] [--no-write]

Each configuration is a stack of its own, every part in its own process, all on loopback:

1. the scripted OpenAI-compatible server (``tests.scripted_openai --mode ok``): a valid answer
   for whatever article it is sent, after ``--delay`` seconds, any number at once;
2. the service: on PostgreSQL (a new database on SUMMARIZER_TEST_POSTGRES_URL's server, or
   the local one, dropped afterwards) ``incident-summarizer serve`` and N ``incident-summarizer
   worker`` processes with ``SUMMARIZER_WORKER_CONCURRENCY=--concurrency``; on SQLite ``serve``
   alone, running the batch itself with ``SUMMARIZER_BATCH_CONCURRENCY=--concurrency``;
   default settings otherwise (log level INFO);
3. this process: a warm-up batch, then the measured batch of ``--items`` distinct invented
   articles (``bench.loadgen.article``) as one ``POST /v1/batches`` (JSON Lines), polled once a
   second until it is done. Items per second: the articles over the time from sending the
   batch to seeing it done.

The model server's capacity is measured in the same stack right after the batch:
``bench.loadgen`` sends the chat request the service sends for such an article straight to the
scripted server, with as many connections as the service keeps model calls in flight (workers
x concurrency), for ``--direct-seconds``. In articles per second that is its calls per second
divided by the model calls one article took in the batch run (from the service's own
``summarizer_model_calls_total``). The ratio is the service's articles per second to that.

CPU is read from ``/proc`` (user + system, all threads) over the batch's window: the service
(the API process and every worker), the model server, PostgreSQL's processes, and the whole
machine; what is left of the machine's is other processes' (another benchmark, an evaluation).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from bench import report
from bench.cache_hits import (
    CLOCK_TICKS,
    ROOT,
    Server,
    clean_env,
    free_port,
    machine_busy,
    serve,
    versions,
    wait_for_quiet,
    wait_until,
)
from bench.fast_server import Window, chat_body, run_loadgen
from bench.loadgen import article

SECTION = "## Batch throughput"
POLL_S = 1.0


@dataclass
class Result:
    backend: str
    workers: int  # worker processes; 0 for SQLite (the API process runs the batch)
    slots: int  # model calls the service keeps in flight: workers x concurrency
    items: int
    submit_s: float  # POST /v1/batches until its 202
    seconds: float  # POST /v1/batches until the batch is seen done
    done: int
    failed: int
    model_calls: int
    service_cpu_s: float  # the API process and every worker
    api_cpu_s: float  # of which the API process (PostgreSQL: taking the batch, polls)
    model_cpu_s: float
    postgres_cpu_s: float | None
    other_cores: float  # the machine's busy CPU not ours, on average
    direct: Window

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds

    @property
    def calls_per_item(self) -> float:
        return self.model_calls / self.items

    @property
    def capacity(self) -> float:
        """Articles per second the model server manages at this concurrency."""
        return self.direct.rps / self.calls_per_item

    @property
    def ratio(self) -> float:
        return self.items_per_s / self.capacity

    def ms_per_item(self, cpu_s: float) -> float:
        return cpu_s / self.items * 1000


# --- processes -----------------------------------------------------------------------------


def postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL server's processes now (backends that exit are lost)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "postgres":
                continue
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    server = os.environ.get(
        "SUMMARIZER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    ).replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_batches_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            server.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + name
        )
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def worker(name: str, env: dict[str, str], work: Path) -> Iterator[Server]:
    """``incident-summarizer worker`` with its metrics on a port; ready once it says so."""
    port = free_port()
    cmd = [sys.executable, "-m", "service.cli", "worker", "--metrics-port", str(port)]
    log = work / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 600
        while b'"worker started"' not in log.read_bytes():
            server.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def stack(
    work: Path, args: argparse.Namespace, backend: str, workers: int
) -> Iterator[tuple[Server, Server, list[Server]]]:
    """The scripted model server, the API and the workers, ready."""
    model_port = free_port()
    model_cmd = [sys.executable, "-m", "tests.scripted_openai", "--host", "127.0.0.1"]
    model_cmd += ["--port", str(model_port), "--delay", str(args.delay), "--mode", "ok"]
    with contextlib.ExitStack() as stack:
        model = stack.enter_context(serve("model", model_cmd, clean_env(), work))
        wait_until(model, "/v1/models", timeout=600)
        settings = {
            "SUMMARIZER_LLM_BASE_URL": f"{model.url}/v1",
            "SUMMARIZER_LLM_MODEL": "scripted-model",
            "SUMMARIZER_DATA_DIR": str(work / "api"),
            "SUMMARIZER_WORKER_CONCURRENCY": str(args.concurrency),
            "SUMMARIZER_BATCH_CONCURRENCY": str(args.concurrency),
        }
        if args.prefetch is not None:
            settings["SUMMARIZER_WORKER_PREFETCH"] = str(args.prefetch)
        if backend == "postgresql":
            settings["SUMMARIZER_DATABASE_URL"] = stack.enter_context(postgres_database())
        api_cmd = [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())]
        api = stack.enter_context(serve("api", api_cmd, clean_env(**settings), work))
        wait_until(api, "/readyz", timeout=600)
        crew = []
        for n in range(workers):
            own = {**settings, "SUMMARIZER_DATA_DIR": str(work / f"worker-{n}")}
            crew.append(stack.enter_context(worker(f"worker-{n}", clean_env(**own), work)))
        yield model, api, crew


# --- one batch -------------------------------------------------------------------------------


def batch_body(tag: str, items: int) -> bytes:
    return b"".join(
        orjson.dumps({**article(tag, n), "external_id": f"{tag}-{n}"}) + b"\n" for n in range(items)
    )


def run_batch(api: Server, body: bytes, processes: list[Server]) -> tuple[dict, float]:
    """Send one batch and wait for its end; the last resource and the seconds it took."""
    client = httpx.Client(base_url=api.url, timeout=600)
    started = time.monotonic()
    response = client.post(
        "/v1/batches", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/batches: {response.status_code} {response.text[:500]}")
    submitted = time.monotonic() - started
    batch_id = response.json()["id"]
    while True:
        resource = client.get(f"/v1/batches/{batch_id}").json()
        if resource["status"] in ("done", "cancelled"):
            client.close()
            resource["submit_s"] = submitted
            return resource, time.monotonic() - started
        for p in processes:
            p.check_alive()
        time.sleep(POLL_S)


def model_calls(servers: list[Server]) -> int:
    """``summarizer_model_calls_total`` summed over the processes that worked on batches."""
    total = 0.0
    for server in servers:
        text = httpx.get(f"{server.url}/metrics", timeout=30).text
        total += sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "summarizer_model_calls_total"
        )
    return round(total)


def measure(args: argparse.Namespace, backend: str, workers: int) -> Result:
    slots = args.concurrency * max(workers, 1)
    label = f"{backend} workers={workers}" if workers else f"{backend} in-process"
    with tempfile.TemporaryDirectory(prefix="bench-batches-") as tmp:
        work = Path(tmp)
        with stack(work, args, backend, workers) as (model, api, crew):
            runners = crew or [api]
            service = [api, *crew]
            everyone = [model, *service]
            print(f"  {label}: warm-up batch of {2 * slots} articles", file=sys.stderr)
            run_batch(api, batch_body(f"warm-{uuid.uuid4().hex[:6]}", 2 * slots), everyone)
            calls_before = model_calls(runners)
            if args.wait_idle > 0:
                wait_for_quiet(args.wait_idle)
            body = batch_body(f"run-{uuid.uuid4().hex[:6]}", args.items)
            cpu0 = {p.name: p.cpu_seconds() for p in everyone}
            pg0, busy0, self0 = postgres_cpu(), machine_busy(), own_cpu()
            resource_, seconds = run_batch(api, body, everyone)
            cpu1 = {p.name: p.cpu_seconds() for p in everyone}
            pg1, busy1, self1 = postgres_cpu(), machine_busy(), own_cpu()
            calls = model_calls(runners) - calls_before
            print(f"  {label}: the model server alone, {slots} connections", file=sys.stderr)
            direct = run_loadgen(
                f"{model.url}/v1/chat/completions",
                [model],
                concurrency=slots,
                seconds=args.direct_seconds,
                warmup=2.0,
                body_file=chat_body(article("direct", 1), work),
            )
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu0}
    service_cpu = sum(v for k, v in cpu.items() if k != "model")
    pg_cpu = pg1 - pg0 if backend == "postgresql" else None
    ours = sum(cpu.values()) + (pg1 - pg0) + (self1 - self0)
    counts = resource_["counts"]
    result = Result(
        backend=backend,
        workers=workers,
        slots=slots,
        items=args.items,
        submit_s=resource_["submit_s"],
        seconds=seconds,
        done=counts["done"],
        failed=counts["failed"],
        model_calls=calls,
        service_cpu_s=service_cpu,
        api_cpu_s=cpu["api"],
        model_cpu_s=cpu["model"],
        postgres_cpu_s=pg_cpu,
        other_cores=max(busy1 - busy0 - ours, 0.0) / seconds,
        direct=direct,
    )
    print(
        f"  {label}: {result.items_per_s:.1f} items/s in {seconds:.0f} s "
        f"(submit {result.submit_s:.1f} s), service CPU {result.ms_per_item(service_cpu):.2f} "
        f"ms/item (API {result.ms_per_item(cpu['api']):.2f}), "
        f"{result.calls_per_item:.2f} model calls/item; model server alone "
        f"{direct.rps:.1f} calls/s = {result.capacity:.1f} items/s; ratio {result.ratio:.2f}; "
        f"done {result.done}, failed {result.failed}; other processes "
        f"{result.other_cores:.2f} cores",
        file=sys.stderr,
    )
    return result


# --- the report ------------------------------------------------------------------------------


def render(results: list[Result], args: argparse.Namespace, command: str, load: list[str]) -> str:
    table = [
        "| backend | worker processes | model calls in flight | items/s | seconds (submit) "
        "| done / failed | service CPU ms/item (API process) | service CPU (cores) "
        "| model calls/item "
        "| model server alone, calls/s | its capacity, items/s | items/s ÷ capacity "
        "| model server CPU ms/item | PostgreSQL CPU ms/item | other processes (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        where = "PostgreSQL" if r.backend == "postgresql" else "SQLite, in the API process"
        pg = f"{r.ms_per_item(r.postgres_cpu_s):.2f}" if r.postgres_cpu_s is not None else "-"
        table.append(
            f"| {where} | {r.workers or '-'} | {r.slots} | {r.items_per_s:,.1f} "
            f"| {r.seconds:,.0f} ({r.submit_s:.1f}) | {r.done:,} / {r.failed:,} "
            f"| {r.ms_per_item(r.service_cpu_s):.2f} ({r.ms_per_item(r.api_cpu_s):.2f}) "
            f"| {r.service_cpu_s / r.seconds:.2f} "
            f"| {r.calls_per_item:.2f} | {r.direct.rps:,.1f} | {r.capacity:,.1f} "
            f"| {r.ratio:.2f} | {r.ms_per_item(r.model_cpu_s):.2f} | {pg} "
            f"| {r.other_cores:.2f} |"
        )
    noisy = max((r.other_cores for r in results), default=0.0)
    quiet = (
        f"**The machine was busy: other processes used up to {noisy:.2f} cores on average "
        "during a batch (load averages below); the rates are not from a quiet machine.**"
        if noisy > 0.15
        else "The machine was otherwise quiet."
    )
    ideal = args.concurrency / (2 * args.delay)
    return "\n".join(
        [
            SECTION,
            "",
            f"One batch of {args.items:,} distinct articles through the batch workers to a "
            f"scripted OpenAI-compatible server that answers after {args.delay:g} s, against "
            "what that server answers when called directly with as many connections, in the "
            "same run.",
            "",
            *report.provenance(command),
            f"- Software: {versions()}",
            f"- Load average (1, 5, 15 min): {load[0]} before, {load[1]} after.",
            "- Model server: `python -m tests.scripted_openai --mode ok --delay "
            f"{args.delay:g}` in its own process.",
            "- Service: `incident-summarizer serve` and N `incident-summarizer worker` "
            f"processes (`SUMMARIZER_WORKER_CONCURRENCY={args.concurrency}`"
            + (
                f", `SUMMARIZER_WORKER_PREFETCH={args.prefetch}`"
                if args.prefetch is not None
                else ""
            )
            + ") on a new "
            "PostgreSQL database on the local server; on SQLite `serve` alone "
            f"(`SUMMARIZER_BATCH_CONCURRENCY={args.concurrency}`). Default settings otherwise "
            "(log level INFO). Each stack runs a warm-up batch first.",
            "- Items/s: the articles over the time from `POST /v1/batches` (JSON Lines) to "
            f"the first poll (every {POLL_S:g} s) seeing the batch done; the submission "
            "is included, and given in brackets.",
            "- Service CPU: the API process and every worker (/proc, user + system) over that "
            "time, per article and as cores in use.",
            "- Capacity: `bench.loadgen` posting the chat request the service sends for such "
            "an article straight to the scripted server with *model calls in flight* "
            f"connections for {args.direct_seconds:g} s, right after the batch; calls/s "
            "divided by the model calls one article took in the batch (the service's "
            "`summarizer_model_calls_total`). "
            f"Ideal for one worker: {args.concurrency} ÷ (2 calls x {args.delay:g} s) = "
            f"{ideal:g} articles/s.",
            "",
            *table,
            "",
            quiet,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        prog="python -m bench.batch_throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--items", type=int, default=10_000, help="articles in the batch")
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL worker processes")
    parser.add_argument("--concurrency", type=int, default=32, help="articles at once, each")
    parser.add_argument("--delay", type=float, default=0.5, help="the model server's delay (s)")
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="SUMMARIZER_WORKER_PREFETCH of each worker (default: the setting's own)",
    )
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--direct-seconds", type=float, default=10.0)
    parser.add_argument("--wait-idle", type=float, default=30.0, metavar="S")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["uv", "run", "python", "-m", "bench.batch_throughput", *argv])
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"postgresql", "sqlite"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")

    load = [", ".join(f"{v:.2f}" for v in os.getloadavg())]
    results = []
    for backend in backends:
        counts = [int(v) for v in args.workers.split(",") if v.strip()]
        for workers in counts if backend == "postgresql" else [0]:
            results.append(measure(args, backend, workers))
    load.append(", ".join(f"{v:.2f}" for v in os.getloadavg()))
    section = render(results, args, command, load)
    report.publish(args.output, SECTION, section, write=not args.no_write)
    return section


if __name__ == "__main__":
    main()
