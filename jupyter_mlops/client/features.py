"""``client.features``: the feature store on this client's store (issue 16).

Every method returns plain records or frames, so the notebook magic, the CLI, the REST
routes and the model server stay thin: they parse, call one of these, and render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import current_user
from jupyter_mlops.errors import InvalidInputError

if TYPE_CHECKING:
    from jupyter_mlops.feature_store.online import MaterializeReport
    from jupyter_mlops.feature_store.training import TrainingSet
    from jupyter_mlops.store.features import FeatureStatRecord, FeatureViewRecord, ViewListing
    from jupyter_mlops.store.records import DatasetVersionRecord


class FeaturesClient:
    """Feature views, training sets and online lookups on one client's store.

    Reached as ``client.features``; ``jupyter_mlops.features`` is the same object for the
    process-default client.
    """

    def __init__(self, client):
        self._client = client

    @property
    def _store(self):
        return self._client.store

    # ------------------------------------------------------------------ views
    def register_view(self, name: str, source: Any, entity: str | list[str], timestamp: str,
                      features: list[str], ttl: Any = None,
                      description: str | None = None) -> FeatureViewRecord:
        """Register (a new version of) a feature view.

        Parameters
        ----------
        name : str
            The view's name (no ':' or '@').
        source : pandas.DataFrame, str or Path
            The rows: a DataFrame, a Parquet or CSV file or folder, or ``"table:NAME"`` for
            a table in the store's database.
        entity : str or list of str
            The entity key column(s).
        timestamp : str
            The event-time column (all naive or all timezone-aware).
        features : list of str
            The feature columns.
        ttl : datetime.timedelta or float, optional
            How long a value stays valid (seconds); older values are missing in joins.
        description : str, optional

        Returns
        -------
        FeatureViewRecord
            The version: the same definition and rows give the same version again; a
            changed schema, TTL or any row gives the next one.

        Raises
        ------
        InvalidInputError
            An unknown entity/timestamp/feature column, mixed naive and aware times, two
            rows with the same key and time… — each naming the column.
        """
        from jupyter_mlops.feature_store.views import register_view

        view, created = register_view(
            self._store, name, source, entity, timestamp, features, ttl, description,
            user=current_user(), dataset_id_for=self._record_dataset)
        if created and view.dataset_id is not None:
            self._store.lineage.add_edge("dataset", str(view.dataset_id), "feature_view",
                                         str(view.id), "defines")
        return view

    def _record_dataset(self, name: str, digest: str, size: int, rows: int, schema: dict,
                        source: str) -> int:
        return self._store.catalog.add_dataset_version(
            name, digest, source=source, size=size, row_count=rows, schema=schema,
            stats=None, run_id=None).id

    def get_view(self, name: str, version: int | None = None) -> FeatureViewRecord:
        """One version of a view (the newest by default)."""
        return self._store.features.get_view(*_split_view(name, version))

    def versions(self, name: str) -> list[FeatureViewRecord]:
        """Every version of a view, oldest first."""
        return self._store.features.versions(_split_view(name, None)[0])

    def list_views(self) -> list[ViewListing]:
        """Each view's newest version, its version count and its materialization watermark."""
        # A SQLite file is listed through the stdlib: `jupyter mlops features list` is a
        # whole process, and SQLAlchemy's import would be most of its time.
        from jupyter_mlops.store.features_lite import list_views

        listing = list_views(self._store.url)
        return self._store.features.list_views() if listing is None else listing

    def statistics(self, name: str, version: int | None = None) -> list[FeatureStatRecord]:
        """Per-feature statistics of a view version (the newest by default)."""
        view = self.get_view(name, version)
        return self._store.features.stats(view.id)

    # ------------------------------------------------------------------ training sets
    def get_training_set(self, entity_df: Any, features: list[str], *,
                         timestamp: str | None = None, full_names: bool = False) -> TrainingSet:
        """Join ``entity_df`` point-in-time correctly to ``features`` (``"view:feature"``).

        Each entity row gets each feature's latest value at or before the row's time and
        within the view's TTL — never a later one; a value exactly at the row's time counts.
        The join is recorded in the lineage graph (view versions → ``training_set:<digest>``).

        Parameters
        ----------
        entity_df : pandas.DataFrame
            The entity key column(s) and an event-time column.
        features : list of str
            ``"view:feature"`` (newest version) or ``"view@N:feature"``.
        timestamp : str, optional
            The entity frame's time column (default: the first view's timestamp column).
        full_names : bool
            Name the columns ``view__feature`` instead of ``feature``.

        Returns
        -------
        TrainingSet
            ``.frame`` is ``entity_df`` plus one column per feature, rows in their order.
        """
        from jupyter_mlops.feature_store.training import build_training_set

        return build_training_set(self._store, entity_df, features, timestamp=timestamp,
                                  full_names=full_names)

    def log_training_set(self, training_set: TrainingSet, run_id: str | None,
                         name: str = "training_set") -> DatasetVersionRecord:
        """Record a training set as a dataset of run ``run_id`` (an input), with its lineage.

        The graph then reads dataset → view version → training set → run.
        """
        from jupyter_mlops.feature_store.training import TrainingSet

        if not isinstance(training_set, TrainingSet):
            raise InvalidInputError(
                f"log_training_set takes what get_training_set returned, not "
                f"{type(training_set).__name__}.")
        record = self._client.log_dataset(run_id, training_set.frame, name)
        node = training_set.digest
        self._store.lineage.add_edge("training_set", node, "dataset", str(record.id),
                                     "logged_as")
        if run_id:
            self._store.lineage.add_edge("training_set", node, "run", run_id, "input")
        return record

    # ------------------------------------------------------------------ online
    def materialize(self, view: str, start: Any = None, end: Any = None, *,
                    batch_rows: int | None = None,
                    on_progress: Callable[[int, int], None] | None = None) -> MaterializeReport:
        """Bring the online table up to date with a view (``"name"`` or ``"name@N"``).

        Incremental and resumable: only rows after the watermark are read, and each batch is
        committed with the watermark after it. ``start``/``end`` limit event times
        (inclusive). ``on_progress(written, total)`` is called after each committed batch.
        """
        from jupyter_mlops.feature_store.online import BATCH_ROWS, materialize

        record = self.get_view(view)
        return materialize(self._store, record, start, end,
                           batch_rows=BATCH_ROWS if batch_rows is None else batch_rows,
                           on_progress=on_progress)

    def get_online_features(self, entity_rows: Any, features: list[str], *,
                            full_names: bool = False, as_frame: bool = False):
        """Latest materialized values by entity key: ``{column: [values…]}`` (or a DataFrame).

        ``entity_rows``: a list of ``{entity column: key}``, a mapping of column to keys, a
        DataFrame, or a plain list of keys when each view has one entity column. Keys not
        materialized, or older than the view's TTL, give None.
        """
        from jupyter_mlops.feature_store.online import online_features
        from jupyter_mlops.store.features_lite import feature_reader

        # A SQLite file is read through the stdlib: the first lookup of a fresh process
        # (a model server's first request) would otherwise import SQLAlchemy and the ORM.
        store = self._store
        reader = feature_reader(store.url, lambda: store.features)
        out = online_features(store, entity_rows, features, full_names=full_names,
                              reader=reader)
        if as_frame:
            import pandas as pd

            return pd.DataFrame(out)
        return out


def _split_view(name: Any, version: int | None) -> tuple[str, int | None]:
    """``"trips@3"`` → ("trips", 3); a plain name keeps ``version``."""
    from jupyter_mlops.feature_store.refs import check_view_name

    if isinstance(name, str) and "@" in name:
        base, _, v = name.partition("@")
        if version is not None or not v.isascii() or not v.isdigit() or not 0 < int(v) < 2**31:
            raise InvalidInputError(
                f"Name a view version as 'view@N' (N a positive whole number), not {name!r}.")
        return check_view_name(base), int(v)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                or not 0 < version < 2**31):
        raise InvalidInputError(f"version must be a positive whole number, not {version!r}.")
    return check_view_name(name), version
