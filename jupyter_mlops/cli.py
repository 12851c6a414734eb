"""``jupyter mlops …``: the command-line front door (parse, call the client, print).

Errors print one line to stderr and exit with the code ``jupyter_mlops.errors.ERROR_TABLE``
gives them (2 for a refusal, 1 for a failed step); no traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter mlops", description="Experiment tracking, lineage and store maintenance.")
    parser.add_argument("--tracking-uri", help="SQLAlchemy URL (default: MLOPS_TRACKING_URI "
                        "or the project's .mlops/mlops.db)")
    parser.add_argument("--artifact-root", help="artifact folder or fsspec URL")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print the store in use and why it was chosen (to stderr)")
    top = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)

    runs = top.add_parser("runs", help="list and inspect runs").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = runs.add_parser("list", help="runs matching a filter")
    p.add_argument("--experiment", "-e")
    p.add_argument("--filter", "-f")
    p.add_argument("--order-by", "-o", action="append")
    p.add_argument("--limit", "-l", type=int, default=50)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = runs.add_parser("show", help="everything recorded about one run")
    p.add_argument("run_id")
    p.add_argument("--format", choices=["text", "json"], default="text")

    db = top.add_parser("db", help="schema migrations").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    db.add_parser("upgrade", help="migrate the store to this version's schema")
    db.add_parser("current", help="print the store's schema revision")

    p = top.add_parser("gc", help="mark dead runs KILLED, verify blobs, prune unreferenced ones")
    p.add_argument("--dry-run", action="store_true",
                   help="delete no blob or temp file; only report what would go")
    p.add_argument("--verify", action="store_true",
                   help="exit 1 if any referenced blob is missing or corrupt")

    p = top.add_parser("lineage", help="upstream/downstream graph of run:ID, dataset:ID …")
    p.add_argument("node")
    p.add_argument("--format", choices=["text", "json"], default="text")

    top.add_parser("env", help="where the store is and the environment variables read")
    from jupyter_mlops.registry import cli as registry_cli

    registry_cli.add_commands(top)
    from jupyter_mlops.pipelines.cli import add_commands as add_pipeline_commands

    add_pipeline_commands(top)
    from jupyter_mlops.monitoring.cli import add_commands as add_monitoring_commands

    add_monitoring_commands(top)
    from jupyter_mlops.store.transfer_cli import add_commands as add_transfer_commands

    COMMANDS.update(add_transfer_commands(top))

    dead = top.add_parser(
        "dead-letter", help="rows the store refused at write time, set aside: list, replay",
        description="A value the store refuses when the writer flushes (a constraint, a value "
        "the database cannot hold) is set aside in dead-letter.jsonl next to the store instead "
        "of blocking every later write.").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = dead.add_parser("list", help="the rows set aside for this store")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = dead.add_parser("replay", help="re-validate the rows and write those now accepted; "
                        "exit 1 if some stay")
    p.add_argument("--drop", action="store_true",
                   help="remove the rows that are still refused instead of keeping them")
    _verbose_everywhere(parser)
    return parser


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let ``-v`` follow any command too (``jupyter mlops runs list -v``), not only precede it.

    SUPPRESS: a command that is not given ``-v`` leaves the top-level value alone.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if "--verbose" not in sub._option_string_actions:
                    sub.add_argument("--verbose", "-v", action="store_true",
                                     default=argparse.SUPPRESS,
                                     help="print the store in use and why (to stderr)")
                _verbose_everywhere(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from jupyter_mlops.errors import MlopsError, exit_code_for

    try:
        handler = COMMANDS[(args.group, getattr(args, "action", None))]
        if args.verbose:
            print(f"jupyter mlops: {_location(args).describe()}", file=sys.stderr)
        return handler(args) or 0
    except MlopsError as exc:
        print(f"error: {_with_store(exc, args)}", file=sys.stderr)
        return exit_code_for(exc)  # errors.ERROR_TABLE, the table REST statuses come from
    except BrokenPipeError:  # `… | head`
        return 0


def _client(args):
    from jupyter_mlops.client import Client

    return Client(args.tracking_uri, args.artifact_root)


def _location(args):
    """The store a command uses: a pipeline file's command looks from that file's folder."""
    from jupyter_mlops.config import resolve_locations
    from jupyter_mlops.pipelines.cli import store_start

    return resolve_locations(args.tracking_uri, args.artifact_root, store_start(args))


def _with_store(exc, args) -> str:
    """A failed lookup names the store it searched (the Client's own messages already do)."""
    from jupyter_mlops.config import redact_url
    from jupyter_mlops.errors import NotFoundError

    text = str(exc)
    if not isinstance(exc, NotFoundError):
        return text
    loc = _location(args)
    if redact_url(loc.tracking_uri) in text:
        return text
    return f"{text} Searched {loc.describe()}."




def runs_list(args) -> None:
    client = _client(args)
    runs = client.search_runs(args.filter, args.experiment, args.order_by,
                              max_results=max(1, min(args.limit, 50_000)), warn=False)
    if runs.hint:  # on stderr, so `--format json` output stays parseable
        print(f"hint: {runs.hint}", file=sys.stderr)
    if args.format == "json":
        json.dump([r.to_dict() for r in runs], sys.stdout, indent=2)
        print()
        return
    metric_keys = sorted({k for r in runs for k in r.metrics})[:6]
    header = ["RUN", "NAME", "EXPERIMENT", "STATUS", "STARTED", *metric_keys]
    rows = [[r.id[:12], r.name[:30], r.experiment[:20], r.status, when(r.start_time),
             *(_fmt(r.metrics.get(k)) for k in metric_keys)] for r in runs]
    print_table(header, rows)
    if not runs:
        print("(no runs match)")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.6g}"




