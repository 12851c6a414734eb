"""Showing a pipeline run as it goes: a tqdm line in a terminal, a widget in a notebook.

The runner calls :meth:`Progress.update` after every step state change, from its own
thread; :func:`make_progress` picks the right view for where the code runs.
"""

from __future__ import annotations

import abc
import sys
from collections.abc import Mapping

DONE = ("SUCCEEDED", "FAILED", "SKIPPED", "CACHED")


class Progress(abc.ABC):
    """A view of step states; ``update`` receives ``{step: status}`` for every step."""

    @abc.abstractmethod
    def update(self, states: Mapping[str, str], message: str = "") -> None:
        """Redraw with the current state of every step; ``message`` is the latest event."""

    @abc.abstractmethod
    def close(self, final: str) -> None:
        """Show the final status of the pipeline run and release the view."""


def summary(states: Mapping[str, str]) -> str:
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s] = counts.get(s, 0) + 1
    order = ("RUNNING", "SUCCEEDED", "CACHED", "FAILED", "SKIPPED", "PENDING")
    return ", ".join(f"{counts[k]} {k.lower()}" for k in order if counts.get(k))


class NoProgress(Progress):
    def update(self, states, message=""):
        pass

    def close(self, final):
        pass


class TerminalProgress(Progress):
    """One tqdm bar on stderr: steps done / total, with the running steps as its postfix."""

    def __init__(self, total: int, title: str):
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=title, unit="step", file=sys.stderr,
                         dynamic_ncols=True, leave=True)

    def update(self, states, message=""):
        done = sum(1 for s in states.values() if s in DONE)
        self._bar.n = done
        running = [k for k, s in states.items() if s == "RUNNING"]
        self._bar.set_postfix_str((("running " + ", ".join(running)) if running else "")
                                  + (f" | {message}" if message else ""), refresh=False)
        self._bar.refresh()

    def close(self, final):
        self._bar.set_postfix_str(final, refresh=True)
        self._bar.close()


class LogProgress(Progress):
    """Plain lines (non-interactive stderr: logs, CI): one per event, no redrawing."""

    def __init__(self, stream=None):
        self._stream = stream or sys.stderr

    def update(self, states, message=""):
        if message:
            print(f"[pipeline] {message}  ({summary(states)})", file=self._stream, flush=True)

    def close(self, final):
        print(f"[pipeline] {final}", file=self._stream, flush=True)


class WidgetProgress(Progress):
    """A stock ipywidgets progress bar with one label per step (for notebooks)."""

    def __init__(self, steps: list[str], title: str):
        import ipywidgets as w
        from IPython.display import display

        self._bar = w.IntProgress(value=0, min=0, max=len(steps), description=title[:20],
                                  bar_style="info")
        self._text = w.HTML()
        self._labels = {s: w.Label(f"{s}: PENDING") for s in steps}
        self._box = w.VBox([w.HBox([self._bar, self._text]),
                            w.VBox(list(self._labels.values()))])
        display(self._box)

    def update(self, states, message=""):
        self._bar.value = sum(1 for s in states.values() if s in DONE)
        self._text.value = summary(states)
        for k, s in states.items():
            if k in self._labels:
                self._labels[k].value = f"{k}: {s}"
        if any(s == "FAILED" for s in states.values()):
            self._bar.bar_style = "danger"

    def close(self, final):
        self._text.value = final
        if self._bar.bar_style != "danger":
            self._bar.bar_style = "success"


def in_notebook() -> bool:
    if "IPython" not in sys.modules:
        return False  # no shell without IPython loaded: do not import it (0.4 s) to ask
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def make_progress(progress: bool | str | Progress | None, steps: list[str],
                  title: str) -> Progress:
    """``True``/``"auto"``: widget in a kernel, tqdm on a terminal, log lines otherwise."""
    if isinstance(progress, Progress):
        return progress
    if progress in (False, None, "none"):
        return NoProgress()
    if progress == "log":
        return LogProgress()
    if in_notebook():
        try:
            return WidgetProgress(steps, title)
        except ImportError:
            return LogProgress(sys.stdout)
    if progress == "bar" or sys.stderr.isatty():
        return TerminalProgress(len(steps), title)
    return LogProgress()
