"""The real service as subprocesses: ``serve`` (uvicorn on a free loopback port) and batch
``worker`` processes, behind the scripted model. The one place tests start service processes.

Nothing is faked inside the processes: real HTTP, a real SQLite file (or PostgreSQL), the real
retry transport talking to ``tests.scripted_openai`` over TCP. Each process's JSON log
(stderr) is kept in a file so tests can read what the operator would see.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    def __init__(self, workdir: Path, llm_base_url: str, **settings: Any) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"service-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "SUMMARIZER_LLM_BASE_URL": llm_base_url,
                "SUMMARIZER_LLM_MODEL": "scripted",
                "SUMMARIZER_DATA_DIR": str(workdir / "data"),
                "SUMMARIZER_RETRY_MAX_WAIT_S": "0.05",
                "SUMMARIZER_LOG_LEVEL": "INFO",
            }
        )
        env.update({f"SUMMARIZER_{k.upper()}": str(v) for k, v in settings.items()})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        return self.workdir / "data" / "summaries.sqlite3"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 180.0) -> None:
        log = self.log_path.open("ab")
        started_at = self.log_path.stat().st_size
        # cwd is the work directory, so no stray .env changes the settings under test.
        self.proc = subprocess.Popen(
            self.command(), cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._since = started_at
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command()[3]} exited at start-up:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.kill9()  # never leave a half-started server behind
        raise RuntimeError(f"{self.command()[3]} not ready in {timeout:g} s:\n{self.log_tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"raw": raw})
        return lines


class WorkerProcess(ServiceProcess):
    """``incident-summarizer worker``: ready once it logs that it has started."""

    def __init__(self, workdir: Path, llm_base_url: str, **settings: Any) -> None:
        super().__init__(workdir, llm_base_url, **settings)
        self.log_path = workdir / f"worker-{self.port}.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "service.cli", "worker"]

    def ready(self) -> bool:
        with self.log_path.open("rb") as log:
            log.seek(self._since)
            return b'"worker started"' in log.read()


@contextmanager
def running_service(workdir: Path, llm_base_url: str, **settings: Any) -> Iterator[ServiceProcess]:
    service = ServiceProcess(workdir, llm_base_url, **settings)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def article(n: int, tag: str = "") -> dict[str, Any]:
    """A distinct, invented news article with a casualty sentence the scripted model quotes."""
    killed, injured = 2 + n % 7, 3 + n % 11
    text = (
        f"A fuel tanker overturned on the ring road near exit {n} {tag} early on Tuesday. "
        f"{killed} people were killed and {injured} were injured in the fire that followed, "
        "the regional fire service said. Investigators are examining the tanker's brakes, and "
        f"the road reopened after {n % 9 + 2} hours."
    )
    return {"text": text, "title": f"Tanker fire at exit {n}", "published": "2024-05-14"}
