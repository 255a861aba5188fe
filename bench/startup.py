"""Start-up: seconds from starting ``incident-summarizer serve`` to ``/readyz`` answering 200.

    uv run python -m bench.startup                  # in front of the scripted model server
    uv run python -m bench.startup --with-model     # the bundled model (loads the real model)

The clock starts just before the process is spawned and stops at the first 200 from
``/readyz`` (polled every 20 ms). Each start uses the same data directory; the process is
stopped (SIGTERM) after each.

* ``--with-model``: a fresh data directory, so the first start assembles the 1.1 GB model file
  from its installed packages and checks its SHA-256; the later starts find it there (they still
  check its hash, load it and evaluate the fixed prompt prefix). The service's own log line
  ``bundled model ready`` gives the split (load, prompt-prefix warm-up).
* default: the service in front of the scripted model server (no model to load): imports, the
  database and the client; the same ``serve`` command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import report
from bench.cache_hits import ROOT, clean_env, free_port

SECTION = "## Start-up"
MODEL_SECTION = "## Start-up with the bundled model"


def serve_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("incident-summarizer")
    return [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)]


def start_once(env: dict[str, str], log: Path, timeout: float) -> dict[str, Any]:
    """Seconds to the first 200 from /readyz, and the service's own start-up log fields."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            serve_command(port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        with httpx.Client(timeout=2.0) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited with {proc.returncode}: {log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        break
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(
                        f"not ready after {timeout:.0f} s: {log.read_text()[-2000:]}"
                    )
                time.sleep(0.02)
        seconds = time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    fields: dict[str, Any] = {"seconds": seconds}
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("msg") == "bundled model ready":
                fields.update(entry)
    return fields


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--with-model", action="store_true", help="the bundled model (loads the real model)"
    )
    parser.add_argument("--later", type=int, default=3, help="starts after the first")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait, each")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["uv", "run", "python", "-m", "bench.startup", *argv])

    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-startup-")))
        env = clean_env(SUMMARIZER_DATA_DIR=str(work), SUMMARIZER_LOG_LEVEL="INFO")
        if not args.with_model:
            from tests.scripted_openai import scripted_server

            model = stack.enter_context(scripted_server(mode="ok"))
            env["SUMMARIZER_LLM_BASE_URL"] = model.base_url
            env["SUMMARIZER_LLM_MODEL"] = "scripted-model"
        for n in range(1 + args.later):
            run = start_once(env, work / f"serve-{n}.log", args.timeout)
            runs.append(run)
            print(f"  start {n + 1}: {run['seconds']:.2f} s to /readyz", file=sys.stderr)

    heading = MODEL_SECTION if args.with_model else SECTION
    what = (
        "the bundled model (default settings: the fixed prompt prefix is evaluated before "
        "`/readyz` turns true)"
        if args.with_model
        else "a model server (the scripted one on loopback; nothing to load)"
    )
    rows = ["| start | seconds to /readyz | model load s | prompt-prefix warm-up s |"]
    rows.append("|---|---:|---:|---:|")
    for n, run in enumerate(runs):
        label = "first (fresh data directory)" if n == 0 else f"later ({n})"
        if args.with_model and n == 0:
            label = "first (assembles and checks the model file)"
        rows.append(
            f"| {label} | {run['seconds']:.2f} | {run.get('load_s', '-')} "
            f"| {run.get('warmup_s', '-')} |"
        )
    section = "\n".join(
        [
            heading,
            "",
            f"Seconds from spawning `incident-summarizer serve` to the first 200 from "
            f"`/readyz`, with {what}; the same data directory for every start.",
            "",
            *report.provenance(command),
            "",
            *rows,
            "",
        ]
    )
    report.publish(args.output, heading, section, write=not args.no_write)
    return section


if __name__ == "__main__":
    main()
