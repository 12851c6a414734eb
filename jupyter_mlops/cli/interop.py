"""``jupyter mlops import mlflow SOURCE`` and ``jupyter mlops export mlflow DEST`` (parse,
call, print): the work is :mod:`jupyter_mlops.interop`."""

from __future__ import annotations

import argparse
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    imp = top.add_parser("import", help="import another tool's history (MLflow)").add_subparsers(
        dest="action", required=True, metavar="FORMAT")
    p = imp.add_parser(
        "mlflow", help="experiments, runs, metric histories, artifacts and models from MLflow",
        description="Import an MLflow store into this one: an mlruns folder, an MLflow "
        "database URI (sqlite:///…, postgresql://…) or a tracking server URL (http[s]://…, "
        "needs the 'mlflow' extra). The source is only read. Runs keep their MLflow ids, so "
        "running it again adds only what is new; a killed import leaves only complete runs "
        "and a rerun continues.")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--batch-runs", type=int, default=500, help="runs per transaction (500)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    exp = top.add_parser("export", help="export this store's history (MLflow)").add_subparsers(
        dest="action", required=True, metavar="FORMAT")
    p = exp.add_parser(
        "mlflow", help="runs, metric histories, artifacts and models into MLflow",
        description="Write this store's runs and registered models into MLflow through its "
        "client (the 'mlflow' extra): DEST is an mlruns folder, an MLflow database URI or a "
        "tracking server URL. Running it again exports only what is new.")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def import_mlflow(args: argparse.Namespace) -> int:
    from jupyter_mlops.interop.mlflow_import import import_mlflow as run_import

    report = run_import(client_for(args), args.source, progress=not args.quiet,
                        batch_runs=args.batch_runs)
    print(report.summary())
    return 0


def export_mlflow(args: argparse.Namespace) -> int:
    from jupyter_mlops.interop.mlflow_export import export_mlflow as run_export

    report = run_export(client_for(args), args.dest, progress=not args.quiet)
    print(report.summary())
    sys.stdout.flush()
    return 0


COMMANDS = {("import", "mlflow"): import_mlflow, ("export", "mlflow"): export_mlflow}
