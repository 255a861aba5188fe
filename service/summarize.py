"""The use case: article -> cache key -> stored record, or one model call shared by all askers.

* A cache hit is one indexed read and no model call.
* Identical requests in flight share one extraction (single-flight). The extraction runs in
  its own task, so a client that disconnects does not cancel it for the others, and its
  result is stored even if every client has gone.
* Model calls take a slot; when all slots are busy and the queue is full, the request is
  refused at once with 503 and a Retry-After estimate.
* Each extraction has one budget of transient retries for all its calls and logs one line
  with the calls made and the tokens spent, whatever its outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from schemas.incident import (
    SCHEMA_VERSION,
    Incident,
    IncidentDraft,
    RelevanceAnswer,
    category_of,
)
from service import llm, passages, pipeline
from service.article import ArticleText, read_article
from service.config import Settings
from service.coordination import Shared
from service.errors import (
    ArticleTooLarge,
    DeadlineExceeded,
    InvalidInput,
    QueueFull,
    SummarizerError,
)
from service.extract import Answer, Extractor, M, Usage
from service.fetch import Fetcher
from service.language import detect_language
from service.metrics import Metrics
from service.pipeline import RULES_VERSION, Context, StepOutcome
from service.pipeline.relevance import doubtful, unsure
from service.source_version import source_digest
from service.store import Store, SummaryRow, search_fields, utcnow

log = logging.getLogger("service.summarize")


@dataclass(frozen=True)
class Article:
    """An article as asked for: its text, or instead its page's ``html`` or its ``url``."""

    text: str
    title: str | None = None
    published: str | None = None
    source_url: str | None = None
    language: str | None = None
    html: str | None = None
    url: str | None = None

    @property
    def is_page(self) -> bool:
        return self.html is not None or self.url is not None


def normalize_text(text: str) -> str:
    """The text the cache key covers: NFC, one space for every whitespace run, trimmed."""
    # The check is much cheaper than normalizing, and nearly every article is NFC already.
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def with_cached(body: bytes, cached: bool) -> bytes:
    """A stored resource (a JSON object, as bytes) with its ``cached`` flag added last.

    The same bytes as ``orjson.dumps({**resource, "cached": cached})``, without parsing and
    re-serializing the stored record on every hit.
    """
    return body[:-1] + (b',"cached":true}' if cached else b',"cached":false}')


# ``RULES_VERSION`` (a hash of the pipeline's source) is part of the cache key: records stored
# under older rules are extracted again on their next request instead of being served.
# With several worker processes: how often a worker waiting for another's record looks for it,
# and how long a claim outlives its holder's deadline before another worker may take it over.
CLAIM_POLL_S = 0.05
CLAIM_GRACE_S = 5.0
# Request keys are written in batches, this long after the first of a batch was answered; at
# most this many wait (beyond it, new ones are dropped: a request key only saves work).
REQUEST_KEYS_WRITE_S = 0.05
REQUEST_KEYS_PENDING_MAX = 10_000
# A body answered from the cache is keyed on its second sighting (see ``_remember_hit``): the
# request keys of the last this many such bodies seen once are held in memory until then.
REQUEST_KEYS_SEEN_ONCE_MAX = 10_000


def _reader_digest() -> str:
    """A hash of the code that reads a request body into an article and its cache key (the
    request model and ``summary_of`` in the API module, the checks, normalization and key
    here) and of the JSON parser's version: a request key made by other code is not reused."""
    import pydantic_core

    files = (Path(__file__).with_name("api.py"), Path(__file__))
    return source_digest(files, salt=pydantic_core.__version__)


READER_VERSION = _reader_digest()


