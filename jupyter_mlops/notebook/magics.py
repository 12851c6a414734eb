"""``%mlops`` / ``%%mlops``: parse the line, call the public API, render. Nothing else.

Every subcommand is declared on one :class:`MagicArgumentParser`, so ``%mlops help`` and
``%mlops?`` are generated from the declarations. Any error becomes IPython's ``UsageError``:
one line and the usage, never a traceback; nothing already logged is touched.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser

from jupyter_mlops.lifecycle import fluent
from jupyter_mlops.magic_syntax import literal, pair, split_line
from jupyter_mlops.notebook.subcommands import Subcommands


def _kv(text: str) -> tuple[str, str]:
    kv = pair(text)
    if kv is None or not kv[0]:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return kv


class _SubParser(MagicArgumentParser):
    """Plain argparse layout (IPython's magic formatter adds reST markup meant for docs)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.HelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        usage = " ".join(self.format_usage().removeprefix("usage: ").split())
        raise UsageError(f"{message}. Usage: {usage}")


def build_parser() -> MagicArgumentParser:
    """The ``%mlops`` parser (see :data:`SUBCOMMANDS` for its subcommands and their help)."""
    return _build()[0]


def group_modules() -> tuple:
    """The components' ``%mlops`` subcommand groups, in the order help lists them: each module
    has ``add_parsers(sub)``, ``COMMANDS`` and ``handle(command, args, shell)``."""
    from jupyter_mlops.notebook import (
        autolog_magics,
        features_magics,
        models_magics,
        monitoring_magics,
        sweep_magics,
    )

    return (models_magics, monitoring_magics, sweep_magics, autolog_magics, features_magics)


def _build() -> tuple[MagicArgumentParser, dict[str, tuple[argparse.ArgumentParser, str]]]:
    parser = MagicArgumentParser(prog="%mlops", formatter_class=argparse.HelpFormatter,
                                 description=(
        "Track experiments from notebook cells. Logging without `start` starts a run for "
        "this notebook. Values are durable when the cell finishes."))
    sub = Subcommands(parser.add_subparsers(dest="command", metavar="COMMAND",
                                             parser_class=_SubParser))

    p = sub.add_parser("start", help="start a run")
    p.add_argument("--experiment", "-e", help="experiment name (created if new)")
    p.add_argument("--name", "-n", help="run name")
    p.add_argument("--tag", "-t", action="append", type=_kv, default=[], metavar="K=V")
    p.add_argument("--nested", action="store_true", help="start a child of the active run")

    p = sub.add_parser("end", help="end the active run")
    p.add_argument("--status", "-s", default="FINISHED",
                   type=str.upper, choices=["FINISHED", "FAILED", "KILLED"])

    p = sub.add_parser("param", help="log params: %mlops param lr=0.01 model=svc")
    p.add_argument("pairs", nargs="+", metavar="K=V|VAR")

    p = sub.add_parser("metric", help="log metrics: %mlops metric acc=0.93 [--step N]")
    p.add_argument("pairs", nargs="+", metavar="K=V|VAR")
    p.add_argument("--step", type=int)

    p = sub.add_parser("tag", help="set tags: %mlops tag team=vision")
    p.add_argument("pairs", nargs="+", type=_kv, metavar="K=V")

    p = sub.add_parser("artifact", help="store a file, folder or variable as an artifact")
    p.add_argument("path", metavar="PATH|VAR")
    p.add_argument("--name", "-n", help="label in the run (default: the file name)")

    p = sub.add_parser("dataset", help="version a data file, folder or DataFrame variable")
    p.add_argument("path", metavar="PATH|VAR")
    p.add_argument("--name", "-n", required=True, help="dataset name")
    p.add_argument("--role", "-r", default="input", choices=["input", "output"])

    p = sub.add_parser("runs", help="table of runs")
    p.add_argument("--experiment", "-e")
    p.add_argument("--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.model = 'svc'\"")
    p.add_argument("--order-by", "-o", action="append", help="e.g. 'metrics.acc DESC'")
    p.add_argument("--limit", "-l", type=int, default=20)

    p = sub.add_parser("show", help="live metrics chart of a run (default: the active run)")
    p.add_argument("run", nargs="?", metavar="RUN")
    p.add_argument("--keys", "-k", default="", help="comma-separated metric names")

    p = sub.add_parser("compare", help="metric curves and param differences of runs")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--group-by", "-g", metavar="params.NAME|tags.NAME",
                   help="one curve per group of runs: the mean, with the min-max range")

    p = sub.add_parser("diff", help="cell-by-cell diff of two runs' notebooks, params, metrics")
    p.add_argument("runs", nargs=2, metavar="RUN")

    p = sub.add_parser("lineage", help="lineage graph of a run, dataset:ID or artifact:ID")
    p.add_argument("node", nargs="?", metavar="NODE")

    sub.add_parser("status", help="the active run and the store in use")
    sub.add_parser("flush", help="make everything logged so far durable now")
    sub.add_parser("help", help="this help")

    for group in group_modules():
        group.add_parsers(sub)

    p = sub.add_parser("track", help="%%mlops track: run the cell, then log named variables")
    p.add_argument("--params", "-p", default="", help="comma-separated variable names")
    p.add_argument("--metrics", "-m", default="", help="comma-separated variable names")
    return parser, sub.commands


