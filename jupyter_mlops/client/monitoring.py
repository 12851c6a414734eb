"""The monitoring facet: create, reopen and list monitors on one store.

A thin face over :mod:`jupyter_mlops.monitoring.monitor`; a :class:`Monitor` logs prediction
batches (``log_predictions``), feedback and reports itself (``report()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.client.core import Client
    from jupyter_mlops.monitoring.monitor import Monitor
    from jupyter_mlops.store.monitoring import MonitorInfo


class MonitoringClient:
    """``client.monitoring``: the monitors of this client's store."""

    def __init__(self, client: Client):
        self._client = client

    def create(self, model: str, reference: Any = None, **options: Any) -> Monitor:
        """Create a monitor, or reopen (and update) the one of that name (options as in
        :func:`jupyter_mlops.monitoring.monitor.monitor`)."""
        from jupyter_mlops.monitoring.monitor import monitor

        return monitor(model, reference, client=self._client, **options)

    def get(self, name: str, launcher: Any = None) -> Monitor:
        """Reopen an existing monitor by name (NotFoundError if there is none)."""
        from jupyter_mlops.monitoring.monitor import get_monitor

        return get_monitor(name, self._client, launcher)

    def list(self) -> list[MonitorInfo]:
        """Every monitor in the store."""
        from jupyter_mlops.monitoring.monitor import list_monitors

        return list_monitors(self._client)
