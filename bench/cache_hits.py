"""Throughput and latency of the two hit paths, against a bare FastAPI baseline, side by side.

    .venv/bin/python -m bench.cache_hits [--seconds S] [--warmup W] [--concurrency 1,8,32,128]

The hit paths are ``POST /v1/summaries`` answered from the SQLite cache (``X-Cache: hit``) and
``GET /v1/summaries/{id}``. What it does, all on loopback:

1. starts a scripted OpenAI-compatible model server (a thread here) that answers every chat
   completion with the seed article's expected draft (``tests.fake_llm.draft_from_record``);
2. starts the real service as users run it, ``incident-summarizer serve`` in a subprocess, with
   the default settings (one worker, log level INFO: one access-log line per request, written
   to a file here; ``/metrics`` on), its SQLite database in a temporary directory, pointed at
   that model server;
3. POSTs ``seeds/seed-camp-taji.json`` once (a miss: one model call, one write), then again
   (a hit) and keeps that hit's body and headers, and those of ``GET /v1/summaries/{id}``;
   the measured POSTs resend those bytes (a byte-identical resend, answered by its request
   key) or, for the path ``post-new``, the same article as bytes never sent before (its
   ``source_url`` numbered per request: a hit read the usual way; seen once, it gets no
   request key);
4. starts ``bench.bare_app`` under uvicorn (one worker, no access log) in another subprocess:
   two FastAPI routes that return those same bytes and headers and do nothing else;
5. for each concurrency level and path, for both targets (alternating which goes first), runs
   the load generator in its own process (``wrk`` with ``bench/request.lua`` when installed,
   otherwise ``bench.loadgen``): a warm-up, then the measured window, N keep-alive connections
   in a closed loop. The machine is shared (other processes, the client itself): each run
   first waits (``--wait-idle``) for other processes to go idle, records the CPU they took
   during the window, and is repeated (``--retries``) when they took some; the least
   disturbed run counts;
6. checks that the service wrote one access-log line per request it answered, then prints
   markdown tables and writes them, with the machine, commit, date and command, into the
   "## Cache hits" section of BENCHMARKS.md (replacing only that section).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench import report

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "seed-camp-taji.json"
LUA = Path(__file__).resolve().parent / "request.lua"
SECTION = "## Cache hits"
PATH = "/v1/summaries"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Other processes using more than this many cores during a measured window disturb it.
QUIET_CORES = 0.15


# --- the scripted model --------------------------------------------------------------------------


class ScriptedModel:
    """A tiny OpenAI-compatible server answering with ``turn`` (``tests.fake_llm.Turn``): the
    relevance answer, then the record pointing at the prompt's sentences."""

    def __init__(self, turn: Any) -> None:
        self.calls = 0

        def reply(body: dict[str, Any]) -> bytes:
            # The relevance answer, or the record pointing at the prompt's sentences.
            return json.dumps(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": "scripted-model",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": json.dumps(turn.answer(body)),
                            },
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
                }
            ).encode()

        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                model.calls += 1
                self._send(200, reply(json.loads(raw)))

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- servers under test --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uvicorn_command(app: str, port: int, *, factory: bool = False) -> list[str]:
    """The same uvicorn settings for both targets: one worker, no access log, warnings only."""
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
    return [*cmd, "--factory"] if factory else cmd


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _process_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # exited in between
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``serve --workers N`` runs a parent and N workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _tree(int(child))
    return found


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """utime + stime of the server process and its live worker processes, all threads."""
        return sum(_process_cpu(pid) for pid in _tree(self.proc.pid))

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text()[-4000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n{tail}")


@contextlib.contextmanager
def serve(name: str, cmd: list[str], env: dict[str, str], workdir: Path) -> Iterator[Server]:
    port = int(cmd[cmd.index("--port") + 1])
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, f"http://127.0.0.1:{port}", proc, log)
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(server: Server, path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            r = httpx.get(server.url + path, timeout=2.0)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s ({last})")


def post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(
        url + PATH, content=body, headers={"Content-Type": "application/json"}, timeout=60.0
    )


# --- load generation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HitPath:
    """One hit path: how to ask for it."""

    kind: str  # "post", "post-new" or "get"
    method: str
    path: str
    body_file: Path | None
    # Every request's body is bytes never sent before (the same article): wrk only.
    unique: bool = False


@dataclass
class Run:
    target: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    client_cpu_s: float
    busy_cpu_s: float  # the whole machine's, over the same window

    @property
    def other_cores(self) -> float:
        """Cores used by everything but the server and the client (other processes)."""
        return max(self.busy_cpu_s - self.server_cpu_s - self.client_cpu_s, 0.0) / self.seconds


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


def wait_for_quiet(limit_s: float, threshold_cores: float = QUIET_CORES) -> None:
    """Wait (up to ``limit_s``) until the machine is idle over one second.

    Nothing of ours is running when this is called (the servers are idle), so what is busy is
    someone else's work, which would take CPU from the measured run.
    """
    started = time.monotonic()
    said = False
    while True:
        before = machine_busy()
        time.sleep(1.0)
        busy = machine_busy() - before
        waited = time.monotonic() - started
        if busy < threshold_cores or waited >= limit_s:
            if said:
                state = "quiet" if busy < threshold_cores else f"still {busy:.2f} cores busy"
                print(f" {state} after {waited:.0f} s", file=sys.stderr, flush=True)
            return
        if not said:
            print(
                f"  (other processes use {busy:.2f} cores; waiting up to {limit_s:.0f} s)",
                end="", file=sys.stderr, flush=True,
            )  # fmt: skip
            said = True


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk_command(url: str, target: HitPath, concurrency: int, seconds: int) -> list[str]:
    body = [str(target.body_file)] if target.body_file else []
    if target.unique:
        body.append("unique")
    return [
        "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "--latency",
        "-s", str(LUA), url + target.path, "--", target.method, *body,
    ]  # fmt: skip


def run_wrk(server: Server, target: HitPath, concurrency: int, seconds: int, warmup: int) -> Run:
    if warmup > 0:
        subprocess.run(
            wrk_command(server.url, target, concurrency, warmup),
            check=True, capture_output=True,
        )  # fmt: skip
    server.check_alive()
    cpu0, client0, busy0 = server.cpu_seconds(), children_cpu(), machine_busy()
    done = subprocess.run(
        wrk_command(server.url, target, concurrency, seconds),
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    cpu1, client1, busy1 = server.cpu_seconds(), children_cpu(), machine_busy()
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    out = json.loads(line.removeprefix("BENCH_JSON "))
    duration = out["duration_us"] / 1e6
    return Run(
        target=server.name,
        concurrency=concurrency,
        requests=out["requests"],
        errors=sum(out["errors"].values()),
        seconds=duration,
        rps=out["requests"] / duration,
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        server_cpu_s=cpu1 - cpu0,
        client_cpu_s=client1 - client0,
        busy_cpu_s=busy1 - busy0,
    )


def run_python(
    server: Server, target: HitPath, concurrency: int, seconds: float, warmup: float
) -> Run:
    server.check_alive()
    if target.unique:
        raise RuntimeError("bodies never sent before need wrk (bench/request.lua)")
    client0 = children_cpu()
    body = ["--body", str(target.body_file)] if target.body_file else []
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bench.loadgen", "--url", server.url + target.path,
            "--method", target.method, *body, "--concurrency", str(concurrency),
            "--seconds", str(seconds), "--warmup", str(warmup),
        ],
        cwd=ROOT, stdout=subprocess.PIPE, env=clean_env(),
    )  # fmt: skip
    time.sleep(warmup)
    cpu0, busy0 = server.cpu_seconds(), machine_busy()
    stdout, _ = proc.communicate()
    cpu1, client1, busy1 = server.cpu_seconds(), children_cpu(), machine_busy()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.loadgen exited with {proc.returncode}")
    out = json.loads(stdout)
    return Run(
        target=server.name,
        concurrency=concurrency,
        requests=out["requests"],
        errors=out["errors"],
        seconds=seconds,
        rps=out["rps"],
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        server_cpu_s=cpu1 - cpu0,
        # The client process lived warm-up + window; scale to the window.
        client_cpu_s=(client1 - client0) * seconds / (seconds + warmup),
        busy_cpu_s=busy1 - busy0,
    )


