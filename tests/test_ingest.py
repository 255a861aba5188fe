"""``incident-summarizer ingest`` as an operator runs it: a real process, against a running
service or one it starts itself, the scripted model server over TCP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.chaos.harness import ROOT, ServiceProcess, article, running_service
from tests.scripted_openai import scripted_server

EMPTY_PAGE = "<html><body><nav>Home</nav><p>Subscribe.</p></body></html>"


def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "wire"
    folder.mkdir()
    lines = [orjson.dumps({**article(n, tag="ingest"), "external_id": f"w{n}"}) for n in range(3)]
    lines.append(orjson.dumps({"html": EMPTY_PAGE, "external_id": "empty-page"}))
    (folder / "a-feed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    one = article(7, tag="ingest")
    (folder / "b-story.txt").write_text(f"{one['title']}\n\n{one['text']}\n", encoding="utf-8")
    return folder


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "ingest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ingest_submits_follows_and_writes_every_result(tmp_path: Path) -> None:
    folder = articles(tmp_path)
    with scripted_server(mode="ok") as llm, running_service(tmp_path, llm.base_url) as service:
        out = tmp_path / "results.jsonl"
        done = run(
            service.env, tmp_path, str(folder), "--server", service.base_url, "--out", str(out)
        )
        again = tmp_path / "again.jsonl"
        batch_id = done.stderr.split("batch ", 1)[1].split()[0]
        followed = run(
            service.env, tmp_path, "--batch", batch_id, "--server", service.base_url,
            "--out", str(again),
        )  # fmt: skip
    assert done.returncode == 1, done.stderr  # one article failed
    lines = results(out)
    assert [r["external_id"] for r in lines] == ["w0", "w1", "w2", "empty-page", "b-story.txt"]
    assert [r["status"] for r in lines] == ["done", "done", "done", "failed", "done"]
    assert lines[0]["summary"]["incident"]["casualties"]["killed"] == 2
    assert lines[4]["summary"]["title"] == article(7)["title"]
    assert lines[3]["error"]["code"] == "no_article_text"
    assert "4/5 done" in done.stderr
    assert "1 failed" in done.stderr
    assert llm.record_calls == 4
    assert followed.returncode == 1
    assert results(again) == lines  # re-attached to the same batch: the same results


def test_ingest_without_a_server_starts_one(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(orjson.dumps(article(n, tag="embedded")) for n in range(3)))
    with scripted_server(mode="ok") as llm:
        env = ServiceProcess(tmp_path, llm.base_url).env
        env["PYTHONPATH"] = str(ROOT)
        out = tmp_path / "out.jsonl"
        done = run(env, tmp_path, str(feed), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = results(out)
    assert [r["status"] for r in lines] == ["done"] * 3
    assert [r["external_id"] for r in lines] == [f"feed.jsonl:{n}" for n in (1, 2, 3)]
    assert llm.record_calls == 3


def test_ingest_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    env = ServiceProcess(tmp_path, "http://127.0.0.1:9/v1").env
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\nnot json\n')
    refused = run(env, tmp_path, str(bad), "--server", "http://127.0.0.1:9")
    missing = run(env, tmp_path, str(tmp_path / "nowhere"), "--server", "http://127.0.0.1:9")
    neither = run(env, tmp_path)
    assert refused.returncode == 1 and "bad.jsonl:2: not a JSON object" in refused.stderr
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert neither.returncode == 2
