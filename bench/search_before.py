"""Ranked search (``GET /v1/summaries?q=``) at 100,000 records: this commit's store against the
search of an earlier commit, on the same data, in the same process and minutes.

    uv run python -m bench.search_before --before COMMIT [--records 100000] [--requests 200]
        [--clients 8] [--backends sqlite,postgresql] [--no-write]

The earlier commit's listing (``Store.list`` and the methods and module-level functions it
calls, as that commit's ``service/store.py`` holds them) is taken with ``git show`` and run on
a subclass of today's ``Store``, against a second database loaded with the same records and
migrated only as far as that commit's newest migration: each side runs on its own schema. The
data, the clients and the closed loop are ``bench.listing``'s. Before measuring, every query
pages through its first pages both ways and the bodies and cursors are compared: the table is
written only when they are the same.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import service.store as store_module
from bench import report
from bench.listing import COMMON, RARE, backend_store, compared, load
from service import migrations
from service.store import ListQuery, Store

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Ranked search against the commit before"
METHODS = (
    *("list", "_rows", "_narrow", "_search", "_search_sqlite"),
    *("_sqlite_best", "_sqlite_statement"),
)
PAGES = 5  # compared both ways before measuring


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


def revision_of(commit: str) -> str:
    """The newest migration ``commit`` holds."""
    names = _git("ls-tree", "--name-only", f"{commit}:service/migrations/versions").split()
    return max(m.group(1) for n in names if (m := re.match(r"(\d{4})_\w+\.py$", n)))


def store_of(commit: str) -> type[Store]:
    """A ``Store`` whose listing is ``commit``'s: its module-level functions and constants,
    then its ``Store``'s listing methods (the tables' classes are today's)."""
    source = _git("show", f"{commit}:service/store.py")
    lines = source.splitlines()

    def text_of(node: ast.stmt) -> str:
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        return "\n".join(lines[first - 1 : node.end_lineno])

    tree = ast.parse(source)
    namespace = dict(vars(store_module))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.Assign | ast.AnnAssign):
            exec(text_of(node), namespace)  # our own source, at a commit
    store = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Store")
    methods = [
        text_of(n) for n in store.body if isinstance(n, ast.FunctionDef) and n.name in METHODS
    ]
    exec("class Before(Store):\n" + "\n".join(methods), namespace)
    return namespace["Before"]


QUERIES: list[tuple[str, str, int]] = [
    (f"common word ({COMMON!r}, 10% of records)", COMMON, 1),
    (f"common word ({COMMON!r}), page {PAGES}", COMMON, PAGES),
    (f"rare word ({RARE!r}, 0.1%)", RARE, 1),
    ("place and killed (`basra killed`)", "basra killed", 1),
]


def pages(store: Store, q: str, n: int) -> list[tuple[list[bytes], str | None]]:
    out: list[tuple[list[bytes], str | None]] = []
    cursor = None
    while len(out) < n:
        bodies, cursor = store.list(ListQuery(q=q, limit=20, cursor=cursor))
        out.append((bodies, cursor))
        if cursor is None:
            break
    return out


def run_backend(
    backend: str, before: type[Store], revision: str, args: argparse.Namespace
) -> list[list[str]]:
    rows: list[list[str]] = []
    with backend_store(backend, args.clients) as store, backend_store(backend, args.clients) as bs:
        store.migrate()
        with bs._write_engine.begin() as conn:
            migrations.upgrade(conn, revision)
        for s in (store, bs):
            seconds = load(s, args.records)
            print(f"{backend}: {args.records:,} records loaded in {seconds:.0f} s", file=sys.stderr)
        old = before(bs.engine)
        for i, (label, q, page) in enumerate(QUERIES):
            if pages(store, q, PAGES) != pages(old, q, PAGES):
                raise SystemExit(f"{backend}, {q!r}: the two searches page differently")
            cursor = pages(store, q, page - 1)[-1][1] if page > 1 else None

            def current(q: str = q, cursor: str | None = cursor) -> Any:
                return store.list(ListQuery(q=q, limit=20, cursor=cursor))

            def earlier(q: str = q, cursor: str | None = cursor) -> Any:
                return old.list(ListQuery(q=q, limit=20, cursor=cursor))

            rows.append(compared(backend, label, current, earlier, args, first=i % 2 == 0))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search_before", description=__doc__)
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    command = shlex.join(
        ["uv", "run", "python", "-m", "bench.search_before", *(argv or sys.argv[1:])]
    )
    before, revision = store_of(args.before), revision_of(args.before)
    load_before = os.getloadavg()
    table = []
    for backend in args.backends.split(","):
        table += run_backend(backend, before, revision, args)
    load_after = os.getloadavg()
    lines = [
        HEADING,
        "",
        f"`GET /v1/summaries?q=` at {args.records:,} stored records (`bench.listing`'s data), "
        f"each article once, page size 20: this commit's search against commit {args.before}'s "
        f"(its listing code, on a second database at its schema, revision {revision}, holding "
        "the same records), alternating which runs first. The first "
        f"{PAGES} pages of every query, bodies and cursors, were compared first and are the same.",
        "",
        *report.provenance(command),
        f"- Load: {args.clients} client threads in one process, closed loop, "
        f"{args.requests} queries per cell; latencies in ms.",
        f"- The machine is shared (2 cores): load average {load_before[0]:.1f} before the "
        f"run, {load_after[0]:.1f} after; the ratio of the two, measured minutes apart on the "
        "same data, is the figure to read.",
        "",
        f"| backend | query | this commit p50 / p99 ms | {args.before} p50 / p99 ms | p50 ratio |",
        "|---|---|---:|---:|---:|",
        *("| " + " | ".join(r) + " |" for r in table),
    ]
    report.publish(ROOT / "BENCHMARKS.md", HEADING, "\n".join(lines), write=not args.no_write)


if __name__ == "__main__":
    main()
