"""Evaluation harness: run a labelled JSON Lines set through the service and score it.

Each article goes through the full product path (HTTP, validation, re-asks, the pipeline) with
``refresh=true``, against a running server or one started in-process, and the predictions are
written as JSON Lines and scored with ``service.scoring``.

``--ablation`` asks the model once per article (in-process, through the service's own
``Summarizer``) and runs the pipeline on those answers several times: with every step (the
service), with none but the bounds and the evidence alignment (the baseline: the model's own
answers), and with each step switched off in turn, so each step's contribution is measured on
the very same answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from service.config import Settings
from service.scoring import Failure, Report, score

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.summarize import Article

Prediction = dict[str, Any]
OnPrediction = Callable[[Prediction], None]

REQUEST_FIELDS = ("text", "published", "language")
# The bundled model on a CPU can take minutes per article, and it is loaded (even assembled
# from its parts) before the server reports ready.
REQUEST_TIMEOUT_S = 900.0
READY_TIMEOUT_S = 1800.0
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class EvaluationError(RuntimeError):
    """The evaluation could not run (bad dataset, server not ready)."""


# --- dataset -------------------------------------------------------------------------------


def load_dataset(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The labelled items of a JSON Lines file, in file order, the first ``limit`` only."""
    items: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvaluationError(f"{path}:{number}: not JSON: {exc}") from exc
            if not isinstance(item, dict) or not {"id", "text", "is_incident"} <= item.keys():
                raise EvaluationError(f"{path}:{number}: needs at least id, text and is_incident")
            items.append(item)
            if limit is not None and len(items) >= limit:
                break
    return items


def request_body(item: dict[str, Any]) -> dict[str, Any]:
    body = {k: item[k] for k in REQUEST_FIELDS if item.get(k) is not None}
    if item.get("html") is not None:
        # The page instead of the text; its publication date is in its markup.
        del body["text"]
        body.pop("published", None)
        body["html"] = item["html"]
    return body


# --- the same articles in other forms: as web pages, or padded into long articles ------------


def as_pages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item with ``html``: its text as the article of a news page (``service.news_page``),
    sent instead of the text."""
    from service.news_page import wrap

    return [
        {
            **item,
            "html": wrap(item["text"], key=str(item["id"]), published=item.get("published")).html,
        }
        for item in items
    ]


def padded(
    items: list[dict[str, Any]], words: int, pool: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Each item's text followed by paragraphs of other articles (unrelated text, from
    ``pool``, by default the items themselves) until it has ``words`` words: a long article
    whose incident is in its own first part."""
    pool = pool or items
    out = []
    for index, item in enumerate(items):
        parts = [item["text"]]
        count = len(item["text"].split())
        others = [p for p in pool[index + 1 :] + pool[:index] if p["id"] != item["id"]]
        others = [p for p in others if p["text"].split()]  # each pass must add words
        while count < words and others:
            for other in others:
                parts.append(other["text"])
                count += len(other["text"].split())
                if count >= words:
                    break
        out.append({**item, "text": "\n\n".join(parts)})
    return out


@dataclass(frozen=True)
class ExtractionCheck:
    """How well the text extracted from the wrapped pages matches the articles' own text."""

    layout: str
    articles: int
    equal: int  # extracted text equal to the article's (whitespace aside)
    similarity_mean: float  # rapidfuzz ratio, 0..1
    similarity_min: float
    no_article: int
    titles: int  # the title found as the page has it (none for a page without one)
    dates: int  # the publication date found, of ``dated``
    dated: int

    def line(self) -> str:
        return (
            f"| {self.layout} | {self.articles} | {self.equal} | {self.similarity_mean:.4f} "
            f"| {self.similarity_min:.4f} | {self.no_article} | {self.titles} "
            f"| {self.dates} of {self.dated} |"
        )


