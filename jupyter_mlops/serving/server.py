"""Run the model server: uvicorn (httptools parser, uvloop when installed) on one process.

TCP_NODELAY is set on every accepted connection by our own protocol class instead of being
left to the event loop: with Nagle's algorithm on, a response written as headers then body
waits for the client's delayed ACK, ≈ 40 ms per small request on Linux (uvicorn's
multi-worker mode is known to lose the flag). ``MLOPS_SERVE_NODELAY=0`` turns it off, only
to demonstrate that stall.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from jupyter_mlops.extras import require

log = logging.getLogger(__name__)


def _protocol_class(nodelay: bool):
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # pragma: no cover - httptools is a dependency; h11 still works
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base

    class NoDelayProtocol(Base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport) -> None:  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)
                except (OSError, AttributeError):  # a Unix socket has no Nagle
                    pass
            super().connection_made(transport)

    return NoDelayProtocol


def _freeze_heap() -> None:
    """Move everything alive once the model is loaded (modules, the model, the monitor's
    reference) out of the garbage collector's sight: a full collection then walks only what
    serving allocated since. Measured on the benchmark server: full collections of the
    loaded heap took 90-210 ms each; after the freeze one took ≈ 4 ms."""
    import gc

    gc.collect()
    gc.freeze()


def build_app(ref: str, *, client=None, monitor: str | None = None, sample: float = 1.0,
              trusted: bool = False, poll_interval: float = 2.0,
              max_body: int | None = None, guard=None, features=None,
              input_rules: str = "strict") -> Any:
    """Load the model (and open the monitor) and return the ASGI app.

    ``guard`` (a :class:`~jupyter_mlops.serving.auth.Guard`) holds the token and the
    origin/Host rules; by default a random token nobody knows (mutating routes closed).
    ``features`` (``"view:feature,…"`` or a list) adds those online features to each
    request by its entity key (:mod:`jupyter_mlops.serving.features`). ``input_rules``:
    ``"strict"`` (every value must have its column's type) or ``"mlflow"`` (MLflow's
    conversions, :mod:`jupyter_mlops.serving.mlflow_rules`).

    Raises
    ------
    NotFoundError
        Unknown model, version, alias or monitor.
    InvalidInputError
        Loading needs ``trusted=True``, or a bad reference.
    """
    from jupyter_mlops.serving.app import DEFAULT_MAX_BODY, ServingApp
    from jupyter_mlops.serving.holder import ModelHolder

    if client is None:
        from jupyter_mlops.client import Client

        client = Client()
    sink = None
    if monitor:
        from jupyter_mlops.monitoring.monitor import get_monitor
        from jupyter_mlops.serving.sink import PredictionSink

        # Windows are closed in a child process (see serving.sink); MLOPS_SERVE_MONITOR_PROCESS=0
        # keeps them in a thread of this process, only to compare the two.
        sink = PredictionSink(get_monitor(monitor, client=client), sample=sample,
                              process=os.environ.get("MLOPS_SERVE_MONITOR_PROCESS", "1") != "0")
    holder = ModelHolder(client, ref, trusted=trusted, poll_interval=poll_interval,
                         on_switch=(lambda old, new: sink.switch()) if sink else None,
                         input_rules=input_rules)
    if features:
        from jupyter_mlops.serving.features import EnrichingHolder, FeatureEnricher

        holder = EnrichingHolder(holder, FeatureEnricher(client, features))
    return ServingApp(holder, sink, max_body or DEFAULT_MAX_BODY, guard,
                      input_rules=input_rules)


def announce(app, ref: str, host: str, port: int, token: str, source: str,
             token_file) -> None:
    """The start-up lines: what is served where, and the token (shown once if generated)."""
    served = app.holder.current
    shown = f"[{host}]" if ":" in host else host
    monitor = (f"; logging to monitor {app.sink.monitor.name}" if app.sink is not None else "")
    print(f"Serving {served.version.name} version {served.version.version} ({ref}) on "
          f"http://{shown}:{port}/invocations{monitor}. Ctrl-C stops.", flush=True)
    routes = ("every route but /health and /ping" if app.guard.auth == "all"
              else "POST /feedback")
    if source == "generated":
        print(f"Token for {routes} (send 'Authorization: Bearer TOKEN'): {token}", flush=True)
    else:
        print(f"Token for {routes}: the one given by {source}.", flush=True)
    print(f"Server info with the token (readable by you only): {token_file}", flush=True)
    if not app.guard.check_host and app.guard.auth != "all":
        print(f"Note: listening on {host}, not loopback: anyone who can reach this port can "
              "score (and, with a monitor, log) requests without the token; use --auth all "
              "to require it everywhere.", flush=True)


def serve(ref: str, *, host: str = "127.0.0.1", port: int = 5005, client=None,
          monitor: str | None = None, sample: float = 1.0, trusted: bool = False,
          poll_interval: float = 2.0, max_body: int | None = None, log_level: str = "warning",
          token: str | None = None, auth: str = "writes", allow_origins=(), allow_hosts=(),
          token_file: str | os.PathLike[str] | None = None, ready=None,
          features=None, input_rules: str = "strict") -> None:
    """Serve ``models:/NAME@ALIAS`` until interrupted (``jupyter mlops serve``).

    ``token`` (else ``MLOPS_SERVE_TOKEN``, else a generated one) is required by mutating
    routes (``auth="all"``: by every route but ``/health`` and ``/ping``); see
    :mod:`jupyter_mlops.serving.auth`. Once the socket listens, ``{url, token, pid, …}`` is
    written to ``token_file`` (default ``~/.mlops/runtime/serve-PORT.json``, mode 0600;
    removed at exit) and ``ready(app)`` is called — by default it prints the URL and, if it
    was generated, the token.
    """
    require("uvicorn", extra="serve", feature="The model server")
    import asyncio

    import uvicorn

    from jupyter_mlops.serving.auth import (
        Guard,
        default_token_file,
        remove_token_file,
        resolve_token,
        write_token_file,
    )

    token, source = resolve_token(token)
    guard = Guard(token, auth=auth, allow_origins=tuple(allow_origins), bind_host=host,
                  allow_hosts=tuple(allow_hosts))
    token_path = os.fspath(token_file) if token_file else str(default_token_file(port))
    app = build_app(ref, client=client, monitor=monitor, sample=sample, trusted=trusted,
                    poll_interval=poll_interval, max_body=max_body, guard=guard,
                    features=features, input_rules=input_rules)
    app.token, app.token_file = token, token_path  # for a caller's own ready(app)
    if ready is None:
        def ready(app) -> None:
            announce(app, ref, host, port, token, source, token_path)
    nodelay = os.environ.get("MLOPS_SERVE_NODELAY", "1") != "0"
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover
        loop = "asyncio"
    config = uvicorn.Config(app, host=host, port=port, http=_protocol_class(nodelay),
                            loop=loop, lifespan="on", access_log=False, log_level=log_level,
                            timeout_keep_alive=30, server_header=False, date_header=False)
    server = uvicorn.Server(config)
    original = server.startup
    shown = f"[{host}]" if ":" in host else host

    async def startup(sockets=None):
        await original(sockets)
        if server.started:
            _freeze_heap()
            write_token_file(token_path, {
                "url": f"http://{shown}:{port}", "token": token, "pid": os.getpid(),
                "host": host, "port": port, "model": ref, "auth": auth})
            ready(app)

    server.startup = startup  # type: ignore[method-assign]
    stopping = server.shutdown

    async def shutdown(sockets=None):
        try:
            await stopping(sockets)
        finally:
            # Here, not only below: uvicorn re-raises SIGTERM/SIGINT once it has stopped,
            # and the default handler ends the process before a `finally` could run.
            remove_token_file(token_path, os.getpid())

    server.shutdown = shutdown  # type: ignore[method-assign]
    try:
        asyncio.run(server.serve()) if loop == "asyncio" else server.run()
    finally:
        remove_token_file(token_path, os.getpid())
