"""Greedy decoding under a grammar, checking the grammar against one token per step.

llama.cpp's grammar sampler masks the whole vocabulary (151,936 tokens for the bundled model)
before every pick: on two CPU cores that was about half the time of writing a record. Greedy
decoding needs only the best-scoring token the grammar allows. The model's own best token
nearly always is one (it writes the JSON its prompt shows), so that token is checked alone
first, and the whole vocabulary is masked only when it is refused. The token chosen is the one
the full mask would give (the highest logit among allowed tokens, the first on a tie), so
answers are unchanged; only the time differs. Used at temperature 0 without penalties, which
is how the service decodes; anything else takes llama-cpp-python's own sampler.

Imported only when the bundled model loads: it needs the native library.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar


class GreedyGrammar:
    """One completion's grammar state: pick a token from the logits, then advance past it."""

    def __init__(self, llama: Llama, grammar: LlamaGrammar) -> None:
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode(), grammar._root.encode()
        )
        if not self._sampler:
            raise ValueError("llama.cpp could not compile the grammar")
        self._n_vocab = llama.n_vocab()
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all: Any = None  # the whole vocabulary, allocated at the first refusal
        self.steps = 0
        self.full_masks = 0

    def pick(self, logits: np.ndarray) -> int:
        self.steps += 1
        best = int(logits.argmax())
        token = best if self._allows(best, float(logits[best])) else self._best_allowed(logits)
        llama_cpp.llama_sampler_accept(self._sampler, token)
        return token

    def _allows(self, token: int, logit: float) -> bool:
        self._one[0] = llama_cpp.llama_token_data(token, logit, 0.0)
        self._apply(self._one, 1)
        return self._one[0].logit != -math.inf

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

    def _apply(self, data: Any, size: int) -> None:
        candidates = llama_cpp.llama_token_data_array(
            data=data, size=size, selected=-1, sorted=False
        )
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(candidates))

    def close(self) -> None:
        if self._sampler:
            llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None


class GreedyGrammarLlama(Llama):
    """``Llama`` whose greedy, grammar-constrained completions use ``GreedyGrammar``."""

    _greedy: GreedyGrammar | None = None
    greedy_grammar = True  # False: llama-cpp-python's own sampler, for comparison
    last_grammar_steps: tuple[int, int] = (0, 0)  # (tokens picked, full-vocabulary masks)

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
        return super()._init_sampler(**kwargs)

    def sample(self, **kwargs: Any) -> int:  # type: ignore[override]
        greedy = self._greedy
        if greedy is None:
            return super().sample(**kwargs)
        idx = kwargs.get("idx")
        ridx = idx - self.n_tokens if idx is not None else -1
        pointer = llama_cpp.llama_get_logits_ith(self._ctx.ctx, ridx)
        token = greedy.pick(np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)))
        self.last_grammar_steps = (greedy.steps, greedy.full_masks)
        return token

    def _close_greedy(self) -> None:
        if self._greedy is not None:
            self._greedy.close()
            self._greedy = None

    def close(self) -> None:
        self._close_greedy()
        super().close()
