"""``jupyter mlops check``: quality gates for CI/CD.

Runs a pipeline (or reads a finished run with ``--run``), checks every ``--gate``, drift limit
and, with ``--reproducible``, the runs' reproducibility record; prints one line per gate
(``PASS``/``FAIL``, the gate, the value, the threshold) and exits 0 when all pass,
3 (``errors.EXIT_GATE_FAILED``) when a gate fails, 1 when the pipeline itself failed and 2 for
a malformed gate (refused before anything runs). ``--junit FILE`` writes JUnit XML.
The grammar and the evaluation live in :mod:`jupyter_mlops.pipelines.gates_check`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_mlops.cli.context import client_for, folder_of
from jupyter_mlops.cli.parser import Subparsers
from jupyter_mlops.cli.pipelines import parse_params
from jupyter_mlops.errors import EXIT_FAILED, GateFailedError, InvalidInputError


def add_commands(top: Subparsers) -> None:
    """Register ``check`` on ``top`` (an argparse sub-parsers object)."""
    p = top.add_parser(
        "check", help="run a pipeline (or read a run) and check quality gates (CI/CD)",
        description="Exit 0 when every gate passes, 3 when one fails, 1 when the pipeline "
        "failed, 2 for a malformed gate. A gate: [STEP:]metrics|params|tags.KEY OP VALUE, "
        "OP one of >= > <= < == !=; without STEP it reads the pipeline's final step.")
    p.add_argument("pipeline", nargs="?", help="pipeline.yaml to run (or use --run)")
    p.add_argument("--run", dest="run_id", metavar="ID",
                   help="check a finished pipeline run or tracked run instead of running")
    p.add_argument("--gate", "-g", action="append", default=[], metavar="GATE",
                   help="e.g. 'metrics.f1 >= 0.9' or 'train:params.C == 1.0' (repeatable)")
    p.add_argument("--max-drift", action="append", default=[], metavar="MONITOR=SHARE",
                   help="the monitor's latest window may have at most this share of "
                   "features drifted (repeatable)")
    p.add_argument("--reproducible", action="store_true",
                   help="fail when a step run is marked not reproducible")
    p.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a pipeline parameter (repeatable)")
    p.add_argument("--workers", type=int, help="steps run at once (default: CPUs)")
    p.add_argument("--force", action="store_true", help="ignore the cache for every step")
    p.add_argument("--experiment", help="experiment for the runs (default: pipeline name)")


def check_cmd(args) -> int:
    from jupyter_mlops.pipelines import gates_check

    # Every value is checked before anything runs: a typo costs no pipeline run.
    gates = [gates_check.parse_gate(text) for text in args.gate]
    drift = dict(gates_check.parse_max_drift(text) for text in args.max_drift)
    params = parse_params(args.param)
    if bool(args.pipeline) == bool(args.run_id):
        raise InvalidInputError("Give a pipeline.yaml to run, or --run ID to check a finished "
                                "run (one of the two).")
    if not (gates or drift or args.reproducible):
        raise InvalidInputError("Nothing to check: give --gate, --max-drift or --reproducible.")
    if args.run_id and (params or args.force or args.workers or args.experiment):
        raise InvalidInputError("-p, --force, --workers and --experiment apply to running a "
                                "pipeline, not to --run.")
    options = dict(max_drift=drift, reproducible=args.reproducible)
    if args.pipeline:
        client = client_for(args, start=folder_of(args.pipeline))
        record = client.pipelines.run(args.pipeline, params, workers=args.workers,
                                      force=args.force, experiment=args.experiment,
                                      progress=False)
        print(f"pipeline run {record.id}  {record.pipeline!r}: {record.status}")
        report = gates_check.check(client, record, gates, **options)
    else:
        client = client_for(args)
        report = gates_check.check_recorded(client, args.run_id, gates, **options)
        print(f"checking {'pipeline run ' + report.pipeline_run_id if report.pipeline_run_id else 'run ' + str(report.run_id)}: {report.status}")
    for result in report.results:
        print(result.line())
    if args.junit:
        path = Path(args.junit)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gates_check.junit_xml(report))
    failed = len(report.failed)
    print(f"{len(report.results) - failed} passed, {failed} failed")
    if report.status not in ("SUCCEEDED", "FINISHED"):
        print(f"error: the {'pipeline' if report.pipeline_run_id else 'run'} ended "
              f"{report.status}", file=sys.stderr)
        return EXIT_FAILED
    if failed:  # exit code from errors.ERROR_TABLE: EXIT_GATE_FAILED (3)
        raise GateFailedError(f"{failed} of {len(report.results)} quality gates failed.")
    return 0


COMMANDS = {("check", None): check_cmd}
