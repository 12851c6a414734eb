"""Buffered, batched logging: ``log_metric`` appends to a list; a daemon thread writes batches.

Why: a committed SQLite row costs ≈ 50 µs through SQLAlchemy Core, a batched one ≈ 1 µs. The
calling thread only pays for a lock and a list append. Values are made durable by
:meth:`BatchWriter.flush` — called at the end of every notebook cell, by ``flush()``, at run end
and at interpreter exit (for at most ``MLOPS_EXIT_FLUSH_SECONDS``; what is left then goes to
the dead-letter file) — and by the background thread every ``interval`` seconds. The same
thread sends heartbeats for live runs so a dead writer's runs can be told apart.

A flush never wedges. Values are validated at the call (:mod:`jupyter_mlops.validation`), so
nothing invalid is queued; if the store still refuses a run's batch because of its data, the
batch is split until the refused rows are alone, every other row is written, and the refused
ones are set aside in the dead-letter file (:mod:`jupyter_mlops.tracking.dead_letter`) with
one :class:`DeadLetterWarning` naming the run and the recovery command. Only an outage (the
store unreachable, locked or full) keeps batches queued for the next flush.
"""

from __future__ import annotations

import atexit
import logging
import threading
import warnings
import weakref
from collections import defaultdict
from typing import TYPE_CHECKING

from jupyter_mlops.config import float_env
from jupyter_mlops.errors import NotFoundError, StoreUnavailableError
from jupyter_mlops.tracking.dead_letter import (
    DeadLetterFile,
    DeadLetterWarning,
    Item,
    isolate,
    refuses_row,
)

if TYPE_CHECKING:  # annotation only: the store's writer is lite or SQLAlchemy's RunStore
    from jupyter_mlops.store.runs import RunStore

log = logging.getLogger(__name__)

#: Above this many pending points the logging thread wakes the writer early.
WAKE_AT = 50_000


class _Pending:
    __slots__ = ("metrics", "params", "tags")

    def __init__(self):
        self.metrics: list[tuple[str, float, int, float]] = []
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def items(self) -> list[Item]:
        return ([("param", k, v) for k, v in self.params.items()]
                + [("tag", k, v) for k, v in self.tags.items()]
                + [("metric", *m) for m in self.metrics])

    @classmethod
    def of(cls, items: list[Item]) -> _Pending:
        p = cls()
        for item in items:
            if item[0] == "metric":
                p.metrics.append(item[1:])
            elif item[0] == "param":
                p.params[item[1]] = item[2]
            else:
                p.tags[item[1]] = item[2]
        return p

    def __len__(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)


