"""``jupyter mlops server``: MLflow's tracking REST API on this project's store.

Unmodified MLflow code logs here with ``MLFLOW_TRACKING_URI=http://HOST:PORT`` and
``MLFLOW_TRACKING_TOKEN=<token>``; the runs land in the store every other door reads.
"""

from __future__ import annotations

import argparse
import os
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    p = top.add_parser("server", help="serve MLflow's tracking REST API on this store")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    p.add_argument("--token", default=None,
                   help="the token clients must send (default: MLOPS_SERVER_TOKEN, else a "
                        "random one, printed)")
    p.add_argument("--no-token", action="store_true",
                   help="accept requests without a token (loopback only)")


def server(args: argparse.Namespace) -> int | None:
    import secrets

    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.extras import require

    require("uvicorn", extra="serve", feature="The MLflow tracking server")
    import uvicorn

    from jupyter_mlops.mlflow_api.asgi import MlflowApp

    if not 0 < args.port < 65536:
        raise InvalidInputError(f"--port {args.port} is not a port (1–65535).")
    token = None
    if args.no_token:
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            raise InvalidInputError("--no-token is allowed on a loopback --host only.")
    else:
        token = args.token or os.environ.get("MLOPS_SERVER_TOKEN") or secrets.token_urlsafe(24)
    client = client_for(args)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"jupyter mlops server: MLflow tracking API on {client.location.describe()}",
          file=sys.stderr)
    print(f"  export MLFLOW_TRACKING_URI=http://{host}:{args.port}", file=sys.stderr)
    if token:
        print(f"  export MLFLOW_TRACKING_TOKEN={token}", file=sys.stderr)
    sys.stderr.flush()
    try:
        uvicorn.run(MlflowApp(client, token), host=args.host, port=args.port,
                    log_level="warning", lifespan="on")
    finally:
        client.close()
    return None


COMMANDS = {("server", None): server}
