"""Scoring the small requests of one event-loop turn with one model call.

Under concurrent load most of a one-row request's time is not the model's arithmetic but the
library's per-call work around it: scikit-learn validates its input, looks for feature names
and dataframe types on every ``predict``, about half of the server's CPU per request at 16
connections. Requests whose bodies arrive together are queued by :class:`MicroBatcher` and,
once the tasks already runnable have all queued theirs, scored by one call on the stacked
rows. Nothing waits for company: a lone request is scored on the next turn of the loop, so
batching adds no timer and no latency at one connection.

Batching is only used where it cannot change an answer. :func:`batch_invariant` checks at
load that the model gives bit-for-bit the same output for rows scored together as for each
row alone (trees and classifiers' labels do; a linear regressor's floats can differ in the
last bit between BLAS's one-row and many-row kernels, so it keeps scoring one request at a
time). And one request the model refuses never fails the others: a batch that raises is
scored again request by request, so only the refused one gets its error.

``MLOPS_SERVE_BATCH=0`` turns batching off.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from typing import Any, Callable

import numpy as np

#: Rows one batched call may take; a larger request is scored on its own (app.THREAD_ROWS
#: sends those to a thread anyway).
MAX_ROWS = 1_000


def batching_enabled() -> bool:
    return os.environ.get("MLOPS_SERVE_BATCH", "1").strip().lower() not in {"0", "false", "no",
                                                                             "off"}


def batch_invariant(predict: Callable[[np.ndarray], Any], example: np.ndarray,
                    probes: int = 48, seed: int = 0) -> bool:
    """Whether ``predict`` scores each row the same, bit for bit, alone and in a batch.

    Probed with the example rows plus ``probes`` random rows around their scale, scored as
    one batch, as two uneven batches, and row by row. Any exception or difference: False.
    """
    example = np.asarray(example, dtype=np.float64)
    if example.ndim != 2 or example.shape[1] == 0:
        return False
    rng = np.random.default_rng(seed)
    centre = np.nanmean(example, axis=0) if len(example) else np.zeros(example.shape[1])
    spread = np.nan_to_num(np.nanstd(example, axis=0)) + 1.0 if len(example) else 1.0
    rows = np.vstack([example, rng.normal(np.nan_to_num(centre), spread,
                                          size=(probes, example.shape[1]))])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alone = [np.asarray(predict(rows[i:i + 1])) for i in range(len(rows))]
            together = np.asarray(predict(rows))
            cut = len(rows) // 3
            uneven = [np.asarray(predict(rows[:cut])), np.asarray(predict(rows[cut:]))]
    except Exception:
        return False
    if together.ndim == 0 or len(together) != len(rows) or any(
            a.ndim == 0 or len(a) != 1 for a in alone):
        return False
    stacked = np.concatenate(alone)
    return _same(stacked, together) and _same(stacked, np.concatenate(uneven))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape, dtype kind and values, NaN matching NaN (no tolerance: bit-level answers)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(np.all(a == b))


class MicroBatcher:
    """Queues prepared matrices of one served model version; scores each loop turn's at once.

    ``predict`` is the served model's own ``predict`` (its errors already mapped to the
    client's 400). Used from the event loop only, so no lock.
    """

    def __init__(self, predict: Callable[[np.ndarray], Any], max_rows: int = MAX_ROWS):
        self._predict = predict
        self.max_rows = max_rows
        self._pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self._rows = 0
        # Calls that scored more than one request, and the requests they scored (/metrics).
        self.batches = 0
        self.batched_requests = 0

    async def score(self, X: np.ndarray) -> Any:
        if len(X) >= self.max_rows:
            return self._predict(X)
        loop = asyncio.get_running_loop()
        if self._rows + len(X) > self.max_rows:
            self._flush()
        future = loop.create_future()
        if not self._pending:
            # After the tasks already runnable: those whose bodies came in the same turn.
            loop.call_soon(self._flush)
        self._pending.append((X, future))
        self._rows += len(X)
        return await future

    def _flush(self) -> None:
        pending, self._pending, self._rows = self._pending, [], 0
        pending = [(X, f) for X, f in pending if not f.done()]  # a cancelled request
        if len(pending) > 1 and self._score_together(pending):
            return
        for X, future in pending:
            try:
                future.set_result(self._predict(X))
            except Exception as exc:  # this request's own refusal, delivered to it alone
                future.set_exception(exc)

    def _score_together(self, pending: list[tuple[np.ndarray, asyncio.Future]]) -> bool:
        try:
            preds = np.asarray(self._predict(np.concatenate([X for X, _ in pending])))
        except Exception:
            return False  # someone's rows were refused: score each alone (see _flush)
        if preds.ndim == 0 or len(preds) != sum(len(X) for X, _ in pending):
            return False
        self.batches += 1
        self.batched_requests += len(pending)
        start = 0
        for X, future in pending:
            future.set_result(preds[start:start + len(X)])
            start += len(X)
        return True