class BatchWriter:
    """Queue params/metrics/tags per run and write them in batches off the calling thread."""

    def __init__(self, runs: RunStore, interval: float = 1.0,
                 dead_letter: DeadLetterFile | None = None):
        self._runs = runs
        self._dead_letter = dead_letter  # built on first use: most writers never need it
        self._interval = interval
        self._heartbeat_every = float_env("MLOPS_HEARTBEAT_SECONDS", 10.0)
        self._lock = threading.Lock()  # guards _pending (held for microseconds)
        self._write_lock = threading.Lock()  # serialises writes so batches land in order
        self._pending: dict[str, _Pending] = defaultdict(_Pending)
        self._count = 0
        self._live: set[str] = set()
        self._wake = threading.Event()
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        # The batch a flush has taken and not finished (only while it holds _write_lock), and
        # whether exit gave up on this writer: see _flush_all_at_exit.
        self._inflight: dict[str, _Pending] | None = None
        self._abandoned = False
        _writers.add(self)

    # ------------------------------------------------------------- producer side
    def add_metric(self, run_id: str, key: str, value: float, step: int, ts: float) -> None:
        with self._lock:
            self._pending[run_id].metrics.append((key, value, step, ts))
            self._count += 1
            big = self._count >= WAKE_AT
        if big:
            self._wake.set()
        if self._thread is None:  # the loop never exits before close(): one check suffices
            self._ensure_thread()

    def add_metrics(self, run_id: str, rows: list[tuple[str, float, int, float]]) -> None:
        with self._lock:
            self._pending[run_id].metrics.extend(rows)
            self._count += len(rows)
        self._ensure_thread()

    def add_params(self, run_id: str, params: dict[str, str]) -> None:
        with self._lock:
            self._pending[run_id].params.update(params)
            self._count += len(params)
        self._ensure_thread()

    def add_tags(self, run_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._pending[run_id].tags.update(tags)
            self._count += len(tags)
        self._ensure_thread()

    def watch(self, run_id: str) -> None:
        """Send heartbeats for ``run_id`` until :meth:`unwatch`."""
        self._live.add(run_id)
        self._ensure_thread()

    def unwatch(self, run_id: str) -> None:
        self._live.discard(run_id)

    # ------------------------------------------------------------- writing
    def flush(self) -> None:
        """Write everything queued so far.

        Rows the store refuses because of their data are set aside in the dead-letter file
        (one warning per run) and every other row is written. If the store itself fails
        (unreachable, locked, full) the unwritten rows are put back, so nothing logged is
        lost and a later flush retries, and the error is raised.

        Raises
        ------
        StoreUnavailableError
            The store cannot be written now (the rows stay queued), or refused rows could not
            be set aside either (they stay queued too).
        NotFoundError
            A run was deleted; its queued values were discarded, every other run's written.
        """
        gone: list[str] = []
        stuck: list[str] = []
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, defaultdict(_Pending)
                self._count = 0
                self._inflight = batch
            try:
                for run_id in list(batch):
                    if self._abandoned:
                        # Exit set this batch aside in the dead-letter file: writing any more
                        # of it would only add duplicates on replay.
                        break
                    p = batch[run_id]
                    try:
                        self._runs.log_batch(run_id, params=p.params.items(),
                                             metrics=p.metrics, tags=p.tags.items())
                    except NotFoundError:
                        # The run was deleted: retrying can never succeed, and re-queueing
                        # would block every other run's values behind it forever.
                        gone.append(run_id)
                    except Exception as exc:
                        if not refuses_row(exc):
                            raise  # an outage: everything not yet written is re-queued
                        left, error = self._set_aside(run_id, p, exc)
                        if isinstance(error, NotFoundError):
                            gone.append(run_id)
                        elif left is not None:
                            batch[run_id] = left  # unwritten and not set aside: keep queued
                            if error is not None:
                                raise error from exc
                            stuck.append(run_id)
                            continue
                    del batch[run_id]  # written: never re-queued, so no duplicate points
            except BaseException:
                # Re-queue what was not written: params/tags are upserts, but a duplicate
                # metric row would not be — hence the per-run deletes above.
                self._requeue(batch)
                raise
            self._requeue(batch)  # rows that could not be set aside, if any
        if gone:
            self._live.difference_update(gone)
            raise NotFoundError(
                f"Run {', '.join(gone)} no longer exists (deleted?); the values logged to it "
                "since the last flush were discarded. Start a new run to keep logging.")
        if stuck:
            raise StoreUnavailableError(
                f"The store refused some values of run {', '.join(stuck)} and they could not "
                f"be set aside in {self.dead_letter_file().path} either (logged above); "
                "they stay queued. Free space or fix permissions there, then flush again.")

    def _set_aside(self, run_id: str, p: _Pending, exc: BaseException
                   ) -> tuple[_Pending | None, BaseException | None]:
        """Write the run's rows half by half; set the refused ones aside in the file.

        Returns ``(left, error)``: ``left`` is what is neither written nor set aside (None
        when nothing is), ``error`` an outage or a deleted run met on the way.
        """
        done = isolate(self._runs, run_id, p.items(), failed_with=exc)
        if done.error is not None:
            left = done.remaining + [i for i, _ in done.refused]
            return _Pending.of(left), done.error
        if not done.refused:
            return None, None
        dead = self.dead_letter_file()
        first = done.refused[0][1]
        text = str(first).splitlines()
        reason = f"{type(first).__name__}: {text[0][:200] if text else ''}"
        try:
            dead.append(run_id, done.refused)
        except OSError as oserror:
            log.error("jupyter-mlops: %d value(s) of run %s were refused by the store (%s) and "
                      "could not be set aside in %s (%s); they stay queued.",
                      len(done.refused), run_id, reason, dead.path, oserror)
            return _Pending.of([i for i, _ in done.refused]), None
        warnings.warn(
            f"jupyter-mlops: the store refused {len(done.refused)} value(s) of run {run_id} "
            f"({reason}); every other value was written, and these were set aside in "
            f"{dead.path}. See them with `jupyter mlops --tracking-uri '{dead.store}' "
            "dead-letter list`; once the cause is fixed, write them with `... dead-letter "
            "replay`.", DeadLetterWarning, stacklevel=2)
        return None, None

    def dead_letter_file(self) -> DeadLetterFile:
        """Where this writer sets aside rows the store refuses (built on first use)."""
        if self._dead_letter is None:
            self._dead_letter = DeadLetterFile(self._runs.url)
        return self._dead_letter

    def _requeue(self, batch: dict[str, _Pending]) -> None:
        with self._lock:
            # Under the same lock as _take_unwritten: a row is in the in-flight batch or back
            # in _pending, never in both, so exit sets it aside once.
            self._inflight = None
            if self._abandoned:
                return  # already in the dead-letter file
            for run_id, p in batch.items():
                self._requeue_one(run_id, p)

    def _take_unwritten(self) -> dict[str, list[Item]]:
        """Stop writing for good; return every row not known to be written, per run.

        That is what is queued plus the batch a flush is still writing. A write of that batch
        already waiting inside the store when this is called may yet commit before the
        process ends: its rows are then both stored and set aside (replay would add such a
        metric point twice; params and tags are set again). No later write starts.
        """
        with self._lock:
            self._abandoned = True
            self._closed = True
            runs: dict[str, list[Item]] = {}
            for part in (self._inflight or {}, self._pending):
                for run_id, p in list(part.items()):
                    if len(p):
                        runs.setdefault(run_id, []).extend(p.items())
            self._pending = defaultdict(_Pending)
            self._count = 0
            return runs

    def _requeue_one(self, run_id: str, p: _Pending) -> None:
        """Put ``p`` in front of what was logged to ``run_id`` since (hold ``_lock``)."""
        mine = self._pending[run_id]
        mine.metrics[:0] = p.metrics
        mine.params = {**p.params, **mine.params}
        mine.tags = {**p.tags, **mine.tags}
        self._count += len(p)

    def pending(self) -> int:
        with self._lock:
            return self._count

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        try:
            self.flush()
        finally:
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=5)

    # ------------------------------------------------------------- background thread
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._loop, name="mlops-writer", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        import time

        last_beat = 0.0
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                if self.pending():
                    self.flush()
                if self._live and time.monotonic() - last_beat >= self._heartbeat_every:
                    self._runs.heartbeat(sorted(self._live))
                    last_beat = time.monotonic()
                self._error = None
            except Exception as exc:  # keep the data queued; the next cell's flush reports it
                if self._error is None:
                    log.warning("jupyter-mlops: background write failed, will retry: %s", exc)
                self._error = exc


