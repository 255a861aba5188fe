"""A scripted OpenAI-compatible chat-completions server on loopback, for fault and load tests.

Unlike ``tests.fake_llm`` (an in-process ``httpx`` transport), this is a real HTTP server, so
the service's real connection pool, timeouts and retry transport are exercised. It is a bare
ASGI app under uvicorn: every request is a coroutine, so hundreds of requests can wait out
``delay`` at once.

Modes (``--mode``, or ``srv.mode = ...`` while running):

* ``ok``: after ``delay`` seconds, a valid answer for whatever article it is sent: to the
  relevance call, a new incident when a sentence gives a casualty figure; to the record call, a
  draft pointing at the sentences that give them; ``stream=true`` too.
* ``429``: always 429 with ``Retry-After: 1``.
* ``stall-headers``: sends the response headers, then never the body.
* ``stall-body``: sends the headers and half the body, then stalls.
* ``invalid``: valid JSON that fails the schema.
* ``500``: always 500.
* ``obey``: a model that follows instructions written in the article: it copies injected text
  (and, when asked, its own system prompt) into the record's fields, and adds keys of its own
  on the first answer. It shows what the service does with hostile output.

Run it alone::

    python -m tests.scripted_openai --host 127.0.0.1 --port 8001 --delay 0.5 --mode ok

or in-process::

    with scripted_server(mode="ok", delay=0.5) as srv:
        ...  # srv.base_url, srv.calls, srv.prompt_tokens, srv.completion_tokens
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from text_to_num import alpha2digit

from tests.drafts import draft_payload, relevance
from tests.fake_llm import is_relevance_call, numbered_sentences

MODES = ("ok", "429", "stall-headers", "stall-body", "invalid", "500", "obey")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_OPEN, _CLOSE = "<untrusted-article>", "</untrusted-article>"
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_DEATH = {"killed", "killing", "kills", "dead", "death", "deaths", "died", "dies", "perished"}
_INJURY = {"wounded", "wounding", "injured", "injuring", "injury", "injuries", "hurt"}


def article_of(body: dict[str, Any]) -> str:
    """The article's sentences as the service numbered them in the user message."""
    return "\n".join(text for _, text in numbered_sentences(body))


