"""Stored summaries: the SQLModel table, the engine, and every query the service makes.

Two backends, one schema (``service.migrations``):

- **SQLite** (the embedded default): WAL mode with a busy timeout; writes open with
  ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock. Text search is an
  FTS5 table kept in step by triggers.
- **PostgreSQL** (``postgresql+psycopg://``, for several replicas): a sized connection pool,
  sessions in UTC, text search on a generated ``tsvector`` column with a GIN index.

An *article* is its normalized text (``content_sha256``). It may have several records: one per
model, prompt and rules version, and one per ``refresh``. ``latest`` marks the newest of them,
the one the listing shows; ``superseded`` marks the records a refresh replaced for their cache
key, which the cache no longer serves.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Double,
    Engine,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    cast,
    column,
    event,
    func,
    literal,
    literal_column,
    table,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from sqlmodel import Field, Index, Session, SQLModel, col, create_engine, or_, select

from service.errors import DatabaseDamaged, InvalidInput, SchemaOutOfDate


class SummaryRow(SQLModel, table=True):
    __tablename__ = "summaries"
    __table_args__ = (
        Index("ix_summaries_created", "created_at", "id"),
        Index("ix_summaries_key_current", "cache_key", "superseded"),
        Index("ix_summaries_latest", "latest", "created_at", "id"),
        Index("ix_summaries_article", "content_sha256", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    cache_key: str = Field(max_length=64)
    superseded: bool = False
    # The newest record of its article (``content_sha256``): what the listing shows.
    latest: bool = True
    content_sha256: str = Field(max_length=64)
    created_at: datetime
    model: str
    prompt_version: str
    schema_version: str
    title: str | None = None
    published: str | None = None
    source_url: str | None = None
    is_incident: bool = Field(index=True)
    category: str | None = Field(default=None, index=True)
    country_code: str | None = Field(default=None, index=True)
    event_date: str | None = Field(default=None, index=True)
    headline: str
    summary: str
    # Searched with headline and summary (see ``search_fields``).
    place: str | None = None
    perpetrators: str | None = None
    # The whole resource as served (without ``cached``), so a hit is one read, no rebuild.
    body: bytes


class ArticleTextRow(SQLModel, table=True):
    """The text a summary was made from: its evidence offsets point into it (for an article
    sent as a page or a link, the text extracted from the page)."""

    __tablename__ = "article_texts"

    id: str = Field(primary_key=True, max_length=64)  # the summary's id
    text: str


class RequestKeyRow(SQLModel, table=True):
    """A text article's request as sent -> the cache key of the record it asks for (see
    ``Summarizer.request_key``): a byte-identical resend is one hash and one read."""

    __tablename__ = "request_keys"
    __table_args__ = {"sqlite_with_rowid": False}

    digest: bytes = Field(primary_key=True, sa_type=LargeBinary(32))  # a SHA-256
    cache_key: str = Field(max_length=64)
    created_at: datetime


class ApiKeyRow(SQLModel, table=True):
    """An API key made with ``incident-summarizer keys add``: its SHA-256, never the key."""

    __tablename__ = "api_keys"

    name: str = Field(primary_key=True, max_length=64)
    key_sha256: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # the key's first characters, to recognise it in a list
    created_at: datetime
    revoked_at: datetime | None = None


_SUMMARIES: Table = SummaryRow.__table__  # type: ignore[attr-defined]
_TEXTS: Table = ArticleTextRow.__table__  # type: ignore[attr-defined]
_REQUEST_KEYS: Table = RequestKeyRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ListQuery:
    country_code: str | None = None
    category: str | None = None
    is_incident: bool | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None
    limit: int = 20
    cursor: str | None = None
    # "current": each article's newest record once; "all": every stored record.
    versions: Literal["current", "all"] = "current"


def search_fields(incident: dict[str, Any]) -> dict[str, str | None]:
    """The searched columns besides headline and summary, from a record's ``incident``."""
    names = [
        p.get("name") or ""
        for p in incident.get("perpetrators") or []
        if (p.get("name") or "").lower() != "unknown"
    ]
    return {
        "place": (incident.get("location") or {}).get("place"),
        "perpetrators": " ".join(n for n in names if n) or None,
    }


