"""Draft tokens on the bundled model: the record answer with and without them, side by side.

    uv run python -m bench.draft_tokens [--dataset PATH.jsonl] [--limit N] [--write BENCHMARKS.md]

One process, one loaded model. For each article (the seed, then the first N of the dataset) the
record prompt is evaluated once, then the record answer is generated twice from that cached
prompt, with drafting on (``SUMMARIZER_LOCAL_DRAFT_TOKENS``, as the service runs) and off,
alternating which goes first. Both use the service's schema, grammar and greedy decoding.
Reported: generation seconds of each, their ratio, whether the two answers are the same text
(a batch is computed in another order than single steps, so a near-tie between two tokens can
fall the other way), and how the answer's tokens were made: taken from a draft (evaluated in a
batch with the token before them) or picked one step at a time (one evaluation each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.report import provenance, publish
from service.config import Settings
from service.extract import DraftResponse
from service.greedy_grammar import SchemaDraft
from service.local_model import LocalModel, ensure_model_file
from service.prompts import PromptSet, load_prompts
from service.sentences import numbered, split_sentences

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Draft tokens on the bundled model"


def incident_articles(dataset: Path | None, limit: int) -> list[dict[str, Any]]:
    """The seed, then the first ``limit`` incidents of ``dataset``."""
    seed = json.loads((ROOT / "seeds" / "seed-camp-taji.json").read_text())["request"]
    items = [{"id": "seed", **seed}]
    if dataset and dataset.exists():
        for line in dataset.read_text(encoding="utf-8").splitlines():
            a = json.loads(line)
            if a.get("is_incident", True) and len(items) <= limit:
                items.append({"id": a["id"], "text": a["text"], "published": a.get("published")})
    return items


def record_prompt(model: LocalModel, prompts: PromptSet, article: dict[str, Any]) -> str:
    """The record call's prompt for ``article``, as the model reads it."""
    messages = prompts.messages(
        task="record",
        sentences=numbered(split_sentences(article["text"])),
        title=None,
        published=article.get("published"),
    )
    return str(model._formatter(messages=messages).prompt)


def command_of(module: str, args: argparse.Namespace) -> str:
    """The command line that ran ``module`` with ``args`` (dataset, limit, write)."""
    return (
        f"uv run python -m {module}"
        + (f" --dataset {args.dataset} --limit {args.limit}" if args.dataset else "")
        + (f" --write {args.write}" if args.write else "")
    )


def _load() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--draft-tokens", type=int, default=8)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()

    load_before = _load()
    settings = Settings(_env_file=None)
    model = LocalModel(settings, ensure_model_file(settings))
    llama = model.llama
    drafter = SchemaDraft(llama, max_tokens=args.draft_tokens)
    grammar = model.grammar_for(DraftResponse.model_json_schema())
    prompts = load_prompts()
    decodes = [0]
    decode = llama._ctx.decode

    def counting(batch: Any) -> Any:
        decodes[0] += 1
        return decode(batch)

    llama._ctx.decode = counting

    def complete(prompt: str, drafting: bool) -> dict[str, Any]:
        llama.draft_model = None
        # Leave exactly the prompt in the context with live logits: the answer starts at once.
        model.run(lambda: llama.create_completion(prompt=prompt, max_tokens=1, temperature=0))
        llama.draft_model = drafter if drafting else None
        decodes[0] = 0
        started = time.perf_counter()
        out = model.run(
            lambda: llama.create_completion(
                prompt=prompt,
                grammar=grammar,
                max_tokens=args.max_tokens,
                temperature=0.0,
                seed=0,
            )
        )
        seconds = time.perf_counter() - started
        stats = llama.draft_stats
        return {
            "text": out["choices"][0]["text"],
            "tokens": out["usage"]["completion_tokens"],
            "seconds": seconds,
            "decodes": decodes[0],
            "drafted": stats.drafted,
            "accepted": stats.accepted,
        }

    rows = []
    for n, article in enumerate(incident_articles(args.dataset, args.limit)):
        prompt = record_prompt(model, prompts, article)
        order = [True, False] if n % 2 == 0 else [False, True]
        results = {drafting: complete(prompt, drafting) for drafting in order}
        on, off = results[True], results[False]
        on["same"] = on["text"] == off["text"]
        rows.append((article["id"], on, off))
        print(article["id"], json.dumps({"on": {**on, "text": None}, "off": {**off, "text": None}}))
    model.close()

    ratios = [off["seconds"] / on["seconds"] for _, on, off in rows]
    command = command_of("bench.draft_tokens", args)
    lines = [
        HEADING,
        "",
        "The record answer generated from the same cached prompt with draft tokens "
        f"(as `SUMMARIZER_LOCAL_DRAFT_TOKENS={drafter.max_tokens}`: the text the schema fixes) "
        "and without, alternating which goes first; each row's two runs are back to back.",
        "",
        *provenance(command),
        f"- Load average at the start / end of the run: {load_before} / {_load()}.",
        "",
        "| article | answer tokens | from drafts | picked one at a time | evaluations with / "
        "without drafts | drafted, not kept | seconds with / without | speed-up | same answer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (name, on, off), ratio in zip(rows, ratios, strict=True):
        lines.append(
            f"| {name} | {on['tokens']} | {on['accepted']} | {on['tokens'] - on['accepted']} | "
            f"{on['decodes']} / {off['decodes']} | {on['drafted'] - on['accepted']} | "
            f"{on['seconds']:.1f} / {off['seconds']:.1f} | {ratio:.2f}x | "
            f"{'yes' if on['same'] else 'no'} |"
        )
    tokens = sum(on["tokens"] for _, on, _ in rows)
    accepted = sum(on["accepted"] for _, on, _ in rows)
    lines += [
        "",
        f"- Per article (mean): {tokens / len(rows):.0f} answer tokens, "
        f"{accepted / len(rows):.0f} taken from drafts, {(tokens - accepted) / len(rows):.0f} "
        "picked by the model one evaluation at a time.",
        f"- Generation time without drafts / with: median {statistics.median(ratios):.2f}x.",
        f"- Same answer with and without drafts: {sum(on['same'] for _, on, _ in rows)} of "
        f"{len(rows)}.",
    ]
    publish(args.write or Path("BENCHMARKS.md"), HEADING, "\n".join(lines), write=bool(args.write))


if __name__ == "__main__":
    main()
