"""``jupyter mlops pipeline|reproduce|schedule|scheduler``: parse, call the API, print.

:func:`add_commands` adds the sub-commands to the top-level parser; :data:`COMMANDS` maps
``(group, action)`` to the function that runs it. Exit codes: 0 success, 1 a pipeline failed /
a run did not reproduce, 2 a usage error (raised as :class:`MlopsError`, printed by
``jupyter_mlops.cli.main``).
"""

from __future__ import annotations

from jupyter_mlops.cli.context import client_for, folder_of
from jupyter_mlops.cli.format import dump_json, print_table, when
from jupyter_mlops.cli.parser import Subparsers
from jupyter_mlops.errors import InvalidInputError


def add_commands(top: Subparsers) -> None:
    """Register the pipeline commands on ``top`` (an argparse sub-parsers object)."""
    pipe = top.add_parser("pipeline", help="run and inspect notebook pipelines").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = pipe.add_parser("run", help="run a pipeline.yaml")
    p.add_argument("pipeline", help="path of the pipeline.yaml")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a pipeline parameter (repeatable)")
    p.add_argument("--workers", type=int, help="steps run at once (default: CPUs)")
    p.add_argument("--executor", default="local",
                   help="'local' (default), 'dask' (local Dask cluster) or tcp://host:port")
    p.add_argument("--no-warm-kernels", dest="warm_kernels", action="store_false",
                   default=None, help="start each step's kernel only when the step starts "
                   "(default: the local executor starts the next steps' kernels ahead of "
                   "time; also MLOPS_WARM_KERNELS=0)")
    p.add_argument("--force", action="store_true", help="ignore the cache for every step")
    p.add_argument("--force-step", action="append", default=[], metavar="STEP",
                   help="ignore the cache for this step (repeatable)")
    p.add_argument("--experiment", help="experiment for the runs (default: pipeline name)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p = pipe.add_parser("list", help="recent pipeline runs")
    p.add_argument("--pipeline", help="only runs of this pipeline")
    p.add_argument("--limit", "-l", type=int, default=20)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = pipe.add_parser("show", help="one pipeline run with its steps")
    p.add_argument("pipeline_run_id", help="id or unique prefix")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = top.add_parser("reproduce", help="re-execute a run's notebook and compare its metrics")
    p.add_argument("run_id", help="run id or unique prefix")
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (1e-6)")
    p.add_argument("--atol", type=float, default=1e-9, help="absolute tolerance (1e-9)")
    p.add_argument("--no-input-check", action="store_true",
                   help="re-execute even if input data changed")
    p.add_argument("--cwd", help="folder to run in (default: where the run ran)")
    p.add_argument("--timeout", type=float)
    p.add_argument("--format", choices=["text", "json"], default="text")

    sch = top.add_parser("schedule", help="cron schedules of pipelines").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = sch.add_parser("add", help="schedule a pipeline.yaml")
    p.add_argument("pipeline")
    p.add_argument("--cron", required=True, help="e.g. '*/15 * * * *' (6 fields: seconds first)")
    p.add_argument("--tz", default="UTC", help="IANA time zone, e.g. Europe/Berlin")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--name")
    p.add_argument("--catchup", choices=["latest", "all", "none"], default="latest")
    p.add_argument("--max-catchup-age", type=float, metavar="SECONDS")
    p.add_argument("--allow-overlap", action="store_true")
    p = sch.add_parser("list", help="all schedules")
    p.add_argument("--format", choices=["table", "json"], default="table")
    for action, text in (("pause", "stop firing"), ("resume", "fire again from the next slot"),
                         ("run", "fire once now, in a new process (also while paused)"),
                         ("remove", "delete with its history")):
        sch.add_parser(action, help=text).add_argument("name")
    p = sch.add_parser("history", help="fired and skipped slots")
    p.add_argument("name")
    p.add_argument("--limit", "-l", type=int, default=30)
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = top.add_parser("scheduler", help="run the scheduler loop in the foreground")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between looks (1)")
    p.add_argument("--once", action="store_true", help="one pass, then exit")


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``-p key=value`` pairs (also used by ``check``), each split at its first ``=``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"Parameters look like key=value, not {pair!r}.")
        out[key.strip()] = value
    return out


# --------------------------------------------------------------------------- pipeline
def pipeline_run(args) -> int:
    from jupyter_mlops.pipelines.runner import run_pipeline

    record = run_pipeline(
        args.pipeline, parse_params(args.param), workers=args.workers, executor=args.executor,
        force=args.force, force_steps=args.force_step, experiment=args.experiment,
        client=client_for(args, start=folder_of(args.pipeline)),
        progress=False if args.no_progress else "auto",
        warm_kernels=args.warm_kernels)
    if args.format == "json":
        dump_json(record.to_dict())
    else:
        _show(record)
    return 0 if record.status == "SUCCEEDED" else 1


def pipeline_list(args) -> None:
    from jupyter_mlops.pipelines.api import list_pipeline_runs

    runs = list_pipeline_runs(args.pipeline, args.limit, client=client_for(args))
    if args.format == "json":
        dump_json([r.to_dict() for r in runs])
        return
    print_table(["PIPELINE RUN", "PIPELINE", "STATUS", "TRIGGER", "STARTED", "SECONDS"],
           [[r.id[:12], r.pipeline, r.status, r.trigger, when(r.started_at),
             f"{r.ended_at - r.started_at:.1f}" if r.ended_at else "-"] for r in runs])
    if not runs:
        print("(no pipeline runs yet: `jupyter mlops pipeline run pipeline.yaml`)")