def extraction_check(items: list[dict[str, Any]]) -> list[ExtractionCheck]:
    """Wrap every item in each page layout and extract it again (no model involved)."""
    from rapidfuzz import fuzz

    from service.errors import NoArticleText
    from service.html_text import page_article
    from service.news_page import LAYOUTS, wrap

    checks = []
    for layout in LAYOUTS:
        equal = no_article = titles = dates = dated = 0
        ratios: list[float] = []
        for item in items:
            page = wrap(
                item["text"], key=str(item["id"]), published=item.get("published"), layout=layout
            )
            dated += bool(item.get("published"))
            try:
                found = page_article(
                    page.html, min_chars=Settings.model_fields["min_article_chars"].default
                )
            except NoArticleText:
                no_article += 1
                ratios.append(0.0)
                continue
            expected, got = " ".join(page.body.split()), " ".join(found.text.split())
            equal += expected == got
            ratios.append(fuzz.ratio(expected, got) / 100)
            titles += found.title == page.headline
            dates += bool(item.get("published")) and found.published == item.get("published")
        checks.append(
            ExtractionCheck(
                layout=layout,
                articles=len(items),
                equal=equal,
                similarity_mean=sum(ratios) / len(ratios) if ratios else 0.0,
                similarity_min=min(ratios, default=0.0),
                no_article=no_article,
                titles=titles,
                dates=dates,
                dated=dated,
            )
        )
    return checks