def rules_version(settings: Settings, article_budget: int | None) -> str:
    """``RULES_VERSION`` and what else changes a record for the same article and answers: the
    gate's least odds, the age of a stale event, and what the model reads (the lead's length,
    and ``article_budget``, the tokens of a long article the record call reads, which the
    bundled model's context bounds as well as the setting): changing one makes new cache keys,
    as a rule change does."""
    material = "\x1f".join(
        [
            RULES_VERSION,
            repr(settings.min_incident_probability),
            repr(settings.stale_event_days),
            repr(settings.relevance_lead_chars),
            repr(article_budget),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def cache_key(
    normalized: str, published: str | None, model: str, prompt_version: str, rules: str
) -> str:
    # Field separators cannot occur in the parts, so distinct inputs never collide by joining.
    parts = ["summary/v1", normalized, published or "", model, prompt_version, SCHEMA_VERSION]
    material = "\x1f".join([*parts, rules])
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class ModelAnswers:
    text: ArticleText
    relevance: Answer[RelevanceAnswer]
    record: Answer[IncidentDraft] | None
    notes: tuple[str, ...] = ()  # what the service says of how it read the article

    @property
    def usage(self) -> Usage:
        return self.relevance.usage + (self.record.usage if self.record else Usage())

    @property
    def repairs(self) -> list[str]:
        return self.relevance.repairs + (self.record.repairs if self.record else [])


class Slots:
    """At most ``concurrency`` model calls at once, and at most ``depth`` waiting for one."""

    def __init__(
        self, concurrency: int, depth: int, first_guess_s: float, metrics: Metrics | None = None
    ) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._depth = depth
        self.waiting = 0
        self.busy = 0
        self._avg_s = first_guess_s
        self._metrics = metrics

    def _changed(self) -> None:
        if self._metrics is not None:
            self._metrics.queue(self.waiting, self.busy)

    def admit(self) -> None:
        if self.busy >= self._concurrency and self.waiting >= self._depth:
            raise QueueFull(
                f"the model queue is full ({self.waiting} waiting)",
                retry_after=self.retry_after(),
            )

    def retry_after(self) -> float:
        return max(1.0, round((self.waiting + 1) * self._avg_s / self._concurrency))

    @asynccontextmanager
    async def hold(self, deadline: float) -> AsyncIterator[None]:
        """A slot, or DeadlineExceeded once ``deadline`` (``time.monotonic()``) has passed:
        a request that waited out its deadline in the queue gives up without building a
        model call it could not wait for."""
        self.waiting += 1
        self._changed()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + deadline - time.monotonic()):
                await self._sem.acquire()
        except TimeoutError:
            raise DeadlineExceeded("no model slot came free before the deadline") from None
        finally:
            self.waiting -= 1
            self._changed()
        if time.monotonic() >= deadline:
            self._sem.release()
            raise DeadlineExceeded("no model slot came free before the deadline")
        self.busy += 1
        self._changed()
        started = time.monotonic()
        try:
            yield
        finally:
            self.busy -= 1
            self._changed()
            self._sem.release()
            self._avg_s = 0.8 * self._avg_s + 0.2 * (time.monotonic() - started)


class Summarizer:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        extractor: Extractor,
        *,
        count_tokens: Callable[[str], int] | None = None,
        max_article_tokens: int | None = None,
        coordination: Shared | None = None,
        metrics: Metrics | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._store = store
        self._extractor = extractor
        self._coordination = coordination
        self._fetcher = fetcher or Fetcher(settings)
        self._count_tokens = count_tokens
        # The tokens of a long article the record call reads (None: the whole article).
        self._article_budget = max_article_tokens or settings.max_article_tokens
        self.rules_version = rules_version(settings, self._article_budget)
        self._inflight: dict[str, asyncio.Task[tuple[dict[str, Any], bool]]] = {}
        # Request keys waiting to be written (digest -> cache key), and the task writing them.
        self._unwritten: dict[bytes, str] = {}
        self._writer: asyncio.Task[None] | None = None
        # Request keys of bodies answered from the cache once, oldest first (see _remember_hit).
        self._seen_once: dict[bytes, None] = {}
        # What every request key covers besides the body (see ``request_key``), hashed once.
        self._request_material = hashlib.sha256(
            "\x1f".join(
                [
                    "request/v1",
                    READER_VERSION,
                    str(settings.max_body_bytes),
                    str(settings.max_article_chars),
                    self.model,
                    self.prompt_version,
                    SCHEMA_VERSION,
                    self.rules_version,
                    "",
                ]
            ).encode()
        )
        self.slots = Slots(
            settings.concurrency,
            settings.queue_depth,
            first_guess_s=15.0 if settings.uses_bundled_model else 2.0,
            metrics=metrics,
        )

    async def aclose(self) -> None:
        # Let extractions already running finish and be stored before the client closes.
        if self._inflight:
            await asyncio.wait(
                list(self._inflight.values()), timeout=self._settings.request_deadline_s
            )
        try:
            await asyncio.wait_for(self.request_keys_written(), timeout=5.0)
        except TimeoutError:
            log.warning("stopped before %d request keys were stored", len(self._unwritten))
        await self._extractor.aclose()
        await self._fetcher.aclose()

    @property
    def model(self) -> str:
        return self._extractor.model

    @property
    def prompt_version(self) -> str:
        return self._extractor.prompts.version

    def request_key(self, body: bytes) -> bytes:
        """The request key of a POST body as sent: a SHA-256 of the raw bytes and of all that
        decides whether they are accepted and which record they ask for: the code reading them
        (``READER_VERSION``), the limits, and the cache key's versions (model, prompts, schema,
        rules). Any of those changing makes another key, so a mapping made under other limits
        or versions is never found."""
        digest = self._request_material.copy()
        digest.update(body)
        return bytes(digest.digest())

    async def resent_json(self, request_key: bytes) -> bytes | None:
        """The live record a request key maps to, as the response body; None when there is
        no mapping, or its record is gone or superseded (then the body is read as usual)."""
        stored = await self._store.by_request_async(request_key)
        return with_cached(stored, True) if stored is not None else None

    def _remember(self, request_key: bytes | None, key: str) -> None:
        """Map a request key to its cache key, written in the background with the others that
        arrive meanwhile: one transaction per batch, so answering bodies never seen before
        (an archive replayed as new bytes) does not cost a write transaction each."""
        if request_key is None or len(self._unwritten) >= REQUEST_KEYS_PENDING_MAX:
            return
        self._unwritten[request_key] = key
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_request_keys())

    def _remember_hit(self, request_key: bytes | None, key: str) -> None:
        """``_remember`` for a body answered from the cache, on its second sighting only.

        A body whose article is stored already is a new wording of a known article (another
        ``source_url``, title or whitespace): most such bodies never come again (a wire story
        in each of its feeds, an archive replayed with new links), and writing a key for each
        cost a hit in new bytes about a quarter more server CPU (BENCHMARKS.md, "Hit paths as
        users run them"). The bodies that do come again (a client retrying, a feed polled
        again) are keyed the second time, so from the third on they are answered by their
        request key. Bodies first answered by the model are keyed at once (``_remember``):
        their resend is the common case.
        """
        if request_key is None:
            return
        if request_key in self._seen_once:
            del self._seen_once[request_key]
            self._remember(request_key, key)
            return
        if len(self._seen_once) >= REQUEST_KEYS_SEEN_ONCE_MAX:
            del self._seen_once[next(iter(self._seen_once))]
        self._seen_once[request_key] = None

    async def request_keys_written(self) -> None:
        """Return once the request keys of the requests answered so far are stored."""
        while self._writer is not None:
            await asyncio.wait([self._writer])

    async def _write_request_keys(self) -> None:
        try:
            while self._unwritten:
                await asyncio.sleep(REQUEST_KEYS_WRITE_S)
                batch, self._unwritten = self._unwritten, {}
                try:
                    await asyncio.to_thread(self._store.remember_requests, batch)
                except Exception:  # the answers stand; those bodies are read the usual way
                    log.warning("could not store %d request keys", len(batch), exc_info=True)
        finally:
            self._writer = None

    def validate(self, article: Article) -> str:
        """Check the article against the limits; return its normalized text."""
        if not article.text.strip():
            raise InvalidInput("text is empty")
        if article.published is not None:
            try:
                date.fromisoformat(article.published)
            except ValueError as exc:
                raise InvalidInput(
                    f"published must be a date as YYYY-MM-DD, got {article.published!r}"
                ) from exc
            if len(article.published) != 10:
                raise InvalidInput(f"published must be YYYY-MM-DD, got {article.published!r}")
        limit = self._settings.max_article_chars
        if len(article.text) > limit:
            raise ArticleTooLarge(
                f"article is {len(article.text):,} characters; the limit is {limit:,}"
            )
        return normalize_text(article.text)

    async def from_page(self, article: Article) -> Article:
        """The article of a page given as ``html`` or fetched from ``url``: its main text,
        and its title and publication date unless the request gave them."""
        # Imported here: trafilatura and its dependencies take a second or more to import,
        # which a service that is only ever sent text should not pay at start-up.
        from service.html_text import decode, page_article

        html, page_url = article.html, article.url
        if article.url is not None:
            page = await self._fetcher.fetch(article.url)
            html, page_url = decode(page.content, page.charset), page.final_url
        assert html is not None
        found = await asyncio.to_thread(
            page_article,
            html,
            url=page_url,
            title=article.title,
            min_chars=self._settings.min_article_chars,
        )
        return Article(
            text=found.text,
            title=article.title or found.title,
            published=article.published or found.published,
            source_url=article.source_url or article.url,
            language=article.language,
        )

    def _within_budget(self, text: ArticleText) -> tuple[ArticleText, tuple[str, ...]]:
        """The article as the record call can read it: whole, or (longer than the model's
        context) its lead and the passages most likely to report the incident."""
        budget = self._article_budget
        if budget is None:
            return text, ()
        return passages.read_within(
            text,
            budget=budget,
            count=self._count_tokens or passages.estimate_tokens,
            lead_chars=self._settings.relevance_lead_chars,
        )

    async def summarize(self, article: Article, *, refresh: bool = False) -> tuple[dict, bool]:
        """The summary resource for ``article`` and whether it came from the cache."""
        body, hit = await self.summarize_json(article, refresh=refresh)
        return orjson.loads(body), hit

    async def summarize_json(
        self, article: Article, *, refresh: bool = False, request_key: bytes | None = None
    ) -> tuple[bytes, bool]:
        """``summarize`` as the response body: a hit serves the stored bytes as they are.

        ``request_key``: the request key of the body ``article`` was read from, mapped to the
        record's cache key once answered; for an article sent as text only (a page, or what is
        at a link, can change while its request stays the same).
        """
        # The deadline runs from the request's arrival, not from when its model call starts.
        deadline = time.monotonic() + self._settings.request_deadline_s
        if article.is_page:
            request_key = None
            article = await self.from_page(article)
        normalized, key = self._keyed(article)
        if not refresh:
            stored = await self._store.current_async(key)
            if stored is not None:
                self._remember_hit(request_key, key)
                return with_cached(stored, True), True
        task = self._inflight.get(key)
        if task is None:
            self.slots.admit()
            task = asyncio.create_task(
                self._extract_and_store(key, normalized, article, refresh, deadline)
            )
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._forget(key, t))
        # shield: this caller going away must not cancel the shared extraction.
        resource, hit = await asyncio.shield(task)
        self._remember(request_key, key)
        return orjson.dumps({**resource, "cached": hit}), hit

    def article_key(self, article: Article) -> str:
        """The key a batch groups an article by: its cache key, checked as a request's is.
        A page (``html`` or ``url``) has its text only once read: a hash of the page or the
        link, and of what else the cache key covers, stands in."""
        if not article.is_page:
            return self._keyed(article)[1]
        parts = ["page/v1", article.url or "", article.html or "", article.published or ""]
        material = "\x1f".join([*parts, self.model, self.prompt_version, self.rules_version])
        return hashlib.sha256(material.encode()).hexdigest()

    def _keyed(self, article: Article) -> tuple[str, str]:
        normalized = self.validate(article)
        return normalized, cache_key(
            normalized, article.published, self.model, self.prompt_version, self.rules_version
        )

    def _forget(self, key: str, task: asyncio.Task[Any]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved, so an error nobody awaited is not logged as lost

    async def _extract_and_store(
        self, key: str, normalized: str, article: Article, refresh: bool, deadline: float
    ) -> tuple[dict[str, Any], bool]:
        """The new resource and False; or the stored one and True (see the second read)."""
        if not refresh:
            # A request whose cache read ran just before an identical extraction stored its
            # record, and that looked for it in flight just after, lands here: read again
            # rather than pay for a second model call. With other processes to share the work
            # with, that read is the one made once the claim is this process's (``_claim``).
            if self._coordination is not None:
                stored = await self._claim(key, deadline)
            else:
                stored = await self._store.current_async(key)
            if stored is not None:
                return orjson.loads(stored), True
        try:
            return await self._extract_and_store_claimed(
                key, normalized, article, refresh, deadline
            )
        finally:
            if self._coordination is not None and not refresh:
                await asyncio.to_thread(self._coordination.release, key)

    async def _claim(self, key: str, deadline: float) -> bytes | None:
        """Claim ``key`` for this worker process; while another worker holds it, wait for the
        record it stores instead (None: the claim is this process's, go ahead)."""
        assert self._coordination is not None
        ttl = max(1.0, deadline - time.monotonic()) + CLAIM_GRACE_S
        # Claims are database rows (PostgreSQL, or the coordination file of SQLite's
        # workers): taken in a thread, so the event loop serves hits meanwhile.
        while True:
            claimed, stored = await asyncio.to_thread(self._claim_and_read, key, ttl)
            if claimed:
                break
            if time.monotonic() >= deadline:
                raise DeadlineExceeded("another worker's extraction of this article ran too long")
            await asyncio.sleep(CLAIM_POLL_S)
            stored = await self._store.current_async(key)
            if stored is not None:
                return stored
        if stored is not None:
            await asyncio.to_thread(self._coordination.release, key)
        return stored

    def _claim_and_read(self, key: str, ttl: float) -> tuple[bool, bytes | None]:
        """Whether ``key`` is claimed now, and if so its record if one is stored: the holder
        before may have stored it between the reads. One trip to a thread for both."""
        assert self._coordination is not None
        if not self._coordination.claim(key, ttl):
            return False, None
        return True, self._store.current(key)

    def reading(self, article: Article) -> tuple[ArticleText, tuple[str, ...]]:
        """What the model reads of ``article`` (a long one: its lead and the passages that carry
        the incident), and the notes saying which part that is."""
        text = read_article(
            article.text,
            title=article.title,
            published=article.published,
            language=article.language or detect_language(article.text),
        )
        return self._within_budget(text)

    async def relevance(self, article: Article, deadline: float) -> Answer[RelevanceAnswer]:
        """The gate's answer alone (what the article is), as ``answers`` asks it first."""
        return await self._alone(self._gate, article, deadline)

    async def record_answer(self, article: Article, deadline: float) -> Answer[IncidentDraft]:
        """The record call alone, for an article whose relevance answer is already known."""
        return await self._alone(self._record, article, deadline)

    async def _alone(
        self,
        call: Callable[[Article, ArticleText, float], Awaitable[Answer[M]]],
        article: Article,
        deadline: float,
    ) -> Answer[M]:
        text, _ = self.reading(article)
        async with self.slots.hold(deadline):
            return await call(article, text, deadline)

    async def _gate(
        self, article: Article, text: ArticleText, deadline: float
    ) -> Answer[RelevanceAnswer]:
        return await self._extractor.relevance(
            sentences=text.prompt(lead_chars=self._settings.relevance_lead_chars),
            title=_shown_title(article, text),
            published=article.published,
            deadline=deadline,
        )

    async def answers(
        self, article: Article, deadline: float, *, ask_when_unsure: bool = False
    ) -> ModelAnswers:
        """The model's answers for ``article``: what it is and, for an incident, its record.

        The record is asked for as ``record_wanted`` says."""
        text, notes = self.reading(article)
        async with self.slots.hold(deadline):
            gate = await self._gate(article, text, deadline)
            draft = None
            if self.record_wanted(gate, ask_when_unsure=ask_when_unsure):
                draft = await self._record(article, text, deadline)
        return ModelAnswers(text=text, relevance=gate, record=draft, notes=notes)

    def record_wanted(self, gate: Answer[RelevanceAnswer], *, ask_when_unsure: bool) -> bool:
        """Whether the relevance answer ``gate`` calls for the record: an incident named with
        conviction, or an answer in doubt either way (the pipeline's ``unsure_incident``
        judges its record). An incident named below the band of doubt gets none (that step
        would set it aside), unless ``ask_when_unsure``: an evaluation asks, to measure the
        step."""
        minimum = self._settings.min_incident_probability
        if doubtful(gate.odds, minimum):
            return True
        named = category_of(gate.value.kind) is not None
        return named and (ask_when_unsure or not unsure(gate.odds, minimum))

    async def _record(
        self, article: Article, text: ArticleText, deadline: float
    ) -> Answer[IncidentDraft]:
        return await self._extractor.record(
            sentences=text.prompt(),
            title=_shown_title(article, text),
            published=article.published,
            deadline=deadline,
        )

    def finish(
        self, answers: ModelAnswers, *, disabled: frozenset[str] = frozenset()
    ) -> tuple[Incident, list[str], list[StepOutcome]]:
        """The record the pipeline makes of the model's answers, and its warnings."""
        prompts = self._extractor.prompts
        context = Context(
            article=answers.text,
            prompt=f"{prompts.system}\n{prompts.user_template.template}",
            example_names=prompts.example_names,
            stale_after_days=self._settings.stale_event_days,
            min_incident_probability=self._settings.min_incident_probability,
            disabled=disabled,
        )
        record = pipeline.record_from_answers(
            answers.relevance.value,
            answers.record.value if answers.record else None,
            answers.relevance.odds,
        )
        incident, outcomes = pipeline.run(record, context)
        warnings = [*answers.notes, *answers.repairs, *pipeline.warnings_of(outcomes)]
        return incident, warnings, outcomes

    async def _extract_and_store_claimed(
        self, key: str, normalized: str, article: Article, refresh: bool, deadline: float
    ) -> tuple[dict[str, Any], bool]:
        started = time.monotonic()
        spent = llm.Ledger(retries_left=self._settings.transient_retries)
        llm.ledger.set(spent)  # this task's own context: shared by its calls only
        try:
            answers = await self.answers(article, deadline)
            incident, warnings, _ = self.finish(answers)
        except SummarizerError as exc:
            self._spent(spent, started, outcome=exc.code, status=exc.status, reason=exc.message)
            raise
        self._spent(spent, started, outcome="ok", status=200)
        created = utcnow()
        summary_id = key[:32]
        if refresh and await asyncio.to_thread(self._store.exists, summary_id):
            summary_id = hashlib.sha256(f"{key}/{created.isoformat()}".encode()).hexdigest()[:32]
        resource: dict[str, Any] = {
            "id": summary_id,
            "content_sha256": hashlib.sha256(normalized.encode()).hexdigest(),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": self.model,
            "prompt_version": self.prompt_version,
            "schema_version": SCHEMA_VERSION,
            "usage": answers.usage.public(),
            "title": article.title,
            "published": article.published,
            "source_url": article.source_url,
            "language": answers.text.language,
            "incident": incident.model_dump(mode="json"),
            "warnings": warnings,
        }
        searched = search_fields(resource["incident"])
        row = SummaryRow(
            id=summary_id,
            cache_key=key,
            content_sha256=resource["content_sha256"],
            created_at=created,
            model=self.model,
            prompt_version=self.prompt_version,
            schema_version=SCHEMA_VERSION,
            title=article.title,
            published=article.published,
            source_url=article.source_url,
            is_incident=incident.is_incident,
            category=incident.category.value if incident.category else None,
            country_code=incident.location.country_code,
            event_date=incident.date.iso,
            headline=incident.headline,
            summary=incident.summary,
            place=searched["place"],
            perpetrators=searched["perpetrators"],
            body=orjson.dumps(resource),
        )
        await asyncio.to_thread(self._store.put, row, article.text)
        return resource, False

    def _spent(
        self,
        spent: llm.Ledger,
        started: float,
        *,
        outcome: str,
        status: int,
        reason: str | None = None,
    ) -> None:
        _log_spend(spent, started, outcome=outcome, status=status, reason=reason)
        if self._metrics is not None:
            self._metrics.extraction(
                outcome,
                time.monotonic() - started,
                calls=spent.calls,
                retries=spent.retries,
                prompt_tokens=spent.prompt_tokens,
                completion_tokens=spent.completion_tokens,
            )


def _log_spend(
    spent: llm.Ledger, started: float, *, outcome: str, status: int, reason: str | None = None
) -> None:
    # One line per model extraction, failed or not, so every token spent is accounted for.
    log.log(
        logging.INFO if status == 200 else logging.WARNING,
        "extraction %s",
        outcome,
        extra={
            "outcome": outcome,
            "status": status,
            "upstream_calls": spent.calls,
            "transient_retries": spent.retries,
            "prompt_tokens": spent.prompt_tokens,
            "completion_tokens": spent.completion_tokens,
            "extraction_ms": round((time.monotonic() - started) * 1000),
            "reason": reason,
        },
    )


def _shown_title(article: Article, text: ArticleText) -> str | None:
    """The title the model reads: none when it is addressed to a machine (the article's
    sentences of that kind are shown as withheld, ``ArticleText.prompt``)."""
    return None if text.title_is_directive else article.title