_WORD = re.compile(r"[^\W_]+")
_PHRASE = re.compile(r'"([^"]*)"')
MAX_SEARCH_TERMS = 16


@dataclass(frozen=True)
class SearchTerms:
    """What ``q`` asks for: every word (a prefix, unless it is a number) and every quoted
    phrase (its words adjacent, in order) must occur. Case is ignored; nothing is stemmed."""

    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, q: str) -> SearchTerms:
        phrases = [tuple(_WORD.findall(p.lower())) for p in _PHRASE.findall(q)]
        words = _WORD.findall(_PHRASE.sub(" ", q).lower())
        phrases = [p for p in phrases if p]
        if len(words) + sum(map(len, phrases)) > MAX_SEARCH_TERMS:
            raise InvalidInput(f"q may hold at most {MAX_SEARCH_TERMS} words")
        return cls(tuple(words), tuple(phrases))

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases

    def fts5(self) -> str:
        # Terms are runs of letters and digits only, so quoting them is all the escaping needed.
        parts = [f'"{w}"' if w.isdigit() else f'"{w}"*' for w in self.words]
        parts += ['"' + " ".join(p) + '"' for p in self.phrases]
        return " AND ".join(parts)

    def tsquery(self) -> str:
        parts = [w if w.isdigit() else f"{w}:*" for w in self.words]
        parts += ["(" + " <-> ".join(p) + ")" for p in self.phrases]
        return " & ".join(parts)


def _sqlite_pragmas(synchronous: str):
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is
        # DEFERRED, which deadlocks two writers that both started by reading).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.close()

    return on_connect


