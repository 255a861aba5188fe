"""A real HTTP server on 127.0.0.1 (a free port) serving the test pages of ``tests/pages/`` and
scripted answers: redirects, error statuses, slow and oversized bodies, other content types.
It records every request's path and Host header, so a test can see what the service sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).resolve().parent / "pages"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})
    delay_s: float = 0.0
    chunked: bool = False  # no Content-Length: the body is streamed in pieces


def page(name: str, **headers: str) -> Route:
    return Route(
        body=(PAGES / name).read_bytes(),
        headers={"Content-Type": "text/html; charset=utf-8", **headers},
    )


def redirect(location: str, status: int = 302) -> Route:
    return Route(status=status, headers={"Location": location})


@dataclass
class PageServer:
    port: int
    routes: dict[str, Route | Callable[[], Route]]
    seen: list[tuple[str, str]]  # (path, Host header) of every request

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def page_server(routes: dict[str, Route | Callable[[], Route]]) -> Iterator[PageServer]:
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Host", "")))
            route = routes.get(self.path)
            if callable(route):
                route = route()
            if route is None:
                route = Route(status=404, body=b"<html><body>Not found</body></html>")
            if route.delay_s:
                time.sleep(route.delay_s)
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(route.body), 1024):
                    piece = route.body[start : start + 1024]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PageServer(port=server.server_address[1], routes=routes, seen=seen)
    finally:
        server.shutdown()
        server.server_close()
