"""API keys and rate limits: what a caller without a key, with a key, or with too many
requests observes; keys made and revoked with the CLI against the same SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from typer.testing import CliRunner

from service.access import RateLimiter, key_digest
from service.cli import app as cli
from tests.conftest import running_app
from tests.fake_llm import ScriptedLLM, draft_from_record
from tests.test_errors_and_listing import error_of

# The same tests on SQLite and on PostgreSQL (tests.conftest's database_url).
pytestmark = pytest.mark.backends

OPEN = {"/healthz", "/readyz", "/", "/web/app.js", "/web/app.css"}


def cli_run(data_dir: Path, *args: str, **env: str) -> Any:
    result = CliRunner().invoke(
        cli, list(args), env={"SUMMARIZER_DATA_DIR": str(data_dir), **env}, catch_exceptions=False
    )
    return result


def on(database_url: str | None) -> dict[str, str]:
    """The environment that points the command line at the test's database."""
    return {"SUMMARIZER_DATABASE_URL": database_url} if database_url else {}


def add_key(data_dir: Path, name: str, **env: str) -> str:
    result = cli_run(data_dir, "keys", "add", name, **env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def all_routes(routes) -> list:
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included in the app
        found += all_routes(included.routes) if included is not None else [route]
    return found


def protected_requests(app) -> list[tuple[str, str]]:
    """Every (method, path) the app serves apart from the open ones, docs included."""
    found = []
    for route in all_routes(app.routes):
        path = getattr(route, "path", None)
        if path is None or path in OPEN or path.startswith("/web/"):
            continue
        methods = route.methods if isinstance(route, APIRoute) else {"GET"}
        for method in sorted(methods or {"GET"}):
            if method != "HEAD":
                found.append((method, path.replace("{summary_id}", "0123abcd")))
    return found


async def test_without_a_key_every_route_but_health_and_the_page_is_401(make_settings, seed):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    async with running_app(make_settings(api_keys="k-one"), llm) as client:
        targets = protected_requests(client.app)  # type: ignore[attr-defined]
        paths = {path for _, path in targets}
        # The API, its documents and unknown paths alike.
        assert {"/v1/summaries", "/v1/schema", "/openapi.json", "/docs"} <= paths
        targets += [("GET", "/v1/keys"), ("DELETE", "/v1/summaries/x"), ("GET", "/nowhere")]
        for method, path in targets:
            for headers in ({}, {"X-API-Key": "k-two"}, {"Authorization": "Bearer k-onE"}):
                response = await client.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert error_of(response)["code"] == "unauthorized"
        # A body is never looked at before the key: garbage, the wrong type, too deep.
        for content, ctype in [
            (b"{not json", "application/json"),
            (b"text", "text/plain"),
            (b"[" * 10_000, "application/json"),
        ]:
            response = await client.post(
                "/v1/summaries", content=content, headers={"Content-Type": ctype}
            )
            assert response.status_code == 401
        for path in ["/healthz", "/", "/web/app.js", "/web/app.css"]:
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/readyz")).status_code == 200
    assert llm.record_calls == 0


async def test_a_key_reaches_the_api_and_nothing_else(make_settings, seed, tmp_path, database_url):
    llm = ScriptedLLM(draft_from_record(seed["expected"]))
    key = add_key(tmp_path, "wire-desk", **on(database_url))
    async with running_app(make_settings(), llm) as client:
        auth = {"X-API-Key": key}
        made = await client.post("/v1/summaries", json=seed["request"], headers=auth)
        assert made.status_code == 200, made.text
        # Stored summaries are shared newsroom data: any valid key reads them.
        other = add_key(tmp_path, "web-page", **on(database_url))
        await asyncio.sleep(2.1)  # the running server re-reads stored keys every 2 s
        bearer = {"Authorization": f"Bearer {other}"}
        fetched = await client.get(f"/v1/summaries/{made.json()['id']}", headers=bearer)
        assert fetched.status_code == 200
        assert (await client.get("/openapi.json", headers=auth)).status_code == 200
        # Keys are managed only from the command line: no route reads or changes them.
        for method, path in [
            ("GET", "/v1/keys"),
            ("POST", "/v1/keys"),
            ("DELETE", "/v1/keys/wire-desk"),
            ("GET", "/keys"),
        ]:
            response = await client.request(method, path, headers=auth)
            assert response.status_code in (404, 405), (method, path)
        spec = (await client.get("/openapi.json", headers=auth)).json()
        assert not [p for p in spec["paths"] if "key" in p.lower()]
        # Neither a key nor its digest appears in any answer.
        listing = await client.get("/v1/summaries", headers=auth)
        for text in (made.text, fetched.text, listing.text, str(spec)):
            assert key not in text and key_digest(key) not in text


async def test_revoked_keys_stop_working_on_a_running_server(make_settings, tmp_path, database_url):
    key = add_key(tmp_path, "scraper", **on(database_url))
    async with running_app(make_settings(), ScriptedLLM()) as client:
        auth = {"X-API-Key": key}
        assert (await client.get("/v1/schema", headers=auth)).status_code == 200
        assert cli_run(tmp_path, "keys", "revoke", "scraper", **on(database_url)).exit_code == 0
        await asyncio.sleep(2.1)
        refused = await client.get("/v1/schema", headers=auth)
        assert refused.status_code == 401
        # Revoking the last key does not open the service to everyone.
        assert (await client.get("/v1/schema")).status_code == 401


def test_keys_cli_stores_only_digests_and_never_shows_a_key_again(tmp_path):
    first = add_key(tmp_path, "wire-desk")
    second = add_key(tmp_path, "web")
    assert first.startswith("isk_") and len(first) >= 40 and first != second
    again = cli_run(tmp_path, "keys", "add", "wire-desk")
    assert again.exit_code == 1 and "exists already" in again.stderr
    assert cli_run(tmp_path, "keys", "add", "no spaces").exit_code == 2
    assert cli_run(tmp_path, "keys", "revoke", "web").exit_code == 0
    assert cli_run(tmp_path, "keys", "revoke", "web").exit_code == 1
    # A revoked name stays taken, so a name in an old log line means one key.
    assert cli_run(tmp_path, "keys", "add", "web").exit_code == 1

    listed = cli_run(tmp_path, "keys", "list", SUMMARIZER_API_KEYS="a,b")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[1].split()[:2] == ["wire-desk", first[:10] + "…"]
    assert lines[2].split()[0] == "web" and lines[2].split()[-1] != "-"  # revoked at
    assert lines[1].split()[-1] == "-"
    assert "2 key(s) from SUMMARIZER_API_KEYS" in listed.stdout
    assert first not in listed.stdout and second not in listed.stdout

    db = sqlite3.connect(tmp_path / "summaries.sqlite3")
    stored = db.execute("SELECT name, key_sha256, prefix FROM api_keys ORDER BY name").fetchall()
    dump = "\n".join(db.iterdump())
    db.close()
    assert stored == [
        ("web", key_digest(second), second[:10]),
        ("wire-desk", key_digest(first), first[:10]),
    ]
    assert first not in dump and second not in dump


async def test_requests_over_the_rate_get_429_with_retry_after_per_key(make_settings):
    settings = make_settings(api_keys="k-one,k-two", rate_limit_per_minute=60, rate_limit_burst=3)
    async with running_app(settings, ScriptedLLM()) as client:
        one, two = {"X-API-Key": "k-one"}, {"X-API-Key": "k-two"}
        statuses = [(await client.get("/v1/schema", headers=one)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get("/v1/summaries", headers=one)
        assert limited.status_code == 429
        assert error_of(limited)["code"] == "rate_limited"
        assert limited.headers["Retry-After"] == "1"  # one token a second at 60/min
        # Refused before the body is read: even an oversized-looking stream is not consumed.
        body = await client.post("/v1/summaries", content=b"{broken", headers=one)
        assert body.status_code == 429
        # Another key has its own bucket; health checks are never limited.
        assert (await client.get("/v1/schema", headers=two)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        await asyncio.sleep(1.05)
        assert (await client.get("/v1/schema", headers=one)).status_code == 200
        assert (await client.get("/v1/schema", headers=one)).status_code == 429


def test_token_bucket_refills_at_the_rate_up_to_the_burst(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("service.access.time.monotonic", lambda: now[0])
    limiter = RateLimiter(per_minute=120, burst=5)  # two tokens a second
    assert [limiter.take("a") for _ in range(5)] == [None] * 5
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.25
    assert limiter.take("a") == pytest.approx(0.25)  # half a token back, half to go
    now[0] += 0.25
    assert limiter.take("a") is None
    now[0] += 3600  # a long pause refills only up to the burst
    assert [limiter.take("a") for _ in range(6)][-2:] == [None, pytest.approx(0.5)]
    assert RateLimiter(per_minute=0, burst=1).take("a") is None  # 0 = no limit


async def test_the_log_names_the_key_and_never_shows_it(make_settings, caplog):
    async with running_app(make_settings(api_keys="k-secret-one"), ScriptedLLM()) as client:
        with caplog.at_level(logging.INFO, logger="service.access"):
            await client.get("/v1/schema", headers={"X-API-Key": "k-secret-one"})
            await client.get("/v1/schema", headers={"X-API-Key": "k-secret-two"})
    lines = [r for r in caplog.records if r.name == "service.access"]
    assert [(r.status, r.api_key) for r in lines] == [(200, "settings-1"), (401, None)]
    assert "k-secret" not in caplog.text


async def test_the_openapi_document_says_which_operations_need_a_key(make_settings):
    async with running_app(make_settings(), ScriptedLLM()) as client:
        spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if path in OPEN:
                assert "security" not in operation, path
            else:
                assert operation["security"] == [{"apiKey": []}, {"bearer": []}], path
                assert {"401", "429"} <= set(operation["responses"]), path


async def test_a_shared_bucket_is_taken_off_the_event_loop(tmp_path):
    from service.coordination import Coordination

    shared = Coordination(tmp_path / "coordination.sqlite3")
    limiter = RateLimiter(per_minute=60, burst=5, shared=shared)
    # Another worker process holds the file's write lock for a moment.
    other = sqlite3.connect(tmp_path / "coordination.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def release_soon() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    ticker = asyncio.create_task(tick())
    releaser = asyncio.create_task(release_soon())
    try:
        assert await limiter.take_async("newsroom") is None
    finally:
        ticker.cancel()
        await releaser
        other.close()
        shared.close()
    # The loop ran on while the take waited for the lock (it would not run at all if the
    # take blocked it).
    assert ticks >= 10
