"""The REST handlers' worker threads: a small executor whose threads never hold up exit.

:class:`concurrent.futures.ThreadPoolExecutor` joins its workers when the interpreter exits,
so one request stuck in a store call (SQLite waits up to its 60 s busy timeout for a lock, a
PostgreSQL server can stop answering) keeps a SIGTERM'd jupyter server alive until that call
returns. The server must stop within seconds, and an abandoned store call is safe to cut
short (the database rolls back a transaction that never committed; the client never got an
answer), so these workers are daemon threads. Otherwise it behaves like ThreadPoolExecutor:
up to ``max_workers`` threads, started on demand, idle ones reused.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Executor, Future
from typing import Any, Callable


class DaemonThreadExecutor(Executor):
    """A thread pool of daemon threads (see the module docstring)."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "worker"):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future = Future()
            self._work.put((future, fn, args, kwargs))
            # Start a thread only if none is idle (the same rule as ThreadPoolExecutor).
            if not self._idle.acquire(blocking=False) and \
                    len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"{self._prefix}_{len(self._threads)}")
                thread.start()
                self._threads.append(thread)
            return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to whoever awaits the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future  # do not keep the last result alive while idle
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._work.put(None)
        if wait:
            for thread in threads:
                thread.join()
