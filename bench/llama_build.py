"""The shipped llama.cpp build against a native build of the same version, side by side.

    uv run python -m bench.llama_build --native-python /tmp/native-llama/venv/bin/python \\
        [--rounds 3] [--prompt-tokens 1024] [--gen-tokens 64] [--write BENCHMARKS.md]

The shipped build is this environment's llama-cpp-python (every CPU variant, the best loaded at
start: ``service.cpu_backend``). The native build is the same llama-cpp-python version compiled
with ``GGML_NATIVE=ON`` in a separate virtual environment outside the repository, e.g.::

    uv venv /tmp/native-llama/venv
    uv pip install --python /tmp/native-llama/venv/bin/python \\
        llama-cpp-python==0.3.36 -C cmake.define.GGML_NATIVE=ON -C cmake.define.LLAVA_BUILD=OFF

Each round runs ``bench.llama_rates`` once in each interpreter, the two alternating which goes
first (A/B, then B/A), on the same model file, prompt and thread count; each process loads the
model, evaluates the prompt in one batch and then generates greedily, twice, and reports its
median rates. The ratios are taken within a round, then their median over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.report import provenance, publish
from service import cpu_backend
from service.config import Settings
from service.local_model import ensure_model_file
from service.prompts import load_prompts
from service.sentences import numbered, split_sentences

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## llama.cpp build: shipped against native"


def _prompt_text() -> str:
    seed = json.loads((ROOT / "seeds" / "seed-camp-taji.json").read_text())["request"]
    messages = load_prompts().messages(
        task="record",
        sentences=numbered(split_sentences(seed["text"])),
        title=None,
        published=seed.get("published"),
    )
    return "\n".join(m["content"] for m in messages)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _run(python: str, args: argparse.Namespace, model: Path, text: Path, threads: int) -> Any:
    command = [
        python,
        "-m",
        "bench.llama_rates",
        "--model",
        str(model),
        "--text",
        str(text),
        "--prompt-tokens",
        str(args.prompt_tokens),
        "--gen-tokens",
        str(args.gen_tokens),
        "--threads",
        str(threads),
    ]
    env = {k: v for k, v in os.environ.items() if k != "GGML_BACKEND_PATH"}
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{python} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--native-python", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=1024)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()

    model = ensure_model_file(Settings(_env_file=None)).path
    threads = cpu_backend.available_cores()
    builds = {"shipped": sys.executable, "native": args.native_python}
    rows: list[tuple[int, str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "prompt.txt"
        text.write_text(_prompt_text(), encoding="utf-8")
        for n in range(args.rounds):
            order = ["shipped", "native"] if n % 2 == 0 else ["native", "shipped"]
            for name in order:
                before = _loadavg()
                result = _run(builds[name], args, model, text, threads)
                result["loadavg"] = f"{before} -> {_loadavg()}"
                rows.append((n + 1, name, result))
                print(n + 1, name, json.dumps(result), file=sys.stderr)

    def rate(n: int, name: str, key: str) -> float:
        return next(r[key] for i, b, r in rows if i == n and b == name)

    rounds = range(1, args.rounds + 1)
    prompt_ratios = [
        rate(n, "shipped", "prompt_tps") / rate(n, "native", "prompt_tps") for n in rounds
    ]
    gen_ratios = [rate(n, "shipped", "gen_tps") / rate(n, "native", "gen_tps") for n in rounds]
    shipped = next(r for _, b, r in rows if b == "shipped")
    native = next(r for _, b, r in rows if b == "native")
    command = (
        f"uv run python -m bench.llama_build --native-python {args.native_python} --rounds "
        f"{args.rounds} --prompt-tokens {args.prompt_tokens} --gen-tokens {args.gen_tokens}"
        + (f" --write {args.write}" if args.write else "")
    )
    lines = [
        HEADING,
        "",
        "Prompt evaluation and generation rates of the llama.cpp this project installs (every CPU "
        "variant built, the best one loaded at start) against the same llama-cpp-python version "
        "built with `GGML_NATIVE=ON` in a separate virtual environment, on the same model file, "
        "prompt and threads.",
        "",
        *provenance(command),
        f"- llama-cpp-python {shipped['llama_cpp']} in both; threads: {threads} (the cores "
        "available) for prompt and generation.",
        f"- Shipped build loaded the `{shipped['variant']}` variant: {shipped['features']}",
        f"- Native build: {native['features']}",
        f"- Prompt: the first {args.prompt_tokens} tokens of the seed article's record prompt, "
        f"evaluated in one batch; then {args.gen_tokens} tokens generated greedily after it. Each "
        "process does both twice and reports its medians; rounds alternate which build runs "
        "first.",
        _machine_note(rows[0][2]["loadavg"], threads),
        "",
        "| round | build | prompt tok/s | generation tok/s | load average (before -> after) |",
        "|---:|---|---:|---:|---|",
    ]
    for n, name, r in rows:
        lines.append(
            f"| {n} | {name} | {r['prompt_tps']:.1f} | {r['gen_tps']:.1f} | {r['loadavg']} |"
        )
    lines += [
        "",
        "| | shipped / native, per round | median |",
        "|---|---|---:|",
        f"| prompt | {', '.join(f'{x:.2f}' for x in prompt_ratios)} | "
        f"{statistics.median(prompt_ratios):.2f}x |",
        f"| generation | {', '.join(f'{x:.2f}' for x in gen_ratios)} | "
        f"{statistics.median(gen_ratios):.2f}x |",
        "",
        "Target: at least 0.95x for both (the AVX2-only build it replaces measured 0.66x and "
        "0.92x on this machine).",
    ]
    publish(args.write or Path("BENCHMARKS.md"), HEADING, "\n".join(lines), write=bool(args.write))


def _machine_note(first: str, threads: int) -> str:
    """What the load average before the run's first process says of the machine. Later ones
    include the run's own previous process (the load average decays over a minute)."""
    before = float(first.split()[0])
    if before < 0.5:
        return (
            f"- The machine was otherwise idle when the run began (1-minute load average "
            f"{before:.2f}); the load averages below rise with the run's own processes "
            f"({threads} threads each, one process at a time)."
        )
    return (
        f"- **The machine was busy** when the run began (1-minute load average {before:.2f} on "
        f"{threads} cores): absolute rates are low and noisy; the ratios within a round, "
        "measured back to back, are what counts."
    )


if __name__ == "__main__":
    main()
