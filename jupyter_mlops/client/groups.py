"""Grouped curves: runs grouped by a param or tag, each metric's mean and spread per group.

For every metric, the runs of one group are aligned on their steps; at each step the group
has the mean, the standard deviation (population), the min and the max of the values its
runs logged there, and how many runs did. The panel draws the mean as a line and min–max as
a band; :func:`jupyter_mlops.notebook.widgets.grouped_figure` does the same in a notebook.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError

if TYPE_CHECKING:
    from jupyter_mlops.client.core import Client

#: Runs one grouping may hold, metrics it draws, points per run and metric.
MAX_RUNS = 100
MAX_KEYS = 20
MAX_POINTS = 500
#: The group of runs that lack the param or tag.
MISSING = "(none)"


def check_group_key(by: Any) -> tuple[str, str]:
    """``params.NAME`` or ``tags.NAME`` → ``("params"|"tags", NAME)``."""
    from jupyter_mlops.validation import check_key

    text = by if isinstance(by, str) else ""
    kind, _, name = text.partition(".")
    if kind not in ("params", "tags") or not name:
        raise InvalidInputError(f"Group runs by 'params.NAME' or 'tags.NAME', not "
                                f"{str(by)[:60]!r}.")
    check_key(name)
    return kind, name


def group_runs(client: Client, run_ids: Sequence[str], by: str,
               keys: Sequence[str] | None = None, max_points: int = MAX_POINTS
               ) -> dict[str, Any]:
    """Runs grouped by ``by`` with each metric's per-step mean and spread per group.

    Parameters
    ----------
    run_ids : sequence of str
        1 to :data:`MAX_RUNS` run ids (or unique prefixes).
    by : str
        ``"params.NAME"`` or ``"tags.NAME"``; runs without it form the group ``"(none)"``.
    keys : sequence of str, optional
        Metrics to aggregate (default: every metric the runs logged, at most
        :data:`MAX_KEYS`, ``system/*`` left out).

    Returns
    -------
    dict
        ``{"by", "groups": [{"value", "runs": [{"id", "name"}]}], "metrics": {key:
        [{"group", "points": [[step, mean, std, min, max, n], ...]}]}}``, groups ordered by
        value.
    """
    import numpy as np

    kind, name = check_group_key(by)
    if isinstance(run_ids, str) or not run_ids or len(run_ids) > MAX_RUNS:
        raise InvalidInputError(f"Group between 1 and {MAX_RUNS} runs (give their ids).")
    details = {}
    for run_id in run_ids:
        detail = client.get_run(run_id)
        details.setdefault(detail.run.id, detail)
    groups: dict[str, list[Any]] = {}
    for detail in details.values():
        value = getattr(detail.run, kind).get(name)
        groups.setdefault(MISSING if value is None else str(value), []).append(detail)
    if keys:
        from jupyter_mlops.validation import check_key

        wanted = [check_key(k) for k in keys][:MAX_KEYS]
    else:
        logged = {k for d in details.values() for k in d.metric_keys}
        wanted = sorted(k for k in logged if not k.startswith("system/"))[:MAX_KEYS]
    metrics: dict[str, list[dict[str, Any]]] = {}
    for key in wanted:
        per_group = []
        for value, members in sorted(groups.items()):
            by_step: dict[int, list[float]] = {}
            for d in members:
                if key not in d.metric_keys:
                    continue
                for p in client.metric_history(d.run.id, key, max_points=max_points):
                    if p.value is not None and math.isfinite(p.value):
                        by_step.setdefault(int(p.step), []).append(float(p.value))
            points = []
            for step in sorted(by_step):
                v = np.asarray(by_step[step])
                points.append([step, float(v.mean()), float(v.std()), float(v.min()),
                               float(v.max()), int(v.size)])
            per_group.append({"group": value, "points": points})
        metrics[key] = per_group
    return {"by": f"{kind}.{name}",
            "groups": [{"value": value, "runs": [{"id": d.run.id, "name": d.run.name}
                                                 for d in members]}
                       for value, members in sorted(groups.items())],
            "metrics": metrics}
