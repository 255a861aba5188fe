"""Prompt and generation tokens/s of whatever llama-cpp-python this interpreter has.

    PYTHON -m bench.llama_rates --model FILE.gguf --text FILE.txt [--prompt-tokens 512]
        [--variant haswell] ...

Run by ``bench.llama_build`` once per build under test, each in its own interpreter (the
shipped install and a native build in a separate virtual environment). It needs only
``llama_cpp`` and ``numpy`` (and ``service.cpu_backend``, standard library only), so it runs in a
bare environment too. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--text", required=True, help="text whose first tokens are the prompt")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--variant", help="a CPU variant of this build to load (default: the one the service picks)"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import llama_cpp
    import numpy as np

    from service import cpu_backend

    # A single-variant (native) build has its backend built in and ignores --variant.
    loaded = cpu_backend.load(args.variant)
    llama = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=4096,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_batch=512,
        verbose=False,
    )
    text = Path(args.text).read_text(encoding="utf-8")
    tokens = llama.tokenize(text.encode(), add_bos=False)[: args.prompt_tokens]
    if len(tokens) < args.prompt_tokens:
        raise SystemExit(f"the text has only {len(tokens)} tokens")
    n_vocab = llama.n_vocab()
    prompt_rates, gen_rates = [], []
    for _ in range(args.repeat):
        llama.reset()
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        started = time.perf_counter()
        llama.eval(tokens)
        prompt_rates.append(len(tokens) / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(args.gen_tokens):
            logits = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(n_vocab,)
            )
            llama.eval([int(logits.argmax())])
        gen_rates.append(args.gen_tokens / (time.perf_counter() - started))
    print(
        json.dumps(
            {
                "llama_cpp": llama_cpp.__version__,
                "variant": loaded.variant.name if loaded.variant else "built in",
                "features": loaded.features,
                "prompt_tps": statistics.median(prompt_rates),
                "gen_tps": statistics.median(gen_rates),
            }
        )
    )


if __name__ == "__main__":
    main()
