"""Cell-by-cell diff of two runs' notebook snapshots, beside their params and metrics.

Cells are aligned with :class:`difflib.SequenceMatcher` on their sources, so an inserted cell
shows as *added* instead of shifting every later cell into *changed*. Outputs are compared as
the text a reader sees (streams, plain-text results, error names), not as raw JSON.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING, Any, Literal

from jupyter_mlops.store.records import Record

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RunReader

CellStatus = Literal["same", "changed", "added", "removed"]


@dataclasses.dataclass(frozen=True)
class CellDiff(Record):
    status: CellStatus
    cell_type: str
    left_index: int | None
    right_index: int | None
    left_source: str
    right_source: str
    source_diff: list[str]
    outputs_diff: list[str]


@dataclasses.dataclass(frozen=True)
class ValueDiff(Record):
    key: str
    left: Any
    right: Any


@dataclasses.dataclass(frozen=True)
class RunDiff(Record):
    left_run: str
    right_run: str
    cells: list[CellDiff]
    params: list[ValueDiff]
    metrics: list[ValueDiff]
    #: Ids of the runs (left and/or right) that have no notebook snapshot; their side of
    #: ``cells`` is empty, so a diff against them is not a statement about the notebooks.
    missing_notebooks: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed_cells(self) -> list[CellDiff]:
        return [c for c in self.cells if c.status != "same"]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def output_text(cell: dict) -> str:
    """The text a reader sees under a cell (images are summarised by their MIME type)."""
    parts: list[str] = []
    for out in cell.get("outputs", []) or []:
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data:
                text = data["text/plain"]
                parts.append("".join(text) if isinstance(text, list) else text)
            parts.extend(f"[{mime}]" for mime in sorted(data) if mime.startswith("image/"))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(p.rstrip("\n") for p in parts)


def _lines_diff(a: str, b: str) -> list[str]:
    return list(difflib.unified_diff(a.splitlines(), b.splitlines(), "left", "right",
                                     lineterm="", n=2))[2:]


def diff_cells(left_nb: dict, right_nb: dict) -> list[CellDiff]:
    left, right = left_nb.get("cells", []), right_nb.get("cells", [])
    ls, rs = [_source(c) for c in left], [_source(c) for c in right]
    out: list[CellDiff] = []

    def pair(i: int | None, j: int | None, status: CellStatus) -> None:
        lc = left[i] if i is not None else {}
        rc = right[j] if j is not None else {}
        lsrc, rsrc = _source(lc), _source(rc)
        out.append(CellDiff(
            status=status, cell_type=(rc or lc).get("cell_type", "code"),
            left_index=i, right_index=j, left_source=lsrc, right_source=rsrc,
            source_diff=_lines_diff(lsrc, rsrc) if status == "changed" else [],
            outputs_diff=_lines_diff(output_text(lc), output_text(rc))))

    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ls, rs, autojunk=False).get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                status: CellStatus = "same"
                if output_text(left[i1 + k]) != output_text(right[j1 + k]):
                    status = "changed"
                pair(i1 + k, j1 + k, status)
        elif op == "replace":
            common = min(i2 - i1, j2 - j1)
            for k in range(common):
                pair(i1 + k, j1 + k, "changed")
            for i in range(i1 + common, i2):
                pair(i, None, "removed")
            for j in range(j1 + common, j2):
                pair(None, j, "added")
        elif op == "delete":
            for i in range(i1, i2):
                pair(i, None, "removed")
        else:  # insert
            for j in range(j1, j2):
                pair(None, j, "added")
    return out


def diff_values(left: dict, right: dict) -> list[ValueDiff]:
    return [ValueDiff(k, left.get(k), right.get(k)) for k in sorted(set(left) | set(right))
            if left.get(k) != right.get(k)]


def diff_runs(client: RunReader, left_run_id: str, right_run_id: str) -> RunDiff:
    """Diff two runs' notebooks, params and metrics.

    A run without a notebook snapshot diffs as an empty notebook and is listed in
    ``missing_notebooks``.
    """
    from jupyter_mlops.errors import NotFoundError

    left, right = client.get_run(left_run_id).run, client.get_run(right_run_id).run
    notebooks, missing = [], []
    for run_id in (left.id, right.id):
        try:
            notebooks.append(client.notebook_snapshot(run_id))
        except NotFoundError:
            notebooks.append({"cells": []})
            if run_id not in missing:
                missing.append(run_id)
    return RunDiff(left.id, right.id, diff_cells(*notebooks),
                   diff_values(left.params, right.params), diff_values(left.metrics, right.metrics),
                   missing_notebooks=missing)
