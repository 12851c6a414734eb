"""MLflow's tracking REST API over this project's Client, written once for every door.

:mod:`.routes` maps ``(method, path)`` to a function ``(client, request) -> dict``;
:mod:`.asgi` serves it standalone (``jupyter mlops server``), and
``jupyter_mlops.server.mlflow_routes`` mounts it in the jupyter_server extension. See
``docs/mlflow.md`` for what maps onto what, and what differs from MLflow's server.
"""
