"""Shared by the benchmarks: where a run happened, and writing one section of BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import platform
import re
import subprocess
import sys
from pathlib import Path


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in sh("lscpu").splitlines()
            if line.startswith("Model name")
        ),
        platform.processor() or "?",
    )
    return f"{sh('nproc') or '?'} CPUs (nproc), {model}, {platform.system()} {platform.release()}"


# The command that ran a whole set of benchmarks (``python -m bench``), when one did.
run_by: str | None = None


def command_line(command: str) -> str:
    """How a section says what produced it."""
    return f"`{command}`, as part of `{run_by}`" if run_by else f"`{command}`"


# What decides a benchmark's figures: a change elsewhere (documents) does not count.
CODE = ("service", "schemas", "prompts", "bench", "pyproject.toml", "uv.lock")


def now() -> str:
    """The time a section is written, as every section states it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def commit() -> str:
    """The commit the code ran at, and which code files differed from it, if any."""
    head = sh("git", "rev-parse", "--short", "HEAD") or "?"
    changed = sh("git", "status", "--porcelain", "--", *CODE).splitlines()
    if not changed:
        return head
    files = ", ".join(sorted(line[2:].strip() for line in changed))
    return f"{head} with uncommitted changes to {files}"


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section that starts with ``heading`` in ``path``, or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    section = section.rstrip("\n") + "\n"
    match = pattern.search(text)
    if match:
        tail = "\n" if match.end() < len(text) else ""
        text = text[: match.start()] + section + tail + text[match.end() :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def provenance(command: str) -> list[str]:
    """The lines every section starts with: what ran, when, on which commit and machine."""
    return [
        f"- Command: {command_line(command)}",
        f"- Date: {now()}",
        f"- Commit: {commit()}",
        f"- Machine: {machine()}",
    ]


def publish(path: Path, heading: str, section: str, *, write: bool = True) -> None:
    """Print a finished section and, unless told not to, write it into ``path``."""
    print(section)
    if write:
        write_section(path, heading, section)
        print(f"(written to {path})", file=sys.stderr)
