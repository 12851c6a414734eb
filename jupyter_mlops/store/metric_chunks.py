"""Packing metric points into chunks, and reading a series back as arrays.

Why chunks: a row per point costs SQLite ≈ 2–3 µs of B-tree work (the table plus a
``(run_id, key, step)`` index); 10^6 points took seconds before a single byte was useful.
A chunk is one row per (run, key, flush) holding three little-endian arrays, so writing is a
memcpy and reading 10^6 points is one ``frombuffer``. NaN is stored as NaN (no NULL trick).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence

FORMAT_VERSION = 1
_HEADER = bytes([FORMAT_VERSION])


def pack(points: Sequence[tuple[float, int, float]]) -> tuple[bytes, int, int]:
    """``[(value, step, timestamp), …]`` → (blob, first_step, last_step)."""
    steps = array("q", [p[1] for p in points])
    values = array("d", [p[0] for p in points])
    stamps = array("d", [p[2] for p in points])
    if sys.byteorder == "big":  # pragma: no cover - the stored format is little-endian
        for a in (steps, values, stamps):
            a.byteswap()
    return _HEADER + steps.tobytes() + values.tobytes() + stamps.tobytes(), steps[0], steps[-1]


def unpack(blobs: Iterable[tuple[int, bytes]]):
    """``[(n, blob), …]`` in write order → numpy arrays (steps, values, timestamps), step-sorted.

    Points with equal steps keep their logging order (a stable sort), so "latest" is well
    defined even when a user logs the same step twice.
    """
    import numpy as np

    steps, values, stamps = [], [], []
    for n, blob in blobs:
        if not blob or blob[0] != FORMAT_VERSION or len(blob) != 1 + 24 * n:
            from jupyter_mlops.errors import CorruptArtifactError

            raise CorruptArtifactError(
                "A stored metric chunk is damaged; run `jupyter mlops gc` and re-log the run.")
        buf = memoryview(blob)[1:]
        steps.append(np.frombuffer(buf, dtype="<i8", count=n, offset=0))
        values.append(np.frombuffer(buf, dtype="<f8", count=n, offset=8 * n))
        stamps.append(np.frombuffer(buf, dtype="<f8", count=n, offset=16 * n))
    if not steps:
        empty = np.empty(0)
        return empty.astype("<i8"), empty, empty
    s, v, t = np.concatenate(steps), np.concatenate(values), np.concatenate(stamps)
    if s.size > 1 and np.any(s[1:] < s[:-1]):
        order = np.argsort(s, kind="stable")
        s, v, t = s[order], v[order], t[order]
    return s, v, t


def m4_indices(steps, values, max_points: int):
    """Indices to keep so at most ``max_points`` remain: per bucket the first, last, lowest and
    highest point (M4). Every kept point is real, spikes survive, and a trend keeps its shape.
    """
    import numpy as np

    n = steps.size
    per = 4 if max_points >= 4 else 2
    buckets = max(1, max_points // per)
    lo, hi = int(steps[0]), int(steps[-1])
    width = max(1, -(-(hi - lo + 1) // buckets))
    bucket = (steps - lo) // width
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], n] - 1
    # NaN never wins a min/max; a bucket of only NaN still keeps its first/last point.
    low = np.where(np.isnan(values), np.inf, values)
    high = np.where(np.isnan(values), -np.inf, values)
    seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n]))
    argmin = starts + _segment_arg(low, seg, starts, np.minimum)
    argmax = starts + _segment_arg(high, seg, starts, np.maximum)
    keep = [argmin, argmax] + ([starts, ends] if per == 4 else [])
    return np.unique(np.concatenate(keep))


def _segment_arg(values, seg, starts, ufunc):
    """Offset (within its segment) of the first min/max of each segment."""
    import numpy as np

    best = ufunc.reduceat(values, starts)
    hit = values == best[seg]
    first_hit = np.minimum.reduceat(np.where(hit, np.arange(values.size), values.size), starts)
    return first_hit - starts