def extraction_text(checks: list[ExtractionCheck]) -> str:
    head = (
        "| layout | articles | text equal | similarity (mean) | similarity (min) "
        "| no article found | title as the page has it | date found |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *(c.line() for c in checks)])


# --- the service over HTTP -------------------------------------------------------------------


def predict_with_service(
    items: list[dict[str, Any]],
    base_url: str,
    *,
    api_key: str | None = None,
    timeout: float = REQUEST_TIMEOUT_S,
    on_prediction: OnPrediction | None = None,
) -> list[Prediction]:
    """POST each article to ``/v1/summaries?refresh=true``, one at a time."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    predictions = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
        for item in items:
            prediction = _service_prediction(client, item)
            predictions.append(prediction)
            if on_prediction:
                on_prediction(prediction)
    return predictions


def _service_prediction(client: httpx.Client, item: dict[str, Any]) -> Prediction:
    # The request id ties each prediction to the server's log line.
    request_id = "eval-" + _UNSAFE_ID_CHARS.sub("_", str(item["id"]))[:59]
    started = time.perf_counter()
    try:
        response = client.post(
            "/v1/summaries",
            params={"refresh": "true"},
            json=request_body(item),
            headers={"X-Request-ID": request_id},
        )
    except httpx.HTTPError as exc:
        seconds = time.perf_counter() - started
        error = {"code": "client_error", "message": f"{type(exc).__name__}: {exc}"}
        return {"id": item["id"], "error": error, "status": None, "seconds": seconds}
    seconds = time.perf_counter() - started
    if response.status_code == 200:
        return {"id": item["id"], "response": response.json(), "seconds": seconds}
    return {
        "id": item["id"],
        "error": _error_of(response),
        "status": response.status_code,
        "seconds": seconds,
    }


def _error_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"code": "http_error", "message": response.text[:500]}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {"code": "http_error", "message": str(body)[:500]}


@contextmanager
def serve_in_thread(app: FastAPI, *, ready_timeout: float = READY_TIMEOUT_S) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL once ready."""
    import uvicorn

    # Bound here and handed to uvicorn, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, thread, timeout=ready_timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def wait_ready(base_url: str, thread: threading.Thread, *, timeout: float) -> None:
    """Poll ``/readyz`` until 200; give up at once when the model backend failed to start."""
    give_up = time.monotonic() + timeout
    reason = "no answer"
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        while time.monotonic() < give_up:
            if not thread.is_alive():
                raise EvaluationError("the in-process server stopped during start-up")
            try:
                response = client.get("/readyz")
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            if response.status_code == 200:
                return
            reason = _error_of(response).get("message", reason)
            if "failed" in reason:
                raise EvaluationError(f"the service is not ready: {reason}")
            time.sleep(0.2)
    raise EvaluationError(f"the service was not ready after {timeout:g} s: {reason}")


# --- ablation: one model pass, the pipeline with each step switched off ------------------------

#: The steps the baseline keeps: the contract's bounds (else the record is not valid) and the
#: alignment of sentence numbers to quotes (else it has no evidence). Everything else is off.
BASELINE_STEPS = frozenset({"bounds", "evidence"})


@dataclass
class Ablation:
    """Predictions of every variant, from the same model answers: ``service`` (every step),
    ``baseline`` (only ``BASELINE_STEPS``) and ``without:<step>`` for each step."""

    variants: dict[str, list[Prediction]]

    def evaluations(self, gold: list[dict[str, Any]]) -> dict[str, Evaluation]:
        return {name: Evaluation.of(gold, preds) for name, preds in self.variants.items()}


def run_ablation(
    items: list[dict[str, Any]],
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_prediction: OnPrediction | None = None,
    answers: Path | None = None,
) -> Ablation:
    return asyncio.run(
        predict_ablation(
            items, settings, transport=transport, on_prediction=on_prediction, answers=answers
        )
    )


def article_of(item: dict[str, Any]) -> Article:
    """A labelled item as the service's ``Article``: its page when it has one, else its text."""
    from service.summarize import Article

    if item.get("html") is not None:
        return Article(text="", html=item["html"], language=item.get("language"))
    return text_article(item)


def text_article(item: dict[str, Any]) -> Article:
    """A labelled item's text with its publication date, sent as the API would (no title)."""
    from service.summarize import Article

    return Article(
        text=item["text"], published=item.get("published"), language=item.get("language")
    )


async def until_ready(app: FastAPI) -> None:
    """Wait for an app started in-process to have its model ready (or to fail loading it)."""
    while not app.state.ready:
        if app.state.not_ready_reason and "failed" in app.state.not_ready_reason:
            raise EvaluationError(app.state.not_ready_reason)
        await asyncio.sleep(0.05)


async def predict_ablation(
    items: list[dict[str, Any]],
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_prediction: OnPrediction | None = None,
    answers: Path | None = None,
) -> Ablation:
    """The model's answers for each article once (through the service's own ``Summarizer``,
    in-process), then the pipeline run on them with each variant's steps. With ``answers``,
    an article answered before under the same model and prompts reuses that answer."""
    from service.app import create_app
    from service.errors import SummarizerError
    from service.pipeline import STEP_NAMES
    from service.recorded_answers import AnswerBook, Recorded, answer_key
    from service.summarize import ModelAnswers

    every = frozenset(STEP_NAMES)
    variants: dict[str, frozenset[str]] = {
        "service": frozenset(),
        "baseline": every - BASELINE_STEPS,
        **{f"without:{name}": frozenset({name}) for name in STEP_NAMES},
    }
    results: dict[str, list[Prediction]] = {name: [] for name in variants}
    app = create_app(settings, llm_transport=transport)
    async with app.router.lifespan_context(app):
        await until_ready(app)
        summarizer = app.state.summarizer
        book = AnswerBook(answers) if answers is not None else None
        for item in items:
            started = time.perf_counter()
            article = article_of(item)
            try:
                if article.is_page:
                    article = await summarizer.from_page(article)
                key = answer_key(
                    item["id"],
                    article.text,
                    summarizer.model,
                    summarizer.prompt_version,
                    title=article.title,
                    published=article.published,
                )
                recorded = book.get(key) if book is not None else None
                # An answer on file from before its relevance answer called for a record.
                if (
                    book is not None
                    and recorded is not None
                    and recorded.record is None
                    and summarizer.record_wanted(recorded.relevance, ask_when_unsure=True)
                ):
                    deadline = time.monotonic() + settings.request_deadline_s
                    draft = await summarizer.record_answer(article, deadline)
                    recorded = Recorded(recorded.relevance, draft)
                    book.put(key, recorded)
                if recorded is not None:
                    text, notes = summarizer.reading(article)
                    model_answers = ModelAnswers(
                        text=text,
                        relevance=recorded.relevance,
                        record=recorded.record,
                        notes=notes,
                    )
                else:
                    model_answers = await summarizer.answers(
                        article,
                        time.monotonic() + settings.request_deadline_s,
                        ask_when_unsure=True,
                    )
                    if book is not None:
                        book.put(key, Recorded(model_answers.relevance, model_answers.record))
            except SummarizerError as exc:
                error = {"code": exc.code, "message": exc.message}
                for name in variants:
                    results[name].append(_timed({"id": item["id"], "error": error}, started))
                if on_prediction:
                    on_prediction(results["service"][-1])
                continue
            usage = model_answers.usage.public()
            # A reused answer's seconds are those of the run that asked the model.
            seconds = (
                time.perf_counter() - started if recorded is None else usage["latency_ms"] / 1000
            )
            timing = {
                "relevance_ms": model_answers.relevance.usage.latency_ms,
                "record_ms": (
                    model_answers.record.usage.latency_ms if model_answers.record else None
                ),
            }
            for name, disabled in variants.items():
                try:
                    incident, warnings, _ = summarizer.finish(model_answers, disabled=disabled)
                except ValueError as exc:  # a variant whose record breaks the contract
                    error = {"code": "invalid_record", "message": str(exc)[:300]}
                    results[name].append({"id": item["id"], "error": error, "seconds": seconds})
                    continue
                response = {
                    "incident": incident.model_dump(mode="json"),
                    "warnings": warnings,
                    "usage": usage,
                    "timing": timing,
                    "language": model_answers.text.language,
                }
                results[name].append({"id": item["id"], "response": response, "seconds": seconds})
            if on_prediction:
                on_prediction(results["service"][-1])
    return Ablation(results)


def _timed(prediction: Prediction, started: float) -> Prediction:
    return {**prediction, "seconds": time.perf_counter() - started}


# --- results -------------------------------------------------------------------------------


def write_prediction(fh: Any, prediction: Prediction) -> None:
    fh.write(json.dumps(prediction, ensure_ascii=False) + "\n")
    fh.flush()


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; ``q`` in [0, 1]."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timing_stats(predictions: list[Prediction]) -> dict[str, Any]:
    seconds = [p["seconds"] for p in predictions if isinstance(p.get("seconds"), int | float)]
    usages = [
        p["response"].get("usage") or {} for p in predictions if isinstance(p.get("response"), dict)
    ]

    def tokens(key: str) -> dict[str, float | int | None]:
        counts = [u.get(key) or 0 for u in usages]
        return {"mean": sum(counts) / len(counts) if counts else None, "total": sum(counts)}

    return {
        "articles": len(predictions),
        "responses": len(usages),
        "errors": len(predictions) - len(usages),
        "seconds": {
            "p50": percentile(seconds, 0.5),
            "p95": percentile(seconds, 0.95),
            "mean": sum(seconds) / len(seconds) if seconds else None,
            "total": sum(seconds),
        },
        "prompt_tokens": tokens("prompt_tokens"),
        "completion_tokens": tokens("completion_tokens"),
    }


@dataclass
class Evaluation:
    predictions: list[Prediction]
    report: Report
    timing: dict[str, Any]

    @classmethod
    def of(cls, gold: list[dict[str, Any]], predictions: list[Prediction]) -> Evaluation:
        report = score(gold, {p["id"]: p for p in predictions})
        return cls(predictions, report, timing_stats(predictions))

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "timing": self.timing}

    def to_text(self) -> str:
        return "\n\n".join(
            [self.report.to_markdown(), failures_text(self.report), timing_text(self.timing)]
        )


