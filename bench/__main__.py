"""Run the service benchmarks one after another; each writes its own section of BENCHMARKS.md.

    uv run python -m bench                    # cache hits (HTTP, then in-process), fast model
                                              # server, memory, start-up
    uv run python -m bench --only fast_server,memory
    uv run python -m bench --with-model       # memory and start-up on the bundled model

The default run needs no model: the model is scripted on loopback. ``--with-model`` loads the
real bundled model (peak RSS with the model loaded; start-up with the model file assembled on
the first start); the per-article timings of the bundled model are ``bench.bundled_model``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from bench import cache_hits, fast_server, hit_breakdown, memory, report, startup

DEFAULT = ("cache_hits", "hit_breakdown", "fast_server", "memory", "startup")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(DEFAULT), help="comma-separated, in order")
    parser.add_argument(
        "--with-model",
        action="store_true",
        help="memory and start-up on the bundled model instead (loads the real model)",
    )
    parser.add_argument(
        "--wait-idle",
        metavar="S",
        help="cache hits and fast server: wait up to S seconds for other processes to go idle",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    report.run_by = shlex.join(["uv", "run", "python", "-m", "bench", *sys.argv[1:]])
    extra = ["--no-write"] if args.no_write else []
    if args.with_model:
        plan = [(memory.main, ["--with-model"]), (startup.main, ["--with-model"])]
    else:
        mains = {
            "cache_hits": cache_hits.main,
            "hit_breakdown": hit_breakdown.main,
            "fast_server": fast_server.main,
            "memory": memory.main,
            "startup": startup.main,
        }
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(mains))
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(mains)}")
        idle = ["--wait-idle", args.wait_idle] if args.wait_idle is not None else []
        waits = {"cache_hits": idle, "fast_server": idle}
        plan = [(mains[n], waits.get(n, [])) for n in names]
    for run, argv in plan:
        started = time.monotonic()
        print(f"== {run.__module__} {' '.join(argv)}", file=sys.stderr, flush=True)
        run([*argv, *extra])
        print(f"== {run.__module__}: {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
