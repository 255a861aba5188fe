"""Call an ASGI app without a server: a POST whose body arrives as the given ASGI messages.

Used where a test or a measurement needs what an HTTP client cannot send on demand (a body in
pieces, a client that goes away mid-body) or no sockets at all (``bench.profile_miss``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    status: int | None = None
    body: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)


def whole(body: bytes) -> list[dict[str, Any]]:
    """The ASGI messages of a body sent in one piece."""
    return [{"type": "http.request", "body": body, "more_body": False}]


async def post(
    app: Any,
    messages: list[dict[str, Any]],
    *,
    path: str = "/v1/summaries",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Answer:
    """POST ``path`` with the body delivered as ``messages``, in order; the answer gathered."""
    pending = list(messages)
    answer = Answer()

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # a real server waits until the client does something
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = dict(message["headers"])
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"service.test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
        "app": app,
    }
    await app(scope, receive, send)
    return answer
