"""The JSON log lines: an access line carries its request's fields, other records their extras,
and the cheaper access record is still an ordinary ``logging`` record."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from service.logs import JsonFormatter, current_request_id, log_access


@contextmanager
def captured(logger: str) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger(logger)
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


FIELDS = {
    "request_id": "r-1",
    "method": "POST",
    "path": "/v1/summaries",
    "status": 200,
    "duration_ms": 0.42,
    "cache": "hit",
    "api_key": None,
}


def test_an_access_line_is_one_json_object_with_the_requests_fields():
    with captured("service.access") as stream:
        log_access("POST", "/v1/summaries", 200, dict(FIELDS))
        log_access("GET", "/v1/summaries/abc", 404, {**FIELDS, "status": 404, "cache": None})
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first == {
        "ts": first["ts"],
        "level": "info",
        "logger": "service.access",
        "msg": "POST /v1/summaries 200",
        "pid": os.getpid(),
        **FIELDS,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["ts"])
    assert abs(time.mktime(time.strptime(first["ts"], "%Y-%m-%dT%H:%M:%S")) - time.time()) < 5
    assert second["msg"] == "GET /v1/summaries/abc 404"
    assert (second["status"], second["cache"]) == (404, None)


def test_the_access_record_is_an_ordinary_record_for_other_handlers():
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    keep.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(status)s"))
    log = logging.getLogger("service.access")
    log.addHandler(keep)
    log.setLevel(logging.INFO)
    try:
        log_access("POST", "/v1/summaries", 429, {**FIELDS, "status": 429})
        log.setLevel(logging.WARNING)  # the access log off: nothing is made
        log_access("POST", "/v1/summaries", 200, dict(FIELDS))
    finally:
        log.removeHandler(keep)
        log.setLevel(logging.NOTSET)
    (record,) = seen
    assert keep.format(record) == "INFO service.access POST /v1/summaries 429 429"
    assert (record.status, record.api_key, record.process) == (429, None, os.getpid())  # type: ignore[attr-defined]
    assert record.created <= time.time()


def test_other_records_keep_their_extras_the_request_id_and_the_traceback():
    with captured("service.test") as stream:
        token = current_request_id.set("req-7")
        try:
            logging.getLogger("service.test").info("plain", extra={"upstream_calls": 2})
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("service.test").exception("failed")
        finally:
            current_request_id.reset(token)
    plain, failed = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (plain["msg"], plain["upstream_calls"], plain["request_id"]) == ("plain", 2, "req-7")
    assert failed["level"] == "error" and "ValueError: boom" in failed["exc"]
