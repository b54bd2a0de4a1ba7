"""Keys of the track engine: object uuids (``stable_uuid`` without a ``UUID``
object each) and frame numbers, indices and timestamps (without making the frames of a
:class:`~prelabel.model.FrameRange`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from prelabel.collector import paused_gc
from prelabel.model import UUID_NAMESPACE, Frame, FrameRange

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def frame_numbers(frames: Sequence[Frame]) -> IntArray:
    """Every frame's number (a :class:`FrameRange` makes no frames for it)."""
    if isinstance(frames, FrameRange):
        return frames.numbers
    return np.array([f.number for f in frames], dtype=np.int64).reshape(-1)


def frame_times(frames: Sequence[Frame], fps: float) -> tuple[FloatArray, IntArray]:
    """Every frame's timestamp (``index / fps`` when it has none) and index."""
    if isinstance(frames, FrameRange):
        index = np.arange(len(frames), dtype=np.int64)
        stamps = frames.timestamps
        return (index / fps if stamps is None else stamps), index
    with paused_gc():
        times = [f.timestamp if f.timestamp is not None else f.index / fps for f in frames]
        stamps = np.array(times, dtype=np.float64).reshape(-1)
        return stamps, np.array([f.index for f in frames], dtype=np.int64).reshape(-1)


def uuid_texts(prefix: tuple[str, ...], names: list[str]) -> list[str]:
    """``stable_uuid(*prefix, name)`` of each name (the uuid5 of the parts joined by
    ``\\x1f``), hashing the shared prefix once and making no ``UUID`` object."""
    if not names:
        return []
    base = hashlib.sha1(UUID_NAMESPACE.bytes + "".join(p + "\x1f" for p in prefix).encode())
    digests = []
    for name in names:
        h = base.copy()
        h.update(name.encode())
        digests.append(h.digest())
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hx = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8).reshape(-1, 32)
    text = np.full((len(hx), 37), ord("-"), dtype=np.uint8)  # 8-4-4-4-12 hex digits, a pad
    text[:, [*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)]] = hx
    joined = text.tobytes().decode()
    return [joined[i : i + 36] for i in range(0, len(joined), 37)]
