"""Saved prompt prefix states do not pile up in the data directory.

The files are stand-ins (the pruning looks at names and modification times only); the
integration tests save and load real llama.cpp states.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from service.local_model import PARTIAL_MAX_AGE_S, prune_saved_prefixes


def _state(directory: Path, key: str, age_s: float, suffix: str = ".llamastate") -> Path:
    path = directory / f"prompt-prefix-{key}{suffix}"
    path.write_bytes(b"state")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_only_the_state_in_use_and_the_last_used_other_are_kept(tmp_path: Path) -> None:
    in_use = _state(tmp_path, "new", age_s=0)
    previous = _state(tmp_path, "previous", age_s=60)
    older = _state(tmp_path, "older", age_s=3600)
    oldest = _state(tmp_path, "oldest", age_s=86400)
    unrelated = tmp_path / "summaries.sqlite3"
    unrelated.write_bytes(b"records")

    prune_saved_prefixes(tmp_path, keep=in_use)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [in_use.name, previous.name, unrelated.name]
    )
    assert not older.exists() and not oldest.exists()


def test_the_state_in_use_is_kept_even_when_it_is_the_oldest(tmp_path: Path) -> None:
    in_use = _state(tmp_path, "in-use", age_s=86400)
    newer = _state(tmp_path, "newer", age_s=0)

    prune_saved_prefixes(tmp_path, keep=in_use, kept=1)

    assert in_use.exists()
    assert not newer.exists()


def test_partial_writes_are_removed_only_once_they_are_stale(tmp_path: Path) -> None:
    in_use = _state(tmp_path, "in-use", age_s=0)
    abandoned = _state(tmp_path, "dead.123", age_s=PARTIAL_MAX_AGE_S + 60, suffix=".partial")
    being_written = _state(tmp_path, "live.456", age_s=1, suffix=".partial")

    prune_saved_prefixes(tmp_path, keep=in_use)

    assert not abandoned.exists()
    assert being_written.exists()  # another process may be saving it right now
    assert in_use.exists()


def test_a_missing_directory_is_not_an_error(tmp_path: Path) -> None:
    prune_saved_prefixes(tmp_path / "absent", keep=tmp_path / "absent" / "x.llamastate")
