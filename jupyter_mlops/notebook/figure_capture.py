"""Save every matplotlib figure a tracked cell displays to the active run (``autolog``).

Figures reach the notebook through IPython's display formatter whichever way they are shown
(the inline backend's ``plt.show()`` or end-of-cell flush, ``display(fig)``, a figure as the
cell's value), so a printer registered there for ``matplotlib.figure.Figure`` sees each one.
It returns None: the figure is displayed exactly as before, and matplotlib is not imported
until it is used. Figures are saved only while autologging's ``log_figures`` is on and a run
is active, as ``figures/cell-<execution count>-<n>.png``; the same picture is saved once per
run however often it is shown.
"""

from __future__ import annotations

import hashlib
import io
import sys
from typing import Any

from jupyter_mlops.lifecycle import fluent

_FIGURE = ("matplotlib.figure", "Figure")


class FigureCapture:
    def __init__(self, shell: Any):
        self.shell = shell
        self._saved: dict[str, set[str]] = {}  # run id -> digests of the PNGs saved there
        self._per_cell: dict[tuple[str, int], int] = {}  # (run id, execution count) -> n
        self._warned = False
        self._count = 0  # the execution count of the cell running now


    def register(self) -> None:
        formatter = getattr(getattr(self.shell, "display_formatter", None),
                            "mimebundle_formatter", None)
        if formatter is not None:
            formatter.for_type_by_name(*_FIGURE, self.shown)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)

    def unregister(self) -> None:
        formatter = getattr(getattr(self.shell, "display_formatter", None),
                            "mimebundle_formatter", None)
        if formatter is not None:
            formatter.pop(".".join(_FIGURE), None)
        try:
            self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
        except ValueError:
            pass

    def pre_run_cell(self, info: Any) -> None:
        # IPython has already moved its counter on to the next cell when this event fires:
        # the running cell's In [n] is one less (the kernel test checks it).
        self._count = max(int(getattr(self.shell, "execution_count", 1) or 1) - 1, 0)

    def shown(self, fig: Any) -> None:
        """The display formatter's printer: save ``fig``, then let the display go on."""
        try:
            self._save(fig)
        except Exception as exc:  # a figure that cannot be saved must not hide its display
            if not self._warned:
                self._warned = True
                print(f"jupyter-mlops: a figure was not saved to the run: {exc}",
                      file=sys.stderr)
        return None

    def _save(self, fig: Any) -> None:
        from jupyter_mlops.tracking import autolog

        settings = autolog.current()
        if settings is None or not settings.log_figures \
                or "jupyter_mlops.fluent" not in sys.modules:
            return
        run = fluent.active_run()
        if run is None:
            return
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        data = buf.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        saved = self._saved.setdefault(run.id, set())
        if digest in saved:
            return
        count = self._count
        n = self._per_cell.get((run.id, count), 0) + 1
        self._per_cell[(run.id, count)] = n
        run.client.log_artifact(run.id, data, f"figures/cell-{count}-{n}.png", kind="figure")
        saved.add(digest)
