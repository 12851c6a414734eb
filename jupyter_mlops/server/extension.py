"""The server extension's configuration and the shared state its handlers use.

``c.MlopsExtension.tracking_uri = "postgresql+psycopg://…"`` in ``jupyter_server_config.py``
points the panel at a team store; unset, the server resolves the same default store a kernel
started in its root directory would (``MLOPS_TRACKING_URI``, else the project's ``.mlops/``).

The extension also runs the pipeline :class:`~jupyter_mlops.pipelines.scheduler.Scheduler`
(``run_scheduler``), so schedules fire while JupyterLab's server is up, and decides which
registry user a request acts as (``user_identity``).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from traitlets import Bool, Enum, Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from jupyter_mlops.server.workers import DaemonThreadExecutor

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

T = TypeVar("T")

#: jupyter_server's own identity providers: they know no user names, only one random
#: "Anonymous …" user per browser session (a fresh id whenever the login cookie is new).
_ANONYMOUS_PROVIDERS = (
    "jupyter_server.auth.identity.IdentityProvider",
    "jupyter_server.auth.identity.PasswordIdentityProvider",
)


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
    max_body_bytes = Int(
        1024 * 1024,
        config=True,
        help="Largest JSON request body a REST route accepts, in bytes; larger ones are "
        "answered 413 before being decoded (jupyter_server's ServerApp.max_body_size still "
        "caps what is read at all).",
    )
    max_json_depth = Int(
        64,
        config=True,
        help="Deepest nesting of arrays/objects a REST request body may have; deeper ones are "
        "answered 400 before being decoded (a deep body would exhaust the parser's stack).",
    )
    shutdown_timeout = Float(
        10.0,
        config=True,
        help="Seconds the server waits, when it stops, for the last buffered values to be "
        "written; past that (a store that does not answer) it stops anyway and logs how many "
        "values were not written. A failing write never keeps the server from stopping.",
    )
    run_scheduler = Bool(
        True,
        config=True,
        help="Run the pipeline scheduler inside the server, so cron schedules fire while it is "
        "up (several servers or `jupyter mlops scheduler` processes may watch one store: each "
        "slot still fires once). Set False when a standalone scheduler does the firing.",
    )
    scheduler_poll_interval = Float(
        1.0,
        config=True,
        help="Seconds between the in-server scheduler's looks at the store for new or changed "
        "schedules (it wakes for a due slot sooner).",
    )
    user_identity = Enum(
        ["auto", "jupyter", "process"],
        "auto",
        config=True,
        help="Who a REST request acts as in the model registry (roles, audit log, schedules). "
        "'jupyter': the Jupyter user's username (e.g. the JupyterHub user). 'process': the "
        "server's own identity, MLOPS_USER or the OS user, as a kernel of this server would "
        "record. 'auto' (default): 'jupyter', except with jupyter_server's built-in token or "
        "password login, whose users are random per-browser 'Anonymous' ids; there the person "
        "holding the token is the one who started the server, so 'process'.",
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
        self._executor = DaemonThreadExecutor(
            max_workers=max(1, self.max_workers), thread_name_prefix="mlops-rest"
        )
        self._scheduler = None
        self._scheduler_thread: threading.Thread | None = None
        self._closed = False

    # The client opens (and may migrate) the store: do it lazily, on a worker thread, so a
    # slow or unreachable database never delays server start-up.
    def client(self):
        """The shared :class:`jupyter_mlops.client.Client` (created on first use)."""
        with self._client_lock:
            if self._client is None:
                from jupyter_mlops.client import Client

                # The Client keeps the resolved location and its reason (the health route
                # reports both, so the panel can say which store it shows and why).
                self._client = Client(self.tracking_uri or None, self.artifact_root or None,
                                      start=Path(self.root_dir))
                loc = self._client.location
                self.log.info("jupyter_mlops: %s, artifacts %s", loc.describe(),
                              loc.artifact_root)
            return self._client

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(client, *args, **kwargs)`` on the worker pool and await its result."""

        def work() -> T:
            return fn(self.client(), *args, **kwargs)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    @property
    def body_limits(self):
        """The :class:`~jupyter_mlops.request_body.BodyLimits` every REST body is parsed with."""
        from jupyter_mlops.request_body import BodyLimits

        return BodyLimits(
            max_bytes=self.max_body_bytes, max_depth=self.max_json_depth,
            raise_bytes="set c.MlopsExtension.max_body_bytes in jupyter_server_config.py",
            raise_depth="set c.MlopsExtension.max_json_depth in jupyter_server_config.py")

    # ------------------------------------------------------------------ identity
    def acting_user(self, jupyter_user: Any, identity_provider: Any) -> tuple[str, str]:
        """``(user name, source)`` a request acts as in the registry; see ``user_identity``.

        ``source`` is ``"jupyter"`` or ``"process"``.
        """
        from jupyter_mlops.config import current_user

        mode = self.user_identity
        if mode == "auto":
            cls = type(identity_provider)
            anonymous = f"{cls.__module__}.{cls.__qualname__}" in _ANONYMOUS_PROVIDERS
            mode = "process" if anonymous else "jupyter"
        username = getattr(jupyter_user, "username", None)
        if mode == "jupyter" and username:
            return str(username), "jupyter"
        return current_user(), "process"

    # ------------------------------------------------------------------ scheduler
    @property
    def scheduler(self):
        """The running :class:`~jupyter_mlops.pipelines.scheduler.Scheduler`, or None."""
        return self._scheduler

    def start_scheduler(self) -> None:
        """Start the scheduler on a background thread (opening the store may be slow)."""
        if not self.run_scheduler or self._scheduler_thread is not None:
            return
        self._scheduler_thread = threading.Thread(
            target=self._start_scheduler, name="mlops-scheduler-start", daemon=True)
        self._scheduler_thread.start()

    def _start_scheduler(self) -> None:
        from jupyter_mlops.pipelines.scheduler import Scheduler

        if self._closed:
            return
        try:
            scheduler = Scheduler(self.client(), poll_interval=self.scheduler_poll_interval)
        except Exception:  # an unreachable store must not take the server down
            self.log.exception("jupyter_mlops: the pipeline scheduler could not start")
            return
        with self._client_lock:
            if self._closed:
                return
            self._scheduler = scheduler.start()
        self.log.info("jupyter_mlops: pipeline scheduler running (%s)", scheduler.identity)

    def wait_for_scheduler(self, timeout: float = 30.0):
        """Block until the background start has finished; return the scheduler (or None)."""
        thread = self._scheduler_thread
        if thread is not None:
            thread.join(timeout)
        return self._scheduler

    def close(self) -> None:
        """Stop the scheduler and worker threads; flush the client's buffered writes.

        Never raises and returns within about ``shutdown_timeout`` seconds: jupyter_server
        stops its event loop only after every extension's shutdown hook has returned, so an
        exception here (a buffered value the store refuses) or a hang (a store that does not
        answer) would leave the server running after SIGTERM. Pipeline runs the scheduler
        launched carry on: they are their own processes.
        """
        with self._client_lock:
            self._closed = True
            scheduler, self._scheduler = self._scheduler, None
            client, self._client = self._client, None
        if scheduler is not None:
            try:
                scheduler.stop()
                self.log.info("jupyter_mlops: pipeline scheduler stopped")
            except Exception:
                self.log.exception("jupyter_mlops: the pipeline scheduler did not stop cleanly")
        self._executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            self._close_client(client)

    def _close_client(self, client: Client) -> None:
        """The last flush, on a daemon thread so that a hung store cannot hold the stop."""
        failure: list[BaseException] = []

        def last_flush() -> None:
            try:
                client.close()
            except BaseException as exc:  # reported below; nothing may escape a stop
                failure.append(exc)

        thread = threading.Thread(target=last_flush, name="mlops-last-flush", daemon=True)
        thread.start()
        thread.join(self.shutdown_timeout)
        if thread.is_alive():
            self.log.error(
                "jupyter_mlops: the store did not take the last buffered values within %.0f s "
                "(c.MlopsExtension.shutdown_timeout); stopping without them.",
                self.shutdown_timeout)
        elif failure:
            self.log.error("jupyter_mlops: the last buffered values could not be written: %s",
                           failure[0])
