"""The ``serve`` command's options and what it runs: one definition for both ways in.

``jupyter mlops serve …`` (:mod:`jupyter_mlops.cli.serve`) and ``python -m
jupyter_mlops.serving …`` (:mod:`.__main__`) both declare their options with
:func:`add_arguments` and run :func:`run`, so the two cannot drift apart. Only argparse is
imported here; the server (uvicorn and the rest) loads when :func:`run` starts it.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``jupyter mlops serve`` (also ``python -m jupyter_mlops.serving``)."""
    p.add_argument("ref", metavar="models:/NAME@ALIAS")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=5005)
    p.add_argument("--monitor", "-m", help="log served requests to this monitor")
    p.add_argument("--sample", type=float, default=1.0,
                   help="fraction of requests logged to the monitor (default all)")
    p.add_argument("--poll-seconds", type=float, default=2.0,
                   help="how often to check whether the alias moved (0: never)")
    p.add_argument("--max-body-mb", type=float, default=16.0, help="largest request body")
    p.add_argument("--trusted", action="store_true", help="allow a pickle/joblib model")
    p.add_argument("--token", help="bearer token mutating routes require (default: "
                   "MLOPS_SERVE_TOKEN, else a new one, printed once and saved in --token-file)")
    p.add_argument("--token-file", metavar="PATH",
                   help="where the URL and token are written, mode 0600 "
                   "(default ~/.mlops/runtime/serve-PORT.json)")
    p.add_argument("--auth", choices=["writes", "all"], default="writes",
                   help="routes that need the token: writes (POST /feedback, default) or all "
                   "(every route but /health and /ping)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="accept browser requests from this origin, e.g. https://app.example "
                   "(repeatable; cross-site POSTs are refused otherwise)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="on a loopback server, also answer requests for this Host name "
                   "(repeatable; e.g. behind a local reverse proxy that keeps the Host)")
    p.add_argument("--features", metavar="VIEW:FEATURE,…",
                   help="add these online features to each request by its entity key "
                   "(the views' entity columns must be in the request)")
    p.add_argument("--input-rules", choices=["strict", "mlflow"], default="strict",
                   help="strict (default): each value must have its column's type; mlflow: "
                   "convert as MLflow's scoring server does (30.5 -> 30 for an integer "
                   "column, \"42\" -> 42, true -> 1, 7 -> \"7\"), for clients that rely on it")
    p.add_argument("--log-level", default="warning",
                   choices=["critical", "error", "warning", "info", "debug"])


def run(args: argparse.Namespace) -> None:
    """Serve ``args.ref`` from the store of ``args.tracking_uri``/``args.artifact_root``.

    Raises
    ------
    NotFoundError
        No such model, version or alias; the message names the store searched.
    """
    from jupyter_mlops.client import Client
    from jupyter_mlops.errors import NotFoundError
    from jupyter_mlops.serving.server import serve

    client = Client(args.tracking_uri, args.artifact_root)
    # Which store the model comes from, and why, before anything can fail on it (a "model
    # not found" then also names this store: cli.main adds it to every NotFoundError).
    print(f"jupyter mlops serve: {client.location.describe()}", file=sys.stderr, flush=True)
    # Prints where it serves and the token once it listens (serving.server.announce).
    try:
        serve(args.ref, host=args.host, port=args.port, client=client, monitor=args.monitor,
              sample=args.sample, trusted=args.trusted, poll_interval=args.poll_seconds,
              max_body=int(args.max_body_mb * 1024 * 1024), log_level=args.log_level,
              token=args.token, auth=args.auth, allow_origins=args.allow_origin,
              allow_hosts=args.allow_host, token_file=args.token_file,
              features=getattr(args, "features", None),
              input_rules=getattr(args, "input_rules", "strict"))
    except NotFoundError as exc:  # `python -m jupyter_mlops.serving` too: name the store
        raise NotFoundError(f"{exc} Searched {client.location.describe()}.") from exc
