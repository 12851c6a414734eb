"""``%%mlops sweep``: the cell's body is the objective of a sweep.

::

    %%mlops sweep --trials 20 --space "lr=loguniform(1e-4,1e-1) depth=int(2,10)" --name tune
    model = train(lr=lr, depth=depth)
    objective = model.validation_loss

For each trial the sampled params become variables of the notebook (``lr``, ``depth``) and
``trial`` is the trial's handle (``trial.report(value, step)``, ``trial.should_prune()``,
``trial.log_metric(...)``); the body runs as a cell, and the trial's value is the variable
named by ``--metric`` (default ``objective``) that the body must assign. A body that raises,
or leaves the variable unset or not a finite number, makes that trial FAILED with one line,
and the sweep goes on. Trials run one at a time: they share the kernel's namespace. When
the sweep ends, ``sweep_result`` holds the :class:`SweepResult` and its view is shown.

``notebook/magics.py`` declares the parser with :func:`add_parsers` and sends the command
here with the cell.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlops.lifecycle import fluent

#: The subcommands :func:`handle` serves (all cell magics).
COMMANDS = ("sweep",)
#: The variable the sweep's result is bound to in the notebook.
RESULT_VARIABLE = "sweep_result"


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Declare ``sweep`` on the ``%mlops`` subparsers."""
    p = subparsers.add_parser(
        "sweep", help="%%mlops sweep: tune the cell's variables; the cell sets `objective`")
    p.add_argument("--space", "-s", required=True,
                   help='e.g. "lr=loguniform(1e-4,1e-1) depth=int(2,10) k=choice(rbf,linear)"')
    p.add_argument("--trials", "-t", type=int, help="trials in total (resumes count)")
    p.add_argument("--direction", "-d", default="minimize", choices=["minimize", "maximize"])
    p.add_argument("--name", "-n", help="sweep name: the same name resumes the sweep")
    p.add_argument("--metric", "-m", default="objective",
                   help="the variable the cell assigns the trial's value to")
    p.add_argument("--sampler", default=None, help="tpe (default), random, cmaes, qmc")
    p.add_argument("--pruner", default=None, help="median (default), hyperband, halving, none")
    p.add_argument("--seed", type=int, help="sampler seed")
    p.add_argument("--timeout", type=float, help="seconds after which no trial starts")
    p.add_argument("--experiment", "-e", help="experiment of the runs")
    p.add_argument("--quiet", "-q", action="store_true", help="no view at the end")


class CellObjective:
    """Run the cell body with the trial's params as notebook variables; read the value."""

    def __init__(self, shell: Any, cell: str, variable: str):
        self.shell = shell
        self.cell = cell
        self.variable = variable

    def __call__(self, trial: Any) -> Any:
        ns = self.shell.user_ns
        ns.pop(self.variable, None)  # never read the previous trial's value
        ns.update(trial.params)
        ns["trial"] = trial
        result = self.shell.run_cell(self.cell, store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            raise error
        if self.variable not in ns:
            raise UsageError(f"the cell did not assign `{self.variable}` (end it with "
                             f"`{self.variable} = <the trial's value>`)")
        return ns[self.variable]


def handle(command: str, args: argparse.Namespace, shell: Any, cell: str | None) -> None:
    """Run ``%%mlops sweep`` over ``cell`` in ``shell`` (an IPython InteractiveShell)."""
    if cell is None or not cell.strip():
        raise UsageError("`sweep` is a cell magic: %%mlops sweep --space \"...\" --trials N, "
                         "with the objective's code in the cell below it.")
    if not args.metric.isidentifier():
        raise UsageError(f"--metric {args.metric[:40]!r} must be a Python variable name.")
    result = fluent.sweep(
        CellObjective(shell, cell, args.metric), args.space, args.trials,
        direction=args.direction, name=args.name, metric=args.metric, sampler=args.sampler,
        pruner=args.pruner, seed=args.seed, timeout=args.timeout, experiment=args.experiment)
    shell.user_ns[RESULT_VARIABLE] = result
    if args.quiet:
        return
    from IPython.display import display

    try:
        from jupyter_mlops.notebook.sweep_widgets import sweep_widget

        display(sweep_widget(result))
    except ImportError:  # no ipywidgets: the summary still says what happened
        display(result)
