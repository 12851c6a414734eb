"""Requests → monitoring, off the request path (and, in the model server, off its process).

The event loop only appends ``(version, input, predictions, ids, time)`` to a deque (bounded:
when the monitor falls behind, the oldest entries are dropped and counted, never the
requests). A background thread drains it every ``interval`` seconds and stacks the rows of
many requests into one batch per model version. What happens to a batch:

- ``process=True`` (the model server): it is written, as NumPy arrays in ``.npy`` framing
  (no pickle), to a child process (:mod:`.monitor_process`, at a lower CPU priority) that
  owns the monitor's windows: it calls :meth:`Monitor.log_predictions`, ticks time windows and
  closes windows (drift over every feature, the store's writes). Measured with the serving
  benchmark (1,000-row windows, 30 features, ≈ 2,500 requests/s): closing a window costs
  ≈ 50 ms, and done in a thread of the server the monitor took ≈ 650 ms of CPU per drain,
  a third of a core, nearly all of it holding the GIL. uvloop takes the GIL back once per
  callback, so while a window closed each callback could wait a whole switch interval
  (5 ms): p99 at one connection went from 0.6 ms to 6–7 ms, and at 16 connections on a
  loaded machine to ≈ 100 ms. In the child, the server's share is stacking the batch and
  the pipe write, ≈ 5 ms of CPU per drain.
- ``process=False``, or when the child cannot be used (an in-memory store, a start-up
  failure; ``MLOPS_SERVE_MONITOR_PROCESS=0`` for the server):
  :meth:`Monitor.log_predictions` runs in the drain thread, as before.

Either way the served version changing closes the open window (one version per window), a
clean stop logs what is queued and closes the open window, and a failing monitor is logged
and counted (``errors``) but never touches a request. A child that dies is started again at
the next drain (at most every :data:`RESTART_SECONDS`); the requests it could not take are
counted in ``dropped``.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from typing import Any

import numpy as np

from jupyter_mlops.serving.monitor_process import MonitorProcess

log = logging.getLogger(__name__)

#: Seconds at least between two starts of a monitor process that keeps exiting.
RESTART_SECONDS = 10.0


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
    process : bool
        Log and close windows in a child process (the model server's choice) rather than
        in this process's drain thread.
    """

    def __init__(self, monitor, sample: float = 1.0, interval: float = 0.5,
                 max_pending: int = 100_000, process: bool = False):
        self.monitor = monitor
        self.sample = max(0.0, min(1.0, float(sample)))
        self.interval = interval
        self.pending: collections.deque = collections.deque(maxlen=max_pending)
        self.dropped = 0
        self.logged_rows = 0
        self.errors = 0
        self.process = process
        self.worker: MonitorProcess | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random()
        self._drain_lock = threading.RLock()  # the drain thread and a version switch
        self._restart_at = 0.0

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
        """Log everything queued now; return the rows logged (in a child process: sent)."""
        with self._drain_lock:
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
            worker = self._worker()
            if worker is not None:
                self._send(worker, {"op": "tick"})
            else:
                self.monitor.tick()
            return rows

    def _log(self, items: list) -> int:
        version = items[0][0]
        try:
            frame, preds, ids, ts = _stack(items)
        except Exception:
            self.errors += 1
            log.exception("could not stack %d requests for monitor %s", len(items),
                          self.monitor.name)
            return 0
        n = len(ts)
        worker = self._worker()
        if worker is not None:
            head = {"op": "log", "version": version, "ids": ids, "rows": n}
            if self._send(worker, head, frame, preds, ts):
                return n
            self.dropped += len(items)
            return 0
        try:
            if ids is not None:
                self.monitor.log_predictions(_as_frame(frame), preds, ids=ids, timestamp=ts,
                                             model_version=version)
            else:
                self.monitor.log_predictions(_as_frame(frame), preds, timestamp=ts,
                                             model_version=version)
        except Exception:
            self.errors += 1
            log.exception("could not log %d prediction rows to monitor %s", n,
                          self.monitor.name)
            return 0
        self.logged_rows += n
        return n

    def switch(self) -> None:
        """The served version changed: close the open window (one version per window)."""
        with self._drain_lock:
            self.drain()
            worker = self._worker()
            if worker is not None:
                self._send(worker, {"op": "flush"})
            else:
                self.monitor.flush()

    # ------------------------------------------------------------------ the child process
    def _worker(self) -> MonitorProcess | None:
        """The running child (started again if it died), or None: log in this process."""
        worker = self.worker
        if worker is None:
            return None
        if not worker.alive():
            now = time.monotonic()
            if now < self._restart_at:
                return worker  # sends fail and are counted as dropped until the restart
            self._restart_at = now + RESTART_SECONDS
            self.errors += 1
            log.error("the monitor process of %s exited (%s); starting another",
                      self.monitor.name, worker.proc.returncode)
            worker.discard()
            try:
                self.worker = worker = MonitorProcess.start(self.monitor, self)
            except Exception as exc:
                log.error("could not restart the monitor process of %s: %s",
                          self.monitor.name, exc)
        return worker

    def _send(self, worker: MonitorProcess, head: dict, *arrays) -> bool:
        if not worker.alive():
            return False
        try:
            worker.send(head, *arrays)
            return True
        except (OSError, ValueError) as exc:  # the child is gone (broken pipe)
            self.errors += 1
            log.error("could not reach the monitor process of %s: %s", self.monitor.name, exc)
            return False

    # ------------------------------------------------------------------ thread
    def start(self) -> "PredictionSink":
        if self.process and self.worker is None:
            try:
                self.worker = MonitorProcess.start(self.monitor, self)
            except Exception as exc:
                log.warning("monitor %s: no separate process (%s); logging in the server's "
                            "own process", self.monitor.name, exc)
                self.worker = None
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
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.finish(flush, max(timeout, 30.0))
        elif flush:
            self.monitor.flush()


# ---------------------------------------------------------------------- batching
def _stack(items: list) -> tuple[Any, np.ndarray, list | None, np.ndarray]:
    """One batch from many requests: (X, predictions, ids or None when any request came
    without, timestamps). X is ``(2-D array, columns)`` when every request was a numeric
    array with named columns (the fast path: no pandas here), else a DataFrame."""
    frames: list = []
    preds: list = []
    ids: list = []
    counts: list = []
    arrays = True
    for _, X, p, i, columns, t in items:
        p = np.asarray(p)
        n = len(p)
        if not (isinstance(X, np.ndarray) and X.ndim == 2):
            arrays = False
        frames.append(X)
        preds.append(p.reshape(n, -1)[:, 0] if p.ndim > 1 else p)
        if i is None:
            ids.extend([None] * n)
        else:
            ids.extend(i)
        counts.append(n)
    ts = np.repeat(np.array([item[5] for item in items], dtype=np.float64), counts)
    columns = items[0][4]
    frame: Any
    if arrays and columns:
        frame = (np.vstack(frames), list(columns))
    else:
        import pandas as pd

        frame = pd.concat([f if isinstance(f, pd.DataFrame) else
                           pd.DataFrame(f, columns=columns if isinstance(f, np.ndarray) and
                                        f.ndim == 2 else None)
                           for f in frames], ignore_index=True)
    known = all(i is not None for i in ids)
    return frame, np.concatenate(preds), (ids if known else None), ts


def _as_frame(X: Any) -> Any:
    if isinstance(X, tuple):
        import pandas as pd

        return pd.DataFrame(X[0], columns=X[1])
    return X
