"""Bundled model, per article: the service over HTTP beside bare llama-cpp-python calls.

    uv run python -m bench.bundled_model --dataset PATH.jsonl [--dataset ...] [--limit N]
        [--write BENCHMARKS.md]

One process, one loaded model. For each article (the seed, then the first N of each dataset):

* service: ``POST /v1/summaries?refresh=true`` to the real app served by uvicorn on loopback,
  with ``SUMMARIZER_MAX_ATTEMPTS=1``, as a user runs it: the relevance call on the lead, then
  the record call for an incident. The model's transport keeps every request the service
  sends, with the seconds and tokens of its completion;
* bare: the very same requests (messages, schema, max_tokens), each completed by
  ``Llama.create_completion`` with llama-cpp-python's own grammar sampler, one token at a time
  (the service's ``GreedyGrammar`` and its draft tokens switched off), nothing else. That is
  the configuration without the service's decoding: what the same model calls cost as
  llama-cpp-python makes them.

Each article's calls start from the fixed prompt prefix alone (the KV state is reset to it
before the service's request and before the bare calls), as a new article does in production,
so neither run reuses the other's evaluation of the article. The floor of an article is, per
call, its tokens evaluated after the prefix over the prompt rate plus its completion tokens
over the generation rate, both measured at the seed's context length; completion tokens are
every token the model picked (none is appended without being picked: draft tokens are off by
default).
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

from bench.report import commit, machine, now, write_section
from service.app import create_app
from service.config import Settings
from service.local_model import (
    LocalModel,
    LocalModelTransport,
    ensure_model_file,
    response_schema,
)
from service.prompts import load_prompts

ROOT = Path(__file__).resolve().parent.parent


def _articles(datasets: list[Path], limit: int) -> list[dict[str, Any]]:
    seed = json.loads((ROOT / "seeds" / "seed-camp-taji.json").read_text())["request"]
    items = [{"id": "seed", **seed}]
    for dataset in datasets:
        for line in dataset.read_text(encoding="utf-8").splitlines()[:limit]:
            a = json.loads(line)
            items.append({"id": a["id"], "text": a["text"], "published": a.get("published")})
    return items


class RecordingTransport(LocalModelTransport):
    """The service's model transport, keeping each request body and its completion's
    seconds and tokens."""

    def __init__(self, model: LocalModel) -> None:
        super().__init__(model)
        self.calls: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(await request.aread())
        llama = self.model.llama
        before = self.model.run(lambda: llama.input_ids[: llama.n_tokens].tolist())
        response = await super().handle_async_request(request)
        result = json.loads(response.content)
        prompt_tokens = result["usage"]["prompt_tokens"]
        prompt = self.model.run(lambda: llama.input_ids[:prompt_tokens].tolist())
        self.calls.append(
            {
                "body": body,
                "s": result.get("timings", {}).get("seconds"),
                "prompt_tokens": prompt_tokens,
                # What llama-cpp-python evaluated: the prompt after the longest beginning it
                # shares with what the context held (the prefix; for the record call also
                # the title, date and lead the relevance call read).
                "evaluated_tokens": prompt_tokens - _shared(before, prompt),
                "completion_tokens": result["usage"]["completion_tokens"],
                "text": result["choices"][0]["message"]["content"],
            }
        )
        return response


def _shared(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


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


def _rates_at(model: LocalModel, system: str, prompt: str, tokens: int = 96) -> tuple[float, float]:
    """Prompt and unconstrained generation tokens/s at an article's real context length: the
    fixed prefix in the KV cache, the rest of ``prompt`` evaluated after it, then ``tokens``
    generated with all of it in the cache. Both slow down as the context grows."""
    llama = model.llama
    model.warm_up(system)
    cached = llama.n_tokens
    started = time.perf_counter()
    out: Any = llama.create_completion(prompt, max_tokens=1, temperature=0.0)  # evaluates the rest
    prompt_rate = (out["usage"]["prompt_tokens"] - cached) / (time.perf_counter() - started)
    started = time.perf_counter()
    out = llama.create_completion(prompt, max_tokens=tokens, temperature=0.0)
    return prompt_rate, out["usage"]["completion_tokens"] / (time.perf_counter() - started)


def _bare(model: LocalModel, body: dict[str, Any]) -> dict[str, Any]:
    """One request the service sent, completed by llama-cpp-python's own grammar sampler."""
    prompt = model._formatter(messages=body["messages"])
    schema = response_schema(body)
    grammar = model.grammar_for(schema) if schema is not None else None

    def complete() -> Any:
        model.llama.greedy_grammar = False
        try:
            return model.llama.create_completion(
                prompt=prompt.prompt,
                grammar=grammar,
                max_tokens=int(body.get("max_tokens") or 1024),
                temperature=0.0,
                seed=0,
                stop=prompt.stop,
            )
        finally:
            model.llama.greedy_grammar = True

    started = time.perf_counter()
    out = model.run(complete)
    return {"s": time.perf_counter() - started, **out["usage"], "text": out["choices"][0]["text"]}