def runs_show(args) -> None:
    client = _client(args)
    detail = client.get_run(client.resolve_run_id(args.run_id))
    if args.format == "json":
        print(json.dumps(detail.to_dict(), indent=2))
        return
    r = detail.run
    print(f"Run {r.id}  {r.name!r}\n  experiment {r.experiment}  status {r.status}  "
          f"user {r.user}\n  started {when(r.start_time)}  ended {when(r.end_time)}")
    if r.parent_run_id:
        print(f"  parent {r.parent_run_id}")
    if r.reproducible is not None:
        print(f"  reproducible: {'yes' if r.reproducible else 'no — ' + str(r.not_reproducible_reason)}")
    for title, values in (("params", r.params), ("metrics", r.metrics), ("tags", r.tags)):
        if values:
            print(f"{title}:")
            for k, v in sorted(values.items()):
                print(f"  {k} = {v}")
    if detail.artifacts:
        print("artifacts:")
        for a in detail.artifacts:
            print(f"  {a.name}  {a.size} B  {a.media_type}  {a.digest[:12]}")
    if detail.datasets:
        print("datasets:")
        for d in detail.datasets:
            print(f"  {d.role:6} {d.name} v{d.version}  {d.digest[:12]}  rows={d.row_count}")
    if detail.code:
        c = detail.code
        git = f"  git {c.git_commit[:10]}{' (dirty)' if c.git_dirty else ''}" if c.git_commit else ""
        print(f"notebook: {c.notebook_path or '(kernel history)'}  {c.digest[:12]}{git}")
    if detail.environment:
        e = detail.environment
        print(f"environment: Python {e.python}, {len(e.packages)} packages ({e.digest[:12]})")


def db_upgrade(args) -> None:
    from jupyter_mlops.config import redact_url, resolve_locations
    from jupyter_mlops.store.migrate import upgrade

    url = resolve_locations(args.tracking_uri, args.artifact_root).tracking_uri
    before, after = upgrade(url)
    print(f"{redact_url(url)}: schema {before or '(empty)'} -> {after}")


def db_current(args) -> None:
    from jupyter_mlops.config import resolve_locations
    from jupyter_mlops.store.migrate import HEAD_REVISION, stored_revision

    url = resolve_locations(args.tracking_uri, args.artifact_root).tracking_uri
    # Read only: the normal engine would switch a stranger's SQLite file to WAL on connect.
    rev = stored_revision(url)
    print(f"{rev or '(empty)'} (this version expects {HEAD_REVISION})")


