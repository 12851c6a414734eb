"""Autologging's file writes, off the user's ``fit``: one background thread, in order.

A fit's record has a cheap part (params, metrics and histories go to the client's buffered
writer) and a slow part: files — the model, its description, feature importance, search
results, the dataset versions — each a content-addressed blob written with fsync plus a
catalog row, and the end of a run autologging started. On a loaded machine that slow part is
tens of milliseconds of waiting per fit. Everything it needs is fixed before ``fit`` returns
(the model is already serialised to bytes, the datasets copied or hashed), so it runs here,
in submission order, while the user's code goes on.

Durability is unchanged where it is promised: ``Client.flush()`` — called by
``mlops.flush()``, at the end of every notebook cell, and by ``end_run`` through the
client — waits for these writes first (:func:`drain`), and the thread is joined at
interpreter exit (``concurrent.futures`` does that for its workers). A job that fails
prints its one line, as a synchronous failure would.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable

_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pending: set[concurrent.futures.Future] = set()
_worker_ident: list[int] = []


def submit(job: Callable[[], None]) -> None:
    """Run ``job`` on the autolog writer thread after the jobs already submitted."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="mlops-autolog-writer",
                initializer=lambda: _worker_ident.append(threading.get_ident()))
        future = _pool.submit(job)
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: concurrent.futures.Future) -> None:
    with _lock:
        _pending.discard(future)


def drain(timeout: float | None = None) -> bool:
    """Wait until every submitted job has run; True when none is left.

    Called on the writer thread itself (a job that flushes its client), it returns at once:
    the job's own predecessors have run already.
    """
    if threading.get_ident() in _worker_ident:
        return True
    with _lock:
        waiting = list(_pending)
    if not waiting:
        return True
    done, not_done = concurrent.futures.wait(waiting, timeout=timeout)
    return not not_done


def pending() -> int:
    """Jobs submitted and not yet finished."""
    with _lock:
        return len(_pending)
