"""``jupyter mlops report``: one self-contained HTML file to share (no server needed).

``report run:ID``, ``report runs --filter … --max N`` (a comparison), ``report model:NAME``
(the model card) or ``report monitor:NAME`` (the drift report), written to ``-o FILE``.
Built by :mod:`jupyter_mlops.client.reports`.
"""

from __future__ import annotations

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    """Register ``report`` on ``top`` (an argparse sub-parsers object)."""
    p = top.add_parser(
        "report", help="write a self-contained HTML report of a run, runs, a model or a monitor",
        description="TARGET: run:ID | runs | model:NAME[@ALIAS|/VERSION] | monitor:NAME. "
        "Figures are inline PNGs, CSS is inline: the file opens anywhere, offline.")
    p.add_argument("target", help="run:ID, runs, model:NAME[@ALIAS|/VERSION] or monitor:NAME")
    p.add_argument("--filter", "-f", help="with 'runs': which runs to compare (filter language "
                   "of `jupyter mlops runs list`)")
    p.add_argument("--experiment", "-e", help="with 'runs': only this experiment")
    p.add_argument("--run", dest="runs", action="append", default=[], metavar="ID",
                   help="with 'runs': compare exactly these runs (repeatable)")
    p.add_argument("--max", dest="max_runs", default="10", metavar="N",
                   help="with 'runs': at most N runs, newest first (2-50; default 10)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .html file")


def report_cmd(args) -> None:
    from jupyter_mlops.client.reports import build_report

    report = build_report(client_for(args), args.target, filter=args.filter,
                          experiment=args.experiment, max_runs=args.max_runs,
                          runs=args.runs or None)
    path = report.save(args.output)
    print(f"wrote {path} ({path.stat().st_size} bytes): {report.title}")


COMMANDS = {("report", None): report_cmd}