def pipeline_show(args) -> None:
    from jupyter_mlops.pipelines.api import get_pipeline_run

    record = get_pipeline_run(args.pipeline_run_id, client=client_for(args))
    if args.format == "json":
        dump_json(record.to_dict())
    else:
        _show(record)


def _show(r) -> None:
    took = f"{r.ended_at - r.started_at:.1f} s" if r.ended_at else "running"
    print(f"Pipeline run {r.id}  {r.pipeline!r}: {r.status} ({took})\n"
          f"  trigger {r.trigger}  executor {r.executor}  tracked run {r.run_id}")
    if r.parameters:
        print("  parameters: " + ", ".join(f"{k}={v!r}" for k, v in r.parameters.items()))
    rows = []
    for s in r.steps:
        secs = f"{s.ended_at - s.started_at:.1f}" if s.ended_at and s.started_at else "-"
        rows.append([s.step, s.status, s.attempts, secs, (s.run_id or "-")[:12],
                     (s.error or "")[:80]])
    print_table(["STEP", "STATUS", "ATTEMPTS", "SECONDS", "RUN", "ERROR"], rows)


# --------------------------------------------------------------------------- reproduce
def reproduce_cmd(args) -> int:
    from jupyter_mlops.pipelines.reproduce import reproduce

    report = reproduce(args.run_id, rtol=args.rtol, atol=args.atol,
                       check_inputs=not args.no_input_check, cwd=args.cwd,
                       timeout=args.timeout, client=client_for(args))
    if args.format == "json":
        dump_json(report.to_dict())
    else:
        print(report.summary())
        for c in report.changed_inputs:
            print(f"  input {c['name']}: {c['reason']} ({c['path']})")
        for d in report.differences:
            print(f"  metric {d['metric']}: recorded {d['recorded']}  now {d['new']}")
    return 0 if report.ok else 1


# --------------------------------------------------------------------------- schedules
def schedule_add(args) -> None:
    from jupyter_mlops.pipelines.schedule import add_schedule

    s = add_schedule(args.pipeline, args.cron, timezone=args.tz, parameters=parse_params(args.param),
                     name=args.name, catchup=args.catchup,
                     max_catchup_age=args.max_catchup_age, allow_overlap=args.allow_overlap,
                     client=client_for(args, start=folder_of(args.pipeline)))
    print(f"schedule {s.name!r} ({s.cron} {s.timezone}): next run {when(s.next_fire_at)}. "
          "Keep `jupyter mlops scheduler` or the Jupyter server running for it to fire.")


def schedule_list(args) -> None:
    from jupyter_mlops.pipelines.schedule import list_schedules

    items = list_schedules(client=client_for(args))
    if args.format == "json":
        dump_json([s.to_dict() for s in items])
        return
    print_table(["NAME", "CRON", "TZ", "STATE", "NEXT", "CATCHUP", "PIPELINE"],
           [[s.name, s.cron, s.timezone, "paused" if s.paused else "active",
             "-" if s.paused else when(s.next_fire_at), s.catchup, s.pipeline_path]
            for s in items])
    if not items:
        print("(no schedules: `jupyter mlops schedule add pipeline.yaml --cron '0 * * * *'`)")


def schedule_pause(args) -> None:
    from jupyter_mlops.pipelines.schedule import pause_schedule

    print(f"schedule {pause_schedule(args.name, client=client_for(args)).name!r} paused")


def schedule_resume(args) -> None:
    from jupyter_mlops.pipelines.schedule import resume_schedule

    s = resume_schedule(args.name, client=client_for(args))
    print(f"schedule {s.name!r} resumed: next run {when(s.next_fire_at)}")


def schedule_run(args) -> None:
    from jupyter_mlops.pipelines.schedule import run_schedule_now

    fire = run_schedule_now(args.name, client=client_for(args))
    print(f"schedule {args.name!r} fired now ({when(fire.slot)}); follow it with "
          f"`jupyter mlops schedule history {args.name}`")


def schedule_remove(args) -> None:
    from jupyter_mlops.pipelines.schedule import remove_schedule

    remove_schedule(args.name, client=client_for(args))
    print(f"schedule {args.name!r} removed")


def schedule_history(args) -> None:
    from jupyter_mlops.pipelines.schedule import schedule_history as history

    fires = history(args.name, args.limit, client=client_for(args))
    if args.format == "json":
        dump_json([f.to_dict() for f in fires])
        return
    print_table(["SLOT", "STATUS", "FIRED AT", "BY", "PIPELINE RUN", "RUN STATUS"],
           [[when(f.slot), f.status, when(f.fired_at), f.fired_by,
             (f.pipeline_run_id or "-")[:12], f.pipeline_status or "-"] for f in fires])
    if not fires:
        print("(no slots yet)")


def scheduler_cmd(args) -> int:
    import logging

    from jupyter_mlops.pipelines.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sched = Scheduler(client_for(args), poll_interval=args.poll)
    if args.once:
        print(f"fired {len(sched.tick())} slot(s)")
        return 0
    print(f"scheduler {sched.identity} watching {len(sched.store.list_schedules())} "
          "schedule(s); Ctrl-C to stop", flush=True)
    try:
        sched.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


COMMANDS = {
    ("pipeline", "run"): pipeline_run,
    ("pipeline", "list"): pipeline_list,
    ("pipeline", "show"): pipeline_show,
    ("reproduce", None): reproduce_cmd,
    ("schedule", "add"): schedule_add,
    ("schedule", "list"): schedule_list,
    ("schedule", "pause"): schedule_pause,
    ("schedule", "resume"): schedule_resume,
    ("schedule", "run"): schedule_run,
    ("schedule", "remove"): schedule_remove,
    ("schedule", "history"): schedule_history,
    ("scheduler", None): scheduler_cmd,
}
