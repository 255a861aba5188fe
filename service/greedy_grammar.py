"""Greedy decoding under a grammar, checking the grammar against one token per step.

llama.cpp's grammar sampler masks the whole vocabulary (151,936 tokens for the bundled model)
before every pick: on two CPU cores that was about half the time of writing a record. Greedy
decoding needs only the best-scoring token the grammar allows. The model's own best token
nearly always is one (it writes the JSON its prompt shows), so that token is checked alone
first, and the whole vocabulary is masked only when it is refused. The token chosen is the one
the full mask would give (the highest logit among allowed tokens, the first on a tie), so
answers are unchanged; only the time differs. Used at temperature 0 without penalties, which
is how the service decodes; anything else takes llama-cpp-python's own sampler.

Draft tokens. About 45 % of a record answer's tokens are text the schema fixes: the JSON keys
in their order, the punctuation between them. ``SchemaDraft`` reads that text off the grammar
(from the current state, while exactly one character is allowed, or one besides an optional
space, which is written as the model has written it so far) and proposes its tokens. They are
evaluated together with the token just picked, in one batch as prompt tokens are, and then
checked one by one exactly as if they had been generated: each is kept only while it is the
token the model would have picked from the logits before it; at the first that is not, the
model's own pick is taken and the rest of the draft is dropped from the context. Every token
of the answer is the model's own pick; but a batch is computed in another order than single
steps, so where two tokens nearly tie the pick can fall the other way. On the 2-core test
machine a batch of four tokens costs about one and a half single steps.

Imported only when the bundled model loads: it needs the native library.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar
from llama_cpp.llama_speculative import LlamaDraftModel


class GreedyGrammar:
    """One completion's grammar state: pick a token from the logits, then advance past it."""

    def __init__(self, llama: Llama, grammar: LlamaGrammar) -> None:
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode(), grammar._root.encode()
        )
        if not self._sampler:
            raise ValueError("llama.cpp could not compile the grammar")
        self._n_vocab = llama.n_vocab()
        self._piece = llama.detokenize
        self._last = ""  # the last character picked
        # After which punctuation the model writes a space (its latest habit, per character).
        self._spaced: dict[str, bool] = {}
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all: Any = None  # the whole vocabulary, allocated at the first refusal
        self.steps = 0
        self.full_masks = 0

    def pick(self, logits: np.ndarray) -> int:
        self.steps += 1
        best = int(logits.argmax())
        token = best if self._allows(best, float(logits[best])) else self._best_allowed(logits)
        llama_cpp.llama_sampler_accept(self._sampler, token)
        self._observe(self._piece([token]).decode("utf-8", errors="ignore"))
        return token

    def _observe(self, text: str) -> None:
        for char in text:
            if self._last in SPACED_AFTER:
                self._spaced[self._last] = char == " "
            self._last = char

    def fixed_text(self, probes: dict[str, int], *, max_chars: int) -> str:
        """The text the grammar fixes from its current state (which stays as it is): as long
        as one character of ``probes`` (one token each) is allowed, or one besides a space,
        where the space is taken if the model wrote one after the same character before."""
        copy = llama_cpp.llama_sampler_clone(self._sampler)
        out: list[str] = []
        last = self._last
        try:
            while len(out) < max_chars:
                allowed: list[str] = []
                for char, token in probes.items():
                    if self._allows(token, 0.0, copy):
                        allowed.append(char)
                        if len(allowed) > 2:
                            break
                if len(allowed) == 2 and " " in allowed:
                    other = allowed[0] if allowed[1] == " " else allowed[1]
                    char = " " if self._spaced.get(last, False) else other
                elif len(allowed) == 1:
                    char = allowed[0]
                else:
                    break
                llama_cpp.llama_sampler_accept(copy, probes[char])
                out.append(char)
                last = char
        finally:
            llama_cpp.llama_sampler_free(copy)
        return "".join(out)

    def _allows(self, token: int, logit: float, sampler: Any = None) -> bool:
        self._one[0] = llama_cpp.llama_token_data(token, logit, 0.0)
        self._apply(self._one, 1, sampler)
        return self._one[0].logit != -math.inf

    def allowed_prefix(self, tokens: list[int]) -> list[int]:
        """The longest prefix of ``tokens`` the grammar allows from its current state, which
        stays as it is (the check runs on a copy)."""
        copy = llama_cpp.llama_sampler_clone(self._sampler)
        allowed: list[int] = []
        try:
            for token in tokens:
                if not self._allows(token, 0.0, copy):
                    break
                llama_cpp.llama_sampler_accept(copy, token)
                allowed.append(token)
        finally:
            llama_cpp.llama_sampler_free(copy)
        return allowed

    def _best_allowed(self, logits: np.ndarray) -> int:
        self.full_masks += 1
        if self._all is None:
            self._all = (llama_cpp.llama_token_data * self._n_vocab)()
            self._view = np.ctypeslib.as_array(self._all)
        self._view["id"] = np.arange(self._n_vocab, dtype=np.int32)
        self._view["logit"] = logits
        self._view["p"] = 0.0
        self._apply(self._all, self._n_vocab)
        masked = self._view["logit"]
        index = int(masked.argmax())
        if masked[index] == -math.inf:
            raise RuntimeError("the grammar allows no token here")
        return int(self._view["id"][index])

    def _apply(self, data: Any, size: int, sampler: Any = None) -> None:
        candidates = llama_cpp.llama_token_data_array(
            data=data, size=size, selected=-1, sorted=False
        )
        llama_cpp.llama_sampler_apply(sampler or self._sampler, ctypes.byref(candidates))

    def close(self) -> None:
        if self._sampler:
            llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None


