"""``incident-summarizer``: serve the API, summarize files, check the bundled model, evaluate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import orjson
import typer

from service.config import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
model_app = typer.Typer(no_args_is_help=True, help="The bundled model file.")
app.add_typer(model_app, name="model")
keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys kept in the database (only their SHA-256 is stored). Any valid key may "
    "call every API route; managing keys is only possible here.",
)
app.add_typer(keys_app, name="keys")
db_app = typer.Typer(
    no_args_is_help=True,
    help="The database's schema (SUMMARIZER_DATABASE_URL: SQLite by default, or PostgreSQL).",
)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes (default: SUMMARIZER_WORKERS, 1). More than one needs a "
            "model server; they share the rate limits and single flight.",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import os

    import uvicorn
    from pydantic import ValidationError

    from service.app import create_app
    from service.logs import configure_logging

    if workers is not None:
        os.environ["SUMMARIZER_WORKERS"] = str(workers)  # the worker processes read it too
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    if settings.workers > 1:
        _prepare_workers(settings)
    uvicorn.run(
        create_app(settings) if settings.workers == 1 else "service.app:worker_app",
        factory=settings.workers > 1,
        workers=settings.workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.request_deadline_s),
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Articles in their model calls at once (default: "
            "SUMMARIZER_WORKER_CONCURRENCY); SUMMARIZER_WORKER_PREFETCH more are read and "
            "stored meanwhile.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's metrics (Prometheus) on this port."),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface of the metrics port.")] = "127.0.0.1",
) -> None:
    """Work on batches (PostgreSQL): run any number, on any host, against one database.

    Each takes articles from the queue, summarizes them as POST /v1/summaries would, and
    answers the batches that asked for them. On SQLite `serve` runs batches itself.
    """
    import os

    from pydantic import ValidationError

    from service.logs import configure_logging
    from service.metrics import Metrics
    from service.queue import run_worker

    if concurrency is not None:
        os.environ["SUMMARIZER_WORKER_CONCURRENCY"] = str(concurrency)
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    metrics = Metrics(slots=settings.worker_slots)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host, registry=metrics.registry)
    try:
        # The event loop `serve` runs on (uvicorn picks uvloop where it is installed): the
        # worker's model calls, queue and pool connections cost less CPU on it.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run_worker(settings, metrics=metrics))
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _prepare_workers(settings: Settings) -> None:
    """What the workers must not race each other for: the database schema is upgraded, the
    file they coordinate through (SQLite only) and the directory of their metrics start empty."""
    from service.app import open_store, prepare_schema
    from service.coordination import Coordination
    from service.errors import DatabaseDamaged, SchemaOutOfDate
    from service.metrics import prepare_multiprocess_dir

    store = open_store(settings)
    try:
        store.verify_integrity()
        prepare_schema(store, settings)
        shared_file = store.backend == "sqlite"
    except (DatabaseDamaged, SchemaOutOfDate) as exc:
        typer.echo(f"error: not starting: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    if shared_file:
        Coordination.reset(settings.data_dir)
    prepare_multiprocess_dir(settings.data_dir)  # the workers inherit its name


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the schema to this release's (`serve` does it at start unless
    SUMMARIZER_DATABASE_MIGRATE=false). Safe to run while replicas start: one migrates."""
    from service.app import open_store
    from service.errors import DatabaseDamaged

    store = open_store(Settings())
    try:
        store.verify_integrity()
        before, after = store.migrate()
    except DatabaseDamaged as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    word = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    typer.echo(f"{store.backend}: {word} revision {after}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the one this release needs."""
    from service import migrations
    from service.app import open_store

    store = open_store(Settings())
    try:
        have = store.revision()
    finally:
        store.close()
    typer.echo(f"database  {have or 'none'}\nrelease   {migrations.head()}")
    raise typer.Exit(0 if have == migrations.head() else 1)


@app.command()
def summarize(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Article files; stdin when none.")
    ] = None,
    published: Annotated[str | None, typer.Option(help="Publication date, YYYY-MM-DD.")] = None,
    refresh: Annotated[bool, typer.Option(help="Ignore the cache.")] = False,
) -> None:
    """Print the summary resource of each article as one JSON line.

    A file's first line is taken as the title when a blank line follows it.
    """
    from service.logs import configure_logging

    settings = Settings()
    configure_logging("WARNING")
    texts = [(str(f), f.read_text(encoding="utf-8")) for f in files or []]
    if not files:
        texts = [("-", sys.stdin.read())]
    failed = asyncio.run(_summarize_all(settings, texts, published, refresh))
    raise typer.Exit(1 if failed else 0)


