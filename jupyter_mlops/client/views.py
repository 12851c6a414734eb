"""Read views the panel and the widgets draw, as Client methods (mixed into RunsClient).

Each view is built in its own module (a sweep, grouped curves, a run's cells, a report);
the REST handlers call exactly one of these methods and render what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.client.reports import Report
    from jupyter_mlops.sweeps.result import SweepResult


class RunViews:
    """Views over runs: sweeps, grouped curves, the cell timeline, reports."""

    def sweep_result(self, run_id: str) -> SweepResult:
        """Reopen the sweep whose parent run (or trial run) is ``run_id``.

        Raises
        ------
        NotFoundError
            The run belongs to no sweep, or its study is not kept in the store.
        """
        from jupyter_mlops.client.sweep_views import open_sweep

        return open_sweep(self, run_id)  # type: ignore[arg-type]

    def sweep_view(self, run_id: str) -> dict[str, Any]:
        """A sweep's trials (state, params, value, run), optimisation history (value and
        best so far), the space's axes and Optuna's parameter importance, as plain data."""
        from jupyter_mlops.client.sweep_views import sweep_view

        return sweep_view(self, run_id)  # type: ignore[arg-type]

    def group_runs(self, run_ids: Sequence[str], by: str, keys: Sequence[str] | None = None,
                   max_points: int = 500) -> dict[str, Any]:
        """Runs grouped by ``"params.NAME"`` or ``"tags.NAME"``, each metric's per-step mean,
        std, min and max per group (see :func:`jupyter_mlops.client.groups.group_runs`)."""
        from jupyter_mlops.client.groups import group_runs

        return group_runs(self, run_ids, by, keys, max_points)  # type: ignore[arg-type]

    def cell_timeline(self, run_id: str) -> dict[str, Any]:
        """One row per executed cell: wall and CPU seconds, peak RSS, I/O, source line."""
        from jupyter_mlops.client.cell_timeline import cell_timeline

        return cell_timeline(self, run_id)  # type: ignore[arg-type]

    def report(self, target: str = "runs", *, filter: str | None = None,
               experiment: str | None = None, max_runs: int = 10,
               runs: list[str] | None = None) -> Report:
        """The self-contained HTML report ``target`` names (``run:ID``, ``runs``, …; see
        :func:`jupyter_mlops.client.reports.build_report`)."""
        from jupyter_mlops.client.reports import build_report

        return build_report(self, target, filter=filter, experiment=experiment,  # type: ignore
                            max_runs=max_runs, runs=runs)
