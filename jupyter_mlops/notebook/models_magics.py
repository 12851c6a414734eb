"""``%mlops model|models|load``: registry subcommands for the ``%mlops`` magic.

Parse, call :mod:`jupyter_mlops.fluent`, render. ``notebook/magics.py`` adds the
parsers with :func:`add_parsers` and sends these commands to :func:`handle`; errors from the
registry (:class:`MlopsError`) are turned into one-line ``UsageError`` there.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlops.notebook.subcommands import Subcommands

#: The subcommands :func:`handle` serves.
COMMANDS = ("model", "models", "load")


def add_parsers(subparsers: Subcommands) -> None:
    """Declare ``model``, ``models`` and ``load`` on the ``%mlops`` subparsers."""
    p = subparsers.add_parser(
        "model", help="register a model variable: %mlops model clf --name churn [--alias A]")
    p.add_argument("var", metavar="VAR", help="notebook variable holding the fitted model")
    p.add_argument("--name", "-n", required=True, help="model name (created if new)")
    p.add_argument("--alias", "-a", help="then point this alias (e.g. challenger) at it")
    p.add_argument("--description", "-d")
    p.add_argument("--input-example", "-x", metavar="VAR",
                   help="variable with a few input rows (the signature is inferred from it)")
    p.add_argument("--signature", "-s", metavar="VAR",
                   help="variable with training inputs to infer the signature from")
    p.add_argument("--no-run", action="store_true", help="do not link the active run")
    p.add_argument("--trusted", action="store_true",
                   help="allow a pickled generic model (loading it will need --trusted too)")
    p.add_argument("--trust-type", action="append", default=[], metavar="TYPE",
                   help="a skops type you vouch for (repeatable)")

    p = subparsers.add_parser("models", help="table of models, or of NAME's versions")
    p.add_argument("name", nargs="?", metavar="NAME")

    p = subparsers.add_parser(
        "load", help="load a model into a variable: %mlops load churn@champion clf")
    p.add_argument("ref", metavar="NAME@ALIAS|NAME/VERSION")
    p.add_argument("var", metavar="VAR")
    p.add_argument("--trusted", action="store_true", help="allow a pickle/joblib model")
    p.add_argument("--trust-type", action="append", default=[], metavar="TYPE",
                   help="an extra skops type to trust (repeatable)")


def handle(command: str, args: argparse.Namespace, shell: Any) -> Any:
    """Run one registry subcommand in ``shell`` (an IPython InteractiveShell)."""
    return {"model": _model, "models": _models, "load": _load}[command](args, shell)


def _variable(shell: Any, name: str, what: str) -> Any:
    if not name.isidentifier():
        raise UsageError(f"{name!r} is not a variable name ({what}).")
    if name not in shell.user_ns:
        raise UsageError(f"There is no variable {name!r} in this notebook ({what}).")
    return shell.user_ns[name]


def _model(args: argparse.Namespace, shell: Any) -> None:
    from jupyter_mlops.lifecycle import fluent as registry  # the default client, lazily

    model = _variable(shell, args.var, "the model")
    example = _variable(shell, args.input_example, "--input-example") \
        if args.input_example else None
    signature = _variable(shell, args.signature, "--signature") if args.signature else None
    kwargs = {"run": None} if args.no_run else {}
    version = registry.register_model(
        model, args.name, signature=signature, input_example=example,
        description=args.description, trusted=args.trusted,
        trusted_types=args.trust_type or None, **kwargs)
    where = f" from run {version.run_id}" if version.run_id else ""
    print(f"Registered {version.name!r} version {version.version}{where} "
          f"({version.model_class}, {version.flavor}, {version.digest[:12]}).")
    if args.alias:
        registry.set_alias(version.name, args.alias, version.version)
        print(f"Alias {args.alias!r} -> version {version.version}.")


def _models(args: argparse.Namespace, shell: Any) -> None:
    import pandas as pd
    from IPython.display import display

    from jupyter_mlops.lifecycle import fluent as registry  # the default client, lazily

    reg = registry.registry()
    if args.name:
        rows = [{"version": v.version, "aliases": ", ".join(v.aliases),
                 "class": v.model_class, "format": v.flavor, "run": (v.run_id or "")[:8],
                 "by": v.created_by, "registered": pd.Timestamp(v.created_at, unit="s").floor("s"),
                 **{f"metrics.{k}": val for k, val in v.metrics.items()}}
                for v in reg.list_versions(args.name)]
        if not rows:
            print(f"Model {args.name!r} has no versions.")
            return
        display(pd.DataFrame(rows).set_index("version"))
        return
    models = reg.list_models()
    if not models:
        print("No models registered yet. Register one with `%mlops model VAR --name NAME`.")
        return
    display(pd.DataFrame([{
        "model": m.name, "latest": m.latest_version,
        "aliases": ", ".join(f"{a}={v}" for a, v in m.aliases.items()),
        "updated": pd.Timestamp(m.updated_at, unit="s").floor("s"),
        "description": m.description or ""} for m in models]).set_index("model"))


def _load(args: argparse.Namespace, shell: Any) -> None:
    from jupyter_mlops.lifecycle import fluent as registry  # the default client, lazily

    if not args.var.isidentifier():
        raise UsageError(f"{args.var!r} is not a valid variable name.")
    ref = args.ref if args.ref.startswith("models:/") else f"models:/{args.ref}"
    loaded = registry.load_model(ref, trusted=args.trusted,
                                 trusted_types=args.trust_type or None)
    shell.user_ns[args.var] = loaded
    v = loaded.version
    print(f"{args.var} = {v.name} version {v.version} ({v.model_class}); "
          f"the file matched its hash {v.digest[:12]}.")
