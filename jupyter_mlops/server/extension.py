"""The server extension's configuration and the shared state its handlers use.

``c.MlopsExtension.tracking_uri = "postgresql+psycopg://…"`` in ``jupyter_server_config.py``
points the panel at a team store; unset, the server resolves the same default store a kernel
started in its root directory would (``MLOPS_TRACKING_URI``, else the project's ``.mlops/``).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from traitlets import Int, Unicode, default
from traitlets.config import LoggingConfigurable

T = TypeVar("T")


class MlopsExtension(LoggingConfigurable):
    """Settings of the jupyter_mlops REST API (``c.MlopsExtension.*``)."""

    tracking_uri = Unicode(
        None,
        allow_none=True,
        config=True,
        help="SQLAlchemy URL of the metadata store the panel shows. Default: MLOPS_TRACKING_URI, "
        "else the .mlops/ folder found from the server's root directory (as a kernel would).",
    )
    artifact_root = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Artifact folder or fsspec URL. Default: MLOPS_ARTIFACT_ROOT, else .mlops/artifacts "
        "next to the store.",
    )
    max_workers = Int(
        4,
        config=True,
        help="Threads running store queries off the event loop (blocking database calls).",
    )
    max_page_size = Int(
        1000, config=True, help="Largest `limit` a client may ask of GET /runs."
    )
    default_page_size = Int(50, config=True, help="`limit` of GET /runs when none is given.")
    max_metric_points = Int(
        10000,
        config=True,
        help="Largest `max_points` a client may ask for one metric series (peaks are kept "
        "when a series is downsampled).",
    )
    default_metric_points = Int(
        2000, config=True, help="`max_points` of GET /runs/<id>/metrics/<key> when none is given."
    )
    root_dir = Unicode(
        "", help="Directory the default store is searched from (set to the server's root_dir)."
    )

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return str(Path.cwd())

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._client = None
        self._client_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, self.max_workers), thread_name_prefix="mlops-rest"
        )

    # The client opens (and may migrate) the store: do it lazily, on a worker thread, so a
    # slow or unreachable database never delays server start-up.
    def client(self):
        """The shared :class:`jupyter_mlops.client.Client` (created on first use)."""
        with self._client_lock:
            if self._client is None:
                from jupyter_mlops.client import Client
                from jupyter_mlops.config import resolve_locations

                loc = resolve_locations(
                    self.tracking_uri or None, self.artifact_root or None, Path(self.root_dir)
                )
                self.log.info(
                    "jupyter_mlops: store %s, artifacts %s", loc.tracking_uri, loc.artifact_root
                )
                self._client = Client(loc.tracking_uri, loc.artifact_root)
            return self._client

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(client, *args, **kwargs)`` on the worker pool and await its result."""

        def work() -> T:
            return fn(self.client(), *args, **kwargs)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    def close(self) -> None:
        """Stop the worker threads and flush the client's buffered writes."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._client_lock:
            if self._client is not None:
                self._client.writer.close()
                self._client = None