# --- report --------------------------------------------------------------------------------------


@dataclass
class Cell:
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    @property
    def cores(self) -> float:
        return statistics.median(r.server_cpu_s / r.seconds for r in self.runs)

    @property
    def client_cores(self) -> float:
        return statistics.median(r.client_cpu_s / r.seconds for r in self.runs)

    @property
    def cpu_us_per_request(self) -> float:
        return statistics.median(r.server_cpu_s / r.requests * 1e6 for r in self.runs)

    @property
    def other_cores(self) -> float:
        """CPU used by everything but the server and the client (other processes)."""
        return max(r.other_cores for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def machine() -> str:
    names = [ln.split(":", 1)[1].strip() for ln in sh("lscpu").splitlines() if ":" in ln]
    keys = [ln.split(":", 1)[0] for ln in sh("lscpu").splitlines() if ":" in ln]
    model = dict(zip(keys, names, strict=True)).get("Model name") or platform.processor()
    return f"{sh('nproc')} CPUs (nproc), {model}, Linux {platform.release()}"


def versions() -> str:
    from importlib.metadata import version

    parts = [f"Python {platform.python_version()}"]
    dists = ("uvicorn", "fastapi", "starlette", "uvloop", "httptools", "sqlalchemy", "pydantic")
    for dist in dists:
        with contextlib.suppress(Exception):
            parts.append(f"{dist} {version(dist)}")
    return ", ".join(parts)


def commit() -> str:
    head = sh("git", "rev-parse", "--short", "HEAD") or "unknown"
    dirty = sh("git", "status", "--porcelain", "--untracked-files=no")
    return f"{head} (plus uncommitted changes in the working tree)" if dirty else head


KINDS = {
    "post": "`POST /v1/summaries`, a cache hit",
    "post-new": "`POST /v1/summaries`, a cache hit sent as bytes never sent before",
    "get": "`GET /v1/summaries/{id}`",
}
# As the tables name them.
SHOWN = {"post": "POST", "post-new": "POST, new bytes", "get": "GET"}


def render(
    cells: dict[tuple[str, str, int], Cell],
    levels: list[int],
    kinds: list[str],
    *,
    client: str,
    args: argparse.Namespace,
    command: str,
    hit_bytes: int,
    header_names: dict[str, list[str]],
    log_lines: tuple[int, int],
) -> str:
    rows = [
        "| path | clients | service req/s | bare req/s | service / bare "
        "| service p50 / p99 ms | bare p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    cpu_rows = [
        "| path | clients | service server CPU (cores) | service CPU µs/req "
        "| bare server CPU (cores) | bare CPU µs/req | client CPU (cores), service / bare run "
        "| other processes' CPU (cores), service / bare run | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in kinds:
        for c in levels:
            s, b = cells[("service", kind, c)], cells[("bare", kind, c)]
            srps, brps = s.median("rps"), b.median("rps")
            rows.append(
                f"| {SHOWN[kind]} | {c} | {srps:,.0f} | {brps:,.0f} | {srps / brps:.2f}x "
                f"| {s.median('p50_ms'):.2f} / {s.median('p99_ms'):.2f} "
                f"| {b.median('p50_ms'):.2f} / {b.median('p99_ms'):.2f} |"
            )
            cpu_rows.append(
                f"| {SHOWN[kind]} | {c} | {s.cores:.2f} | {s.cpu_us_per_request:,.0f} "
                f"| {b.cores:.2f} | {b.cpu_us_per_request:,.0f} "
                f"| {s.client_cores:.2f} / {b.client_cores:.2f} "
                f"| {s.other_cores:.2f} / {b.other_cores:.2f} | {s.errors + b.errors} |"
            )
    noisy = max(cell.other_cores for cell in cells.values())
    quiet = (
        f"**The machine was busy: other processes used up to {noisy:.2f} cores during a "
        "measured window, so absolute figures are lower than on a quiet machine; the ratios "
        "compare runs made side by side under the same load.**"
        if noisy > QUIET_CORES
        else "The machine was otherwise quiet (other processes' CPU column)."
    )
    if client == "wrk":
        client_line = (
            f"`{' '.join(sh('wrk', '--version').split()[:2]) or 'wrk'}` (Debian's `wrk` "
            "package, `apt-get install wrk`; CI does not run benchmarks), one thread, Lua "
            "script `bench/request.lua`; percentiles from wrk's latency histogram (`--latency`)"
        )
    else:
        client_line = "`bench.loadgen` (raw asyncio streams on uvloop, one process)"
    rounds = f"{args.rounds} rounds, medians shown; " if args.rounds > 1 else ""
    answered, logged = log_lines
    return "\n".join(
        [
            SECTION,
            "",
            "The two hit paths, `POST /v1/summaries` answered from the SQLite cache (the "
            "`X-Cache: hit` path) and `GET /v1/summaries/{id}`, against a bare FastAPI route "
            "returning the same bytes, measured side by side in one run. *POST* resends the "
            "same bytes every time (answered by its request key); *POST, new bytes* sends the "
            "same article as bytes never sent before with every request (its `source_url` "
            "numbered per request), so each is read, checked, normalized and keyed (seen once, "
            "it gets no request key: a body answered from the cache is keyed the second time it "
            "comes).",
            "",
            *report.provenance(command),
            f"- Software: {versions()}",
            f"- Client: {client_line}. Closed loop: *clients* = keep-alive connections, each "
            "sending its next request when the previous answer arrives. "
            f"{rounds}Per level, path and target: {args.warmup:g} s warm-up, then "
            f"{args.seconds:g} s measured; the two targets alternate which runs first. Before "
            f"each run the bench waits up to {args.wait_idle:g} s for other processes to go "
            f"idle; a run during which they used over {QUIET_CORES} cores is repeated up to "
            f"{args.retries} time(s), and the least disturbed attempt is kept.",
            "- Service: `incident-summarizer serve --port PORT` as the README starts it, default "
            "settings: one worker (uvloop, httptools), log level INFO with the JSON access log "
            "on (stderr to a file), `/metrics` on; SQLite file in a temp dir, "
            "`SUMMARIZER_LLM_BASE_URL` pointing at a scripted OpenAI-compatible server on "
            "loopback that returns the `seeds/seed-camp-taji.json` draft. The seed is POSTed "
            "once (a miss: the model's two answers), then every measured POST is a hit, the "
            "same bytes (POST) or the same article in new bytes (POST, new bytes) (checked: "
            "the model saw no call after the first POST); every GET asks for its id. "
            f"Access log checked after the run: {logged:,} lines for the {answered:,} answers "
            "of the measured windows (warm-ups also write lines).",
            "- Baseline: `bench/bare_app.py` under `uvicorn --workers 1 --no-access-log "
            "--log-level warning`: a POST route that reads the body and a GET route, both "
            f"returning the captured bytes ({hit_bytes:,} bytes, identical) with the same "
            f"headers (POST: {', '.join(header_names['post'])}; GET: "
            f"{', '.join(header_names['get'])}); nothing else, no log line.",
            "",
            *rows,
            "",
            "Server CPU over the measured window, from `/proc/PID/stat` (user + system, all "
            "threads), and the load generator's own CPU:",
            "",
            *cpu_rows,
            "",
            f"The client runs on the same {sh('nproc') or '?'} cores as the server, so its CPU "
            "time is taken from the server's budget (see the client column). "
            "In a closed loop latency ≈ clients / throughput (Little's law), so above 1 client "
            "the p50 mostly measures queueing in the single worker; the 1-client row is the "
            "per-request service time.",
            "",
            quiet,
            "",
        ]
    )


# --- main ----------------------------------------------------------------------------------------


def measure(
    server: Server, target: HitPath, level: int, args: argparse.Namespace, label: str
) -> Run:
    """One measured run; repeated (up to ``args.retries`` times) when other processes took CPU
    during it. Returns the least disturbed attempt."""
    attempts: list[Run] = []
    for attempt in range(1 + args.retries):
        if args.wait_idle > 0:
            wait_for_quiet(args.wait_idle)
        print(
            label + (f" (retry {attempt})" if attempt else ""), end=" ", flush=True, file=sys.stderr
        )
        if args.client == "wrk":
            run = run_wrk(server, target, level, args.seconds, args.warmup)
        else:
            run = run_python(server, target, level, args.seconds, args.warmup)
        attempts.append(run)
        print(
            f"{run.rps:8,.0f} req/s  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
            f"errors {run.errors}  other processes {run.other_cores:.2f} cores",
            file=sys.stderr,
        )
        if run.other_cores <= QUIET_CORES:
            break
    return min(attempts, key=lambda r: r.other_cores)


def parse_levels(value: str) -> list[int]:
    levels = [int(v) for v in value.split(",") if v.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return levels


def access_log_lines(log: Path) -> int:
    """Lines of the service's log that are access-log lines (one per request answered)."""
    count = 0
    with log.open("rb") as lines:
        for line in lines:
            count += b'"logger":"service.access"' in line
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cache_hits", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per run")
    parser.add_argument(
        "--concurrency", type=parse_levels, default=[1, 8, 32, 128], help="e.g. 1,8,32,128"
    )
    parser.add_argument(
        "--paths",
        default=None,
        help="hit paths to measure, of post, post-new (wrk only) and get "
        "(default: all three with wrk, post and get otherwise)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat every run; report medians")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=30.0,
        metavar="S",
        help="before each run, wait up to S seconds for other processes to go idle (0: never)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        help="repeat a run this often when other processes took CPU during it",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join([".venv/bin/python", "-m", "bench.cache_hits", *argv])
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    client = args.client
    if client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install -y wrk), use --client python")
    paths = args.paths or ("post,post-new,get" if client == "wrk" else "post,get")
    kinds = [k.strip() for k in paths.split(",") if k.strip()]
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--paths: a comma-separated list of {', '.join(KINDS)}")
    if "post-new" in kinds and client != "wrk":
        parser.error("--paths post-new needs wrk (apt-get install -y wrk)")

    sys.path.insert(0, str(ROOT))
    from tests.fake_llm import draft_from_record

    seed = json.loads(SEED.read_text(encoding="utf-8"))
    body = json.dumps(seed["request"]).encode()

    with (
        tempfile.TemporaryDirectory(prefix="bench-cache-hits-") as tmp,
        ScriptedModel(draft_from_record(seed["expected"])) as model,
    ):
        work = Path(tmp)
        body_file = work / "request.json"
        body_file.write_bytes(body)
        # The settings users start with: the scripted model server, a temporary data directory;
        # nothing else (log level INFO, so the access log is on).
        service_env = clean_env(
            SUMMARIZER_LLM_BASE_URL=f"http://127.0.0.1:{model.port}/v1",
            SUMMARIZER_LLM_MODEL="scripted-model",
            SUMMARIZER_DATA_DIR=str(work),
        )
        service_cmd = [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())]
        with serve("service", service_cmd, service_env, work) as service:
            wait_until(service, "/readyz")
            miss = post(service.url, body)
            if miss.status_code != 200 or miss.headers.get("x-cache") != "miss":
                raise RuntimeError(
                    f"first POST: {miss.status_code} {miss.headers} {miss.text[:300]}"
                )
            calls_for_the_miss = model.calls  # the relevance answer and the record
            hit = post(service.url, body)
            again = post(service.url, body)
            if hit.headers.get("x-cache") != "hit" or not hit.json().get("cached"):
                raise RuntimeError(f"second POST was not a hit: {hit.headers} {hit.text[:500]}")
            if again.content != hit.content:
                raise RuntimeError("two hits returned different bodies")
            # The same article in bytes never sent: the same answer, read the usual way.
            new_bytes = body.replace(
                b'"source_url": null', b'"source_url": "https://bench.example/0"'
            )
            if new_bytes == body:
                raise RuntimeError('the seed request has no "source_url": null to vary')
            other = post(service.url, new_bytes)
            if other.headers.get("x-cache") != "hit" or other.content != hit.content:
                raise RuntimeError(f"new bytes of the article: {other.headers} {other.text[:300]}")
            get_path = f"{PATH}/{hit.json()['id']}"
            by_id = httpx.get(service.url + get_path, timeout=60.0)
            if by_id.status_code != 200 or by_id.content != hit.content:
                raise RuntimeError(f"GET by id: {by_id.status_code} {by_id.text[:300]}")
            skip = {"date", "server", "content-length", "content-type"}
            (work / "hit.json").write_bytes(hit.content)
            for name, answer in (("headers", hit), ("get-headers", by_id)):
                extra = {k: v for k, v in answer.headers.items() if k not in skip}
                (work / f"{name}.json").write_text(json.dumps(extra))
            targets = {
                "post": HitPath("post", "POST", PATH, body_file),
                "post-new": HitPath("post-new", "POST", PATH, body_file, unique=True),
                "get": HitPath("get", "GET", get_path, None),
            }

            bare_env = clean_env(
                BENCH_BARE_BODY=str(work / "hit.json"),
                BENCH_BARE_HEADERS=str(work / "headers.json"),
                BENCH_BARE_GET_HEADERS=str(work / "get-headers.json"),
            )
            bare_cmd = uvicorn_command("bench.bare_app:app", free_port())
            with serve("bare", bare_cmd, bare_env, work) as bare:
                wait_until(bare, "/docs")
                names: dict[str, list[str]] = {}
                for kind, ours in (("post", hit), ("get", by_id)):
                    if kind == "post":
                        check = post(bare.url, body)
                    else:
                        check = httpx.get(bare.url + get_path, timeout=60.0)
                    if check.content != ours.content:
                        raise RuntimeError(f"the bare app's {kind} body differs from the service's")
                    names[kind] = sorted(ours.headers.keys())
                    if sorted(check.headers.keys()) != names[kind]:
                        raise RuntimeError(f"headers differ: {ours.headers} vs {check.headers}")

                logged_before = access_log_lines(service.log)
                cells: dict[tuple[str, str, int], Cell] = {}
                servers = (service, bare)
                total = len(args.concurrency) * len(kinds) * 2 * args.rounds
                n = 0
                for r in range(args.rounds):
                    for i, level in enumerate(args.concurrency):
                        for j, kind in enumerate(kinds):
                            order = servers if (i + j + r) % 2 == 0 else servers[::-1]
                            for server in order:
                                n += 1
                                label = f"[{n}/{total}] {server.name:7} {kind:4} c={level}"
                                run = measure(server, targets[kind], level, args, label)
                                key = (server.name, kind, level)
                                cells.setdefault(key, Cell()).runs.append(run)
                service.check_alive()
                bare.check_alive()

            final = post(service.url, body)
            if final.headers.get("x-cache") != "hit" or final.content != hit.content:
                raise RuntimeError("the service stopped answering the same hit")
            if model.calls != calls_for_the_miss:
                raise RuntimeError(
                    f"the scripted model was called {model.calls - calls_for_the_miss} times "
                    "after the first POST"
                )
            # Every request answered wrote its line (the warm-ups' too, hence at least).
            answered = sum(
                run.requests
                for (name, _, _), cell in cells.items()
                if name == "service"
                for run in cell.runs
            )
            time.sleep(1.0)  # lines still on their way to the file
            logged = access_log_lines(service.log) - logged_before
            if logged < answered:
                raise RuntimeError(f"{answered} requests answered, {logged} access-log lines")

    section = render(
        cells,
        args.concurrency,
        kinds,
        client=client,
        args=args,
        command=command,
        hit_bytes=len(hit.content),
        header_names=names,
        log_lines=(answered, logged),
    )
    report.publish(args.output, SECTION, section, write=not args.no_write)


if __name__ == "__main__":
    main()
