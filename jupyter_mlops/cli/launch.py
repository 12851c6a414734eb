"""``python -m jupyter_mlops.cli.launch schedule|alert …``: run one pipeline in the background.

The one launcher for background pipeline runs: the scheduler starts ``schedule --schedule-id N
--slot S`` for a fired slot, a monitoring alert starts ``alert --alert-id N`` for its retraining
pipeline (both through :func:`jupyter_mlops.pipelines.detached.start_launcher`, with the
store's location in the environment). What to run is read again from the store here, so the
pipeline file and parameters in force at start time are used.

If the pipeline cannot even start (the file is gone or invalid), or the run dies, the fire or
the alert is recorded FAILED with the reason; the exit code is the one
``jupyter_mlops.errors.ERROR_TABLE`` gives, as ``jupyter mlops`` exits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.cli.launch")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    p = kinds.add_parser("schedule", help="run the pipeline of one fired schedule slot")
    p.add_argument("--schedule-id", type=int, required=True)
    p.add_argument("--slot", type=float, required=True)
    p = kinds.add_parser("alert", help="run the pipeline an alert rule started")
    p.add_argument("--alert-id", type=int, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from jupyter_mlops.cli.own_process import without_eager_iri_parser
    from jupyter_mlops.client import Client
    from jupyter_mlops.errors import MlopsError, exit_code_for

    without_eager_iri_parser()  # a pipeline run: papermill imports jsonschema

    client = Client()
    try:
        return (_schedule if args.kind == "schedule" else _alert)(client, args)
    except MlopsError as exc:  # the schedule or alert itself is gone: nothing to mark
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    finally:
        client.flush()


def _schedule(client, args: argparse.Namespace) -> int:
    from jupyter_mlops.pipelines.runner import run_pipeline

    store = client.stores.pipelines
    sched = store.get_schedule(args.schedule_id)

    def failed(reason: str) -> None:
        store.update_fire(sched.id, args.slot, status="FAILED")

    return _run(lambda: run_pipeline(
        sched.pipeline_path, sched.parameters, client=client, progress="log",
        trigger="schedule", schedule_id=sched.id, schedule_slot=args.slot),
        failed, f"schedule {sched.name!r}")


def _alert(client, args: argparse.Namespace) -> int:
    from jupyter_mlops.pipelines.runner import run_pipeline

    store = client.stores.monitoring
    alert = store.get_alert(args.alert_id)
    rule = store.get_rule(alert.rule_id)

    def failed(reason: str) -> None:
        store.set_alert_action(alert.id, "FAILED", f"{alert.message}; {reason}")

    return _run(lambda: run_pipeline(
        rule.pipeline, rule.parameters or None, client=client, progress="log",
        trigger="alert", pipeline_run_id=alert.pipeline_run_id),
        failed, f"alert {alert.id}")


def _run(run: Callable, failed: Callable[[str], None], label: str) -> int:
    """Run the pipeline; record a start that failed, or a run that died, with its reason."""
    from jupyter_mlops.errors import MlopsError, exit_code_for

    try:
        record = run()
    except MlopsError as exc:
        failed(f"the pipeline could not start: {exc}")
        print(f"error: {label}: {exc}", file=sys.stderr)
        return exit_code_for(exc)  # errors.ERROR_TABLE, as `jupyter mlops` exits
    except BaseException as exc:  # killed or crashed mid-run: not left looking in progress
        failed(f"the pipeline run stopped: {type(exc).__name__}: {exc}")
        raise
    print(f"{label}: pipeline run {record.id} {record.status}")
    return 0 if record.status == "SUCCEEDED" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