def database_url(url: str) -> URL:
    """``url`` parsed; a plain ``postgresql://`` (or ``postgres://``) URL means psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@dataclass(frozen=True)
class Pool:
    """Connections to a database server, per process (SQLite sizes its own pool)."""

    size: int = 10
    max_overflow: int = 10
    timeout_s: float = 30.0
    recycle_s: float = 1800.0
    connect_timeout_s: int = 10


def make_engine(url: str, *, synchronous: str = "NORMAL", pool: Pool | None = None) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "postgresql":
        pool = pool or Pool()
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.timeout_s,
            pool_recycle=pool.recycle_s,
            # UTC sessions: ``created_at`` is a UTC time without a zone, whatever the
            # server's own time zone.
            connect_args={"options": "-c timezone=UTC", "connect_timeout": pool.connect_timeout_s},
        )
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # One pooled connection per worker thread of asyncio's default executor (where the
    # blocking calls run), so none is opened, set up and closed again per request.
    threads = min(32, (os.cpu_count() or 1) + 4)
    connect_args = {"check_same_thread": False, "timeout": 30}
    if parsed.database in (None, "", ":memory:"):
        # An in-memory database lives in its one connection, so every thread shares that
        # connection, one at a time: a pool of exactly one, waited for. (Shared at once, one
        # thread's transaction would take in another's statements: the batch engine's poll
        # could roll back a record being stored.)
        engine = create_engine(
            url,
            connect_args=connect_args,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
    else:
        engine = create_engine(
            url, connect_args=connect_args, pool_size=threads, max_overflow=threads
        )
    event.listen(engine, "connect", _sqlite_pragmas(synchronous))

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Writes take the write lock up front. Reads are single statements and run in
        # SQLite's autocommit mode: one consistent snapshot each, no BEGIN/ROLLBACK round trip.
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# The hit path's statements, for the event-loop reader below (SQLite stores booleans as 0/1).
_CURRENT_SQL = "SELECT body FROM summaries WHERE cache_key = ? AND superseded = 0 LIMIT 1"
_BY_ID_SQL = "SELECT body FROM summaries WHERE id = ?"
# A request key joined to the live record of its cache key: a record superseded since, or
# gone, is not found through it.
_BY_REQUEST_SQL = (
    "SELECT s.body FROM request_keys AS r JOIN summaries AS s ON s.cache_key = r.cache_key "
    "WHERE r.digest = ? AND s.superseded = 0 LIMIT 1"
)


# Held while migrating: replicas starting together migrate once (PostgreSQL advisory lock; on
# SQLite the write lock of ``BEGIN IMMEDIATE`` serves).
MIGRATION_LOCK = int.from_bytes(
    hashlib.sha256(b"incident-summarizer/migrate").digest()[:8], "big", signed=True
)

_FTS = table("summaries_fts", column("rowid"), column("id"))
# A search index row's rowid lies in the block of its record's ``created_at`` second: that
# second x FTS_BLOCK and up (migration 0008), so rowid order is the records' order by second.
FTS_SECOND_BITS = 24
FTS_BLOCK = 1 << FTS_SECOND_BITS
# A search joins the best SEARCH_WIDENING x (page + 1) matches to their records first, and
# that many times more each time the filters leave less than a page (see _search_sqlite).
SEARCH_WIDENING = 8
# PostgreSQL: each record's ``tsvector`` and what the listing filters and orders on, in a narrow
# table kept in step with ``summaries`` by a trigger (migration 0009).
_SEARCH = table(
    "summaries_search",
    column("id", String),
    column("created_at", DateTime(timezone=True)),
    column("latest", Boolean),
    column("is_incident", Boolean),
    column("category", String),
    column("country_code", String),
    column("event_date", String),
    column("search"),
)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        postgres = engine.dialect.name == "postgresql"
        dialect = postgresql if postgres else sqlite  # both write ON CONFLICT alike
        self._put_summary = _upsert(dialect.insert(_SUMMARIES))
        self._put_text = _upsert(dialect.insert(_TEXTS))
        self._insert_request_keys = dialect.insert(_REQUEST_KEYS).on_conflict_do_nothing(
            index_elements=["digest"]
        )
        # Same pool; its transactions start with BEGIN IMMEDIATE (see make_engine).
        self._write_engine = engine.execution_options(sqlite_write=True)
        # Same pool, for the hit path's single-statement reads: on PostgreSQL without the
        # BEGIN and ROLLBACK around them (one round trip, not three). SQLite reads run so
        # already (see make_engine).
        self._point_reads = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine
        )
        self._reader: sqlite3.Connection | None = None
        self._sqlite_searches: dict[tuple[Any, ...], Any] = {}
        url = engine.url
        plain_file = (
            url.get_backend_name() == "sqlite"
            and url.database not in (None, "", ":memory:")
            and not url.query  # e.g. a file: URI; SQLAlchemy's own connections handle those
        )
        self._reader_path = url.database if plain_file else None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.engine.dispose()

    def _loop_reader(self) -> sqlite3.Connection | None:
        """A read-only connection of its own, used only on the event loop's thread.

        In WAL mode a point read by primary or indexed key takes tens of microseconds and does
        not wait for writers, which is far less than a hop to a worker thread and a pooled
        connection. Its busy timeout is zero: in the rare moments the database is busy for
        readers too (WAL recovery, a checkpoint that truncates), the read fails at once and
        is retried in a worker thread, where waiting blocks no one else.
        """
        if self._reader is None and self._reader_path is not None:
            conn = sqlite3.connect(
                self._reader_path, timeout=0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only=1")
            self._reader = conn
        return self._reader

    async def _read_one(self, sql: str, value: str | bytes, fallback: Any) -> bytes | None:
        reader = self._loop_reader()
        if reader is not None:
            try:
                row = reader.execute(sql, (value,)).fetchone()
            except sqlite3.OperationalError:
                pass  # busy or locked: wait for it in a worker thread instead
            else:
                return row[0] if row is not None else None
        return await asyncio.to_thread(fallback, value)

    async def current_async(self, cache_key: str) -> bytes | None:
        """``current`` without leaving the event loop when the database allows it."""
        return await self._read_one(_CURRENT_SQL, cache_key, self.current)

    async def by_request_async(self, digest: bytes) -> bytes | None:
        """``by_request`` without leaving the event loop when the database allows it."""
        return await self._read_one(_BY_REQUEST_SQL, digest, self.by_request)

    async def get_async(self, summary_id: str) -> bytes | None:
        """``get`` without leaving the event loop when the database allows it."""
        return await self._read_one(_BY_ID_SQL, summary_id, self.get)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def libpq_url(self) -> str:
        """The database's URL as libpq reads it (for ``service.coordination``)."""
        url = self.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def migrate(self) -> tuple[str | None, str | None]:
        """Upgrade the schema to the newest revision, under the migration lock; returns the
        revisions before and after. A second process arriving meanwhile waits, then finds
        nothing left to do."""
        from service import migrations

        with self._write_engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the write lock
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            return migrations.upgrade(conn)

    def revision(self) -> str | None:
        from service import migrations

        with self.engine.connect() as conn:
            return migrations.current(conn)

    def require_current_schema(self) -> None:
        from service import migrations

        have, want = self.revision(), migrations.head()
        if have != want:
            raise SchemaOutOfDate(
                f"the database schema is at revision {have or 'none'}, this release needs "
                f"{want}: run `incident-summarizer db upgrade` (or start with "
                "SUMMARIZER_DATABASE_MIGRATE=true)"
            )

    def create_schema(self) -> None:
        self.migrate()

    def check(self) -> None:
        """The database answers (for /readyz: cheap, whatever the database's size)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def verify_integrity(self) -> None:
        """At start-up: refuse a damaged SQLite file rather than serve from it or write to it.

        ``quick_check`` reads every page and checks the b-trees and records, but not that
        indexes match their tables, which would take a sort per index: seconds per gigabyte
        instead of minutes.
        """
        if self.engine.dialect.name != "sqlite":
            self.check()
            return
        try:
            with self.engine.connect() as conn:
                problems = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check(10)")]
        except DBAPIError as exc:
            # "file is not a database", "database disk image is malformed"; an OperationalError
            # (permissions, a missing directory) is not damage and is raised as it is.
            orig = exc.orig
            if not isinstance(orig, sqlite3.DatabaseError) or isinstance(
                orig, sqlite3.OperationalError
            ):
                raise
            problems = [str(orig)]
        if problems != ["ok"]:
            path = self.engine.url.database
            raise DatabaseDamaged(
                f"the database {path} failed its integrity check: {'; '.join(problems)}. "
                f"Restore a backup, or salvage its rows: sqlite3 {path} .recover | sqlite3 NEW"
            )

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with Session(self._write_engine) as session, session.begin():
            yield session

    # The hit path: plain Core statements, compiled once; no ORM session per read.
    _CURRENT = (
        select(SummaryRow.body)
        .where(
            col(SummaryRow.cache_key) == bindparam("key"),
            col(SummaryRow.superseded).is_(False),
        )
        .limit(1)
    )
    _BY_ID = select(SummaryRow.body).where(col(SummaryRow.id) == bindparam("id"))

    def current(self, cache_key: str) -> bytes | None:
        """The live record for a cache key, as stored bytes."""
        with self._point_reads.connect() as conn:
            return conn.execute(self._CURRENT, {"key": cache_key}).scalar()

    _BY_REQUEST = (
        select(SummaryRow.body)
        .join(RequestKeyRow, col(RequestKeyRow.cache_key) == col(SummaryRow.cache_key))
        .where(
            col(RequestKeyRow.digest) == bindparam("digest"),
            col(SummaryRow.superseded).is_(False),
        )
        .limit(1)
    )

    def by_request(self, digest: bytes) -> bytes | None:
        """The live record of the cache key a request key maps to, as stored bytes."""
        with self._point_reads.connect() as conn:
            return conn.execute(self._BY_REQUEST, {"digest": digest}).scalar()

    def remember_requests(self, keys: dict[bytes, str]) -> None:
        """Map request keys (digest -> cache key), in one transaction. A digest covers
        everything that decides its cache key, so one stored already maps to the same key."""
        rows = [{"digest": d, "cache_key": k, "created_at": utcnow()} for d, k in keys.items()]
        if not rows:
            return
        with self._write_engine.begin() as conn:
            conn.execute(self._insert_request_keys, rows)

    def get(self, summary_id: str) -> bytes | None:
        if "\x00" in summary_id:  # no id holds one, and PostgreSQL refuses it in a query
            return None
        with self._point_reads.connect() as conn:
            return conn.execute(self._BY_ID, {"id": summary_id}).scalar()

    # The miss path's writes: Core statements built once, run with parameters. The ORM's
    # load-then-merge, or statements rebuilt per call, cost more CPU than the rest of a miss
    # outside the model call.
    _SUPERSEDE = (
        update(_SUMMARIES)
        .where(
            _SUMMARIES.c.cache_key == bindparam("key"),
            _SUMMARIES.c.superseded.is_(False),
            _SUMMARIES.c.id != bindparam("keep"),
        )
        .values(superseded=True)
    )
    _TEXT_BY_ID = select(ArticleTextRow.text).where(col(ArticleTextRow.id) == bindparam("id"))

    _RETIRE = (
        update(_SUMMARIES)
        .where(
            _SUMMARIES.c.content_sha256 == bindparam("sha"),
            _SUMMARIES.c.latest.is_(True),
            _SUMMARIES.c.id != bindparam("keep"),
        )
        .values(latest=False)
    )

    def put(self, row: SummaryRow, article_text: str | None = None) -> None:
        """Store ``row`` as the live record of its key and the newest of its article; the
        earlier ones stay, superseded or no longer latest. ``article_text``: the text its
        evidence offsets point into, kept beside it."""
        values = {**row.model_dump(), "latest": True}
        # PostgreSQL's text cannot hold NUL; the served resource (``body``) keeps the text as
        # it came, the columns that filter and search drop the character.
        for name, value in values.items():
            if isinstance(value, str) and "\x00" in value:
                values[name] = value.replace("\x00", "")
        with self._write_engine.begin() as conn:
            if self.backend == "postgresql":
                # Two replicas storing records of one article at once must not both leave
                # theirs marked latest: one waits for the other's commit, then sees its row.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _article_lock(row.content_sha256)},
                )
            conn.execute(self._SUPERSEDE, {"key": row.cache_key, "keep": row.id})
            conn.execute(self._RETIRE, {"sha": row.content_sha256, "keep": row.id})
            # Inserted, or in place of the row of the same id (a second process raced this
            # one to the same article): one statement either way.
            conn.execute(self._put_summary, values)
            if article_text is not None:
                if self.backend == "postgresql":
                    article_text = article_text.replace("\x00", "")
                conn.execute(self._put_text, {"id": row.id, "text": article_text})

    def article_text(self, summary_id: str) -> str | None:
        """The text summary ``summary_id`` was made from (None: unknown, or stored before
        texts were kept)."""
        with self.engine.connect() as conn:
            return conn.execute(self._TEXT_BY_ID, {"id": summary_id}).scalar()

    # --- API keys (see service.access) ---------------------------------------------------

    def add_key(self, name: str, key_sha256: str, prefix: str) -> ApiKeyRow:
        with self._writing() as session:
            if session.get(ApiKeyRow, name) is not None:
                # Revoked names stay taken, so a name in an old log line means one key.
                raise InvalidInput(f"a key named {name!r} exists already; choose another name")
            row = ApiKeyRow(name=name, key_sha256=key_sha256, prefix=prefix, created_at=utcnow())
            session.add(row)
            session.flush()
            session.expunge(row)
            return row

    def list_keys(self) -> list[ApiKeyRow]:
        with Session(self.engine) as session:
            rows = session.exec(select(ApiKeyRow).order_by(col(ApiKeyRow.created_at))).all()
            session.expunge_all()
            return list(rows)

    def revoke_key(self, name: str) -> bool:
        """Revoke the key called ``name``; False when there is no such live key."""
        with self._writing() as session:
            row = session.get(ApiKeyRow, name)
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = utcnow()
            session.add(row)
            return True

    def key_digests(self) -> dict[str, str | None]:
        """Digest -> name of every stored key; None for a revoked one."""
        stmt = select(ApiKeyRow.key_sha256, ApiKeyRow.name, ApiKeyRow.revoked_at)
        with self.engine.connect() as conn:
            return {
                digest: name if revoked is None else None
                for digest, name, revoked in conn.execute(stmt)
            }

    def exists(self, summary_id: str) -> bool:
        with Session(self.engine) as session:
            return session.get(SummaryRow, summary_id) is not None

    def list(self, query: ListQuery) -> tuple[list[bytes], str | None]:
        """A page of records, newest first; with ``q``, best match first (then newest)."""
        terms = SearchTerms.parse(query.q) if query.q else None
        if terms is not None and terms.empty:
            return [], None  # nothing searchable in q (punctuation only): nothing matches
        after = decode_cursor(query.cursor) if query.cursor else None
        if after is not None and (terms is None) != (after[2] is None):
            raise InvalidInput("cursor belongs to a listing with a different q")
        records: Any = select(SummaryRow.body, SummaryRow.created_at, SummaryRow.id)
        if terms is None:
            stmt = self._narrow(records, query, after, None)
            rows = self._rows(stmt.order_by(*_NEWEST).limit(query.limit + 1))
        elif self.backend == "sqlite":
            rows = self._search_sqlite(query, terms, after)
        else:
            stmt, score = self._search(terms)
            stmt = self._narrow(stmt, query, after, score, _SEARCH.c)
            rows = self._rows(_ranked(stmt, score, query.limit, _SEARCH.c))
        page = rows[: query.limit]
        cursor = None
        if len(rows) > query.limit and page:
            last = page[-1]
            cursor = encode_cursor(last[1], last[2], last[3] if terms is not None else None)
        return [r[0] for r in page], cursor

    def _rows(self, stmt: Any, values: dict[str, Any] | None = None) -> Sequence[Any]:
        with self.engine.connect() as conn:
            return conn.execute(stmt, values).all()

    @staticmethod
    def _narrow(
        stmt: Any,
        query: ListQuery,
        after: tuple[datetime, str, float | None] | None,
        score: ColumnElement[float] | None,
        rows: Any = _SUMMARIES.c,
    ) -> Any:
        """``stmt`` with the listing's filters and the records after the cursor, on ``rows``'
        columns (the records', or the search table's on PostgreSQL). Every value is a bind
        parameter named as in ``_values``, so a statement built once serves other values."""
        if query.versions == "current":
            stmt = stmt.where(rows.latest == True)  # noqa: E712 (SQL, not Python)
        values = _values(query, after)
        if "country_code" in values:
            stmt = stmt.where(
                rows.country_code == bindparam("country_code", values["country_code"])
            )
        if "category" in values:
            stmt = stmt.where(rows.category == bindparam("category", values["category"]))
        if "is_incident" in values:
            stmt = stmt.where(rows.is_incident == bindparam("is_incident", values["is_incident"]))
        if "since" in values:
            stmt = stmt.where(rows.event_date >= bindparam("since", values["since"]))
        if "until" in values:
            stmt = stmt.where(rows.event_date <= bindparam("until", values["until"]))
        if after is not None:
            created = bindparam("after_created", values["after_created"], type_=DateTime)
            last_id = bindparam("after_id", values["after_id"], type_=String)
            older = or_(
                rows.created_at < created,
                (rows.created_at == created) & (rows.id < last_id),
            )
            if score is not None:
                last_score = bindparam("after_score", values["after_score"], type_=Double)
                older = or_(score < last_score, (score == last_score) & older)
            stmt = stmt.where(older)
        return stmt

    def _search(self, terms: SearchTerms) -> tuple[Any, ColumnElement[float]]:
        """The rows of the search table matching ``terms``, and their score (higher is
        better), on PostgreSQL: ``ts_rank`` over the ``tsvector`` column. The rank needs each
        match's ``tsvector``, so every match is read whatever the plan, from the narrow search
        table rather than the records (there is no cheaper first cut to make here, see
        ``_search_sqlite``)."""
        if self.backend != "postgresql":
            raise InvalidInput("text search needs SQLite or PostgreSQL")
        query = func.to_tsquery(literal_column("'simple'"), terms.tsquery())
        stmt = select(_SEARCH.c.id).where(_SEARCH.c.search.op("@@")(query))
        # ts_rank is a float4; widened to float8 so the score in a cursor is the exact value
        # the next page compares with (read as float4, 0.6383234 came back and matched no row).
        return stmt, cast(func.ts_rank(_SEARCH.c.search, query), Double)

    def _search_sqlite(
        self, query: ListQuery, terms: SearchTerms, after: tuple[datetime, str, float | None] | None
    ) -> Sequence[Any]:
        """A page of a search on SQLite, ranked and cut in the FTS5 index before any record is
        read.

        The index orders its matches by rank, then by their records' ``created_at`` second,
        newest first (the rowids, migration 0008), and the best ``k`` of that order, with the
        matches tied with the k-th in score and second, are joined to their records and
        filtered. Any match left out ranks after all of those (a lower score, or the same score
        and an earlier second), so when a page and one more survive the filters they are the
        unbounded query's, ties ordered by ``created_at`` and ``id`` on the records. When fewer
        survive and the index cut some matches, ``k`` grows until nothing is cut."""
        # One statement per shape of query (filters present, a cursor or not; 128 at most),
        # built once: building and keying it cost more than running it for a rare word.
        shape = (query.versions, tuple(_values(query, None)), after is not None)
        stmt = self._sqlite_searches.get(shape)
        if stmt is None:
            stmt = self._sqlite_searches[shape] = self._sqlite_statement(query, after)
        values = {**_values(query, after), "fts": terms.fts5(), "page": query.limit + 1}
        k = SEARCH_WIDENING * (query.limit + 1)
        while True:
            found = self._rows(stmt, {**values, "k": k})
            taken, rows = found[0].taken or 0, [r[1:] for r in found if r.id is not None]
            if len(rows) > query.limit or taken < k:
                return rows
            k *= SEARCH_WIDENING

    def _sqlite_statement(
        self, query: ListQuery, after: tuple[datetime, str, float | None] | None
    ) -> Any:
        """The statement of one search on SQLite, for ``query``'s shape: how many matches the
        index gave (``k`` at most: fewer, none was cut), then the page (plus one) made from
        them and the ties of the last of them in its second. Parameters: ``fts`` (the match
        expression), ``k``, ``page`` (rows wanted) and ``_values``'."""
        # Column weights: id (not indexed), headline, summary, place, perpetrators.
        rank = func.bm25(literal_column("summaries_fts"), 0.0, 4.0, 1.0, 2.0, 2.0)  # lower: better
        match = text("summaries_fts MATCH :fts")
        scored = rank.label("bm25")
        matching = select(_FTS.c.rowid, scored).where(match)
        if after is not None:
            # After the cursor in the index: a lower score, or the same one in the cursor's
            # second or before. The full (score, created_at, id) condition is checked on the
            # records.
            last_score = bindparam("after_score", type_=Double)
            cursor_second = cast(
                func.strftime("%s", bindparam("after_created", type_=DateTime)), Integer
            )
            matching = matching.where(
                or_(
                    -rank < last_score,
                    (-rank == last_score) & (_FTS.c.rowid < (cursor_second + 1) * FTS_BLOCK),
                )
            )
        # The best k, ranked once in the index, and the last of them with their number.
        k = bindparam("k", type_=Integer)
        best = (
            matching.order_by(scored, _FTS.c.rowid.desc())
            .limit(k)
            .cte("best")
            .prefix_with("MATERIALIZED")
        )
        last = (
            select(best.c.bm25, best.c.rowid, func.count().over().label("taken"))
            .order_by(best.c.bm25.desc(), best.c.rowid)
            .limit(1)
            .cte("last")
            .prefix_with("MATERIALIZED")
        )
        last_rowid = select(last.c.rowid).scalar_subquery()
        taken = select(last.c.taken).scalar_subquery()
        # When the index cut: the matches after the last in its second's block (a rowid range,
        # which FTS5 reads alone), tied with it.
        ties = (
            select(_FTS.c.rowid, scored)
            .where(
                match,
                _FTS.c.rowid >= last_rowid.op(">>")(FTS_SECOND_BITS).op("<<")(FTS_SECOND_BITS),
                _FTS.c.rowid < last_rowid,
                taken == k,
            )
            .cte("ties")
        )
        candidates = union_all(
            select(best.c.rowid, best.c.bm25),
            select(ties.c.rowid, ties.c.bm25).where(
                ties.c.bm25 == select(last.c.bm25).scalar_subquery()
            ),
        ).subquery("candidates")
        # Each candidate's record id, looked up by the index's rowid (a join would let the
        # planner scan the whole index for it); materialized, so the planner reads the records
        # of these candidates alone.
        hit = _FTS.alias("hit")
        record_id = select(hit.c.id).where(hit.c.rowid == candidates.c.rowid).scalar_subquery()
        found = (
            select(record_id.label("id"), candidates.c.bm25)
            .cte("found")
            .prefix_with("MATERIALIZED")
        )
        score = -found.c.bm25
        stmt = (
            select(SummaryRow.body, SummaryRow.created_at, SummaryRow.id)
            .select_from(found)
            .join(SummaryRow, col(SummaryRow.id) == found.c.id)
        )
        keys = _best_keys(self._narrow(stmt, query, after, score), score, bindparam("page"))
        ranked = keys.cte("ranked").prefix_with("MATERIALIZED")
        # Built on one constant row, so the number comes back even when no record survives
        # the filters.
        one = select(literal(1).label("one")).subquery("one")
        together = (
            select(taken.label("taken"))
            .add_columns(col(SummaryRow.body), ranked.c.created_at, ranked.c.id, ranked.c.score)
            .select_from(
                one.outerjoin(ranked, true()).outerjoin(
                    SummaryRow, col(SummaryRow.id) == ranked.c.id
                )
            )
            .order_by(ranked.c.score.desc(), ranked.c.created_at.desc(), ranked.c.id.desc())
        )
        return together


