"""Which llama.cpp CPU backend the service loads, and how many threads it runs.

The variants are the real shared libraries of this install (each scores itself on this CPU);
loading one happens in a child process, as it would at the service's start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service import cpu_backend
from service.cpu_backend import Variant, choose
from tests.conftest import ROOT


def _v(name: str, score: int) -> Variant:
    return Variant(name, Path(f"libggml-cpu-{name}.so"), score)


def test_the_best_variant_this_cpu_runs_is_chosen() -> None:
    found = [_v("zen4", 0), _v("icelake", 900), _v("haswell", 60), _v("x64", 1)]
    assert choose(found, wanted=None, amx=False).name == "icelake"


def test_amx_is_loaded_only_when_named_where_the_kernel_grants_it() -> None:
    found = [_v("sapphirerapids", 4000), _v("zen4", 2000), _v("haswell", 60)]
    assert choose(found, wanted=None, amx=False).name == "zen4"
    assert choose(found, wanted=None, amx=True).name == "zen4"
    assert choose(found, wanted="sapphirerapids", amx=True).name == "sapphirerapids"
    with pytest.raises(ValueError, match="needs AMX"):
        choose(found, wanted="sapphirerapids", amx=False)


def test_a_named_variant_must_exist_and_run_here() -> None:
    found = [_v("zen4", 0), _v("haswell", 60)]
    assert choose(found, wanted="haswell", amx=False).name == "haswell"
    with pytest.raises(ValueError, match="cannot run"):
        choose(found, wanted="zen4", amx=False)
    with pytest.raises(ValueError, match="no CPU variant 'avx10'"):
        choose(found, wanted="avx10", amx=False)
    assert choose([_v("zen4", 0)], wanted=None, amx=False) is None


def test_a_cgroup_quota_caps_the_cores(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cpu_backend._cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_backend._cgroup_quota(tmp_path) is None
    assert cpu_backend._cgroup_quota(tmp_path / "absent") is None
    assert 1 <= cpu_backend.available_cores() <= (os.cpu_count() or 1)


def _model_cpu(**env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "service.cli", "model", "cpu"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _cpu_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text()
    return set(next(line for line in text.splitlines() if line.startswith("flags")).split()[2:])


def test_this_install_loads_the_best_variant_the_cpu_runs() -> None:
    found = cpu_backend.variants()
    names = {v.name for v in found}
    assert {"x64", "haswell", "skylakex", "zen4", "sapphirerapids"} <= names
    out = _model_cpu()
    chosen = next(line.split()[1] for line in out.splitlines() if line.startswith("*"))
    best = max((v for v in found if v.name not in cpu_backend.AMX_VARIANTS), key=lambda v: v.score)
    assert chosen == best.name
    features = cpu_backend.feature_flags(
        next(line for line in out.splitlines() if "features" in line)
    )
    flags = _cpu_flags()
    assert ("AVX2" in features) == ("avx2" in flags)
    assert ("AVX512" in features) == ("avx512f" in flags)
    assert "AMX_INT8" not in features


def test_a_named_variant_is_loaded_instead() -> None:
    if "avx2" not in _cpu_flags():
        pytest.skip("this CPU has no AVX2: the haswell variant cannot run here")
    out = _model_cpu(SUMMARIZER_LOCAL_CPU_VARIANT="haswell")
    assert "libggml-cpu-haswell.so" in out
    features = cpu_backend.feature_flags(
        next(line for line in out.splitlines() if "features" in line)
    )
    assert "AVX2" in features
    assert "AVX512" not in features
