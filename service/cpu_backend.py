"""Which build of llama.cpp's CPU backend runs the model, and on how many cores.

llama.cpp is built with every x86-64 variant of its CPU backend (``GGML_CPU_ALL_VARIANTS``),
one shared library each in ``llama_cpp/lib`` (``libggml-cpu-haswell.so``, ``-zen4``, ...).
Each library scores itself against the CPU it runs on (0 when the CPU lacks an instruction it
was compiled for); the best score wins, so an AVX-512 machine gets the AVX-512 kernels and an
older one the AVX2 or SSE ones, from the same install.

One exception: an AMX variant is never chosen by score. Its score asks CPUID only, and its
kernels have died with SIGILL on a virtual machine that reports AMX and whose kernel even grants
the tile state (``arch_prctl``); a crash inside a request takes the process down. It is loaded
only when named (``SUMMARIZER_LOCAL_CPU_VARIANT=sapphirerapids``) on a machine that grants AMX
tile data, which is asked without executing a single AMX instruction.

Loaded before the first model: llama.cpp loads nothing by itself once a backend is
registered. Imported only where the native library is wanted.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("service.cpu_backend")

_PREFIX = "libggml-cpu-"
# Variants compiled with AMX instructions (llama.cpp's ggml/src/CMakeLists.txt).
AMX_VARIANTS = frozenset({"sapphirerapids"})
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_SYS_ARCH_PRCTL = 158  # x86-64


@dataclass(frozen=True)
class Variant:
    name: str  # "zen4", "haswell", ...
    path: Path
    score: int  # 0: this CPU cannot run it


@dataclass(frozen=True)
class Loaded:
    variant: Variant | None  # None: a single-variant build, or the backend was already there
    features: str  # llama.cpp's system info: "CPU : SSE3 = 1 | AVX = 1 | ..."


_loaded: Loaded | None = None


def lib_dir() -> Path:
    import llama_cpp

    return Path(llama_cpp.__file__).parent / "lib"


def variants(directory: Path | None = None) -> list[Variant]:
    """Every CPU variant in ``directory`` with its score on this CPU, best first."""
    directory = directory or lib_dir()
    found = []
    for path in sorted(directory.glob(f"{_PREFIX}*.so")):
        name = path.name[len(_PREFIX) : -len(".so")]
        found.append(Variant(name, path, _score(path)))
    return sorted(found, key=lambda v: v.score, reverse=True)


def _score(path: Path) -> int:
    # Loading a variant runs no kernel: its score function is compiled without the variant's
    # instruction set for exactly this purpose (llama.cpp's cpu-feats.cpp).
    lib = ctypes.CDLL(str(path), mode=os.RTLD_LOCAL)
    score = lib.ggml_backend_score
    score.restype = ctypes.c_int
    return int(score())


def amx_granted() -> bool:
    """Whether the kernel lets this process use AMX tile data (Linux x86-64 only)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(
        ctypes.c_long(_SYS_ARCH_PRCTL),
        ctypes.c_long(_ARCH_REQ_XCOMP_PERM),
        ctypes.c_ulong(_XFEATURE_XTILEDATA),
    )
    return int(result) == 0


def choose(found: list[Variant], *, wanted: str | None, amx: bool) -> Variant | None:
    """The variant to load: ``wanted`` by name (an AMX one only if ``amx``, the kernel's
    grant), else the best non-AMX variant this CPU runs. None when nothing here can run."""
    if wanted:
        named = [v for v in found if v.name == wanted]
        if not named:
            raise ValueError(
                f"no CPU variant {wanted!r} in this build; there are: "
                + ", ".join(v.name for v in found)
            )
        variant = named[0]
        if variant.score == 0:
            raise ValueError(f"this CPU cannot run the {wanted!r} variant of llama.cpp")
        if variant.name in AMX_VARIANTS and not amx:
            raise ValueError(f"the {wanted!r} variant needs AMX, which this process is not granted")
        return variant
    usable = [v for v in found if v.score > 0 and v.name not in AMX_VARIANTS]
    return usable[0] if usable else None


def chosen(wanted: str | None = None) -> Variant:
    """The variant this process would load (for another llama.cpp process: see
    ``GGML_BACKEND_PATH`` in the README)."""
    found = variants()
    variant = choose(found, wanted=wanted, amx=amx_granted())
    if variant is None:
        raise RuntimeError(
            f"no CPU backend of llama.cpp in {lib_dir()} runs on this CPU: "
            + ", ".join(f"{v.name} ({v.score})" for v in found)
        )
    return variant


def load(wanted: str | None = None) -> Loaded:
    """Register the chosen CPU variant with llama.cpp, once per process."""
    global _loaded
    if _loaded is not None:
        return _loaded
    libggml = _llama_ggml()
    variant = None
    registered = libggml.ggml_backend_reg_count
    registered.restype = ctypes.c_size_t
    if registered() == 0:
        variant = chosen(wanted)
        backend_load = libggml.ggml_backend_load
        backend_load.restype = ctypes.c_void_p
        backend_load.argtypes = [ctypes.c_char_p]
        if not backend_load(str(variant.path).encode()):
            raise RuntimeError(f"llama.cpp could not load its CPU backend {variant.path}")
    import llama_cpp

    features = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    _loaded = Loaded(variant, features)
    log.info(
        "llama.cpp CPU backend %s: %s",
        variant.name if variant else "built in",
        features,
        extra={"cpu_variant": variant.name if variant else None},
    )
    return _loaded


def _llama_ggml() -> ctypes.CDLL:
    """The ggml library llama.cpp itself uses, whose backend registry it reads.

    Not ``llama_cpp._ggml.libggml``: the wheel holds ``libggml.so`` and ``libggml.so.0`` as two
    copies of one file (wheels have no symbolic links), and loading the first by its path after
    ``libllama`` loaded the second gives a separate ggml, with a registry llama.cpp never sees.
    """
    import llama_cpp  # loads libllama, and with it the ggml it links

    del llama_cpp
    try:
        return ctypes.CDLL("libggml.so.0", mode=os.RTLD_NOLOAD)
    except OSError:  # not Linux: one copy, found by its path
        return ctypes.CDLL(str(lib_dir() / "libggml.so"))


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs granted by a cgroup v2 ``cpu.max`` (or v1 CFS quota); None when unlimited."""
    with contextlib.suppress(OSError, ValueError):
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    with contextlib.suppress(OSError, ValueError):
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    return None


def feature_flags(features: str) -> set[str]:
    """The features llama.cpp reports as on ("AVX512 = 1" -> "AVX512")."""
    return {m.group(1) for m in re.finditer(r"([A-Z0-9_]+) = 1", features)}