_NEWEST = (col(SummaryRow.created_at).desc(), col(SummaryRow.id).desc())


def _values(query: ListQuery, after: tuple[datetime, str, float | None] | None) -> dict[str, Any]:
    """The values of ``query``'s filters and of its cursor, by the names of the bind
    parameters ``Store._narrow`` gives them: a filter left out is absent."""
    values: dict[str, Any] = {}
    if query.country_code:
        values["country_code"] = query.country_code.upper()
    if query.category:
        values["category"] = query.category
    if query.is_incident is not None:
        values["is_incident"] = query.is_incident
    if query.since:
        values["since"] = query.since
    if query.until:
        values["until"] = query.until
    if after is not None:
        values["after_created"], values["after_id"] = after[0], after[1]
        if after[2] is not None:
            values["after_score"] = after[2]
    return values


def _best_keys(
    stmt: Any, score: ColumnElement[float], wanted: Any, rows: Any = _SUMMARIES.c
) -> Any:
    """The keys of ``stmt``'s best ``wanted`` records: id, created_at, score (``rows``: the
    table they are read from)."""
    return (
        stmt.with_only_columns(rows.id, rows.created_at, score.label("score"))
        .order_by(score.desc(), rows.created_at.desc(), rows.id.desc())
        .limit(wanted)
    )