# Interpreter exit flushes every writer (daemon threads are not joined).
_writers: "weakref.WeakSet[BatchWriter]" = weakref.WeakSet()

#: Seconds the exit flush may take before unwritten rows go to the dead-letter file.
EXIT_FLUSH_ENV = "MLOPS_EXIT_FLUSH_SECONDS"
EXIT_FLUSH_DEFAULT = 10.0


@atexit.register
def _flush_all_at_exit() -> None:
    """Flush every writer, but never for longer than ``MLOPS_EXIT_FLUSH_SECONDS``.

    Why a deadline: with another process holding SQLite's write lock, a flush waits out the
    store's busy timeout (60 s) once behind the writer thread and once more itself, so a
    server told to stop took three minutes to exit. The flushes run in helper threads; what
    is not written by the deadline — or not at all, because the store is down — is set aside
    in the dead-letter file with one warning line, never lost:
    ``jupyter mlops dead-letter replay`` writes it once the store is free.
    """
    import time

    # Only writers with something unwritten: a closed or idle client costs no thread.
    writers = [w for w in list(_writers) if w.pending() or w._inflight is not None]
    if not writers:
        return
    limit = max(0.0, float_env(EXIT_FLUSH_ENV, EXIT_FLUSH_DEFAULT))
    deadline = time.monotonic() + limit
    failures: dict[BatchWriter, BaseException] = {}

    def flush(writer: BatchWriter) -> None:
        try:
            writer.flush()
        except Exception as exc:
            failures[writer] = exc

    helpers = []
    for writer in writers:
        writer._closed = True  # the writer thread starts no new flush
        writer._wake.set()
        helper = threading.Thread(target=flush, args=(writer,), name="mlops-exit-flush",
                                  daemon=True)
        helper.start()
        helpers.append((writer, helper))
    for writer, helper in helpers:
        helper.join(max(0.0, deadline - time.monotonic()))
        unwritten = writer._take_unwritten()
        if not unwritten:
            continue
        error = failures.get(writer)
        reason = (f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                  if error is not None and str(error) else
                  f"not written within {EXIT_FLUSH_ENV}={limit:g} s of exit "
                  "(is another process holding the database's write lock?)")
        _set_aside_at_exit(writer, unwritten, reason)


def _set_aside_at_exit(writer: BatchWriter, unwritten: dict[str, list[Item]],
                       reason: str) -> None:
    count = sum(len(items) for items in unwritten.values())
    runs = ", ".join(sorted(unwritten))
    dead = writer.dead_letter_file()
    try:
        for run_id, items in unwritten.items():
            dead.append(run_id, [(item, reason) for item in items])
    except OSError as exc:
        log.error("jupyter-mlops: %d value(s) of run %s could not be written at exit (%s) nor "
                  "set aside in %s (%s); they are lost.", count, runs, reason, dead.path, exc)
        return
    # One line, through logging: warnings filters are often "ignore" in servers, and at exit
    # logging's last-resort handler still prints a WARNING to stderr.
    log.warning("jupyter-mlops: %d value(s) of run %s were not written at exit (%s); they "
                "were set aside in %s. Once the store is free: `jupyter mlops --tracking-uri "
                "'%s' dead-letter replay`.", count, runs, reason, dead.path, dead.store)
