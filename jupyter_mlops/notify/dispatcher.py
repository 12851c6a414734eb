"""Delivering webhook requests in a background thread, with retries and a log of each try.

A request that gets no answer or a non-2xx status is tried again after an exponential
back-off with jitter (``base * 2**(attempt-1)``, times a random factor in [0.5, 1.5), capped),
up to ``attempts`` tries; every try is written to the store's delivery log with its time,
HTTP status and error. Errors are recorded by kind and reason only: neither the secret nor
the request is ever written to the log or printed.
"""

from __future__ import annotations

import atexit
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from jupyter_mlops.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

#: How long process exit waits for deliveries still queued.
EXIT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Job:
    webhook_id: int
    url: str
    secret: str | None
    event: str
    body: bytes
    delivery: str


class Dispatcher:
    """One daemon thread sending jobs in order; ``wait()`` blocks until the queue is done."""

    def __init__(self, store: Any, *, attempts: int = 5, base_delay: float = 1.0,
                 max_delay: float = 60.0, timeout: float = 10.0):
        self.store = store
        self.attempts, self.base_delay, self.max_delay = attempts, base_delay, max_delay
        self.timeout = timeout
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @staticmethod
    def new_delivery_id() -> str:
        return uuid.uuid4().hex

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mlops-webhooks",
                                                daemon=True)
                self._thread.start()
                # An event queued just before exit (a run ending with the kernel) still
                # goes out: exit waits a little for the queue, then gives up (logged tries stay).
                atexit.register(self.wait, EXIT_WAIT_SECONDS)
        self._queue.put(job)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has ended (delivered or out of tries)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(job)
            finally:
                self._queue.task_done()

    def _deliver(self, job: Job) -> None:
        for attempt in range(1, self.attempts + 1):
            status, error = self._send(job)
            delivered = status is not None and 200 <= status < 300
            try:
                self.store.record_attempt(webhook_id=job.webhook_id, delivery=job.delivery,
                                          event=job.event, attempt=attempt, status=status,
                                          error=error, delivered=delivered)
            except Exception:  # the log is best effort; the delivery itself goes on
                pass
            if delivered or attempt == self.attempts:
                return
            delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            if self._stop.wait(delay * random.uniform(0.5, 1.5)):
                return

    def _send(self, job: Job) -> tuple[int | None, str | None]:
        # Imported on the first delivery: urllib.request pulls in http.client, ssl and email
        # (~0.1 s), which every process that only *checks* for webhooks would pay.
        import urllib.error
        import urllib.request

        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "jupyter-mlops-webhooks",
                   "X-Mlops-Event": job.event, "X-Mlops-Delivery": job.delivery,
                   TIMESTAMP_HEADER: str(timestamp)}
        if job.secret:
            headers[SIGNATURE_HEADER] = sign(job.secret, timestamp, job.body)
        request = urllib.request.Request(job.url, data=job.body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            return None, f"{type(exc.reason).__name__}: {exc.reason}"
        except (OSError, ValueError) as exc:  # timeouts, resets, a malformed response
            return None, f"{type(exc).__name__}: {exc}"
