"""The metadata store (C7): SQL metadata plus content-addressed artifact blobs.

Imports nothing above it. :func:`open_store` is the only way in: it resolves locations,
migrates the schema on first open and marks runs whose writer died as KILLED.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from pathlib import Path

from jupyter_mlops.config import float_env, resolve_locations

_open_stores: dict[tuple[str, str], "Store"] = {}
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Store:
    """One store: ``runs`` (tracking), ``catalog`` (artifacts, datasets, code), ``blobs``."""

    url: str
    artifact_root: str
    local_dir: Path | None
    #: Runs this process marked KILLED when it opened the store, not yet reported by ``gc``.
    reaped_on_open: list[str] = dataclasses.field(default_factory=list, compare=False,
                                                  repr=False)

    @functools.cached_property  # frozen dataclass: cached_property writes __dict__ directly
    def runs(self):
        # A SQLite file writes through the stdlib (lite) and loads SQLAlchemy only for what
        # else is asked of it: the first metric of a notebook never pays for that import.
        from jupyter_mlops.store import lite

        if lite.sqlite_path(self.url) is not None:
            return lite.LiteRunStore(self.url)
        if _pg_lite_serves(self.url):
            # A postgresql+psycopg store searches (and reaps, on open) on psycopg itself: a
            # first search never imports SQLAlchemy either (pg_lite); writes load it.
            from jupyter_mlops.store.pg_lite import PgLiteRunStore

            return PgLiteRunStore(self.url)
        from jupyter_mlops.store.runs import RunStore

        return RunStore(self.url)

    @functools.cached_property
    def catalog(self):
        # A SQLite file records a pipeline step's artifacts, snapshot and lineage through
        # the stdlib (catalog_lite); anything else asked of it loads the SQLAlchemy store.
        from jupyter_mlops.store import pipelines_lite

        if pipelines_lite.serves(self.url):
            from jupyter_mlops.store.catalog_lite import LiteCatalogStore

            return LiteCatalogStore(self.url)
        from jupyter_mlops.store.catalog import CatalogStore

        return CatalogStore(self.url)

    @functools.cached_property
    def lineage(self):
        from jupyter_mlops.store import pipelines_lite

        if pipelines_lite.serves(self.url):
            from jupyter_mlops.store.catalog_lite import LiteLineageStore

            return LiteLineageStore(self.url)
        from jupyter_mlops.store.lineage import LineageStore

        return LineageStore(self.url)

    @functools.cached_property
    def features(self):
        from jupyter_mlops.store.features import FeatureStore

        return FeatureStore(self.url)

    @functools.cached_property
    def blobs(self):
        from jupyter_mlops.store.blobs import BlobStore

        return BlobStore(self.artifact_root)

    def reap_dead_runs(self) -> list[str]:
        """Mark runs whose writer is gone KILLED (also done on open and by ``gc``)."""
        return self.runs.reap_dead_runs(float_env("MLOPS_DEAD_AFTER_SECONDS", 300.0))

    def take_reaped_on_open(self) -> list[str]:
        """The runs opening the store marked KILLED, once (``gc`` reports them)."""
        with _lock:
            taken = list(self.reaped_on_open)
            self.reaped_on_open.clear()
        return taken


def _pg_lite_serves(url: str) -> bool:
    """Whether store.pg_lite answers for ``url`` (imported only for a PostgreSQL URL)."""
    if not url.startswith("postgresql"):
        return False
    from jupyter_mlops.store import pg_lite

    return pg_lite.serves(url)


def _schema_is_current(url: str) -> bool:
    """One read when the schema is up to date (a SQLite file on sqlite3, a postgresql+psycopg
    store on psycopg): Alembic and SQLAlchemy load only to migrate, or to say why not."""
    from jupyter_mlops.store import lite

    if lite.schema_is_current(url):
        return True
    if not _pg_lite_serves(url):
        return False
    from jupyter_mlops.store.pg_lite import schema_is_current

    return schema_is_current(url)


def open_store(tracking_uri: str | None = None, artifact_root: str | None = None) -> Store:
    """Open (creating and migrating if needed) the store; cached per (url, artifact root)."""
    loc = resolve_locations(tracking_uri, artifact_root)
    key = (loc.tracking_uri, loc.artifact_root)
    with _lock:
        store = _open_stores.get(key)
        if store is not None:
            return store
        if loc.tracking_uri.startswith("sqlite:///") and loc.local_dir is not None:
            Path(loc.tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        if not _schema_is_current(loc.tracking_uri):
            from jupyter_mlops.store.migrate import ensure_schema

            ensure_schema(loc.tracking_uri)
        store = Store(loc.tracking_uri, loc.artifact_root, loc.local_dir)
        store.reaped_on_open.extend(store.reap_dead_runs())
        _open_stores[key] = store
        return store


def forget_open_stores() -> None:
    """Drop cached stores and engines (tests, and child processes after fork)."""
    import sys

    from jupyter_mlops.store import lite

    with _lock:
        _open_stores.clear()
        lite.close_connections()
        if "jupyter_mlops.store.pg_lite" in sys.modules:
            sys.modules["jupyter_mlops.store.pg_lite"].close_connections()
        # Nothing to forget in modules never imported (and importing them costs SQLAlchemy).
        if "jupyter_mlops.store.migrate" in sys.modules:
            sys.modules["jupyter_mlops.store.migrate"].forget_checked()
    if "jupyter_mlops.store.run_index" in sys.modules:
        sys.modules["jupyter_mlops.store.run_index"].drop_indexes()
    if "jupyter_mlops.store.engine" in sys.modules:
        sys.modules["jupyter_mlops.store.engine"].dispose_engines()