def gc(args) -> int:
    """Exit 1 if a blob is corrupt (or, with --verify, corrupt or missing); else 0."""
    done = _client(args).gc(dry_run=args.dry_run)
    report = done.blobs
    print(f"runs marked KILLED: {len(done.runs_killed)}")
    for run_id in done.runs_killed:
        print(f"  {run_id}")
    print(f"pipeline runs marked KILLED: {len(done.pipeline_runs_killed)}")
    for run_id in done.pipeline_runs_killed:
        print(f"  {run_id}")
    would = "would be " if report.dry_run else ""
    print(f"blobs checked: {report.checked}")
    print(f"blobs {would}deleted (unreferenced): {len(report.deleted)}")
    print(f"blobs corrupt ({would}removed): {len(report.corrupt)}")
    for digest in report.corrupt:
        print(f"  corrupt blob {digest}: the artifacts pointing at it cannot be read")
    print(f"blobs missing: {len(report.missing)}")
    for digest in report.missing:
        users = done.missing_used_by.get(digest) or ["(a stored record)"]
        print(f"  missing blob {digest}, used by {'; '.join(users)}")
    print(f"temp files {would}removed: {len(report.temp_removed)}")
    if report.missing and not args.verify:
        print("(run `jupyter mlops gc --verify` to make missing blobs fail the command)")
    return 1 if report.corrupt or (args.verify and report.missing) else 0


def lineage(args) -> None:
    """An unknown id fails (NotFoundError, exit 1); a known one without edges prints so."""
    graph = _client(args).lineage(args.node)
    if args.format == "json":
        print(json.dumps(graph.to_dict(), indent=2))
        return
    labels = {n.id: f"{n.label} [{n.id}]" for n in graph.nodes}
    for e in graph.edges:
        print(f"{labels.get(e.src, e.src)} --{e.relation}--> {labels.get(e.dst, e.dst)}")
    if not graph.edges:
        print(f"{graph.root}: no lineage recorded")


def dead_letter_list(args) -> None:
    dead = _client(args).dead_letter()
    rows = dead.rows()
    if args.format == "json":
        json.dump([dataclasses.asdict(r) for r in rows], sys.stdout, indent=2)
        print()
    elif not rows:
        print(f"no rows set aside for {dead.store} ({dead.path})")
    else:
        print(f"{len(rows)} row(s) set aside for {dead.store} in {dead.path}:")
        print_table(["RUN", "KIND", "KEY", "VALUE", "STEP", "SET ASIDE", "WHY"],
                    [[_shown(r.run_id, 64)[:12], r.kind, _shown(r.key, 30), _shown(r.value, 30),
                      "-" if r.step is None else r.step, when(r.at), _shown(r.error, 80)]
                     for r in rows])


def dead_letter_replay(args) -> int:
    """Exit 0 when every row was written (or dropped), 1 when some stay set aside."""
    report = _client(args).replay_dead_letter(drop=args.drop)
    print(f"written: {report.written}  kept: {len(report.kept)}  dropped: {len(report.dropped)}")
    for r in report.kept[:20]:
        print(f"  kept {r.kind} {_shown(r.key, 30)} of run {_shown(r.run_id, 64)[:12]}: "
              f"{_shown(r.error, 100)}")
    if report.kept:
        print("(fix the cause and replay again, or remove them with `dead-letter replay --drop`)")
    return 1 if report.kept else 0


def _shown(value, limit: int) -> str:
    """Printable and bounded: a refused row may hold control characters or huge text."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def env(args) -> None:
    from jupyter_mlops.config import ENV_VARS, redact_url, resolve_locations

    loc = resolve_locations(args.tracking_uri, args.artifact_root)
    print(f"tracking URI:  {redact_url(loc.tracking_uri)}\nartifact root: {loc.artifact_root}\n"
          f"chosen by:     {loc.reason}\n")
    for var in ENV_VARS.values():
        print(f"{var.name}\n    {var.help}")


COMMANDS = {
    ("runs", "list"): runs_list,
    ("runs", "show"): runs_show,
    ("db", "upgrade"): db_upgrade,
    ("db", "current"): db_current,
    ("gc", None): gc,
    ("lineage", None): lineage,
    ("env", None): env,
    ("dead-letter", "list"): dead_letter_list,
    ("dead-letter", "replay"): dead_letter_replay,
}
from jupyter_mlops.cli_format import print_table, when
from jupyter_mlops.pipelines.cli import HANDLERS as _PIPELINE_COMMANDS  # noqa: E402
from jupyter_mlops.registry.cli import COMMANDS as _REGISTRY_COMMANDS  # noqa: E402

COMMANDS.update(_REGISTRY_COMMANDS)
COMMANDS.update(_PIPELINE_COMMANDS)  # handlers return 1 when a pipeline failed / differs
from jupyter_mlops.monitoring.cli import HANDLERS as _MONITORING_COMMANDS  # noqa: E402

COMMANDS.update(_MONITORING_COMMANDS)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