@dataclass(frozen=True)
class TokenLogprob:
    """A picked token's log-probability under the model (before the grammar's mask, as model
    servers report it), and the ``top`` most probable tokens with theirs."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...]


def token_logprob(logits: np.ndarray, token: int, top: int) -> TokenLogprob:
    scores = logits.astype(np.float64)
    peak = scores.max()
    log_total = peak + math.log(float(np.exp(scores - peak).sum()))
    best: np.ndarray = np.empty(0, dtype=np.int64)
    if top > 0:
        best = np.argpartition(scores, -top)[-top:]
        best = best[np.argsort(-scores[best], kind="stable")]
    return TokenLogprob(
        token=token,
        logprob=float(scores[token] - log_total),
        top=tuple((int(t), float(scores[t] - log_total)) for t in best),
    )


@dataclass
class DraftStats:
    """One completion's drafting: tokens proposed, kept, and batches evaluated with a draft."""

    drafted: int = 0
    accepted: int = 0
    batches: int = 0


class SchemaDraft(LlamaDraftModel):
    """Propose the tokens of the text the grammar fixes from here (JSON keys, punctuation), up
    to ``max_tokens``; none where the model chooses (values)."""

    def __init__(self, llama: GreedyGrammarLlama, *, max_tokens: int) -> None:
        self._llama = llama
        self.max_tokens = max_tokens
        self._probes = probe_tokens(llama)

    def __call__(self, input_ids: np.ndarray, /, **_: Any) -> np.ndarray:
        llama = self._llama
        greedy = llama._greedy
        # A completion asked for log-probabilities (the relevance call, whose odds are held
        # against a threshold) is decoded one step at a time: its probabilities stay those
        # of single steps, which the threshold was set on, not a batch's.
        if greedy is None or self.max_tokens <= 0 or llama.top_logprobs is not None:
            return _NO_DRAFT
        # A space that ends the fixed text is left to the model, which writes it joined to
        # the value that follows (" 3", " \"Kabul").
        text = greedy.fixed_text(self._probes, max_chars=4 * self.max_tokens).rstrip(" ")
        if not text:
            return _NO_DRAFT
        proposed = llama.tokenize(text.encode(), add_bos=False, special=False)
        draft = greedy.allowed_prefix(proposed[: self.max_tokens])
        llama._draft_outputs = len(draft)
        if draft:
            llama.draft_stats.drafted += len(draft)
            llama.draft_stats.batches += 1
        return np.asarray(draft, dtype=np.intc)


_NO_DRAFT = np.zeros(0, dtype=np.intc)

# Punctuation after which JSON may have a space: the model's habit there decides the draft.
SPACED_AFTER = frozenset(',:{["')
# Characters a draft is read from, in the order they are tried: a position inside a value
# allows three of the first few at once and is left after four checks.
PROBE_CHARS = (
    '",: }]{[-'
    + "abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "!#$%&'()*+./;<=>?@\\^`|~\n"
)