def _ranked(stmt: Any, score: ColumnElement[float], limit: int, rows: Any = _SUMMARIES.c) -> Any:
    """The best ``limit + 1`` of ``stmt``'s records: body, created_at, id, score."""
    # Rank the matches on their keys alone, then read the bodies of one page: sorting
    # thousands of matches with their 2 KB bodies attached cost most of the time.
    ranked = _best_keys(stmt, score, limit + 1, rows).subquery("ranked")
    return (
        select(SummaryRow.body, ranked.c.created_at, ranked.c.id, ranked.c.score)
        .join(ranked, col(SummaryRow.id) == ranked.c.id)
        .order_by(ranked.c.score.desc(), ranked.c.created_at.desc(), ranked.c.id.desc())
    )


def _upsert(stmt: Any) -> Any:
    """A dialect's ``INSERT`` that replaces every column of the row of the same id."""
    table = stmt.table
    replaced = {c.name: stmt.excluded[c.name] for c in table.c if c.name != "id"}
    return stmt.on_conflict_do_update(index_elements=[table.c.id], set_=replaced)


def _article_lock(content_sha256: str) -> int:
    return int.from_bytes(bytes.fromhex(content_sha256[:16]), "big", signed=True)


def encode_cursor(created_at: datetime, summary_id: str, score: float | None = None) -> str:
    parts: list[Any] = [created_at.isoformat(), summary_id]
    if score is not None:
        parts.append(float(score))
    raw = orjson.dumps(parts)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, float | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, summary_id, *rest = orjson.loads(raw)
        if len(rest) > 1 or (rest and not isinstance(rest[0], int | float)):
            raise ValueError("unexpected cursor parts")
        score = float(rest[0]) if rest else None
        if "\x00" in str(summary_id):
            raise ValueError("NUL in a cursor")
        return datetime.fromisoformat(created), str(summary_id), score
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidInput("cursor is not one this service issued") from exc


def utcnow() -> datetime:
    # Microseconds dropped: created_at orders the list and is part of its cursor.
    return datetime.now(UTC)
