"""``%mlops monitor NAME@ALIAS``: the monitoring subcommand of the ``%mlops`` magic.

``notebook/magics.py`` adds the parser with :func:`add_parsers` and sends the command to
:func:`handle`; errors from monitoring (:class:`MlopsError`) become one-line ``UsageError``
there.
"""

from __future__ import annotations

import argparse
from typing import Any

from jupyter_mlops.notebook.subcommands import Subcommands

#: The subcommands :func:`handle` serves.
COMMANDS = ("monitor",)


def add_parsers(subparsers: Subcommands) -> None:
    """Declare ``monitor`` on the ``%mlops`` subparsers."""
    p = subparsers.add_parser(
        "monitor", help="drift report and alerts of a monitor: %mlops monitor churn@champion")
    p.add_argument("name", metavar="NAME@ALIAS",
                   help="monitor name (by default the model reference it watches)")
    p.add_argument("--last", "-l", type=int, default=50, help="windows to show")
    p.add_argument("--measure", "-m", default="psi", help="score drawn over time")
    p.add_argument("--html", metavar="PATH", help="also write a standalone HTML report")


def handle(command: str, args: argparse.Namespace, shell: Any) -> Any:
    """Run one monitoring subcommand in ``shell`` (an IPython InteractiveShell)."""
    return {"monitor": _monitor}[command](args, shell)


def _monitor(args: argparse.Namespace, shell: Any) -> None:
    from IPython.display import HTML, display

    from jupyter_mlops.lifecycle import fluent  # the notebook's default client, lazily
    from jupyter_mlops.monitoring.monitor import buffered_progress

    mon = fluent.get_monitor(args.name)
    report = mon.report(last=max(1, args.last), measure=args.measure)
    display(HTML(report.to_html(standalone=False)))
    if not report.windows:  # nothing to draw until a window closes: say how far it is
        print("\n".join(buffered_progress(mon.id)) or
              f"No window has closed yet: {mon.progress().split(' (')[0]} logged in this "
              "kernel; log predictions with Monitor.log_predictions().")
    if args.html:
        print(f"Wrote {report.save_html(args.html)}.")
