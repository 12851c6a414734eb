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


def build_app(ref: str, *, client=None, monitor: str | None = None, sample: float = 1.0,
              trusted: bool = False, poll_interval: float = 2.0,
              max_body: int | None = None) -> Any:
    """Load the model (and open the monitor) and return the ASGI app.

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

        sink = PredictionSink(get_monitor(monitor, client=client), sample=sample)
    holder = ModelHolder(client, ref, trusted=trusted, poll_interval=poll_interval,
                         on_switch=(lambda old, new: sink.switch()) if sink else None)
    return ServingApp(holder, sink, max_body or DEFAULT_MAX_BODY)


def serve(ref: str, *, host: str = "127.0.0.1", port: int = 5005, client=None,
          monitor: str | None = None, sample: float = 1.0, trusted: bool = False,
          poll_interval: float = 2.0, max_body: int | None = None, log_level: str = "warning",
          ready=None) -> None:
    """Serve ``models:/NAME@ALIAS`` until interrupted (``jupyter mlops serve``).

    ``ready(app)`` is called once the socket listens (the CLI prints where).
    """
    import asyncio

    import uvicorn

    app = build_app(ref, client=client, monitor=monitor, sample=sample, trusted=trusted,
                    poll_interval=poll_interval, max_body=max_body)
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
    if ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets)
            if server.started:
                ready(app)

        server.startup = startup  # type: ignore[method-assign]
    asyncio.run(server.serve()) if loop == "asyncio" else server.run()
