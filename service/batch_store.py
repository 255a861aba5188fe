"""Batches, their items and their webhook deliveries: the tables and every query on them.

A batch is a row of ``batches``; each article of it a row of ``batch_items``, in the order
sent (``idx``). An item is *pending* until a job takes its article, *running* while the job
works on it, then *done* (``summary_id``, ``cached``), *failed* (``error``) or *cancelled*.
Every change of an item's state is one guarded ``UPDATE`` (``WHERE status = …``), so however
many processes race or die, an item ends done, failed or cancelled exactly once.

Items are grouped by ``article_key`` (the article's cache key): one job answers every item of
that key, in every batch, at once. On SQLite the API process claims keys itself
(``claim_next``), naming itself in ``runner`` so that a restart can hand back what a killed
process held (``release_dead``); on PostgreSQL procrastinate's jobs carry the keys and
``orphan_keys`` finds any that lost theirs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlmodel import Field, Index, SQLModel

from service.errors import InvalidInput
from service.store import SummaryRow

ITEM_STATUSES = ("pending", "running", "done", "failed", "cancelled")
ENDED = ("done", "cancelled")


class BatchRow(SQLModel, table=True):
    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_created", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=32)
    status: str = Field(max_length=16)  # queued, running, cancelling, done, cancelled
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    total: int
    meta: bytes | None = None  # the client's "metadata", as JSON
    api_key: str | None = Field(default=None, max_length=64)  # the submitting key's name
    webhook_url: str | None = None
    webhook_status: str | None = Field(default=None, max_length=16)  # pending, delivered, failed


class BatchItemRow(SQLModel, table=True):
    __tablename__ = "batch_items"
    __table_args__ = (
        Index("ix_batch_items_position", "batch_id", "idx", unique=True),
        Index("ix_batch_items_state", "batch_id", "status", "idx"),
        Index("ix_batch_items_todo", "status", "seq"),
        Index("ix_batch_items_article", "article_key", "status"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    batch_id: str = Field(max_length=32)
    idx: int
    external_id: str | None = None
    article_key: str = Field(max_length=64)
    status: str = Field(max_length=16)
    request: bytes  # the article as sent (JSON)
    runner: str | None = Field(default=None, max_length=64)
    summary_id: str | None = Field(default=None, max_length=64)
    cached: bool | None = None
    error: bytes | None = None  # {"status", "code", "message"} as JSON
    finished_at: datetime | None = None


class WebhookAttemptRow(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_batch", "batch_id", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: str = Field(max_length=32)
    attempt: int
    at: datetime
    outcome: str = Field(max_length=32)  # delivered, http_error, timeout, connection_error, …
    status_code: int | None = None
    error: str | None = None
    duration_ms: int


_BATCHES: Table = BatchRow.__table__  # type: ignore[attr-defined]
_ITEMS: Table = BatchItemRow.__table__  # type: ignore[attr-defined]
_ATTEMPTS: Table = WebhookAttemptRow.__table__  # type: ignore[attr-defined]
_SUMMARIES: Table = SummaryRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewItem:
    idx: int
    external_id: str | None
    article_key: str
    request: bytes


@dataclass(frozen=True)
class Counts:
    total: int = 0
    done: int = 0  # answered, from the store or by the model
    cached: int = 0  # of those, answered from the store
    failed: int = 0
    cancelled: int = 0
    pending: int = 0  # not answered yet: waiting or in work
    running: int = 0  # of those, in work now

    @property
    def finished(self) -> int:
        return self.done + self.failed


@dataclass(frozen=True)
class Started:
    """What a job needs of the items it took: the article (the first item's request) and
    the batches they belong to."""

    request: bytes
    batch_ids: list[str]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time, which SQLite and a UTC PostgreSQL session give back without a zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class BatchStore:
    """Batch queries on the service's engine (SQLite writes take the write lock up front, as
    ``service.store.Store`` sets up)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write = engine.execution_options(sqlite_write=True)
        self.backend = engine.dialect.name

    # --- submission and reading ---------------------------------------------------------

    def create(self, batch: BatchRow, items: list[NewItem]) -> None:
        rows = [
            {
                "batch_id": batch.id,
                "idx": item.idx,
                "external_id": item.external_id,
                "article_key": item.article_key,
                "status": "pending",
                "request": item.request,
            }
            for item in items
        ]
        with self._write.begin() as conn:
            conn.execute(insert(_BATCHES), [batch.model_dump()])
            for start in range(0, len(rows), 1000):
                conn.execute(insert(_ITEMS), rows[start : start + 1000])

    def get(self, batch_id: str) -> BatchRow | None:
        if "\x00" in batch_id:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(_BATCHES).where(_BATCHES.c.id == batch_id)).first()
        return BatchRow.model_validate(row._mapping) if row is not None else None

    def counts(self, batch_ids: Iterable[str]) -> dict[str, Counts]:
        ids = list(batch_ids)
        found: dict[str, dict[str, int]] = {i: {} for i in ids}
        if not ids:
            return {}
        stmt = (
            select(_ITEMS.c.batch_id, _ITEMS.c.status, _ITEMS.c.cached, func.count())
            .where(_ITEMS.c.batch_id.in_(ids))
            .group_by(_ITEMS.c.batch_id, _ITEMS.c.status, _ITEMS.c.cached)
        )
        with self.engine.connect() as conn:
            for batch_id, status, cached, n in conn.execute(stmt):
                tally = found[batch_id]
                tally[status] = tally.get(status, 0) + n
                if status == "done" and cached:
                    tally["cached"] = tally.get("cached", 0) + n
        return {
            batch_id: Counts(
                total=sum(t.get(s, 0) for s in ITEM_STATUSES),
                done=t.get("done", 0),
                cached=t.get("cached", 0),
                failed=t.get("failed", 0),
                cancelled=t.get("cancelled", 0),
                pending=t.get("pending", 0) + t.get("running", 0),
                running=t.get("running", 0),
            )
            for batch_id, t in found.items()
        }

    def list_batches(self, limit: int, cursor: str | None) -> tuple[list[BatchRow], str | None]:
        """Batches, newest first."""
        stmt = select(_BATCHES)
        if cursor:
            created, last_id = _decode(cursor)
            stmt = stmt.where(
                (_BATCHES.c.created_at < created)
                | ((_BATCHES.c.created_at == created) & (_BATCHES.c.id < last_id))
            )
        stmt = stmt.order_by(_BATCHES.c.created_at.desc(), _BATCHES.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = [BatchRow.model_validate(r._mapping) for r in conn.execute(stmt)]
        page = rows[:limit]
        more = len(rows) > limit and page
        return page, _encode([page[-1].created_at.isoformat(), page[-1].id]) if more else None

    def items(
        self,
        batch_id: str,
        *,
        status: str | None,
        limit: int,
        cursor: str | None,
        with_summaries: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of a batch's items in the order sent, each with its summary's stored
        resource (``body``) when asked for."""
        after = -1
        if cursor:
            try:
                (after,) = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
                after = int(after)
            except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
                raise InvalidInput("cursor is not one this service issued") from exc
        columns = [
            _ITEMS.c.idx,
            _ITEMS.c.external_id,
            _ITEMS.c.status,
            _ITEMS.c.summary_id,
            _ITEMS.c.cached,
            _ITEMS.c.error,
        ]
        stmt: Any = select(*columns).where(_ITEMS.c.batch_id == batch_id, _ITEMS.c.idx > after)
        if status is not None:
            stmt = stmt.where(_ITEMS.c.status == status)
        stmt = stmt.order_by(_ITEMS.c.idx).limit(limit + 1)
        if with_summaries:
            page = stmt.subquery("page")
            stmt = (
                select(page, _SUMMARIES.c.body)
                .select_from(page.outerjoin(_SUMMARIES, _SUMMARIES.c.id == page.c.summary_id))
                .order_by(page.c.idx)
            )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        page_rows = rows[:limit]
        more = len(rows) > limit and page_rows
        next_cursor = _encode([page_rows[-1]["idx"]]) if more else None
        return page_rows, next_cursor

    def cancel(self, batch_id: str) -> str | None:
        """Cancel the items not yet taken. The batch is ``cancelled`` at once when none of it
        is in work, else ``cancelling`` until the job of the last one closes it
        (``finish``). Returns the batch's status, None when it had already ended."""
        if "\x00" in batch_id:
            return None
        now = utcnow()
        with self._write.begin() as conn:
            # The batch row is locked first, as _close_if_answered locks it, so that the two
            # never both see the other's items as still open.
            status = conn.execute(
                select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id).with_for_update()
            ).scalar()
            if status is None or status in ENDED:
                return None
            if status == "cancelling":
                return status
            conn.execute(
                update(_ITEMS)
                .where(_ITEMS.c.batch_id == batch_id, _ITEMS.c.status == "pending")
                .values(status="cancelled", finished_at=now)
            )
            in_work = conn.execute(
                select(_ITEMS.c.seq)
                .where(_ITEMS.c.batch_id == batch_id, _ITEMS.c.status == "running")
                .limit(1)
            ).first()
            status = "cancelling" if in_work is not None else "cancelled"
            conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == batch_id)
                .values(status=status, finished_at=None if in_work is not None else now)
            )
        return status

    # --- the job of one article ----------------------------------------------------------

    _TAKE = (
        update(_ITEMS)
        .where(
            _ITEMS.c.article_key == bindparam("key"),
            _ITEMS.c.status.in_(["pending", "running"]),
        )
        .values(status="running", runner=bindparam("runner"))
        .returning(_ITEMS.c.seq, _ITEMS.c.batch_id, _ITEMS.c.request)
    )

    def start(self, key: str, runner: str) -> Started | None:
        """Take every unanswered item of ``key`` (those a dead job had taken too); None when
        there are none (answered by an earlier job, or cancelled)."""
        with self._write.begin() as conn:
            # RETURNING gives the rows in no particular order: the first sent comes first.
            rows = sorted(conn.execute(self._TAKE, {"key": key, "runner": runner}).all())
            if not rows:
                return None
            batch_ids = sorted({r[1] for r in rows})
            conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id.in_(batch_ids), _BATCHES.c.status == "queued")
                .values(status="running", started_at=utcnow())
            )
        return Started(request=rows[0][2], batch_ids=batch_ids)

    def finish(
        self,
        key: str,
        *,
        summary_id: str | None = None,
        cached: bool | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, str | None]:
        """Answer the running items of ``key``: done with ``summary_id``, or failed with
        ``error``; then end each of their batches that has nothing left. Returns every batch
        answered, with the status it ended in (``_close_if_answered``), else None.

        Two transactions, as ever, on one connection: the items are answered and committed
        before any batch row is locked (the order ``cancel`` locks them in)."""
        values: dict[str, Any] = {"finished_at": utcnow(), "runner": None}
        if error is None:
            values.update(status="done", summary_id=summary_id, cached=cached)
        else:
            values.update(status="failed", error=orjson.dumps(error))
        stmt = (
            update(_ITEMS)
            .where(_ITEMS.c.article_key == key, _ITEMS.c.status == "running")
            .values(values)
            .returning(_ITEMS.c.batch_id)
        )
        with self._write.connect() as conn:
            with conn.begin():
                answered = sorted({batch_id for (batch_id,) in conn.execute(stmt)})
            ended: dict[str, str | None] = {}
            for batch_id in answered:
                with conn.begin():
                    ended[batch_id] = self._close_if_answered(conn, batch_id)
        return ended

    def _close_if_answered(self, conn: Connection, batch_id: str) -> str | None:
        """End the batch if nothing of it is left: ``done``, or ``cancelled`` when it was
        being cancelled. The status for the one caller that ended it, else None."""
        # Locked before the items are read (see cancel); on PostgreSQL the next statement
        # then sees what the cancel committed.
        status = conn.execute(
            select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id).with_for_update()
        ).scalar()
        if status is None or status in ENDED:
            return None
        left = conn.execute(
            select(_ITEMS.c.seq)
            .where(_ITEMS.c.batch_id == batch_id, _ITEMS.c.status.in_(["pending", "running"]))
            .limit(1)
        ).first()
        if left is not None:
            return None
        ended = "cancelled" if status == "cancelling" else "done"
        conn.execute(
            update(_BATCHES)
            .where(_BATCHES.c.id == batch_id)
            .values(status=ended, finished_at=utcnow())
        )
        return ended

    # --- the in-process engine (SQLite) ---------------------------------------------------

    def claim_next(self, runner: str) -> str | None:
        """Take the oldest waiting article's items for ``runner``; its key, or None."""
        with self._write.begin() as conn:
            key = conn.execute(
                select(_ITEMS.c.article_key)
                .where(_ITEMS.c.status == "pending")
                .order_by(_ITEMS.c.seq)
                .limit(1)
            ).scalar()
            if key is None:
                return None
            conn.execute(
                update(_ITEMS)
                .where(_ITEMS.c.article_key == key, _ITEMS.c.status == "pending")
                .values(status="running", runner=runner)
            )
            return key

    def release_dead(self, alive: Callable[[str], bool]) -> int:
        """Hand back the items of runners that are gone (a killed process): pending again."""
        with self._write.begin() as conn:
            runners = conn.execute(
                select(_ITEMS.c.runner).where(_ITEMS.c.status == "running").distinct()
            ).scalars()
            dead = [r for r in runners if r is None or not alive(r)]
            if not dead:
                return 0
            return conn.execute(
                update(_ITEMS)
                .where(_ITEMS.c.status == "running")
                .where(_ITEMS.c.runner.in_(dead) | _ITEMS.c.runner.is_(None))
                .values(status="pending", runner=None)
            ).rowcount

    def has_pending(self) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(_ITEMS.c.seq).where(_ITEMS.c.status == "pending").limit(1)
            ).first()
        return found is not None

    # --- procrastinate (PostgreSQL) --------------------------------------------------------

    def orphan_keys(self, limit: int = 1000) -> list[str]:
        """Keys of unanswered items that no procrastinate job waits for or works on: their
        job was never deferred (the API process died in between) or it failed."""
        stmt = text(
            """
            SELECT DISTINCT i.article_key FROM batch_items i
            WHERE i.status IN ('pending', 'running')
              AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                              WHERE j.queueing_lock = i.article_key AND j.status = 'todo')
              AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                              WHERE j.lock = i.article_key AND j.status = 'doing')
            LIMIT :limit
            """
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt, {"limit": limit}).scalars())

    def orphan_webhooks(self) -> list[str]:
        """Ended batches whose webhook is still to deliver and has no job."""
        stmt = text(
            """
            SELECT b.id FROM batches b
            WHERE b.webhook_status = 'pending' AND b.status IN ('done', 'cancelled')
              AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                              WHERE j.lock = 'webhook:' || b.id
                                AND j.status IN ('todo', 'doing'))
            """
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    # --- webhooks --------------------------------------------------------------------------

    def pending_webhooks(self) -> list[str]:
        """Ended batches whose webhook is still to deliver (SQLite: resumed at start)."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(_BATCHES.c.id).where(
                        _BATCHES.c.webhook_status == "pending", _BATCHES.c.status.in_(ENDED)
                    )
                ).scalars()
            )

    def attempts(self, batch_ids: Iterable[str]) -> dict[str, list[WebhookAttemptRow]]:
        ids = list(batch_ids)
        found: dict[str, list[WebhookAttemptRow]] = {i: [] for i in ids}
        if not ids:
            return found
        stmt = (
            select(_ATTEMPTS)
            .where(_ATTEMPTS.c.batch_id.in_(ids))
            .order_by(_ATTEMPTS.c.batch_id, _ATTEMPTS.c.attempt)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                found[row.batch_id].append(WebhookAttemptRow.model_validate(row._mapping))
        return found

    def record_attempt(self, attempt: WebhookAttemptRow, final_status: str | None) -> None:
        """Keep one delivery attempt; ``final_status`` (delivered, failed) ends the webhook."""
        with self._write.begin() as conn:
            conn.execute(insert(_ATTEMPTS), [attempt.model_dump(exclude={"id"})])
            if final_status is not None:
                conn.execute(
                    update(_BATCHES)
                    .where(_BATCHES.c.id == attempt.batch_id)
                    .values(webhook_status=final_status)
                )

    # --- metrics -----------------------------------------------------------------------------

    def status_totals(self) -> dict[str, int]:
        """Items of every batch by status; ``cached``: the done ones answered from the store."""
        stmt = select(_ITEMS.c.status, _ITEMS.c.cached, func.count()).group_by(
            _ITEMS.c.status, _ITEMS.c.cached
        )
        totals = dict.fromkeys((*ITEM_STATUSES, "cached"), 0)
        with self.engine.connect() as conn:
            for status, cached, n in conn.execute(stmt):
                totals[status] += n
                if status == "done" and cached:
                    totals["cached"] += n
        return totals

    def delete(self, batch_id: str) -> None:
        """Forget a batch entirely (tests and benchmarks)."""
        with self._write.begin() as conn:
            for table in (_ATTEMPTS, _ITEMS):
                conn.execute(delete(table).where(table.c.batch_id == batch_id))
            conn.execute(delete(_BATCHES).where(_BATCHES.c.id == batch_id))


def _encode(parts: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, batch_id = orjson.loads(raw)
        if "\x00" in str(batch_id):
            raise ValueError("NUL in a cursor")
        return datetime.fromisoformat(created), str(batch_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidInput("cursor is not one this service issued") from exc
