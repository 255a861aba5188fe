"""Ranked search (``GET /v1/summaries?q=``) at 100,000 records: this commit's store against the
search of an earlier commit, on the same data, in the same process and minutes.

    uv run python -m bench.search_before --before COMMIT [--records 100000] [--requests 200]
        [--clients 8] [--backends sqlite,postgresql] [--no-write]

The earlier commit's search methods (``Store._search_sqlite``, ``Store._sqlite_best``,
``Store._search``, as that commit's ``service/store.py`` holds them) are taken with ``git show``
and run on a subclass of today's ``Store``, on today's schema (they read only tables and
columns the schema still has). The data, the clients and the closed loop are
``bench.listing``'s. Before measuring, every query pages through its first pages both ways and
the bodies and cursors are compared: the table is written only when they are the same.
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import service.store as store_module
from bench import report
from bench.listing import COMMON, RARE, backend_store, load, measure, pct
from service.store import ListQuery, Store

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Ranked search against the commit before"
METHODS = ("_search_sqlite", "_sqlite_best", "_search")
PAGES = 5  # compared both ways before measuring


def store_of(commit: str) -> type[Store]:
    """A ``Store`` whose search methods are ``commit``'s."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:service/store.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tree = ast.parse(source)
    store = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Store")
    methods = [
        ast.get_source_segment(source, node, padded=True) or ""
        for node in store.body
        if isinstance(node, ast.FunctionDef) and node.name in METHODS
    ]
    namespace = dict(vars(store_module))
    exec("class Before(Store):\n" + "\n".join(methods), namespace)  # our own source, at a commit
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


def run_backend(backend: str, before: type[Store], args: argparse.Namespace) -> list[list[str]]:
    rows: list[list[str]] = []
    with backend_store(backend, args.clients) as store:
        store.migrate()
        seconds = load(store, args.records)
        print(f"{backend}: {args.records:,} records loaded in {seconds:.0f} s", file=sys.stderr)
        old = before(store.engine)
        for i, (label, q, page) in enumerate(QUERIES):
            if pages(store, q, PAGES) != pages(old, q, PAGES):
                raise SystemExit(f"{backend}, {q!r}: the two searches page differently")
            cursor = pages(store, q, page - 1)[-1][1] if page > 1 else None

            def current(q: str = q, cursor: str | None = cursor) -> Any:
                return store.list(ListQuery(q=q, limit=20, cursor=cursor))

            def earlier(q: str = q, cursor: str | None = cursor) -> Any:
                return old.list(ListQuery(q=q, limit=20, cursor=cursor))

            order = [("current", current), ("before", earlier)]
            if i % 2:
                order.reverse()
            results = {name: measure(call, args.requests, args.clients) for name, call in order}
            cur, prev = results["current"], results["before"]
            ratio = statistics.median(cur) / statistics.median(prev)
            rows.append(
                [
                    backend,
                    label,
                    f"{pct(cur, 50):.2f} / {pct(cur, 99):.2f}",
                    f"{pct(prev, 50):.2f} / {pct(prev, 99):.2f}",
                    f"{ratio:.2f}x",
                ]
            )
            print(" | ".join(rows[-1]), file=sys.stderr)
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
    before = store_of(args.before)
    load_before = os.getloadavg()
    table = []
    for backend in args.backends.split(","):
        table += run_backend(backend, before, args)
    load_after = os.getloadavg()
    lines = [
        HEADING,
        "",
        f"`GET /v1/summaries?q=` at {args.records:,} stored records (`bench.listing`'s data), "
        f"each article once, page size 20: this commit's search against commit {args.before}'s "
        "(its search methods run on today's schema), alternating which runs first. The first "
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