def probe_tokens(llama: Llama) -> dict[str, int]:
    """Each probe character that is one token of the model's vocabulary, with that token."""
    tokens: dict[str, int] = {}
    for char in PROBE_CHARS:
        ids = llama.tokenize(char.encode(), add_bos=False, special=False)
        if len(ids) == 1:
            tokens[char] = ids[0]
    return tokens


class GreedyGrammarLlama(Llama):
    """``Llama`` whose greedy, grammar-constrained completions use ``GreedyGrammar``, with
    draft tokens from ``SchemaDraft`` when ``draft_model`` is one."""

    _greedy: GreedyGrammar | None = None
    greedy_grammar = True  # False: llama-cpp-python's own sampler, for comparison
    last_grammar_steps: tuple[int, int] = (0, 0)  # (tokens picked, full-vocabulary masks)
    _draft_outputs = 0  # draft tokens in the next batch: their logits are wanted too
    draft_stats = DraftStats()
    # Log-probabilities kept for each picked token, with this many best alternatives (OpenAI's
    # ``top_logprobs``); None keeps none. Set per completion by the caller.
    top_logprobs: int | None = None
    picked_logprobs: list[TokenLogprob]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.picked_logprobs = []
        super().__init__(*args, **kwargs)

    def _init_sampler(self, **kwargs: Any) -> Any:  # type: ignore[override]
        # ``generate`` calls this once per completion, with the sampling parameters.
        self._close_greedy()
        grammar = kwargs.get("grammar")
        plain_greedy = (
            kwargs.get("temp") == 0.0
            and kwargs.get("repeat_penalty", 1.0) == 1.0
            and kwargs.get("frequency_penalty", 0.0) == 0.0
            and kwargs.get("presence_penalty", 0.0) == 0.0
            and kwargs.get("logits_processor") is None
        )
        if grammar is not None and plain_greedy and self.greedy_grammar:
            self._greedy = GreedyGrammar(self, grammar)
            kwargs["grammar"] = None
        self.draft_stats = DraftStats()
        self._draft_outputs = 0
        self.picked_logprobs = []
        return super()._init_sampler(**kwargs)

    def eval(self, tokens: Sequence[int]) -> None:
        """``Llama.eval``, asking for the logits of a batch's draft tokens as well (it asks for
        the last token's only, unless every position's are kept)."""
        wanted, self._draft_outputs = self._draft_outputs, 0
        if wanted == 0 or self._logits_all:
            return super().eval(tokens)
        self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
        for i in range(0, len(tokens), self.n_batch):
            batch = tokens[i : min(len(tokens), i + self.n_batch)]
            n_past = self.n_tokens
            self._batch.set_batch(batch=batch, n_past=n_past, logits_all=False)
            if i + self.n_batch >= len(tokens):  # the last chunk holds the draft
                for j in range(max(0, len(batch) - wanted - 1), len(batch)):
                    self._batch.batch.logits[j] = True
            self._ctx.decode(self._batch)
            self.input_ids[n_past : n_past + len(batch)] = batch
            self.n_tokens += len(batch)
            self._requires_eval = False

    def sample(self, **kwargs: Any) -> int:  # type: ignore[override]
        greedy = self._greedy
        if greedy is None:
            return super().sample(**kwargs)
        idx = kwargs.get("idx")
        ridx = idx - self.n_tokens if idx is not None else -1
        pointer = llama_cpp.llama_get_logits_ith(self._ctx.ctx, ridx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = greedy.pick(logits)
        if self.top_logprobs is not None:
            self.picked_logprobs.append(token_logprob(logits, token, self.top_logprobs))
        self.last_grammar_steps = (greedy.steps, greedy.full_masks)
        if idx is not None and idx + 1 < self.n_tokens and self.input_ids[idx + 1] == token:
            self.draft_stats.accepted += 1  # the drafted token was the model's own pick
        return token

    def _close_greedy(self) -> None:
        if self._greedy is not None:
            self._greedy.close()
            self._greedy = None

    def close(self) -> None:
        self._close_greedy()
        super().close()
