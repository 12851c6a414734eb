"""The extension's life inside jupyter_server: load (routes), then shutdown (scheduler, threads).

An :class:`~jupyter_server.extension.application.ExtensionApp` because that is the hook
jupyter_server calls on shutdown (``stop_extension``); a plain module extension is never told
the server is stopping. Configuration stays on :class:`MlopsExtension` (``c.MlopsExtension.*``).
"""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from jupyter_mlops.server.extension import MlopsExtension


class MlopsServerApp(ExtensionApp):
    """Registers ``<base_url>mlops/api/v1/*``, starts the scheduler, stops both on shutdown."""

    name = "jupyter_mlops_server"
    description = "REST API of jupyter-mlops (behind the JupyterLab side panel)."
    load_other_extensions = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mlops: MlopsExtension | None = None

    def initialize(self) -> None:  # type: ignore[override]
        from jupyter_mlops.server.base import SETTINGS_KEY

        # Enabled twice (as ``jupyter_mlops`` and as ``jupyter_mlops.server``): both packages
        # hand out this point, and jupyter_server loads it for each. Load once.
        if SETTINGS_KEY in self.serverapp.web_app.settings:
            return
        super().initialize()

    def initialize_settings(self) -> None:
        from jupyter_mlops.server.base import SETTINGS_KEY

        serverapp = self.serverapp
        self.mlops = MlopsExtension(parent=serverapp, root_dir=str(serverapp.root_dir))
        self.settings[SETTINGS_KEY] = self.mlops
        self.mlops.start_scheduler()

    def initialize_handlers(self) -> None:
        from jupyter_mlops.server.handlers import API_ROOT, ROUTES

        # ExtensionApp puts the server's base_url in front of each pattern.
        self.handlers.extend((f"{API_ROOT}/{path}", handler) for path, handler in ROUTES)
        from jupyter_mlops.server.mlflow_routes import HANDLERS as MLFLOW_HANDLERS

        self.handlers.extend(MLFLOW_HANDLERS)  # MLflow's tracking API (docs/mlflow.md)
        self.log.info("jupyter_mlops: REST API at %s%s/",
                      self.serverapp.web_app.settings["base_url"], API_ROOT)

    async def stop_extension(self) -> None:
        """Stop the scheduler loop and the worker threads (launched pipelines carry on).

        Never raises: jupyter_server stops its event loop only after this returns, so an
        exception here used to leave the server running after SIGTERM.
        """
        mlops, self.mlops = self.mlops, None
        if mlops is not None:
            try:
                mlops.close()
            except Exception:
                self.log.exception("jupyter_mlops: shutdown did not finish cleanly")
