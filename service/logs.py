"""One JSON line per log record on stderr, and the access log: one line per request.

The access log is written on every request, including the cache hits an archive replay makes
thousands of times a second, so its line is made for little CPU (it was a third of a hit's):

* the record is filled from a template of the attributes every record of this logger shares
  (``logging.Logger.makeRecord`` recomputes the thread and process names, the caller's file
  and module, and checks each extra field against the reserved names, on every call);
* the formatter renders a timestamp once per second, not once per line, and takes the
  access line's fields as they are instead of sifting every attribute of the record.

Each line is written and flushed when it is logged, before the next request is read. (Writing
the lines of one turn of the event loop together saved about 1 µs a line at 32 clients, and
would let a reader see an answer before its line: not worth it.)

It stays a ``logging`` record on the ``service.access`` logger: levels, filters, other handlers
and pytest's ``caplog`` see it like any other.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
import time
from typing import Any

import orjson

ACCESS_LOGGER = "service.access"
access_log = logging.getLogger(ACCESS_LOGGER)

# The request being served; tasks started for it (a shared extraction) inherit it, so their
# log lines carry the id of the request that started them.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# The attributes of a record that ``logging`` itself sets; anything else was passed as extra.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Set on access records: their extra fields, in order, so the formatter need not look for them.
_FIELDS = "access_fields"


class JsonFormatter(logging.Formatter):
    _SKIP = _STANDARD | {_FIELDS}

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _ts(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # local time, to the second, as logging's formatTime
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._ts(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,  # which worker, when there are several
        }
        fields = record.__dict__.get(_FIELDS)
        if fields is not None:
            line.update(fields)
        else:
            line.update({k: v for k, v in record.__dict__.items() if k not in self._SKIP})
        if "request_id" not in line and (request_id := current_request_id.get()) is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # orjson.JSONEncodeError: e.g. an integer wider than 64 bits
            return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "openai", "instructor", "procrastinate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _Template:
    """The attributes every access record shares, made again in a new process or thread."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._attrs: dict[str, Any] = {}

    def attrs(self) -> dict[str, Any]:
        key = (os.getpid(), threading.get_ident())
        if key != self._key:
            record = logging.LogRecord(
                ACCESS_LOGGER, logging.INFO, __file__, 0, "%s %s %s", None, None, "log_access"
            )
            self._attrs = dict(record.__dict__)
            self._key = key
        return self._attrs


_template = _Template()


def log_access(method: str, path: str, status: int, fields: dict[str, Any]) -> None:
    """Log ``METHOD PATH STATUS`` on ``service.access`` with ``fields`` as the line's own."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    now = time.time()
    record = logging.LogRecord.__new__(logging.LogRecord)
    attrs = record.__dict__
    attrs.update(_template.attrs())
    attrs["args"] = (method, path, status)
    attrs["created"] = now
    attrs["msecs"] = int((now - int(now)) * 1000) + 0.0
    attrs["relativeCreated"] = (now - logging._startTime) * 1000  # type: ignore[attr-defined]
    attrs.update(fields)  # as ``extra``: record.status, record.api_key, ...
    attrs[_FIELDS] = fields
    access_log.handle(record)