def system_prompt_of(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


_FIGURE = re.compile(r"\b(\d+)((?:\s+[^\W\d]+){1,4})")


def _first_figure(body: dict[str, Any], words: set[str]) -> tuple[int, int] | None:
    """(sentence number, figure) of the first sentence giving a figure next to ``words``."""
    for number, sentence in numbered_sentences(body):
        for match in _FIGURE.finditer(alpha2digit(sentence, "en", threshold=0)):
            if words & set(match[2].lower().split()) and int(match[1]) > 0:
                return number, int(match[1])
    return None


def generic_answer(body: dict[str, Any]) -> dict[str, Any]:
    """An answer the service accepts for any article: to the relevance call, a new incident
    when a sentence gives a casualty figure; to the record call, those figures with the
    numbers of their sentences, and a headline stating only them."""
    deaths = _first_figure(body, _DEATH)
    injuries = _first_figure(body, _INJURY)
    if is_relevance_call(body):
        if deaths is None and injuries is None:
            return relevance("culture_or_other")
        return relevance("armed_attack", (deaths or injuries or (1, 0))[0])
    toll = []
    if deaths:
        toll.append(f"{deaths[1]} killed")
    if injuries:
        toll.append(f"{injuries[1]} injured")
    lead = numbered_sentences(body)[0][1] if numbered_sentences(body) else "The article"
    return draft_payload(
        {},
        killed_sentence=deaths[0] if deaths else None,
        killed=deaths[1] if deaths else None,
        injured_sentence=injuries[0] if injuries else None,
        injured=injuries[1] if injuries else None,
        qualifier="exact" if deaths else None,
        perpetrators=[{"name": "unknown", "attribution": "unknown"}],
        summary=(lead if len(lead) <= 300 else lead[:297] + "...").strip(),
        headline=f"{', '.join(toll) or 'Incident'} in incident",
    )


_HOSTILE = re.compile(
    r"ignore|instruction|system|prompt|<script|</|<img|onerror|javascript:|drop table|"
    r"select |union |override|admin|developer|jailbreak|disregard|forget|reveal|print|output|"
    r"\u202e|\u200b|\ufeff",
    re.I,
)


def obeying_draft(body: dict[str, Any]) -> dict[str, Any]:
    """What a model that obeys the article writes: injected text copied into the fields.

    On the first answer it also adds keys of its own and writes an over-long headline; when
    re-asked it keeps to the shape but still copies the hostile text, and the system prompt
    whenever the article asks for it.
    """
    draft = generic_answer(body)
    if is_relevance_call(body):
        return relevance("armed_attack", 1)
    article = article_of(body)
    first_answer = sum(1 for m in body.get("messages", []) if m.get("role") == "user") <= 1
    raw = [m.group().strip() for m in _SENTENCE.finditer(article)]
    hostile = [s for s in raw if _HOSTILE.search(s)] or raw[:1] or ["(empty)"]
    payload = " ".join(hostile)
    if re.search(r"prompt|instruction|system|rules|repeat|verbatim", article, re.I):
        payload = system_prompt_of(body)[:400] + " " + payload
    draft["summary"] = payload[:590].strip() or "(empty)"
    draft["headline"] = (payload if first_answer else payload[:150]).strip() or "(empty)"
    # Keep the headline's figures in line with the record so only the injection is tested.
    draft["headline"] = re.sub(r"\d", "#", draft["headline"])
    draft["weapons"] = [s[:110] for s in hostile[:3]]
    if first_answer:
        draft["admin_note"] = payload[:200]
        draft["system_prompt"] = system_prompt_of(body)[:200]
    return draft


def completion_body(content: str, model: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-scripted-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def tool_call_body(arguments: str, name: str, model: str, usage: dict[str, int]) -> dict:
    body = completion_body("", model, usage)
    choice = body["choices"][0]
    choice["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_scripted",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ],
    }
    choice["finish_reason"] = "tool_calls"
    return body


class ScriptedOpenAI:
    """The ASGI app; its counters are read by the tests."""

    def __init__(self, mode: str = "ok", delay: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        self.delay = delay
        self.calls = 0
        self.record_calls = 0  # calls for a full record; the rest are relevance calls
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.in_flight = 0
        self.requests: list[dict[str, Any]] = []
        self.closing = False
        # Called with the call's number (1, 2, ...) as each chat completion arrives, before it
        # is answered; the chaos tests use it to act at an exact point of a burst.
        self.on_call: Callable[[int], None] | None = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"].rstrip("/")
        if scope["method"] == "GET" and path.endswith("/models"):
            await self._json(send, 200, {"object": "list", "data": [{"id": "scripted"}]})
            return
        if scope["method"] != "POST" or not path.endswith("/chat/completions"):
            await self._json(send, 404, {"error": {"message": "not found"}})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body = json.loads(raw)
        except ValueError:
            await self._json(send, 400, {"error": {"message": "body is not JSON"}})
            return
        with self._lock:
            self.calls += 1
            self.record_calls += 0 if is_relevance_call(body) else 1
            self.in_flight += 1
            self.requests.append(body)
            number, hook = self.calls, self.on_call
        if hook is not None:
            hook(number)
        try:
            await self._answer(body, receive, send)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, body: dict[str, Any], receive: Receive, send: Send) -> None:
        mode = self.mode
        if self.delay:
            await asyncio.sleep(self.delay)
        if mode == "429":
            await self._json(
                send, 429, {"error": {"message": "rate limited"}}, {"retry-after": "1"}
            )
            return
        if mode == "500":
            await self._json(send, 500, {"error": {"message": "scripted server error"}})
            return
        if mode == "invalid":
            content = json.dumps({"kind": "armed_attack", "unexpected": 1})
        elif mode == "obey":
            content = json.dumps(obeying_draft(body))
        else:
            content = json.dumps(generic_answer(body))
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        usage = {
            "prompt_tokens": max(1, prompt_chars // 4),
            "completion_tokens": max(1, len(content) // 4),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with self._lock:
            self.prompt_tokens += usage["prompt_tokens"]
            self.completion_tokens += usage["completion_tokens"]
        model = str(body.get("model") or "scripted")
        if body.get("stream"):
            await self._stream(send, receive, content, model, usage, body)
            return
        tools = body.get("tools") or []
        if tools:
            name = tools[0].get("function", {}).get("name", "IncidentDraft")
            answer = tool_call_body(content, name, model, usage)
        else:
            answer = completion_body(content, model, usage)
        encoded = json.dumps(answer).encode()
        if mode == "stall-headers":
            await self._start(send, 200, len(encoded))
            await self._stall(receive)
            return
        if mode == "stall-body":
            await self._start(send, 200, len(encoded))
            await send(
                {
                    "type": "http.response.body",
                    "body": encoded[: len(encoded) // 2],
                    "more_body": True,
                }
            )
            await self._stall(receive)
            return
        await self._start(send, 200, len(encoded))
        await send({"type": "http.response.body", "body": encoded})

    async def _stream(
        self,
        send: Send,
        receive: Receive,
        content: str,
        model: str,
        usage: dict[str, int],
        body: dict[str, Any],
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        if self.mode == "stall-headers":
            await self._stall(receive)
            return
        base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "model": model}
        base["created"] = int(time.time())
        step = max(1, len(content) // 4)
        pieces = [content[i : i + step] for i in range(0, len(content), step)]
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        chunks += [
            {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            for p in pieces
        ]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        events = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
        if self.mode == "stall-body":
            events = events[: max(1, len(events) // 2)]
        for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if self.mode == "stall-body":
            await self._stall(receive)
            return
        await send({"type": "http.response.body", "body": b""})

    async def _stall(self, receive: Receive) -> None:
        # Hold the connection open until the client gives up or the server closes.
        while not self.closing:
            try:
                message = await asyncio.wait_for(receive(), timeout=0.2)
            except TimeoutError:
                continue
            if message["type"] == "http.disconnect":
                return

    @staticmethod
    async def _start(send: Send, status: int, length: int, extra: dict[str, str] | None = None):
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
        ]
        headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _json(
        self, send: Send, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        encoded = json.dumps(payload).encode()
        await self._start(send, status, len(encoded), headers)
        await send({"type": "http.response.body", "body": encoded})


class ScriptedServer:
    """A running scripted server: where to reach it and what it has seen."""

    def __init__(self, app: ScriptedOpenAI, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def mode(self) -> str:
        return self.app.mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.app.mode = value

    @property
    def calls(self) -> int:
        return self.app.calls

    @property
    def record_calls(self) -> int:
        return self.app.record_calls

    @property
    def on_call(self) -> Callable[[int], None] | None:
        return self.app.on_call

    @on_call.setter
    def on_call(self, hook: Callable[[int], None] | None) -> None:
        self.app.on_call = hook

    @property
    def in_flight(self) -> int:
        return self.app.in_flight

    @property
    def prompt_tokens(self) -> int:
        return self.app.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.app.completion_tokens

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests


def _config(app: ScriptedOpenAI) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=4096,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=1,
    )


@contextmanager
def scripted_server(
    mode: str = "ok", delay: float = 0.0, host: str = "127.0.0.1", port: int = 0
) -> Iterator[ScriptedServer]:
    """Serve the scripted model from a background thread for the duration of the block."""
    app = ScriptedOpenAI(mode, delay)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(_config(app))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="scripted-openai", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the scripted model server did not start")
        time.sleep(0.01)
    try:
        yield ScriptedServer(app, host, sock.getsockname()[1])
    finally:
        app.closing = True
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--mode", choices=MODES, default="ok")
    args = parser.parse_args(argv)
    app = ScriptedOpenAI(args.mode, args.delay)
    config = _config(app)
    config.host, config.port = args.host, args.port
    print(f"scripted model ({args.mode}) on http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
