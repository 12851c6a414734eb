"""The component stores of one Client, each built once on first use.

Every store class opens its engine through ``store.engine`` (one pool per URL), so these share
the connections of the Client's own store; building them here keeps components and front
doors from constructing ``XStore(url)`` themselves.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_mlops.store import Store
    from jupyter_mlops.store.monitoring import MonitoringStore
    from jupyter_mlops.store.pipelines import PipelineStore
    from jupyter_mlops.store.registry import RegistryStore


class ComponentStores:
    """``pipelines``, ``monitoring`` and ``registry`` stores over one metadata store."""

    def __init__(self, store: Store):
        self._url = store.url

    @functools.cached_property
    def pipelines(self) -> PipelineStore:
        from jupyter_mlops.store import pipelines_lite

        if pipelines_lite.serves(self._url):
            # A SQLite file records pipeline runs on sqlite3: a fully cached run never
            # imports SQLAlchemy (store/pipelines_lite.py); the rest loads it on first use.
            return pipelines_lite.LitePipelineStore(self._url)  # type: ignore[return-value]
        from jupyter_mlops.store.pipelines import PipelineStore

        return PipelineStore(self._url)

    @functools.cached_property
    def monitoring(self) -> MonitoringStore:
        from jupyter_mlops.store.monitoring import MonitoringStore

        return MonitoringStore(self._url)

    @functools.cached_property
    def registry(self) -> RegistryStore:
        from jupyter_mlops.store import lite

        if lite.sqlite_path(self._url) is not None:
            # A SQLite file registers and reads versions on sqlite3 (no SQLAlchemy import);
            # everything else there goes to the SQLAlchemy store (store/registry_lite.py).
            from jupyter_mlops.store.registry_lite import LiteRegistryStore

            return LiteRegistryStore(self._url)  # type: ignore[return-value]
        from jupyter_mlops.store.registry import RegistryStore

        return RegistryStore(self._url)
