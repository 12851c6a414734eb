"""Requests → monitoring, off the request path.

The event loop only appends ``(version, input, predictions, ids, time)`` to a deque (bounded:
when the monitor falls behind, the oldest entries are dropped and counted, never the
requests). A background thread drains it every ``interval`` seconds, stacks the rows of many
requests into one batch per model version and calls :meth:`Monitor.log_predictions` once per
batch; it also ticks time windows and closes the open window when the served version changes.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class PredictionSink:
    """Log a sample of served requests to a monitor.

    Parameters
    ----------
    monitor : Monitor
    sample : float
        Fraction of requests logged (1.0 = all).
    interval : float
        Seconds between drains.
    max_pending : int
        Requests kept waiting at most (older ones are dropped and counted).
    """

    def __init__(self, monitor, sample: float = 1.0, interval: float = 0.5,
                 max_pending: int = 100_000):
        self.monitor = monitor
        self.sample = max(0.0, min(1.0, float(sample)))
        self.interval = interval
        self.pending: collections.deque = collections.deque(maxlen=max_pending)
        self.dropped = 0
        self.logged_rows = 0
        self.errors = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random()

    def wants(self) -> bool:
        return self.sample >= 1.0 or self._random.random() < self.sample

    def submit(self, version: int, X: Any, preds: Any, ids: list[str] | None,
               columns: list[str] | None) -> None:
        """Queue one request (called on the event loop: O(1), never blocks)."""
        if len(self.pending) == self.pending.maxlen:
            self.dropped += 1
        self.pending.append((version, X, preds, ids, columns, time.time()))

    # ------------------------------------------------------------------ draining
    def drain(self) -> int:
        """Log everything queued now; return the rows logged."""
        batch = []
        while self.pending:
            try:
                batch.append(self.pending.popleft())
            except IndexError:
                break
        rows = 0
        start = 0
        while start < len(batch):  # consecutive runs of one version
            end = start
            while end < len(batch) and batch[end][0] == batch[start][0]:
                end += 1
            rows += self._log(batch[start:end])
            start = end
        self.monitor.tick()
        return rows

    def _log(self, items: list) -> int:
        import pandas as pd

        version = items[0][0]
        frames, preds, ids, ts = [], [], [], []
        for _, X, p, i, columns, t in items:
            n = len(p)
            if isinstance(X, np.ndarray) and X.ndim == 2:
                frames.append(X)
            else:
                frames.append(X if isinstance(X, pd.DataFrame) else pd.DataFrame(X))
            preds.append(np.asarray(p).reshape(n, -1)[:, 0] if np.asarray(p).ndim > 1
                         else np.asarray(p))
            ids.extend(i if i is not None else [None] * n)
            ts.append(np.full(n, t))
        columns = items[0][4]
        if all(isinstance(f, np.ndarray) for f in frames) and columns:
            frame = pd.DataFrame(np.vstack(frames), columns=columns)
        else:
            frame = pd.concat([f if isinstance(f, pd.DataFrame) else
                               pd.DataFrame(f, columns=columns) for f in frames],
                              ignore_index=True)
        known = [i is not None for i in ids]
        try:
            if all(known):
                self.monitor.log_predictions(frame, np.concatenate(preds), ids=ids,
                                             timestamp=np.concatenate(ts),
                                             model_version=version)
            else:
                self.monitor.log_predictions(frame, np.concatenate(preds),
                                             timestamp=np.concatenate(ts),
                                             model_version=version)
        except Exception:
            self.errors += 1
            log.exception("could not log %d prediction rows to monitor %s", len(frame),
                          self.monitor.name)
            return 0
        self.logged_rows += len(frame)
        return len(frame)

    def switch(self) -> None:
        """The served version changed: close the open window (one version per window)."""
        self.drain()
        self.monitor.flush()

    # ------------------------------------------------------------------ thread
    def start(self) -> "PredictionSink":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="mlops-monitor-sink",
                                            daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.drain()
            except Exception:
                self.errors += 1
                log.exception("monitor sink failed; retrying")

    def stop(self, flush: bool = True, timeout: float = 10.0) -> None:
        """Stop the thread; log what is queued (and close the open window if ``flush``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.drain()
        if flush:
            self.monitor.flush()
