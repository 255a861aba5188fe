"""Tokens the schema fixes: what appending them without sampling would save on this CPU.

    uv run python -m bench.forced_tokens [--dataset PATH.jsonl] [--limit N] [--write BENCHMARKS.md]

One process, one loaded model. For each article (the seed, then the first N incidents of the
dataset) the record answer is generated as the service generates it (the record prompt after
the cached prefix, the draft schema's grammar, greedy decoding), and its tokens are sorted:

* fixed: every character is a JSON key with its quotes and colon, structural punctuation
  (``{}[],``) or whitespace between them: what the schema decides, not the model;
* written: the rest (values: numbers, enum words, names, the summary and headline).

Then, from the same context, the cost of evaluating k tokens in one batch with the logits of the
last position only (how tokens fixed by the schema would be appended, unsampled) is measured
for k = 1..8, against k single-token steps. The saving of an answer is, for each run of r
consecutive fixed tokens, what r + 1 single steps (the token before the run and the run) cost
minus one batch of r + 1; it is set against the answer's generation seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import partial
from pathlib import Path

from bench.draft_tokens import command_of, incident_articles, record_prompt
from bench.report import provenance, publish
from service.config import Settings
from service.extract import DraftResponse
from service.local_model import LocalModel, ensure_model_file
from service.prompts import load_prompts

HEADING = "## Tokens the schema fixes"
BATCHES = range(1, 9)


def fixed_characters(text: str) -> list[bool]:
    """For each character of a JSON text: is it part of a key (quotes and colon included),
    structural punctuation, or whitespace outside strings?"""
    fixed = [False] * len(text)
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            after = end + 1
            while after < len(text) and text[after] in " \t\r\n":
                after += 1
            if after < len(text) and text[after] == ":":  # a key
                for j in range(i, after + 1):
                    fixed[j] = True
                i = after + 1
            else:
                i = end + 1
            continue
        if c in "{}[],: \t\r\n":
            fixed[i] = True
        i += 1
    return fixed


def runs_of_fixed(pieces: list[str], fixed: list[bool]) -> tuple[list[bool], list[int]]:
    """Which tokens (by their text ``pieces``) are fixed, and the lengths of their runs."""
    marks, position = [], 0
    for piece in pieces:
        span = fixed[position : position + len(piece)]
        marks.append(bool(span) and all(span))
        position += len(piece)
    runs, current = [], 0
    for mark in marks:
        if mark:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return marks, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="Timings per batch size.")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()

    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    llama = model.llama
    grammar = model.grammar_for(DraftResponse.model_json_schema())
    prompts = load_prompts()
    model.warm_up(prompts.system)

    def generate(prompt: str) -> tuple[list[int], float, int]:
        # Leave exactly the prompt in the context with live logits: the answer starts at once.
        llama.create_completion(prompt=prompt, max_tokens=1, temperature=0)
        n_prompt = llama.n_tokens
        llama.top_logprobs = 0  # keeps each picked token
        started = time.perf_counter()
        try:
            llama.create_completion(
                prompt=prompt, grammar=grammar, max_tokens=1024, temperature=0.0, seed=0
            )
            tokens = [p.token for p in llama.picked_logprobs if p.token != llama.token_eos()]
        finally:
            llama.top_logprobs = None
            llama.picked_logprobs = []
        return tokens, time.perf_counter() - started, n_prompt

    def batch_costs(tokens: list[int], n_prompt: int) -> dict[int, float]:
        costs = {}
        for k in BATCHES:
            times = []
            for _ in range(args.repeat):
                llama._ctx.kv_cache_seq_rm(-1, n_prompt, -1)
                llama.n_tokens = n_prompt
                started = time.perf_counter()
                llama.eval(tokens[:k])  # logits of the last position only
                times.append(time.perf_counter() - started)
            costs[k] = statistics.median(times)
        return costs

    rows = []
    for article in incident_articles(args.dataset, args.limit):
        prompt = record_prompt(model, prompts, article)
        tokens, seconds, n_prompt = model.run(partial(generate, prompt))
        costs = model.run(partial(batch_costs, tokens, n_prompt))
        pieces = [llama.detokenize([t]).decode("utf-8", errors="replace") for t in tokens]
        marks, runs = runs_of_fixed(pieces, fixed_characters("".join(pieces)))
        single = costs[1]
        saved = 0.0
        for r in runs:
            for start in range(0, r + 1, max(BATCHES)):  # runs longer than the largest batch
                k = min(max(BATCHES), r + 1 - start)
                saved += k * single - costs[k]
        row = {
            "id": article["id"],
            "tokens": len(tokens),
            "fixed": sum(marks),
            "runs": len(runs),
            "seconds": seconds,
            "saved": saved,
            "costs_ms": {k: round(c * 1000, 1) for k, c in costs.items()},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    model.close()

    per_k = {k: statistics.median(r["costs_ms"][k] for r in rows) for k in BATCHES}
    command = command_of("bench.forced_tokens", args)
    lines = [
        HEADING,
        "",
        "How many tokens of a record answer the draft schema fixes (keys, punctuation), and what "
        "evaluating them in one batch with the logits of its last position only would save on "
        "this CPU: the bound on what draft tokens of that text can save (they also need the "
        "logits of each drafted position, to check it is the model's own pick).",
        "",
        *provenance(command),
        "",
        "Evaluating k tokens in one batch (logits of the last only), from the record prompt's "
        "context, median over the articles:",
        "",
        "| k | ms | ms per token | against k single steps |",
        "|---:|---:|---:|---:|",
        *(
            f"| {k} | {per_k[k]:.1f} | {per_k[k] / k:.1f} | {per_k[k] / (k * per_k[1]):.2f}x |"
            for k in BATCHES
        ),
        "",
        "| article | answer tokens | fixed by the schema | runs of fixed tokens | generation s "
        "| saved by batches s | share |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['id']} | {r['tokens']} | {r['fixed']} | {r['runs']} | {r['seconds']:.1f} | "
            f"{r['saved']:.1f} | {r['saved'] / r['seconds']:.0%} |"
            for r in rows
        ),
        "",
        f"- Tokens fixed by the schema, median per answer: "
        f"{statistics.median(r['fixed'] for r in rows):.0f} of "
        f"{statistics.median(r['tokens'] for r in rows):.0f}.",
        f"- Generation seconds that batches would save, median: "
        f"{statistics.median(r['saved'] / r['seconds'] for r in rows):.0%}.",
    ]
    publish(args.write or Path("BENCHMARKS.md"), HEADING, "\n".join(lines), write=bool(args.write))


if __name__ == "__main__":
    main()