def failures_text(report: Report) -> str:
    if not report.failures:
        return "No failures."
    by_article: dict[str, list[Failure]] = defaultdict(list)
    for f in report.failures:
        by_article[f.id].append(f)
    lines = [f"Failures ({len(report.failures)} in {len(by_article)} articles):"]
    for article_id, failures in by_article.items():
        lines += [article_id, *_article_failure_lines(failures)]
    return "\n".join(lines)


def _article_failure_lines(failures: list[Failure]) -> list[str]:
    got = failures[0].got
    # An error line or a missing incident fails every field the same way: say it once.
    if isinstance(got, str) and got.startswith("<") and all(f.got == got for f in failures):
        return [f"  {', '.join(f.field for f in failures)}: {_clip(got)}"]
    return [f"  {f.field}: expected {f.expected!r}, got {_clip(repr(f.got))}" for f in failures]


def _clip(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def timing_text(timing: dict[str, Any]) -> str:
    def num(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    s, pt, ct = timing["seconds"], timing["prompt_tokens"], timing["completion_tokens"]
    return (
        f"{timing['articles']} articles, {timing['responses']} answered, "
        f"{timing['errors']} errors\n"
        f"seconds per article: p50 {num(s['p50'], '.2f')}, p95 {num(s['p95'], '.2f')}, "
        f"total {s['total']:.1f}\n"
        f"tokens per answered article: prompt {num(pt['mean'], '.0f')}, "
        f"completion {num(ct['mean'], '.0f')}"
    )


# --- the whole run ---------------------------------------------------------------------------


def evaluate(
    dataset: Path,
    *,
    out: Path,
    limit: int | None = None,
    base_url: str | None = None,
    settings: Settings | None = None,
    llm_transport: httpx.AsyncBaseTransport | None = None,
    api_key: str | None = None,
    on_prediction: OnPrediction | None = None,
    transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
) -> Evaluation:
    """Predict every item of ``dataset``, write the predictions to ``out``, score them.

    Without ``base_url`` the service is started in-process from ``settings``;
    ``llm_transport`` replaces its model backend, as in ``create_app``. ``transform``: the
    items as sent (as pages, padded), scored against the same labels.
    """
    gold = load_dataset(dataset, limit)
    if transform is not None:
        gold = transform(gold)
    settings = settings or Settings()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:

        def record(prediction: Prediction) -> None:
            write_prediction(fh, prediction)
            if on_prediction:
                on_prediction(prediction)

        if base_url:
            predictions = predict_with_service(
                gold, base_url, api_key=api_key, on_prediction=record
            )
        else:
            predictions = _predict_in_process(gold, settings, llm_transport, api_key, record)
    return Evaluation.of(gold, predictions)


def _predict_in_process(
    gold: list[dict[str, Any]],
    settings: Settings,
    llm_transport: httpx.AsyncBaseTransport | None,
    api_key: str | None,
    on_prediction: OnPrediction,
) -> list[Prediction]:
    from service.app import create_app

    key = api_key or next(iter(settings.api_key_list), None)
    with serve_in_thread(create_app(settings, llm_transport=llm_transport)) as base_url:
        return predict_with_service(gold, base_url, api_key=key, on_prediction=on_prediction)


# --- the ablation's report -------------------------------------------------------------------


def _accuracy(report: Report, name: str | None = None) -> str:
    score_ = report.overall if name is None else report.fields[name]
    if score_.accuracy is None:
        return "n/a"
    return f"{score_.accuracy:.3f} ({score_.correct}/{score_.scored})"


def ablation_text(files: dict[str, list[dict[str, Any]]], ablation: Ablation) -> str:
    """Markdown tables: every variant per file; service and baseline per field and per
    language; seconds per negative and per incident."""
    by_id: dict[str, dict[str, dict | None]] = {
        name: {p["id"]: p for p in preds} for name, preds in ablation.variants.items()
    }
    every = [item for items in files.values() for item in items]
    lines = ["### Every step off in turn (overall field accuracy)", ""]
    head = ["variant", *files, "all"]
    lines += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for name in ablation.variants:
        cells = [_accuracy(score(items, by_id[name])) for items in [*files.values(), every]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name in ("service", "baseline"):
        lines += ["", f"### {name}: per field", ""]
        lines += ["| field | " + " | ".join([*files, "all"]) + " |"]
        lines += ["|---" + "|---:" * (len(files) + 1) + "|"]
        reports = [score(items, by_id[name]) for items in [*files.values(), every]]
        for field in reports[0].fields:
            lines.append(f"| {field} | " + " | ".join(_accuracy(r, field) for r in reports) + " |")
        lines.append("| **overall** | " + " | ".join(_accuracy(r) for r in reports) + " |")
    lines += ["", "### Per language (all files)", ""]
    lines += ["| language | articles | service | baseline |", "|---|---:|---:|---:|"]
    languages = sorted({str(item.get("language")) for item in every})
    for language in languages:
        items = [item for item in every if str(item.get("language")) == language]
        cells = [_accuracy(score(items, by_id[n])) for n in ("service", "baseline")]
        lines.append(f"| {language} | {len(items)} | " + " | ".join(cells) + " |")
    foreign = [item for item in every if item.get("language") not in (None, "en")]
    incidents = [item for item in foreign if item.get("is_incident")]
    cells = [_accuracy(score(incidents, by_id[n])) for n in ("service", "baseline")]
    lines.append(f"| non-English incidents | {len(incidents)} | " + " | ".join(cells) + " |")
    lines += ["", "### Seconds per article (model calls, in-process)", ""]
    lines += ["| calls made | articles | p50 s | p95 s | mean s |", "|---|---:|---:|---:|---:|"]
    service = ablation.variants["service"]
    # By the calls an article cost: an answer in doubt, or an old event, takes both calls and
    # can still end as ordinary news.
    groups: dict[str, list[float]] = {"relevance call only": [], "both calls": []}
    for p in service:
        if "response" not in p:
            continue
        full = p["response"]["timing"]["record_ms"] is not None
        key = "both calls" if full else "relevance call only"
        groups[key].append(p["seconds"])
    for key, values in groups.items():
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        mean = sum(values) / len(values) if values else None
        fmt = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
        lines.append(f"| {key} | {len(values)} | {fmt(p50)} | {fmt(p95)} | {fmt(mean)} |")
    errors = [p for p in service if "error" in p]
    lines += [
        "",
        f"Errors: {len(errors)}" + "".join(f"\n- {p['id']}: {p['error']}" for p in errors),
    ]
    return "\n".join(lines)