# Every ``%mlops`` subcommand: name -> (its parser, its one-line help), in declaration order.
PARSER, SUBCOMMANDS = _build()


def help_text() -> str:
    """One usage line per subcommand, then what it does: generated from the parser."""
    lines = [PARSER.description, ""]
    for name, (sub, help_line) in SUBCOMMANDS.items():
        usage = " ".join(sub.format_usage().removeprefix("usage: ").split())
        if name in ("track", "sweep"):
            usage = "%" + usage
        lines.append(f"  {usage}\n      {help_line}")
    lines.append("\nFilters: metrics.acc > 0.9 and (params.model = 'svc' or params.model in "
                 "('lr', 'rf')) and status = 'FINISHED' and name like 'cv-%'")
    lines.append("Lines read like Python: a trailing `# comment` is ignored, `K = V` is `K=V`, "
                 "and a value with spaces or '#' is quoted: %mlops param note=\"a # b\"")
    return "\n".join(lines)


@magics_class
class MlopsMagics(Magics):
    """The ``%mlops`` line magic and ``%%mlops track`` cell magic."""

    @line_cell_magic
    def mlops(self, line: str = "", cell: str | None = None):
        try:
            # shlex rules (magic_syntax), not IPython's arg_split: that one keeps the quotes
            # around a filter and reads a trailing `# comment` as more arguments.
            words = split_line(line)
            args = (PARSER.parse_args(words) if words
                    else argparse.Namespace(command="help"))
        except UsageError as exc:
            raise UsageError(f"{exc} (see `%mlops help`)") from None
        except ValueError as exc:  # unbalanced quotes from the shell-like splitter
            raise UsageError(f"Could not split the arguments: {exc}. Check the quotes.") from None
        command = args.command or "help"
        if (command in ("track", "sweep")) != (cell is not None):
            raise UsageError("`track` and `sweep` are cell magics (%%mlops track …); every other "
                             "command is a line magic (%mlops …). Run `%mlops help`.")
        from jupyter_mlops.errors import MlopsError

        try:
            for group in group_modules():
                if command in group.COMMANDS:
                    # Only the cell magic's group takes the cell body.
                    return (group.handle(command, args, self.shell, cell) if command == "sweep"
                            else group.handle(command, args, self.shell))
            return getattr(self, f"_cmd_{command}")(args, cell)
        except MlopsError as exc:
            raise UsageError(f"{exc}") from None

    # ------------------------------------------------------------------ commands
    def _cmd_help(self, args, cell):
        print(help_text())

    def _cmd_start(self, args, cell):
        # A pipeline step's run is attached, and start_run applies the options given to it
        # (see fluent._honour_options): only an explicit --name renames it, never the
        # notebook-derived default.
        attaching = bool(os.environ.get("MLOPS_RUN_ID")) and not args.nested
        run = fluent.start_run(
            experiment=args.experiment,
            name=args.name or (None if attaching else self._default_name()),
            tags=dict(args.tag), nested=args.nested)
        print(f"Started run {run.name!r} ({run.id}) in experiment "
              f"{run.record.experiment!r}.")

    def _cmd_end(self, args, cell):
        run = fluent.active_run()
        if run is None:
            raise UsageError("No run is active. Start one with `%mlops start`.")
        fluent.end_run(args.status)
        print(f"Ended run {run.name!r} ({run.id}): {args.status}.")

    def _cmd_param(self, args, cell):
        fluent.log_params(self._values(args.pairs, "param"))

    def _cmd_metric(self, args, cell):
        values = self._values(args.pairs, "metric")
        # Checked before _ensure_run, so a typo never starts a run; by the validation layer
        # every front door shares, so the magic accepts exactly what the API accepts.
        _check_metrics(values, "Usage: %mlops metric acc=0.93 [--step N]")
        self._ensure_run()
        fluent.log_metrics(values, step=args.step)

    def _cmd_tag(self, args, cell):
        fluent.set_tags(dict(args.pairs))

    def _cmd_artifact(self, args, cell):
        obj = self._path_or_var(args.path)
        records = fluent.log_artifact(obj, args.name or (None if obj is args.path else args.path))
        records = records if isinstance(records, list) else [records]
        print(f"Stored {len(records)} artifact(s): " + ", ".join(r.name for r in records))

    def _cmd_dataset(self, args, cell):
        record = fluent.log_dataset(self._path_or_var(args.path), args.name, args.role)
        rows = f", {record.row_count} rows" if record.row_count is not None else ""
        print(f"Dataset {record.name!r} v{record.version} ({record.digest[:12]}{rows}) "
              f"logged as {args.role}.")

    def _cmd_runs(self, args, cell):
        from IPython.display import display

        from jupyter_mlops.notebook.widgets import RunsTable

        client = fluent.get_client()
        # Validate first so a bad filter is a one-line UsageError, not an empty widget.
        # A filter key no run has is shown as a hint line inside the table widget.
        client.search_runs(args.filter, args.experiment, args.order_by, max_results=1,
                           warn=False)
        display(RunsTable(client, args.filter, args.experiment, args.order_by,
                          limit=max(1, min(args.limit, 10_000))))

    def _cmd_show(self, args, cell):
        from jupyter_mlops.notebook.widgets import LiveChart

        client = fluent.get_client()
        run_id = self._run_id(args.run)
        keys = [k.strip() for k in args.keys.split(",") if k.strip()] or None
        return LiveChart(client, run_id, keys).show() and None

    def _cmd_compare(self, args, cell):
        from IPython.display import display

        from jupyter_mlops.notebook.widgets import compare_grouped, compare_view, figure_image

        run_ids = [self._run_id(r) for r in args.runs]
        if args.group_by:
            fig, frame = compare_grouped(fluent.get_client(), run_ids, args.group_by)
        else:
            fig, frame = compare_view(fluent.get_client(), run_ids)
        display(figure_image(fig), frame)

    def _cmd_diff(self, args, cell):
        from IPython.display import HTML, display

        from jupyter_mlops.notebook.widgets import diff_html
        from jupyter_mlops.tracking.notebook_diff import diff_runs

        left, right = (self._run_id(r) for r in args.runs)
        display(HTML(diff_html(diff_runs(fluent.get_client(), left, right))))

    def _cmd_lineage(self, args, cell):
        from IPython.display import display

        from jupyter_mlops.notebook.widgets import figure_image, lineage_figure

        node = args.node if args.node and ":" in args.node else f"run:{self._run_id(args.node)}"
        display(figure_image(lineage_figure(fluent.get_client().lineage(node))))

    def _cmd_status(self, args, cell):
        run = fluent.active_run()
        client = fluent.get_client()
        from jupyter_mlops.config import redact_url

        print(f"Store: {redact_url(client.tracking_uri)}\nArtifacts: {client.store.artifact_root}")
        if run is None:
            print("No active run. `%mlops start` or any `%mlops metric …` starts one.")
            return
        print(f"Active run: {run.name!r} ({run.id}) in experiment {run.record.experiment!r}; "
              f"{client.writer.pending()} value(s) waiting to be written.")

    def _cmd_flush(self, args, cell):
        fluent.flush()

    def _cmd_track(self, args, cell):
        import hashlib

        result = self.shell.run_cell(cell, store_history=False)
        if not result.success:
            print("jupyter-mlops: the cell failed, so nothing was recorded.")
            return
        params = self._names(args.params, "param")
        metrics = self._names(args.metrics, "metric")
        run = self._ensure_run()
        if params:
            fluent.log_params(params)
        if metrics:
            fluent.log_metrics(metrics)
        digest = hashlib.blake2b(cell.encode(), digest_size=8).hexdigest()
        count = self.shell.execution_count
        run.client.add_lineage(f"cell:{digest}-{count}", f"run:{run.id}", "logged")

    # ------------------------------------------------------------------ helpers
    def _run_id(self, text: str | None) -> str:
        """A run id, unique prefix, or (when omitted) the active run."""
        if text:
            return fluent.get_client().resolve_run_id(text)
        run = fluent.active_run()
        if run is None:
            raise UsageError("No run is active: name one (`%mlops show RUN`) or start a run.")
        return run.id

    def _ensure_run(self):
        run = fluent.active_run()
        return run if run is not None else fluent.start_run(name=self._default_name())

    def _default_name(self) -> str | None:
        from pathlib import Path

        from jupyter_mlops.tracking.capture import notebook_path_hint

        path = notebook_path_hint(self.shell.user_ns)
        return Path(path).stem if path else None

    def _values(self, pairs: list[str], what: str) -> dict[str, Any]:
        """``k=v`` pairs as literals; a bare name takes the variable's value."""
        out: dict[str, Any] = {}
        for item in pairs:
            kv = pair(item)
            key = kv[0] if kv else item
            if not key:
                raise UsageError(f"Expected {what} as key=value or a variable name, got {item!r}.")
            if kv:
                out[key] = literal(kv[1])
            elif key in self.shell.user_ns:
                out[key] = self.shell.user_ns[key]
            else:
                raise UsageError(f"{item!r} is neither key=value nor a variable in this notebook. "
                                 f"Usage: %mlops {what} key=value …")
        return out

    def _names(self, names: str, what: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in filter(None, (n.strip() for n in names.split(","))):
            if name not in self.shell.user_ns:
                raise UsageError(f"--{what}s names {name!r}, which the cell did not define.")
            out[name] = self.shell.user_ns[name]
        if what == "metric":
            _check_metrics(out, "Usage: %%mlops track --metrics NAME,…")
        return out

    def _path_or_var(self, text: str) -> Any:
        from pathlib import Path

        if Path(text).expanduser().exists() or text not in self.shell.user_ns:
            return text
        return self.shell.user_ns[text]


def _check_metrics(values: dict[str, Any], usage: str) -> None:
    """Refuse a metric name or value the API would refuse, as one UsageError line."""
    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.validation import check_key, to_metric_value

    for key, value in values.items():
        try:
            check_key(key, "metric name")
            to_metric_value(key, value)
        except InvalidInputError as exc:
            raise UsageError(f"{exc} {usage}") from None


# `%mlops?` shows the generated help, so it can never drift from the parser.
MlopsMagics.mlops.__doc__ = help_text()