async def _summarize_all(
    settings: Settings, texts: list[tuple[str, str]], published: str | None, refresh: bool
) -> int:
    from service.app import create_app
    from service.errors import SummarizerError
    from service.summarize import Article

    app = create_app(settings)
    failed = 0
    async with app.router.lifespan_context(app):
        while not getattr(app.state, "ready", False):
            if app.state.not_ready_reason and "failed" in app.state.not_ready_reason:
                typer.echo(app.state.not_ready_reason, err=True)
                return len(texts)
            await asyncio.sleep(0.1)
        for name, raw in texts:
            title, text = _split_title(raw)
            try:
                resource, _ = await app.state.summarizer.summarize(
                    Article(text=text, title=title, published=published), refresh=refresh
                )
            except SummarizerError as exc:
                failed += 1
                typer.echo(f"{name}: {exc.code}: {exc.message}", err=True)
                continue
            sys.stdout.write(orjson.dumps(resource).decode() + "\n")
            sys.stdout.flush()
    return failed


def _split_title(raw: str) -> tuple[str | None, str]:
    head, sep, rest = raw.lstrip().partition("\n")
    if sep and rest.startswith("\n") and len(head) <= 300:
        return head.strip(), rest.strip()
    return None, raw.strip()


@app.command()
def ingest(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A JSON Lines file of articles, or a directory of .jsonl, .json, .txt."
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="A running service's URL; default: a service started in this process."),
    ] = None,
    key: Annotated[
        str | None, typer.Option(envvar="SUMMARIZER_INGEST_API_KEY", help="API key for --server.")
    ] = None,
    batch: Annotated[
        str | None, typer.Option("--batch", help="Follow this batch instead of submitting one.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the results here (JSON Lines); default: stdout.")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Called with the batch when it ends.")
    ] = None,
) -> None:
    """Submit articles as one batch, show its progress, write each article's record or error.

    Interrupted, it can follow the same batch again with --batch ID: the service keeps working.
    Exit status 1 when an article failed.
    """
    from service.ingest import IngestError
    from service.ingest import ingest as run_ingest
    from service.logs import configure_logging

    if (path is None) == (batch is None):
        typer.echo("error: give a file or directory of articles, or --batch ID", err=True)
        raise typer.Exit(2)
    configure_logging("WARNING")
    try:
        failed = asyncio.run(
            run_ingest(
                path, server=server, key=key, batch_id=batch, out=out, webhook_url=webhook_url
            )
        )
    except (IngestError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: the batch goes on; follow it again with --batch ID", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(1 if failed else 0)


@model_app.command("verify")
def model_verify() -> None:
    """Assemble the bundled model file if needed, check its SHA-256, print path, size, hash."""
    from service.errors import ModelFileError
    from service.local_model import ensure_model_file

    try:
        file = ensure_model_file(Settings())
    except ModelFileError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"path    {file.path}\nsize    {file.size}\nsha256  {file.sha256}")


@model_app.command("cpu")
def model_cpu(
    env: Annotated[
        bool, typer.Option("--env", help="Print only GGML_BACKEND_PATH=..., for llama_cpp.server.")
    ] = False,
) -> None:
    """The llama.cpp CPU variants of this install, their scores on this CPU, the one loaded."""
    from service import cpu_backend

    settings = Settings()
    variant = cpu_backend.chosen(settings.local_cpu_variant)
    if env:
        typer.echo(f"GGML_BACKEND_PATH={variant.path}")
        return
    for v in cpu_backend.variants():
        mark = "*" if v == variant else " "
        typer.echo(f"{mark} {v.name:<16} score {v.score}")
    loaded = cpu_backend.load(settings.local_cpu_variant)
    typer.echo(f"loaded   {variant.path}")
    typer.echo(f"features {loaded.features}")
    typer.echo(f"AMX granted to this process: {cpu_backend.amx_granted()}")
    typer.echo(f"cores available: {cpu_backend.available_cores()}")


