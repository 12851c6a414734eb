"""A run's cells as a timeline: each cell's wall time, CPU time, peak memory and I/O.

:mod:`jupyter_mlops.notebook.cell_metrics` logs them as ``system/cell_*`` metrics with the
cell's execution count as the step; here they are read back as one row per cell, with the
first line of the cell's source when the run's notebook snapshot has that execution count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFoundError

if TYPE_CHECKING:
    from jupyter_mlops.client.core import Client

PREFIX = "system/cell_"
#: Cells read per run (the newest execution counts when more were logged).
MAX_CELLS = 2000


def cell_timeline(client: Client, run_id: str) -> dict[str, Any]:
    """``{"run_id", "fields": [...], "cells": [{"cell", "source", <field>: value}]}``.

    ``fields`` are the measures present (``wall_seconds``, ``cpu_seconds``,
    ``peak_rss_bytes``, ``disk_read_bytes`` …); ``cells`` is ordered by execution count and
    empty when the run recorded no per-cell system metrics.
    """
    detail = client.get_run(run_id)
    keys = sorted(k for k in detail.metric_keys if k.startswith(PREFIX))
    cells: dict[int, dict[str, Any]] = {}
    for key in keys:
        field = key[len(PREFIX):]
        for p in client.metric_history(detail.run.id, key):
            cells.setdefault(int(p.step), {})[field] = p.value
    steps = sorted(cells)[-MAX_CELLS:]
    sources = _sources(client, detail) if steps else {}
    return {"run_id": detail.run.id, "fields": [k[len(PREFIX):] for k in keys],
            "cells": [{"cell": s, "source": sources.get(s), **cells[s]} for s in steps]}


def _sources(client: Client, detail: Any) -> dict[int, str]:
    """Execution count → first non-empty line of that cell's source (from the snapshot)."""
    if detail.code is None:
        return {}
    try:
        notebook = client.notebook_snapshot(detail.run.id)
    except (NotFoundError, ValueError):
        return {}
    out: dict[int, str] = {}
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        count = cell.get("execution_count") if isinstance(cell, dict) else None
        if isinstance(count, int):
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            first = next((line.strip() for line in text.splitlines() if line.strip()), "")
            out[count] = first[:200]
    return out
