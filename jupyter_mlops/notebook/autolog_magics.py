"""``%mlops autolog`` and ``%mlops system-metrics``: autologging and per-cell system metrics
on or off from a cell.

Parse, call :func:`jupyter_mlops.fluent_autolog.autolog`, say what is on. ``notebook/magics.py``
adds the parsers with :func:`add_parsers` and sends these commands to :func:`handle`.
"""

from __future__ import annotations

import argparse
from typing import Any

#: The subcommands :func:`handle` serves.
COMMANDS = ("autolog", "system-metrics")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Declare ``autolog`` on the ``%mlops`` subparsers."""
    p = subparsers.add_parser(
        "autolog", help="record every scikit-learn, LightGBM, XGBoost and PyTorch "
                        "Lightning fit (params, "
                        "metrics, model, datasets) and every figure shown: "
                        "%mlops autolog [--disable]")
    p.add_argument("--disable", action="store_true", help="turn autologging off")
    p.add_argument("--no-models", action="store_true", help="do not save fitted models")
    p.add_argument("--no-datasets", action="store_true", help="do not version X and y")
    p.add_argument("--no-figures", action="store_true", help="do not save displayed figures")
    p.add_argument("--silent", action="store_true",
                   help="no line when something could not be recorded")

    p = subparsers.add_parser(
        "system-metrics", help="per-cell wall time, CPU, peak memory and I/O, and 1 Hz "
                               "samples, in the active run: %mlops system-metrics on|off")
    p.add_argument("state", choices=("on", "off"))


def handle(command: str, args: argparse.Namespace, shell: Any) -> None:
    """Run one autolog subcommand in ``shell`` (an IPython InteractiveShell)."""
    from jupyter_mlops.fluent_autolog import autolog, set_system_metrics

    if command == "system-metrics":
        set_system_metrics(args.state == "on")
        print(f"system metrics {args.state}" + (
            ": each cell of a tracked run logs its usage (system/cell_*), with 1 Hz samples."
            if args.state == "on" else "."))
        return

    autolog(log_models=not args.no_models, log_datasets=not args.no_datasets,
            disable=args.disable, silent=args.silent, log_figures=not args.no_figures)
    if args.disable:
        print("autolog off: the fit and train functions are restored.")
        return
    left_out = [what for what, off in (("models", args.no_models),
                                       ("datasets", args.no_datasets),
                                       ("figures", args.no_figures)) if off]
    print("autolog on: each scikit-learn, LightGBM, XGBoost and PyTorch Lightning fit is "
          "recorded into the "
          "active run (or a run of its own)" + (f"; not recorded: {', '.join(left_out)}" if left_out else "") + ".")
