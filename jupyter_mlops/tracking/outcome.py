"""How a notebook ended: one rule for the notebook hooks and for pipeline steps.

The rule is papermill's (``papermill.execute.raise_for_execution_errors``), so a notebook is
recorded as failed exactly when papermill reports it failed: an error in any cell fails it,
except ``SystemExit`` whose value prints as ``""`` or ``"0"`` (``sys.exit()``,
``sys.exit(0)``, ``raise SystemExit``), which ends the notebook early and successfully (the
cells after it never run). ``sys.exit(1)``, ``SystemExit("message")`` and even
``sys.exit(None)`` (its value prints as ``"None"``) fail it, as they fail papermill.

This module imports nothing: the cell hooks call it after every cell.
"""

from __future__ import annotations

#: ``str(SystemExit(value))`` of the exits papermill counts as success.
CLEAN_EXIT_VALUES = frozenset({"", "0"})


def is_clean_exit(ename: str | None, evalue: str | None) -> bool:
    """Whether an error output (``ename``, ``evalue``) is a successful early exit."""
    return ename == "SystemExit" and (evalue or "") in CLEAN_EXIT_VALUES


def fails_notebook(exc: BaseException | None) -> bool:
    """Whether an exception a cell raised fails the notebook (None: the cell succeeded).

    Takes what IPython reports in ``ExecutionResult.error_before_exec`` (a syntax or
    input-transformation error: the cell never ran) or ``error_in_exec``. The class *name*
    is compared, as papermill compares the ``ename`` of the error output.
    """
    if exc is None:
        return False
    return not is_clean_exit(type(exc).__name__, str(exc))
