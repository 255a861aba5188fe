"""Hostile and broken request bodies against the real server process over raw sockets: each
gets its documented status and error code, and the process does not grow while refusing them."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ServiceProcess

MB = 1024 * 1024
ROUNDS = 10


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the most ever resident) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def exchange(
    port: int, head: bytes, body: Iterable[bytes], *, wait_first: float = 0.0
) -> tuple[int, dict[str, str], bytes, int]:
    """Send ``head``, then ``body`` chunk by chunk until the server answers or hangs up, as a
    client that watches for an early answer does (curl, browsers). Returns the status, the
    headers, the body and how many body bytes were sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sent = 0
        if wait_first:
            select.select([sock], [], [], wait_first)
        for chunk in body:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed): stop sending
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        raw = b""
        while b"\r\n\r\n" not in raw:
            data = sock.recv(65536)
            assert data, f"connection closed without an answer after {sent:,} bytes"
            raw += data
        head_raw, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head_raw.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
        length = int(headers["content-length"])
        while len(rest) < length:
            data = sock.recv(65536)
            assert data, "connection closed in the middle of the answer"
            rest += data
    return int(status_line.split()[1]), headers, rest[:length], sent


def request_head(length: int | None, content_type: str = "application/json") -> bytes:
    lines = ["POST /v1/summaries HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    yield b'a\r\n{"text": "\r\n'  # a 10-byte chunk
    block = b"a" * piece
    for _ in range(total // piece):
        yield b"%x\r\n%s\r\n" % (len(block), block)
    yield b"0\r\n\r\n"


def pieces(data: bytes, piece: int = 64 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


def small(body: bytes, content_type: str = "application/json") -> tuple[bytes, list[bytes]]:
    return request_head(len(body), content_type), [body]


TWENTY_MB = 20 * MB
BODIES: dict[str, tuple[int, str]] = {
    # name: (status, code), as documented in the README's error table
    "20 MB declared": (413, "body_too_large"),
    "20 MB chunked": (413, "body_too_large"),
    "binary": (400, "malformed_request"),
    "invalid UTF-8": (400, "malformed_request"),
    "wrong content type": (415, "unsupported_media_type"),
    "no content type": (415, "unsupported_media_type"),
    "deeply nested JSON": (400, "malformed_request"),
    "JSON array": (400, "malformed_request"),
    "empty text": (422, "invalid_input"),
    "whitespace text": (422, "invalid_input"),
    "numeric date": (422, "invalid_input"),
    "article over the character limit": (413, "article_too_large"),
}


def send(port: int, name: str) -> tuple[int, dict[str, str], bytes, int]:
    if name == "20 MB declared":
        # Only the headers at first: the answer must come without any of the body.
        return exchange(port, request_head(TWENTY_MB), pieces(b"a" * TWENTY_MB), wait_first=2)
    if name == "20 MB chunked":
        return exchange(port, request_head(None), chunked(TWENTY_MB))
    body, content_type = {
        "binary": (os.urandom(256 * 1024), "application/json"),
        "invalid UTF-8": (
            b'{"text": "Fire at the caf\xe9 \xff\xfe killed 2."}',
            "application/json",
        ),
        "wrong content type": (b'{"text": "A fire killed 2."}', "text/plain"),
        "no content type": (b'{"text": "A fire killed 2."}', ""),
        "deeply nested JSON": (
            b'{"text": "x", "title": ' + b"[" * 400_000 + b"]" * 400_000 + b"}",
            "application/json",
        ),
        "JSON array": (b'["A fire killed 2."]', "application/json"),
        "empty text": (b'{"text": ""}', "application/json"),
        "whitespace text": (b'{"text": " \\n\\t "}', "application/json"),
        "numeric date": (b'{"text": "A fire killed 2.", "published": "0"}', "application/json"),
        "article over the character limit": (
            json.dumps({"text": "word " * 30_000}).encode(),
            "application/json",
        ),
    }[name]
    head = request_head(len(body), content_type)
    if not content_type:
        head = head.replace(b"Content-Type: \r\n", b"")
    return exchange(port, head, [body])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    # The model server address is never called: every one of these is refused before.
    workdir = tmp_path_factory.mktemp("hostile")
    process = ServiceProcess(workdir, "http://127.0.0.1:9/v1", max_article_chars=100_000)
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize("name", list(BODIES))
def test_each_bad_body_gets_its_documented_status_and_code(service, name):
    status, headers, body, sent = send(service.port, name)
    expected_status, expected_code = BODIES[name]
    assert status == expected_status, body
    error = json.loads(body)["error"]
    assert error["code"] == expected_code
    assert error["request_id"] == headers["x-request-id"]
    if name == "20 MB declared":
        assert sent == 0  # refused on the declared length, before a byte of the body
    if name == "20 MB chunked":
        # Answered long before the end. What was sent beyond the 1 MiB limit sits in the two
        # kernels' socket buffers (a few MiB each on loopback), not in the server process.
        assert sent < 12 * MB


def test_refusing_them_all_ten_times_does_not_grow_the_process(service):
    assert service.proc is not None
    pid = service.proc.pid
    # Reset the peak to what is resident now, so the peak below is the peak of these requests.
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = rss_kib(pid)
    started = time.monotonic()
    for _ in range(ROUNDS):
        for name in BODIES:
            status, _, _, _ = send(service.port, name)
            assert status == BODIES[name][0], name
    after = rss_kib(pid)
    grown_mib = (after["VmRSS"] - before["VmRSS"]) / 1024
    peak_grown_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    print(
        f"\n{ROUNDS} rounds x {len(BODIES)} bodies in {time.monotonic() - started:.1f} s: "
        f"RSS {before['VmRSS'] / 1024:.1f} -> {after['VmRSS'] / 1024:.1f} MiB "
        f"(+{grown_mib:.1f}), peak {after['VmHWM'] / 1024:.1f} MiB (+{peak_grown_mib:.1f} "
        "over the RSS before)"
    )
    assert grown_mib < 20
    assert peak_grown_mib < 20
