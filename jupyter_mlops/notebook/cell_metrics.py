"""System metrics attributed to the cell that ran: wall time, CPU, peak RSS, I/O per cell.

Before each cell a mark is taken; after it, the usage since the mark is logged to the active
run as ``system/cell_wall_seconds``, ``system/cell_cpu_seconds``,
``system/cell_peak_rss_bytes``, ``system/cell_disk_read_bytes`` … with step = the cell's
execution count, so a run's metrics read as a timeline of cells. While a run is active the
1 Hz sampler (:mod:`jupyter_mlops.tracking.system_metrics`) also logs ``system/cpu_percent``,
``system/rss_bytes`` and the I/O counters; it stops when no run is active.

Off until turned on with ``mlops.autolog(system_metrics=True)`` or ``%mlops system-metrics
on`` (its cost, ~0.1 % of a core, is measured in ``benchmarks/system_metrics_bench.py``).
"""

from __future__ import annotations

import sys
from typing import Any

from jupyter_mlops.lifecycle import fluent
from jupyter_mlops.tracking import system_metrics


class CellMetrics:
    def __init__(self, shell: Any):
        self.shell = shell
        self.sampler: system_metrics.SystemSampler | None = None
        self._mark: system_metrics.Mark | None = None
        self._warned = False

    def register(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        # First in line: the cell's usage is queued before the cell hooks' flush makes the
        # cell's values durable.
        self.shell.events.callbacks["post_run_cell"].insert(0, self.post_run_cell)

    def unregister(self) -> None:
        for name, fn in (("pre_run_cell", self.pre_run_cell),
                         ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(name, fn)
            except ValueError:
                pass
        if self.sampler is not None:
            self.sampler.stop()

    def pre_run_cell(self, info: Any) -> None:
        self._mark = None
        if not system_metrics.enabled() or "jupyter_mlops.fluent" not in sys.modules:
            return  # nothing tracked in this kernel yet: do not even import psutil
        try:
            if self.sampler is None:
                self.sampler = system_metrics.SystemSampler()
            self._mark = self.sampler.mark()
        except Exception as exc:
            self._warn(exc)

    def post_run_cell(self, result: Any) -> None:
        mark, self._mark = self._mark, None
        sampler = self.sampler
        if sampler is None:
            return
        run = fluent.active_run() if system_metrics.enabled() else None
        if run is None:
            sampler.target = None
            sampler.stop()
            return
        sampler.target = (run.client, run.id)
        sampler.start()
        count = getattr(result, "execution_count", None)
        if mark is None or count is None:
            return
        try:
            run.client.log_metrics(run.id, sampler.usage_since(mark), step=count)
        except Exception as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            print(f"jupyter-mlops: system metrics not recorded: {exc}", file=sys.stderr)
