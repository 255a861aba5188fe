"""What ``GET /metrics`` shows, in Prometheus's text format (``prometheus_client``).

One ``Metrics`` per app, made in ``create_app``, with a registry of its own (tests build many
apps in one process). With several worker processes (``serve --workers N``) every worker
writes its values to files in a directory that ``serve`` empties at start
(``PROMETHEUS_MULTIPROC_DIR``, the library's multiprocess mode), and whichever worker answers
a scrape reads the files of all of them: counters and histograms are summed over the workers,
the queue and slot gauges over the live ones.

Recording stays off the hit path's budget: a labelled child is looked up once per label set
and kept (``labels()`` validates and locks on every call), and a request costs one counter
increment and one histogram observation.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("service.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"  # the library's own name; it reads it at import
DIR_NAME = "metrics"

# From a cache hit (a fraction of a millisecond) to a model call on the bundled model.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """An empty metrics directory for a new set of worker processes, named in the environment
    the workers inherit (before they import the library, which reads it at import)."""
    path = data_dir / DIR_NAME
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[ENV_DIR] = str(path)
    return path


class Metrics:
    @classmethod
    def for_process(cls, *, workers: int, slots: int) -> Metrics:
        """This process's metrics: shared through files when it is one of several workers."""
        path = os.environ.get(ENV_DIR)
        if workers > 1:
            if path and getattr(values.ValueClass, "_multiprocess", False):
                return cls(multiprocess_dir=Path(path), slots=slots)
            log.warning(
                "metrics are this worker's own: start the workers with "
                "`incident-summarizer serve --workers N` to see them all in /metrics"
            )
        return cls(slots=slots)

    def __init__(self, *, multiprocess_dir: Path | None = None, slots: int = 0) -> None:
        own = CollectorRegistry(auto_describe=True)
        self._dir = multiprocess_dir
        if multiprocess_dir is None:
            self.registry = own
        else:
            _forget_dead_workers(multiprocess_dir)
            # The values live in the files; the registry that is read collects the files.
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry, path=str(multiprocess_dir))
        self.requests = Counter(
            "summarizer_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "summarizer_http_request_duration_seconds",
            "Time from a request's arrival to its last byte sent, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.cache = Counter(
            "summarizer_cache_requests",
            "Summary requests answered from the cache (hit) or by the model (miss).",
            ["result"],
            registry=own,
        )
        self.extractions = Counter(
            "summarizer_extractions",
            "Extractions (one per cache miss that reached the model), by outcome.",
            ["outcome"],
            registry=own,
        )
        self.extraction_seconds = Histogram(
            "summarizer_extraction_duration_seconds",
            "Time of one extraction: waiting for a model slot, the model's answers, the checks.",
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.model_calls = Counter(
            "summarizer_model_calls",
            "HTTP calls made to the model backend (answers, re-asks and transient retries).",
            registry=own,
        )
        self.model_retries = Counter(
            "summarizer_model_retries",
            "Model calls retried after a transient failure (429, 5xx, timeout).",
            registry=own,
        )
        self.tokens = Counter(
            "summarizer_model_tokens",
            "Tokens the model backend reported, by kind (rejected answers included).",
            ["kind"],
            registry=own,
        )
        self.queue_waiting = Gauge(
            "summarizer_model_queue_waiting",
            "Requests waiting for a model slot (summed over live workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.slots_busy = Gauge(
            "summarizer_model_slots_busy",
            "Model slots in use: calls in flight (summed over live workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.slots = Gauge(
            "summarizer_model_slots",
            "Model slots: calls allowed in flight at once (summed over live workers).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.batch_jobs = Histogram(
            "summarizer_batch_job_duration_seconds",
            "Time of one batch job (one article, for every batch asking for it), by outcome: "
            "done, cached (answered from the store) or the error code.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.webhooks = Counter(
            "summarizer_webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, http_error, timeout, "
            "connection_error, refused).",
            ["outcome"],
            registry=own,
        )
        self.slots.set(slots)
        self.queue_waiting.set(0)
        self.slots_busy.set(0)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._cache_children = {r: self.cache.labels(r) for r in ("hit", "miss")}
        self._prompt_tokens = self.tokens.labels("prompt")
        self._completion_tokens = self.tokens.labels("completion")

    def request(
        self, method: str, route: str, status: int, seconds: float, cache: str | None
    ) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if cache is not None:
            self._cache_children[cache].inc()

    def extraction(
        self,
        outcome: str,
        seconds: float,
        *,
        calls: int,
        retries: int,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        self.extractions.labels(outcome).inc()
        self.extraction_seconds.observe(seconds)
        self.model_calls.inc(calls)
        self.model_retries.inc(retries)
        self._prompt_tokens.inc(prompt_tokens)
        self._completion_tokens.inc(completion_tokens)

    def batch_job(self, outcome: str, seconds: float) -> None:
        self.batch_jobs.labels(outcome).observe(seconds)

    def webhook(self, outcome: str) -> None:
        self.webhooks.labels(outcome).inc()

    def watch_batch_items(self, totals: Callable[[], dict[str, int]]) -> None:
        """Report the items of every batch by status, read from the database at each scrape
        (so the work of every worker process and host is counted, whoever answers)."""
        self.registry.register(_BatchItems(totals))

    def queue(self, waiting: int, busy: int) -> None:
        self.queue_waiting.set(waiting)
        self.slots_busy.set(busy)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def close(self) -> None:
        """This worker is stopping: its live gauges leave the sums."""
        if self._dir is not None:
            multiprocess.mark_process_dead(os.getpid(), str(self._dir))


class _BatchItems(Collector):
    def __init__(self, totals: Callable[[], dict[str, int]]) -> None:
        self._totals = totals

    def describe(self) -> list[Metric]:
        return []  # read only when scraped: no database query at registration

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "summarizer_batch_items",
            "Items of all batches by status (pending, running, done, failed, cancelled); "
            "cached: the done ones answered from the store.",
            labels=["status"],
        )
        try:
            totals = self._totals()
        except Exception:  # the database is away: the scrape still shows everything else
            log.warning("batch item counts unavailable", exc_info=True)
            return []
        for status, count in totals.items():
            family.add_metric([status], count)
        return [family]


_LIVE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db$")


def _forget_dead_workers(path: Path) -> None:
    """Drop the live gauges of worker processes that died without stopping (a crash, a kill):
    their last queue and slot values would otherwise stay in the sums until the next start."""
    for name in glob.glob(str(path / "gauge_live*_*.db")):
        match = _LIVE_FILE.search(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, str(path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
