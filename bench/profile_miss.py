"""Where the CPU time of a cache miss goes, in-process, with the model scripted.

    uv run python -m bench.profile_miss [--requests 300]

The real app (``create_app``) is called as an ASGI app, without a server or sockets, with a
model transport that answers each chat completion at once with a valid draft for the article it
was sent (``tests.scripted_openai.generic_answer``). Every request is a new article
(``bench.loadgen.article``). It prints the process CPU time per miss, split by the service's
steps (thread CPU time of each step, worker threads included), then the heaviest functions
inside the extraction step under cProfile (their share is of the profiled run, which cProfile
itself slows down about twofold).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.loadgen import article

STEPS: dict[str, float] = {}


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(fn):

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return await fn(*args, **kwargs)
            finally:
                # Other tasks may run while this one awaits: only one request is in flight
                # at a time here, so the loop's thread time between is this step's.
                STEPS[name] = STEPS.get(name, 0.0) + time.thread_time() - started

        return timed_async

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            STEPS[name] = STEPS.get(name, 0.0) + time.thread_time() - started

    return timed


async def _call(app: Any, body: bytes) -> int | None:
    from tests import asgi

    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    return (await asgi.post(app, asgi.whole(body), headers=headers)).status


async def run(requests: int, top: int) -> None:
    import service.summarize as summarize
    from service.app import create_app
    from service.config import Settings
    from service.store import Store
    from tests.fake_llm import completion
    from tests.scripted_openai import generic_answer

    async def model(request: httpx.Request) -> httpx.Response:
        draft = generic_answer(json.loads(request.content))
        return httpx.Response(200, json=completion(json.dumps(draft)))

    for name in ("finalize", "detect_language"):
        if hasattr(summarize, name):
            setattr(summarize, name, _timed(name, getattr(summarize, name)))
    Store.put = _timed("store put (worker thread)", Store.put)  # type: ignore[method-assign]
    settings = Settings(
        llm_base_url="http://scripted.invalid/v1",
        llm_model="scripted-model",
        data_dir=tempfile.mkdtemp(prefix="bench-profile-"),
        log_level="WARNING",
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, llm_transport=httpx.MockTransport(model))
    async with app.router.lifespan_context(app):
        while not app.state.ready:
            await asyncio.sleep(0.01)
        extractor = app.state.summarizer._extractor
        extract = extractor.extract
        extractor.extract = _timed("extraction (instructor + openai + validators)", extract)
        tag = f"profile-{time.time_ns()}"
        for n in range(50):  # warm-up
            assert await _call(app, json.dumps(article(tag + "w", n)).encode()) == 200
        STEPS.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(requests):
            assert await _call(app, json.dumps(article(tag, n)).encode()) == 200
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{requests} misses, one at a time: {cpu / requests * 1000:.2f} ms CPU per miss")
        print(f"(wall {wall / requests * 1000:.2f} ms per miss)")
        accounted = 0.0
        for name, seconds in sorted(STEPS.items(), key=lambda kv: -kv[1]):
            accounted += seconds
            print(f"  {name:48} {seconds / requests * 1000:6.2f} ms")
        rest = cpu - accounted
        label = "the rest (HTTP framework, validation, key, JSON)"
        print(f"  {label:48} {rest / requests * 1000:6.2f} ms")

        profile = cProfile.Profile()
        extractor.extract = extract
        profile.enable()
        for n in range(requests // 3):
            await _call(app, json.dumps(article(tag + "p", n)).encode())
        profile.disable()
        print(f"\nInside the extraction (cumulative, {requests // 3} misses under cProfile):")
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(r"instructor|openai/_base|_transform", top)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_miss", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25, help="functions shown from the profile")
    args = parser.parse_args(argv)
    asyncio.run(run(args.requests, args.top))


if __name__ == "__main__":
    main()
