"""A short version string that changes whenever the source files that decide a result do."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def source_digest(files: Iterable[Path], *, salt: str = "") -> str:
    """12 hex digits of a SHA-256 over ``salt`` and each file's name and bytes, in order."""
    digest = hashlib.sha256(salt.encode())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
