"""Cell hooks: durability at the end of every cell, papermill parameters, reproducibility, snapshots.

- ``post_run_cell`` flushes the buffered writer, so every value a cell logged is durable when the
  cell finishes (a kernel killed later loses nothing that a finished cell logged).
- A papermill "injected-parameters" cell is recognised by its ``# Parameters`` header and its
  assignments are logged as params of the run.
- Re-executed or out-of-order cells mark the run "not reproducible from top to bottom", with the
  reason, and the user sees one warning.
- When a run ends, the notebook (the saved file when its path is known, else every cell this
  kernel executed, in order, including those before ``%load_ext``: a variable defined there is
  needed to reproduce the run) is stored as the run's code snapshot with its git state (of
  the notebook's folder, else of the kernel's working folder). A papermill run knows its input
  notebook when papermill injected ``PAPERMILL_INPUT_PATH`` (``--inject-input-path`` or
  ``--inject-paths``); the kernel has no other way to learn it.
- At kernel exit a run this kernel started and still holds is ended FINISHED, or FAILED when
  the last cell failed by papermill's rule (:mod:`jupyter_mlops.tracking.outcome`): an
  exception, a syntax error (IPython reports it in ``error_before_exec``: the cell never
  ran), ``KeyboardInterrupt``, ``sys.exit(1)``; ``sys.exit(0)`` is a successful early end.

The hooks are registered by ``%load_ext jupyter_mlops`` and, without it, by the fluent API's
first run in an IPython kernel (:func:`jupyter_mlops.notebook.extension.ensure_hooks`).
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops.lifecycle import add_before_end_hook, fluent, remove_before_end_hook
from jupyter_mlops.notebook.cell_metrics import CellMetrics
from jupyter_mlops.notebook.figure_capture import FigureCapture
from jupyter_mlops.tracking.outcome import fails_notebook

PAPERMILL_HEADER = "# Parameters"
#: Parameters papermill injects about the run itself (``--inject-paths``): provenance, not
#: the user's parameters, so they are not logged as params.
PAPERMILL_PATH_PARAMS = ("PAPERMILL_INPUT_PATH", "PAPERMILL_OUTPUT_PATH")


def parse_parameters_cell(source: str) -> dict[str, Any]:
    """Literal assignments of a papermill parameters cell (``name = <literal>``)."""
    params: dict[str, Any] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return params
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                params[node.targets[0].id] = ast.unparse(node.value)
    return params


def is_injected_parameters(source: str, meta: dict | None) -> bool:
    tags = ((meta or {}).get("tags") or []) if isinstance(meta, dict) else []
    return "injected-parameters" in tags or source.lstrip().startswith(PAPERMILL_HEADER)


@dataclass
class CellRecord:
    cell_id: str
    source: str
    execution_count: int | None
    outputs: list[dict] = field(default_factory=list)


@dataclass
class RunWatch:
    """What this kernel has executed while one run was active."""

    run_id: str
    cells: list[CellRecord] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)  # cell id -> times executed
    last_index: int = -1
    flagged: bool = False
    failed_cell: bool = False  # did the most recent cell raise?


class CellHooks:
    def __init__(self, shell):
        self.shell = shell
        self.watch: RunWatch | None = None
        self._pending_params: dict[str, Any] = {}
        self._papermill_input: str | None = None
        self._current: CellRecord | None = None
        self._warned_flush = False
        self.figures = FigureCapture(shell)  # autolog: figures a tracked cell shows
        self.cell_metrics = CellMetrics(shell)  # system metrics attributed to each cell

    # ----------------------------------------------------------------- registration
    def register(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        add_before_end_hook(self.before_end)
        self.figures.register()
        self.cell_metrics.register()
        # papermill's parameters cell usually runs before `%load_ext`: find it in the history.
        for source in reversed(self.shell.user_ns.get("In", [])):
            if is_injected_parameters(source, None):
                self._take_parameters(source)
                break
        atexit.register(self.at_exit)

    def unregister(self) -> None:
        for name, fn in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(name, fn)
            except ValueError:
                pass
        remove_before_end_hook(self.before_end)
        self.figures.unregister()
        self.cell_metrics.unregister()
        atexit.unregister(self.at_exit)

    # ----------------------------------------------------------------- events
    def pre_run_cell(self, info) -> None:
        source = getattr(info, "raw_cell", "") or ""
        cell_id = getattr(info, "cell_id", None) or _source_id(source)
        self._current = CellRecord(cell_id, source, None)
        if is_injected_parameters(source, getattr(info, "cell_meta", None)):
            self._take_parameters(source)

    def _take_parameters(self, source: str) -> None:
        params = parse_parameters_cell(source)
        found = params.get("PAPERMILL_INPUT_PATH")
        if isinstance(found, str) and found.endswith(".ipynb"):
            self._papermill_input = found
        self._pending_params = {k: v for k, v in params.items()
                                if k not in PAPERMILL_PATH_PARAMS}

    def post_run_cell(self, result) -> None:
        cell = self._current
        self._current = None
        if "jupyter_mlops.fluent" not in sys.modules:  # nothing logged yet: no run to look at
            return
        run = fluent.active_run()
        if run is None:
            if "jupyter_mlops.tracking.autolog.deferred" in sys.modules:
                fluent.flush()  # the files of fits autologged into runs of their own
            return
        if self._pending_params:
            params, self._pending_params = self._pending_params, {}
            try:
                run.client.log_params(run.id, params)
            except Exception as exc:
                print(f"jupyter-mlops: papermill parameters not recorded: {exc}", file=sys.stderr)
        self._note_outcome(run, cell, result)
        if cell is not None and getattr(result, "execution_count", None) is not None:
            cell.execution_count = result.execution_count
            self._observe(run, cell, result)
        try:
            run.client.flush()
            self._warned_flush = False
        except Exception as exc:  # the data stays queued and is retried after the next cell
            if not self._warned_flush:
                print(f"jupyter-mlops: could not save logged values yet ({exc}); "
                      "they are kept and retried after the next cell.", file=sys.stderr)
                self._warned_flush = True

    def _watch(self, run) -> RunWatch:
        if self.watch is None or self.watch.run_id != run.id:
            self.watch = RunWatch(run.id)
        return self.watch

    def _note_outcome(self, run, cell: CellRecord | None, result) -> None:
        """Remember whether this cell failed the notebook (the run's status at exit).

        ``cell`` is None for the cell in which the fluent API registered these hooks (its
        ``pre_run_cell`` had passed): it counts all the same, it may be the failing one.
        """
        if cell is not None and (not cell.source.strip() or cell.source.lstrip().startswith(
                ("%mlops end", "%mlops status"))):
            return
        # Only the last cell counts: papermill stops at the failing cell, while an
        # interactive user's earlier typo says nothing about how the run ended.
        self._watch(run).failed_cell = fails_notebook(
            getattr(result, "error_before_exec", None)
            or getattr(result, "error_in_exec", None))

    def _observe(self, run, cell: CellRecord, result) -> None:
        w = self._watch(run)
        if not cell.source.strip() or cell.source.lstrip().startswith(("%mlops end", "%mlops status")):
            return
        value = getattr(result, "result", None)
        if value is not None:
            cell.outputs.append({"output_type": "execute_result", "execution_count":
                                 cell.execution_count, "metadata": {},
                                 "data": {"text/plain": _safe_repr(value)}})
        w.cells.append(cell)
        times = w.seen.get(cell.cell_id, 0)
        w.seen[cell.cell_id] = times + 1
        reason = None
        if times:
            reason = (f"a cell ran again (In [{cell.execution_count}]); results may depend on "
                      "state that a top-to-bottom run would not produce")
        else:
            index = self._index_in_notebook(cell.cell_id)
            if index is not None and index < w.last_index:
                reason = (f"cells ran out of order (notebook cell {index + 1} ran after cell "
                          f"{w.last_index + 1})")
            if index is not None:
                w.last_index = max(w.last_index, index)
        if reason and not w.flagged:
            w.flagged = True
            run.client.mark_not_reproducible(run.id, reason)
            print(f"jupyter-mlops: run {run.name!r} is marked not reproducible: {reason}. "
                  "Restart and run all to record a reproducible run.", file=sys.stderr)

    def _index_in_notebook(self, cell_id: str) -> int | None:
        path = self.notebook_path()
        if not path:
            return None
        try:
            cells = json.loads(Path(path).read_text()).get("cells", [])
        except (OSError, ValueError):
            return None
        code_ids = [c.get("id") for c in cells if c.get("cell_type") == "code"]
        return code_ids.index(cell_id) if cell_id in code_ids else None

    def notebook_path(self) -> str | None:
        from jupyter_mlops.tracking.capture import notebook_path_hint

        found = notebook_path_hint(self.shell.user_ns)
        if found is None and self._papermill_input:
            # Relative to where papermill was started, which is usually the kernel's folder.
            candidate = Path(self._papermill_input)
            if candidate.is_file():
                found = str(candidate.resolve())
        return found

    def kernel_history(self) -> list[CellRecord]:
        """Every cell this kernel executed, in order (IPython's raw input history), with the
        outputs this kernel saw while a run was active; ``%mlops end``/``status`` left out."""
        watched = {c.execution_count: c for c in (self.watch.cells if self.watch else [])}
        raw = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None) or []
        cells = []
        for count, source in enumerate(raw):
            if count == 0 or not source.strip() or source.lstrip().startswith(
                    ("%mlops end", "%mlops status")):
                continue
            seen = watched.get(count)
            cells.append(CellRecord(f"h{count}", source, count, seen.outputs if seen else []))
        return cells

    # ----------------------------------------------------------------- run end
    def before_end(self, run, status: str) -> None:
        """Store the notebook snapshot; never let a snapshot problem block ending the run."""
        try:
            path = self.notebook_path()
            w = self.watch if self.watch and self.watch.run_id == run.id else None
            if path:
                notebook: Any = Path(path).read_bytes()
            else:
                cells = self.kernel_history() or (w.cells if w else [])
                if not cells:
                    return
                notebook = history_notebook(cells)
            run.client.log_notebook(run.id, notebook, path=path,
                                    git_dir=None if path else os.getcwd())
            if w and not w.flagged and w.cells:
                run.client.mark_reproducible(run.id)
        except Exception as exc:
            print(f"jupyter-mlops: notebook snapshot not saved: {exc}", file=sys.stderr)

    def at_exit(self) -> None:
        """Kernel shutdown (also papermill's end): close the run that is still open."""
        if "jupyter_mlops.fluent" not in sys.modules:
            return
        run = fluent.active_run()
        if run is not None and run.owned:
            w = self.watch
            failed = w is not None and w.run_id == run.id and w.failed_cell
            try:
                fluent.end_run("FAILED" if failed else "FINISHED")
            except Exception as exc:  # pragma: no cover - nothing left to report to
                print(f"jupyter-mlops: could not end run at exit: {exc}", file=sys.stderr)


def history_notebook(cells: list[CellRecord]) -> dict:
    """An nbformat-4 notebook of the cells this kernel executed, in execution order."""
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"},
                     "jupyter_mlops": {"source": "kernel history"}},
        "cells": [{"id": f"c{i}", "cell_type": "code", "metadata": {}, "source": c.source,
                   "execution_count": c.execution_count, "outputs": c.outputs}
                  for i, c in enumerate(cells)],
    }


def _source_id(source: str) -> str:
    return "src-" + hashlib.blake2b(source.encode(), digest_size=8).hexdigest()


def _safe_repr(value: Any, limit: int = 2000) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "…"