def _task(body: dict[str, Any]) -> str:
    return "relevance" if "TASK relevance" in body["messages"][-1]["content"] else "record"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dataset", type=Path, action="append", default=[], help="Labelled JSON Lines set."
    )
    parser.add_argument("--limit", type=int, default=5, help="Articles taken from each set.")
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

    prompts = load_prompts()
    prefix_tokens = model.count_tokens(prompts.system)
    started = time.perf_counter()
    model.run(lambda: model.warm_up(prompts.system))
    warm_s = time.perf_counter() - started

    transport = RecordingTransport(model)
    app = create_app(settings, llm_transport=transport)
    server, base = _serve(app)

    rows: list[dict[str, Any]] = []
    seed_record: dict[str, Any] | None = None
    for article in _articles(args.dataset, args.limit):
        body = {k: article.get(k) for k in ("text", "title", "published") if article.get(k)}
        transport.calls.clear()
        model.run(lambda: model.warm_up(prompts.system))
        t = time.perf_counter()
        r = httpx.post(f"{base}/v1/summaries?refresh=true", json=body, timeout=1800)
        service_s = time.perf_counter() - t
        incident = (r.json().get("incident") or {}) if r.status_code == 200 else {}
        calls = list(transport.calls)
        # The same calls in the same order from the same start: the record call reuses
        # what the relevance call left in the KV cache (the prompt's shared beginning) in
        # both runs, so their prompts are evaluated in the same batches.
        model.run(lambda: model.warm_up(prompts.system))
        bare = [_bare(model, call["body"]) for call in calls]
        if article["id"] == "seed":
            seed_record = next((c["body"] for c in calls if _task(c["body"]) == "record"), None)
        rows.append(
            {
                "id": article["id"],
                "status": r.status_code,
                "is_incident": bool(incident.get("is_incident")),
                "service_s": service_s,
                "bare_s": sum(b["s"] for b in bare),
                "calls": [
                    {
                        "task": _task(call["body"]),
                        "service_s": call["s"],
                        "bare_s": b["s"],
                        "evaluated_tokens": call["evaluated_tokens"],
                        "completion_tokens": call["completion_tokens"],
                        "bare_completion_tokens": b["completion_tokens"],
                        "same_answer": b["text"] == call["text"],
                    }
                    for call, b in zip(calls, bare, strict=True)
                ],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    server.should_exit = True

    pp_rate = tg_rate = float("nan")
    if seed_record is not None:
        seed_prompt = model._formatter(messages=seed_record["messages"]).prompt
        pp_rate, tg_rate = model.run(lambda: _rates_at(model, prompts.system, seed_prompt))
    for row in rows:
        row["floor_s"] = sum(
            c["evaluated_tokens"] / pp_rate + c["completion_tokens"] / tg_rate for c in row["calls"]
        )
    summary = _summary(rows)
    summary.update(
        date=now(),
        prompt_rate_tok_s=pp_rate,
        gen_rate_tok_s=tg_rate,
        prefix_tokens=prefix_tokens,
        prefix_eval_s=warm_s,
        model_verify_s=verify_s,
        model_load_s=model.load_seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    if args.write:
        write_section(args.write, SECTION, _markdown(summary, rows, args))


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind of answer (an incident: two calls; ordinary news: the relevance call)."""
    out: dict[str, Any] = {"articles": len(rows), "errors": sum(r["status"] != 200 for r in rows)}
    for kind, wanted in (("incident", True), ("ordinary", False)):
        group = [r for r in rows if r["status"] == 200 and r["is_incident"] is wanted]
        if not group:
            continue
        service = [r["service_s"] for r in group]
        bare = [r["bare_s"] for r in group]
        sampled = [sum(c["completion_tokens"] for c in r["calls"]) for r in group]
        record = [c for r in group for c in r["calls"] if c["task"] == "record"]
        relevance = [c for r in group for c in r["calls"] if c["task"] == "relevance"]
        out[kind] = {
            "articles": len(group),
            "service_p50_s": statistics.median(service),
            "service_p95_s": _pct(service, 0.95),
            "bare_p50_s": statistics.median(bare),
            "service_over_bare_p50": statistics.median(
                s / b for s, b in zip(service, bare, strict=True)
            ),
            "service_over_floor_p50": statistics.median(
                r["service_s"] / r["floor_s"] for r in group
            ),
            "sampled_tokens_p50": statistics.median(sampled),
            "relevance_s_p50": statistics.median(c["service_s"] for c in relevance),
            "record_s_p50": statistics.median(c["service_s"] for c in record) if record else None,
            "same_answers": sum(c["same_answer"] for r in group for c in r["calls"]),
            "calls": sum(len(r["calls"]) for r in group),
        }
    return out


SECTION = "## Bundled model"


def _calls_cell(row: dict[str, Any], key: str, fmt: str = "{:.1f}") -> str:
    return " + ".join(fmt.format(c[key]) for c in row["calls"]) or "-"


def _markdown(summary: dict[str, Any], rows: list[dict[str, Any]], args: Any) -> str:
    s = summary
    table = [
        "| article | answered as | service s | bare s | service / bare | floor s "
        "| service / floor | service s per call (relevance + record) "
        "| tokens evaluated per call | answer tokens per call (service / bare) | same answers |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kind = "error" if r["status"] != 200 else ("incident" if r["is_incident"] else "ordinary")
        sampled = " + ".join(
            f"{c['completion_tokens']} / {c['bare_completion_tokens']}" for c in r["calls"]
        )
        same = f"{sum(c['same_answer'] for c in r['calls'])} of {len(r['calls'])}"
        table.append(
            f"| {r['id']} | {kind} | {r['service_s']:.1f} | {r['bare_s']:.1f} | "
            f"{r['service_s'] / r['bare_s']:.2f} | {r['floor_s']:.1f} | "
            f"{r['service_s'] / r['floor_s']:.2f} | {_calls_cell(r, 'service_s')} | "
            f"{_calls_cell(r, 'evaluated_tokens', '{}')} | {sampled} | {same} |"
        )
    command = " ".join(f"--dataset {d}" for d in args.dataset)
    command += f" --limit {args.limit}" if args.dataset else ""
    lines = [
        SECTION,
        "",
        "Seconds per article on the bundled model: the service over HTTP (one attempt per "
        "call: the relevance call, then the record call for an incident) beside the same "
        "requests completed by llama-cpp-python's own grammar sampler one token at a time "
        "(bare: without the service's greedy grammar check and draft tokens), in the same "
        "process, each article starting from the fixed prompt prefix. Answers of the two can "
        "differ where two tokens nearly tie (a batch is computed in another order than "
        "single steps): the last column counts the calls whose answers are the same text.",
        "",
        f"- Command: `uv run python -m bench.bundled_model {command} --write BENCHMARKS.md`",
        f"- Date: {s['date']}; commit: {commit()}; machine: {machine()}",
        f"- Rates at the seed's context (the {s['prefix_tokens']}-token prefix in the KV "
        f"cache): prompt {s['prompt_rate_tok_s']:.0f} tok/s, unconstrained generation "
        f"{s['gen_rate_tok_s']:.1f} tok/s. Floor = per call, tokens evaluated / prompt "
        "rate + answer tokens / generation rate, every token one step (draft tokens, "
        "evaluated in batches, take the service below it). Tokens evaluated are the prompt "
        "after what the KV cache already held: the prefix, and for the record call also the "
        "title, date and lead that the relevance call read (the two prompts begin alike).",
        "",
        *table,
        "",
    ]
    for kind, label in (("incident", "Incidents"), ("ordinary", "Ordinary news")):
        k = s.get(kind)
        if not k:
            continue
        record = f", record call {k['record_s_p50']:.1f} s" if k["record_s_p50"] is not None else ""
        lines.append(
            f"- {label} ({k['articles']}): service p50 / p95 {k['service_p50_s']:.1f} / "
            f"{k['service_p95_s']:.1f} s (relevance call {k['relevance_s_p50']:.1f} s{record}); "
            f"bare p50 {k['bare_p50_s']:.1f} s; service / bare {k['service_over_bare_p50']:.2f}; "
            f"service / floor {k['service_over_floor_p50']:.2f}; answer tokens per article "
            f"p50 {k['sampled_tokens_p50']:.0f}; answers equal to the bare ones: "
            f"{k['same_answers']} of {k['calls']}."
        )
    lines += [
        f"- Fixed prompt prefix: {s['prefix_tokens']} tokens, evaluated once in "
        f"{s['prefix_eval_s']:.1f} s (or loaded from its saved state) and reused from the KV "
        "cache by every call.",
        f"- Model file check (SHA-256 of 1.1 GB): {s['model_verify_s']:.1f} s; model load: "
        f"{s['model_load_s']:.1f} s; peak RSS of the process: {s['peak_rss_mb']:.0f} MB.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
