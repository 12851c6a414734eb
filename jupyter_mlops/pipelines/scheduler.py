"""The scheduler loop: find due schedules, claim their slots, launch pipeline runs.

Any number of schedulers may watch one store (the server extension on two machines, plus
``jupyter mlops scheduler``): a slot fires only for the scheduler whose insert of
``(schedule_id, slot)`` into ``schedule_fires`` succeeds, so each slot fires exactly once.

Missed slots (the scheduler was down, or a slot passed between two polls) follow the
schedule's catch-up policy:

``latest`` (default)
    fire once, for the newest missed slot; older missed slots are recorded SKIPPED;
``all``
    fire every missed slot, oldest first;
``none``
    fire only a slot that is due now (within ``on_time_grace`` seconds); record the rest
    SKIPPED.

``max_catchup_age`` turns missed slots older than that many seconds into SKIPPED whatever
the policy. At most :data:`MAX_SLOTS_PER_TICK` of the newest missed slots are recorded. A
schedule whose previous run is still going records the new slot SKIPPED unless it allows
overlap. Each fired slot runs in its own process (``python -m
jupyter_mlops.cli.launch schedule``), detached from the scheduler, so stopping the scheduler (or
the Jupyter server) does not stop a pipeline half-way.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.pipelines.cron import CronExpression

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import StoreHolder, StoresHolder

log = logging.getLogger(__name__)

#: Newest missed slots considered per schedule and tick (older ones are not recorded).
MAX_SLOTS_PER_TICK = 1000

Launcher = Callable[["object", float], None]


class Scheduler:
    """Fire due schedules of one store.

    Parameters
    ----------
    client : Client, optional
        The store to watch (default: the fluent API's client).
    poll_interval : float
        Seconds between looks at the store (default 1).
    launcher : callable, optional
        ``launcher(schedule, slot)`` starts the run of a claimed slot; default
        :class:`SubprocessLauncher`.
    on_time_grace : float
        How late a slot may be noticed and still count as on time (policy ``none``).
    clock : callable
        Returns the current epoch time (tests pass a fixed clock).
    """

    def __init__(self, client: StoresHolder, poll_interval: float = 1.0,
                 launcher: Launcher | None = None,
                 on_time_grace: float = 60.0, clock: Callable[[], float] = time.time):
        self.client = client
        self.store = client.stores.pipelines
        self.poll_interval = poll_interval
        self.launcher = launcher or SubprocessLauncher(client)
        self.on_time_grace = on_time_grace
        self.clock = clock
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- one pass
    def tick(self, now: float | None = None) -> list[tuple[int, float]]:
        """Handle every due schedule once; return the ``(schedule_id, slot)`` pairs fired."""
        now = self.clock() if now is None else now
        fired: list[tuple[int, float]] = []
        for sched in self.store.due_schedules(now):
            try:
                fired.extend(self._handle(sched, now))
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %r could not be handled", sched.name)
        return fired

    def _handle(self, sched, now: float) -> list[tuple[int, float]]:
        cron = CronExpression(sched.cron, sched.timezone)
        slots = list(cron.slots_between(sched.next_fire_at - 1e-6, now,
                                        limit=1_000_000))[-MAX_SLOTS_PER_TICK:]
        to_fire, to_skip = self._split(sched, slots, now)
        fired = []
        for slot in to_skip:
            self.store.claim_slot(sched.id, slot, self.identity, "SKIPPED")
        for slot in to_fire:
            if not self.store.claim_slot(sched.id, slot, self.identity, "FIRED"):
                continue  # another scheduler has this slot
            if not sched.allow_overlap and self._busy(sched):
                self.store.update_fire(sched.id, slot, status="SKIPPED")
                log.info("schedule %r: slot %s skipped, previous run still going",
                         sched.name, slot)
                continue
            try:
                self.launcher(sched, slot)
                fired.append((sched.id, slot))
            except Exception:
                log.exception("schedule %r: could not launch slot %s", sched.name, slot)
                self.store.update_fire(sched.id, slot, status="FAILED")
        self.store.set_next_fire(sched.id, cron.next_after(now), only_if_before=True)
        return fired

    def _split(self, sched, slots: list[float], now: float) -> tuple[list[float], list[float]]:
        if sched.max_catchup_age is not None:
            fresh = [s for s in slots if now - s <= sched.max_catchup_age]
        else:
            fresh = list(slots)
        stale = [s for s in slots if s not in set(fresh)]
        if sched.catchup == "all":
            return fresh, stale
        if sched.catchup == "none":
            on_time = [s for s in fresh if now - s <= self.on_time_grace][-1:]
            return on_time, [s for s in slots if s not in on_time]
        return fresh[-1:], [s for s in slots if s not in fresh[-1:]]

    def _busy(self, sched) -> bool:
        busy = getattr(self.launcher, "busy", None)
        if busy is not None and busy(sched.id):
            return True
        return bool(self.store.running_pipeline_runs(sched.id))

    # ----------------------------------------------------------------- loops
    def run_forever(self) -> None:
        """Poll until :meth:`stop` (or Ctrl-C); errors are logged, never fatal."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; retrying")
            self._stop.wait(self._sleep_time())

    def _sleep_time(self) -> float:
        """Wake for the next due slot if it comes before the next poll."""
        try:
            upcoming = [s.next_fire_at for s in self.store.list_schedules()
                        if not s.paused and s.next_fire_at is not None]
        except Exception:
            return self.poll_interval
        if not upcoming:
            return self.poll_interval
        return max(0.01, min(self.poll_interval, min(upcoming) - self.clock()))

    def start(self) -> Scheduler:
        """Run the loop in a daemon thread (for the Jupyter server extension)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run_forever, name="mlops-scheduler",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (pipeline runs already launched carry on)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class SubprocessLauncher:
    """Start each fired slot as ``python -m jupyter_mlops.cli.launch schedule`` (detached).

    Output goes to ``<project>/.mlops/logs/schedule-<id>-<slot>.log`` when the store has a
    local folder.
    """

    def __init__(self, client: StoreHolder):
        self.client = client
        self._procs: dict[int, list[subprocess.Popen]] = {}

    def busy(self, schedule_id: int) -> bool:
        procs = [p for p in self._procs.get(schedule_id, []) if p.poll() is None]
        self._procs[schedule_id] = procs
        return bool(procs)

    def __call__(self, sched, slot: float) -> None:
        from jupyter_mlops.pipelines.detached import start_launcher

        proc = start_launcher(self.client,
                              ["schedule", "--schedule-id", str(sched.id), "--slot", repr(slot)],
                              f"schedule-{sched.id}-{int(slot)}.log",
                              Path(sched.pipeline_path).parent)
        self._procs.setdefault(sched.id, []).append(proc)
