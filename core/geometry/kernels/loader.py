"""Compiled inner loops of mask -> polygon, and the switch between them and their fallbacks.

The loops live in :mod:`prelabel.geometry.kernels.raster` (RLE crop decode, pixel-edge rings, IoU) and
:mod:`prelabel.geometry.kernels.simplify` (midpoint rings, vertex ranking, simplicity check) as plain
Python over numpy arrays. :func:`compiled` returns them compiled by numba (imported on first
use, so ``import prelabel`` and the tracking paths never pay for it; machine code cached on
disk next to the package, compiled once in a background process so no run waits for it).
Until the kernels are ready, when numba cannot be imported, or ``PRELABEL_JIT=0`` is set,
callers use vectorised numpy versions (decode, rings, IoU) or run the same loops in the
interpreter (simplification): the results are identical (``tests/test_kernels.py``), only
slower, since numpy's per-call overhead dominates on the small arrays of one object.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType
from typing import Any

from prelabel.geometry.kernels import raster as kernels_raster
from prelabel.geometry.kernels import simplify as kernels_simplify
from prelabel.geometry.kernels.raster import F64, I32, I64, U8

__all__ = [
    "Kernels",
    "compiled",
    "mark_warm",
    "warmup_lock",
]


@dataclass(frozen=True)
class Kernels:
    """The compiled functions (same signatures as the module-level ones)."""

    decode_crop: Callable[[U8, int, int], tuple[U8, int, int]]
    rle_extent: Callable[[U8], tuple[int, int]]
    rle_extents: Callable[[U8, I64], tuple[I64, I64]]
    whole_mask_boxes: Callable[[U8, I64, int, int], tuple[bool, F64]]
    edge_ring: Callable[[I32, I32, I32], F64]
    rings_iou: Callable[[F64, I64, I64, F64, I64, I64], float]
    dp_ranks: Callable[[F64], F64]
    midpoint_ring: Callable[[F64], F64]
    edge_rings: Callable[[I32, I64, U8, I32, I32], tuple[F64, I64, bool]]
    ring_ranks: Callable[[F64, I64], F64]
    simple_part: Callable[[F64, I64], bool]
    ranked_select: Callable[[F64, I64, I64], tuple[F64, I64, float]]


# compiled in this order: a kernel that calls another finds it already compiled
_ORDER = (
    "_orient",
    "_touch",
    "_inside",
    "_drop_collinear",
    "_crossings",
    "edge_ring",
    "dp_ranks",
    "runs_of",
    "pixel_box",
    "decode_crop",
    "rle_measure",
    "rle_extent",
    "rle_extents",
    "whole_mask_boxes",
    "edge_rings",
    "rings_iou",
    "midpoint_ring",
    "ring_ranks",
    "simple_part",
    "ranked_select",
)


def compiled(*, wait: bool = False) -> Kernels | None:
    """The numba-compiled kernels when they are ready, else None (use the fallbacks).

    Compiling takes ~20 s on a small machine, so a process never waits for it unless asked:
    when this environment's on-disk cache is warm the kernels load from it (about half a
    second, once per process); when it is cold a separate process compiles them in the
    background and this one runs the interpreter fallbacks (identical results) until the
    cache is ready, then switches. ``wait=True`` (benchmarks, tests) compiles or loads in
    this process before returning. ``PRELABEL_JIT=0`` turns the kernels off; ``=wait``
    makes every call wait.
    """
    mode = os.environ.get("PRELABEL_JIT", "1")
    if mode == "0":
        return None
    if _STATE.kernels is not None:
        return _STATE.kernels
    if wait or mode == "wait":
        return _load(wait_for_warmup=True)
    now = time.monotonic()
    if now < _STATE.next_check:
        return None
    _STATE.next_check = now + _RECHECK_SECONDS
    if _marker().exists():
        return _load(wait_for_warmup=False)
    _start_warmup()
    return None


@dataclass(slots=True)
class _State:
    kernels: Kernels | None = None
    next_check: float = 0.0  # monotonic time of the next look for a warm cache
    warmup_started: bool = False
    unavailable: bool = False  # numba missing, or nowhere to keep its cache
    warming: bool = False  # this process holds the warm-up lock


_STATE = _State()
_RECHECK_SECONDS = 1.0
_LOCK_STALE_SECONDS = 600.0
# called with a one-line status when a background compile starts (the CLI prints it on a
# terminal); the library itself never prints
on_status: Callable[[str], None] | None = None


def _source_tag() -> str:
    """numba's version and a hash of the kernels' code: a new version or edit re-warms."""
    import hashlib

    digest = hashlib.sha256()
    for module in (kernels_raster, kernels_simplify):
        with open(module.__file__ or "", "rb") as f:
            digest.update(f.read())
    try:
        from importlib.metadata import version

        numba_version = version("numba")
    except Exception:  # numba missing: the tag is never used
        numba_version = "none"
    return f"{numba_version}-{digest.hexdigest()[:16]}"


def _cache_dir() -> Path | None:
    """Where the warm marker (and, by numba's own rules, the machine code) is kept."""
    candidates = [
        os.environ.get("NUMBA_CACHE_DIR"),
        str(Path(kernels_raster.__file__ or ".").parent / "__pycache__"),
        str(Path.home() / ".cache" / "prelabel"),
    ]
    for folder in filter(None, candidates):
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    return None


def _marker() -> Path:
    folder = _cache_dir()
    if folder is None:
        return Path("/nonexistent/prelabel-kernels")
    return folder / f"prelabel-kernels-{_source_tag()}.warm"


def _load(*, wait_for_warmup: bool) -> Kernels | None:
    """Compile (or load from the disk cache) in this process."""
    if wait_for_warmup:
        _wait_for_running_warmup()
    try:
        import numba
    except ImportError:
        _STATE.unavailable = True
        return None
    try:
        kernels = _compile(numba.njit(cache=True, nogil=True))
    except RuntimeError:  # no writable place for the on-disk cache: compile in memory
        kernels = _compile(numba.njit(cache=False, nogil=True))
    _STATE.kernels = kernels
    return kernels


def mark_warm() -> None:
    """Record that this environment's disk cache holds every kernel (after a warm-up)."""
    marker = _marker()
    try:
        tmp = marker.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("ok\n")
        tmp.replace(marker)
    except OSError:
        pass  # the cache stays cold for the next process: it compiles again


def _lock() -> Path:
    return _marker().with_suffix(".lock")


def _warmup_running() -> bool:
    try:
        age = time.time() - _lock().stat().st_mtime
    except OSError:
        return False
    return age < _LOCK_STALE_SECONDS


def _wait_for_running_warmup(timeout: float = 180.0) -> None:
    if _STATE.warming:
        return
    deadline = time.monotonic() + timeout
    while _warmup_running() and not _marker().exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def _start_warmup() -> None:
    """Start one background process that compiles the kernels into the disk cache."""
    if _STATE.warmup_started or _STATE.unavailable:
        return
    _STATE.warmup_started = True
    if _cache_dir() is None or importlib.util.find_spec("numba") is None:
        _STATE.unavailable = True
        return
    if _warmup_running():
        return
    # numba compiles a kernel on its first call, so the warm-up fits a few synthetic masks
    # through the limits engine: every kernel is compiled for the argument types real
    # calls use (prelabel.fit.warmup; named here, not imported: fit sits above geometry)
    code = "from prelabel.fit.warmup import warm_up; warm_up()"
    subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    if on_status is not None:
        on_status(
            "compiling the mask kernels for this machine in the background (once after "
            "an install, ~20 s); tracing with the interpreter meanwhile, same results"
        )


@contextmanager
def warmup_lock() -> Iterator[bool]:
    """Held by the one process compiling into the cache; yields False if another has it."""
    lock = _lock()
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if _warmup_running():
            yield False
            return
        lock.unlink(missing_ok=True)  # stale: its process died
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        _STATE.warming = True
        yield True
    finally:
        _STATE.warming = False
        lock.unlink(missing_ok=True)


def _compile(jit: Any) -> Kernels:
    namespace = {**vars(kernels_raster), **vars(kernels_simplify)}
    for name in _ORDER:
        code = namespace[name].__code__
        namespace[name] = jit(FunctionType(code, namespace, name))
    fields = {f.name for f in dataclasses.fields(Kernels)}
    return Kernels(**{name: namespace[name] for name in fields})
