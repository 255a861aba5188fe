"""Bundled model, per article: the service over HTTP beside a bare llama-cpp-python call.

    uv run python -m bench.bundled_model [--dataset PATH.jsonl] [--limit N] [--write BENCHMARKS.md]

One process, one loaded model. For each article (the seed, then the first N of the dataset)
it times, alternating which goes first:

* bare: ``Llama.create_completion`` on the same chat-formatted prompt, the same grammar (compiled
  from the same draft schema) and the same max_tokens, with llama-cpp-python's own grammar
  sampler (the service's ``GreedyGrammar`` switched off for this call), nothing else;
* service: ``POST /v1/summaries?refresh=true`` to the real app served by uvicorn on loopback,
  with ``SUMMARIZER_MAX_ATTEMPTS=1`` so both do exactly one completion.

Both reuse the KV state of the fixed prompt prefix (evaluated once before timing starts), as the
service does in production, and each timed call starts from that prefix alone (the KV state is
reset to it before every call), so neither reuses the other's evaluation of the article. The
floor of an article is its article tokens over the measured prompt rate plus its
completion tokens over the measured generation rate.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.report import commit, machine, write_section
from schemas.incident import IncidentDraft
from service.app import create_app
from service.config import Settings
from service.local_model import LocalModel, LocalModelTransport, ensure_model_file
from service.prompts import load_prompts

ROOT = Path(__file__).resolve().parent.parent


def _articles(dataset: Path | None, limit: int) -> list[dict[str, Any]]:
    seed = json.loads((ROOT / "seeds" / "seed-camp-taji.json").read_text())["request"]
    items = [{"id": "seed", **seed}]
    if dataset and dataset.exists():
        for line in dataset.read_text(encoding="utf-8").splitlines()[:limit]:
            a = json.loads(line)
            items.append({"id": a["id"], "text": a["text"], "published": a.get("published")})
    return items


def _serve(app: Any) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("service did not start")


def _rates(model: LocalModel) -> tuple[float, float]:
    """Prompt and generation tokens/s of this machine, on a bare context."""
    llama = model.llama
    llama.reset()
    prompt = "The council met on Tuesday to discuss the budget for the new year. " * 40
    started = time.perf_counter()
    out = llama.create_completion(prompt, max_tokens=1, temperature=0.0)
    pp = out["usage"]["prompt_tokens"] / (time.perf_counter() - started)
    llama.reset()
    started = time.perf_counter()
    out = llama.create_completion("Once upon a time", max_tokens=96, temperature=0.0)
    elapsed = time.perf_counter() - started
    tg = out["usage"]["completion_tokens"] / elapsed
    llama.reset()
    return pp, tg


def _rates_at(model: LocalModel, system: str, prompt: str, tokens: int = 96) -> tuple[float, float]:
    """Prompt and unconstrained generation tokens/s at an article's real context length: the
    fixed prefix in the KV cache, the rest of ``prompt`` evaluated after it, then ``tokens``
    generated with all of it in the cache. Both slow down as the context grows."""
    llama = model.llama
    model.warm_up(system)
    cached = llama.n_tokens
    started = time.perf_counter()
    out = llama.create_completion(prompt, max_tokens=1, temperature=0.0)  # evaluates the rest
    prompt_rate = (out["usage"]["prompt_tokens"] - cached) / (time.perf_counter() - started)
    started = time.perf_counter()
    out = llama.create_completion(prompt, max_tokens=tokens, temperature=0.0)
    return prompt_rate, out["usage"]["completion_tokens"] / (time.perf_counter() - started)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=None, help="Labelled JSON Lines set.")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--write", type=Path, default=None, help="Write the results into this BENCHMARKS.md."
    )
    args = parser.parse_args()

    settings = Settings(max_attempts=1, database_url="sqlite:///:memory:", _env_file=None)
    started = time.perf_counter()
    file = ensure_model_file(settings)
    verify_s = time.perf_counter() - started
    model = LocalModel(settings, file)
    pp_rate, tg_rate = model.run(lambda: _rates(model))

    prompts = load_prompts()
    schema = IncidentDraft.model_json_schema()
    prefix_tokens = model.count_tokens(prompts.system)
    started = time.perf_counter()
    model.warm_up(prompts.system)
    warm_s = time.perf_counter() - started

    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    seed = _articles(None, 0)[0]
    seed_prompt = model._formatter(
        messages=prompts.messages(
            task="record",
            sentences=_numbered(seed["text"]),
            title=seed.get("title"),
            published=seed.get("published"),
        )
    ).prompt
    pp_at_context, tg_at_context = model.run(lambda: _rates_at(model, prompts.system, seed_prompt))
    app = create_app(settings, llm_transport=LocalModelTransport(model))
    server, base = _serve(app)

    rows = []
    for i, article in enumerate(_articles(args.dataset, args.limit)):
        # The record call alone: the bare baseline has no relevance call.
        messages = prompts.messages(
            task="record",
            sentences=_numbered(article["text"]),
            title=article.get("title"),
            published=article.get("published"),
        )
        body = {k: article.get(k) for k in ("text", "title", "published") if article.get(k)}

        def bare(messages: list[dict] = messages) -> dict[str, Any]:
            t = time.perf_counter()
            # The same token sequence the service sends: the model's chat template applied
            # to the same messages, so both reuse the same cached prefix.
            prompt = model._formatter(messages=messages)
            model.llama.greedy_grammar = False
            try:
                # On the model's thread, where the service's completions run too.
                out = model.run(
                    lambda: model.llama.create_completion(
                        prompt=prompt.prompt,
                        grammar=grammar,
                        max_tokens=settings.max_tokens,
                        temperature=0.0,
                        seed=0,
                        stop=prompt.stop,
                    )
                )
            finally:
                model.llama.greedy_grammar = True
            return {"s": time.perf_counter() - t, **out["usage"]}

        def service(body: dict = body) -> dict[str, Any]:
            t = time.perf_counter()
            r = httpx.post(f"{base}/v1/summaries?refresh=true", json=body, timeout=900)
            elapsed = time.perf_counter() - t
            usage = r.json().get("usage", {}) if r.status_code == 200 else {}
            return {"s": elapsed, "status": r.status_code, **usage}

        first, second = (bare, service) if i % 2 == 0 else (service, bare)
        # Each timed call starts from the fixed prefix alone, as a new article does in
        # production: without the reset the second call would reuse the first's article.
        model.warm_up(prompts.system)
        a = first()
        model.warm_up(prompts.system)
        b = second()
        b_res, s_res = (a, b) if first is bare else (b, a)
        article_tokens = model.count_tokens(article["text"])
        floor = article_tokens / pp_rate + b_res["completion_tokens"] / tg_rate
        floor_at_context = (
            article_tokens / pp_at_context + b_res["completion_tokens"] / tg_at_context
        )
        rows.append(
            {
                "id": article["id"],
                "bare_s": b_res["s"],
                "service_s": s_res["s"],
                "status": s_res.get("status"),
                "prompt_tokens": b_res["prompt_tokens"],
                "article_tokens": article_tokens,
                "completion_tokens": b_res["completion_tokens"],
                "service_completion_tokens": s_res.get("completion_tokens"),
                "floor_s": floor,
                "floor_at_context_s": floor_at_context,
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    server.should_exit = True
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = [r for r in rows if r["status"] == 200]
    service = [r["service_s"] for r in ok]
    bare = [r["bare_s"] for r in ok]
    summary = {
        "articles": len(rows),
        "ok": len(ok),
        "service_p50_s": statistics.median(service),
        "service_p95_s": _pct(service, 0.95),
        "bare_p50_s": statistics.median(bare),
        "bare_p95_s": _pct(bare, 0.95),
        "service_over_bare_p50": statistics.median(r["service_s"] / r["bare_s"] for r in ok),
        "service_over_floor_p50": statistics.median(r["service_s"] / r["floor_s"] for r in ok),
        "service_over_floor_at_context_p50": statistics.median(
            r["service_s"] / r["floor_at_context_s"] for r in ok
        ),
        "gen_rate_at_context_tok_s": tg_at_context,
        "prompt_rate_at_context_tok_s": pp_at_context,
        "prompt_tokens_mean": statistics.mean(r["prompt_tokens"] for r in rows),
        "completion_tokens_mean": statistics.mean(r["completion_tokens"] for r in rows),
        "prompt_rate_tok_s": pp_rate,
        "gen_rate_tok_s": tg_rate,
        "prefix_tokens": prefix_tokens,
        "prefix_eval_s": warm_s,
        "model_verify_s": verify_s,
        "model_load_s": model.load_seconds,
        "peak_rss_mb": peak_mb,
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    if args.write:
        write_section(args.write, SECTION, _markdown(summary, rows, args))


SECTION = "## Bundled model"


def _markdown(summary: dict[str, Any], rows: list[dict[str, Any]], args: Any) -> str:
    s = summary
    table = [
        "| article | service s | bare s | service / bare | floor s | service / floor "
        "| floor at context s | service / floor at context "
        "| prompt tok | article tok | completion tok (bare / service) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        table.append(
            f"| {r['id']} | {r['service_s']:.1f} | {r['bare_s']:.1f} | "
            f"{r['service_s'] / r['bare_s']:.2f} | {r['floor_s']:.1f} | "
            f"{r['service_s'] / r['floor_s']:.2f} | {r['floor_at_context_s']:.1f} | "
            f"{r['service_s'] / r['floor_at_context_s']:.2f} | {r['prompt_tokens']} | "
            f"{r['article_tokens']} | {r['completion_tokens']} / "
            f"{r['service_completion_tokens']} |"
        )
    limit = f" --limit {args.limit}" if args.limit else ""
    if args.dataset:
        limit = f" --dataset {args.dataset}{limit}"
    return "\n".join(
        [
            SECTION,
            "",
            "Seconds per article on the bundled model: the service over HTTP (one attempt) "
            "beside a bare llama-cpp-python call with the same prompt tokens and grammar, in "
            "the same process, alternating which goes first.",
            "",
            f"- Command: `uv run python -m bench.bundled_model{limit} --write BENCHMARKS.md`",
            f"- Commit: {commit()}; machine: {machine()}",
            f"- Measured rates on a bare context: prompt {s['prompt_rate_tok_s']:.0f} tok/s, "
            f"generation {s['gen_rate_tok_s']:.1f} tok/s. Floor = article tokens / prompt rate "
            "+ completion tokens / generation rate. Both rates drop as the context grows: "
            f"the seed's article evaluated after the {s['prefix_tokens']}-token prefix ran at "
            f"{s['prompt_rate_at_context_tok_s']:.0f} tok/s, and unconstrained generation "
            f"with its {rows[0]['prompt_tokens']} prompt tokens in the KV cache at "
            f"{s['gen_rate_at_context_tok_s']:.1f} tok/s; the floor at context uses those "
            "rates, the ones any completion of this prompt pays on this machine.",
            "",
            *table,
            "",
            f"- Service p50 / p95: {s['service_p50_s']:.1f} / {s['service_p95_s']:.1f} s; bare "
            f"p50 / p95: {s['bare_p50_s']:.1f} / {s['bare_p95_s']:.1f} s; service / bare "
            f"(median of per-article ratios): {s['service_over_bare_p50']:.3f}; service / "
            f"floor: {s['service_over_floor_p50']:.2f}; service / floor at context: "
            f"{s['service_over_floor_at_context_p50']:.2f}.",
            f"- Tokens per article (mean): prompt {s['prompt_tokens_mean']:.0f}, completion "
            f"{s['completion_tokens_mean']:.0f}.",
            f"- Fixed prompt prefix: {s['prefix_tokens']} tokens, evaluated once in "
            f"{s['prefix_eval_s']:.1f} s and reused from the KV cache by every request: that is "
            "the time each request saves.",
            f"- Model file check (SHA-256 of 1.1 GB): {s['model_verify_s']:.1f} s; model load: "
            f"{s['model_load_s']:.1f} s; peak RSS of the process: {s['peak_rss_mb']:.0f} MB.",
            "",
        ]
    )


if __name__ == "__main__":
    main()


def _numbered(text: str) -> str:
    from service.language import detect_language
    from service.sentences import numbered, split_sentences

    return numbered(split_sentences(text, detect_language(text)))
