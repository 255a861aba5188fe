"""Benchmarks; run them as modules (``python -m bench.cache_hits``)."""