def _key_store():
    from service.app import open_store

    store = open_store(Settings())
    store.migrate()
    return store


_KEY_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


@keys_app.command("add")
def keys_add(
    name: Annotated[
        str, typer.Argument(help="Who uses the key, e.g. wire-desk (letters, digits, . _ -).")
    ],
) -> None:
    """Make a new random key, store its hash, print the key once (it cannot be shown again)."""
    import re

    from service.access import SHOWN_PREFIX_CHARS, key_digest, new_key
    from service.errors import InvalidInput

    if not re.match(_KEY_NAME, name):
        typer.echo("error: a key name is 1-64 letters, digits, '.', '_' or '-'", err=True)
        raise typer.Exit(2)
    key = new_key()
    store = _key_store()
    try:
        store.add_key(name, key_digest(key), key[:SHOWN_PREFIX_CHARS])
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.engine.dispose()
    typer.echo(f"key {name!r} added; it is shown only this once, so store it now:", err=True)
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """Names, creation and revocation times and the first characters of each key."""
    store = _key_store()
    try:
        rows = store.list_keys()
    finally:
        store.engine.dispose()
    typer.echo(f"{'NAME':<24} {'PREFIX':<12} {'CREATED (UTC)':<20} REVOKED (UTC)")
    for row in rows:
        revoked = f"{row.revoked_at:%Y-%m-%d %H:%M:%S}" if row.revoked_at else "-"
        typer.echo(
            f"{row.name:<24} {row.prefix + '…':<12} {row.created_at:%Y-%m-%d %H:%M:%S}  {revoked}"
        )
    configured = len(Settings().api_key_list)
    if configured:
        typer.echo(f"and {configured} key(s) from SUMMARIZER_API_KEYS")


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key; a running server refuses it within 2 seconds."""
    store = _key_store()
    try:
        revoked = store.revoke_key(name)
    finally:
        store.engine.dispose()
    if not revoked:
        typer.echo(f"error: no live key named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"key {name!r} revoked")


@app.command("eval")
def evaluate_dataset(
    datasets: Annotated[
        list[Path],
        typer.Argument(help="Labelled JSON Lines sets.", exists=True, dir_okay=False),
    ],
    out: Annotated[Path, typer.Option(help="Predictions file (JSON Lines).")] = Path(
        "predictions.jsonl"
    ),
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N articles.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="A running server; default: start one in-process.")
    ] = None,
    ablation: Annotated[
        bool,
        typer.Option(
            help="Ask the model once per article, then score the service, the baseline (the "
            "model's answers with no pipeline step) and the service with each step off."
        ),
    ] = False,
    json_report: Annotated[
        Path | None, typer.Option(help="Also write the scores and timings as JSON.")
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option(
            help="With --ablation: keep the model's answers in this JSON Lines file and reuse "
            "them for articles answered before under the same model and prompts."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="SUMMARIZER_EVAL_API_KEY", help="API key for --base-url."),
    ] = None,
    as_html: Annotated[
        bool,
        typer.Option(
            "--as-html",
            help="Send each article as a news web page made around its text (sent as html, "
            "the date in the page's markup) instead of as text.",
        ),
    ] = False,
    extraction_only: Annotated[
        bool,
        typer.Option(
            "--extraction-only",
            help="With --as-html: no model; wrap every article in each page layout, extract "
            "it again and report how close the extracted text is to the article's own.",
        ),
    ] = False,
    relevance_only: Annotated[
        bool,
        typer.Option(
            "--relevance-only",
            help="Only the relevance gate (the short first call): per file, how many incidents "
            "it keeps and how many negatives it lets through. Minutes, not an hour.",
        ),
    ] = False,
    long_words: Annotated[
        int | None,
        typer.Option(
            "--long",
            min=100,
            help="Pad each article with the text of the other articles of the set (unrelated "
            "reports) to this many words: the long-article path.",
        ),
    ] = None,
    selection_only: Annotated[
        bool,
        typer.Option(
            "--selection-only",
            help="With --long: no model; per file, how much of each incident's own text the "
            "long-article path reads and how many sentences of the padding that report "
            "casualties it reads with it.",
        ),
    ] = False,
    budget: Annotated[
        int,
        typer.Option(
            min=100,
            help="With --selection-only: the article tokens the model reads (estimated; the "
            "bundled model has about 4,700).",
        ),
    ] = 4700,
) -> None:
    """Send every article through the service (refresh=true), write and score the predictions."""
    from service.app import configure_logging
    from service.evaluate import (
        EvaluationError,
        ablation_text,
        as_pages,
        evaluate,
        extraction_check,
        extraction_text,
        load_dataset,
        padded,
        run_ablation,
        write_prediction,
    )

    settings = Settings()
    configure_logging("WARNING")

    def progress(p: dict) -> None:
        outcome = "ok" if "response" in p else f"error {p.get('status')} {p['error'].get('code')}"
        typer.echo(f"{p['id']}: {outcome} in {p['seconds']:.1f} s", err=True)

    def transform(items: list[dict]) -> list[dict]:
        if long_words is not None:
            items = padded(items, long_words)
        return as_pages(items) if as_html else items

    try:
        if extraction_only:
            if not as_html:
                raise EvaluationError("--extraction-only needs --as-html")
            items = [item for path in datasets for item in load_dataset(path, limit)]
            typer.echo(extraction_text(extraction_check(items)))
            return
        if selection_only:
            if long_words is None:
                raise EvaluationError("--selection-only needs --long")
            from service.evaluate_long import selection_check, selection_text

            files = {path.name: load_dataset(path, limit) for path in datasets}
            checks = selection_check(
                files, words=long_words, budget=budget, lead_chars=settings.relevance_lead_chars
            )
            typer.echo(selection_text(checks))
            return
        if relevance_only:
            from service.evaluate_relevance import GateAnswer, predict_relevance, relevance_text

            files = {path.name: load_dataset(path, limit) for path in datasets}

            def gate_progress(a: GateAnswer) -> None:
                mark = "ok" if a.right else "WRONG"
                typer.echo(f"{a.id}: {a.kind or a.error} {mark} in {a.seconds:.1f} s", err=True)

            gate = asyncio.run(predict_relevance(files, settings, on_answer=gate_progress))
            text = relevance_text(gate)
            typer.echo(text)
            if json_report is not None:
                json_report.write_text(text, encoding="utf-8")
            return
        if ablation:
            if base_url:
                raise EvaluationError("--ablation runs the service in-process; no --base-url")
            files = {path.name: transform(load_dataset(path, limit)) for path in datasets}
            items = [item for part in files.values() for item in part]
            result = run_ablation(items, settings, on_prediction=progress, answers=answers)
            for name, predictions in result.variants.items():
                path = out.with_name(f"{out.stem}.{name.replace(':', '-')}{out.suffix}")
                with path.open("w", encoding="utf-8") as fh:
                    for prediction in predictions:
                        write_prediction(fh, prediction)
            text = ablation_text(files, result)
            typer.echo(text)
            if json_report is not None:
                json_report.write_text(text, encoding="utf-8")
            return
        if len(datasets) != 1:
            raise EvaluationError("give one dataset, or several with --ablation")
        evaluation = evaluate(
            datasets[0],
            out=out,
            limit=limit,
            base_url=base_url,
            settings=settings,
            api_key=api_key,
            on_prediction=progress,
            transform=transform,
        )
    except EvaluationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(evaluation.to_text())
    if json_report is not None:
        json_report.write_bytes(orjson.dumps(evaluation.to_dict(), option=orjson.OPT_INDENT_2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
