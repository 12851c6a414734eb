"""Registering a feature view: read, check, hash, store the rows, record the version."""

from __future__ import annotations

import datetime as dt
import numbers
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.feature_store.frames import as_names, canonical, definition_digest, read_source
from jupyter_mlops.feature_store.offline import write_offline
from jupyter_mlops.feature_store.refs import check_view_name
from jupyter_mlops.feature_store.stats import feature_stats
from jupyter_mlops.validation import check_text

MAX_DESCRIPTION = 10_000


def ttl_seconds(ttl: Any) -> float | None:
    """``None``, a ``timedelta`` or a positive number of seconds, as seconds."""
    if ttl is None:
        return None
    if isinstance(ttl, dt.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, numbers.Real) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise InvalidInputError(
            f"ttl must be a datetime.timedelta or a number of seconds, not {ttl!r}.")
    if not seconds > 0 or seconds != seconds or seconds > 1e12:
        raise InvalidInputError(f"ttl must be positive and finite, not {ttl!r}.")
    return seconds


def register_view(store, name: str, source: Any, entity: Any, timestamp: str, features: Any,
                  ttl: Any = None, description: str | None = None, *, user: str,
                  dataset_id_for=None):
    """Record a version of view ``name``; the same definition and rows give the same version.

    ``dataset_id_for(name, digest, size, rows, schema, source)`` records the rows as a dataset
    version (lineage: dataset → view) and returns its id; the Client hands it in.

    Returns
    -------
    (FeatureViewRecord, bool)
        The version, and whether it was created by this call.
    """
    check_view_name(name)
    entity_cols = as_names(entity, "entity")
    (ts_col,) = as_names(timestamp, "timestamp")
    feature_cols = as_names(features, "features")
    ttl_s = ttl_seconds(ttl)
    if description is not None:
        if not isinstance(description, str):
            raise InvalidInputError("description must be text.")
        check_text(description, "description", MAX_DESCRIPTION)
    frame, where = read_source(source, store.features.read_table)
    view = canonical(frame, entity_cols, ts_col, feature_cols,
                     f"feature view {name!r} ({where})")
    digest = definition_digest(view.data_digest, entity_cols, ts_col, feature_cols, ttl_s)
    known = store.features.find_view(name, digest)
    if known is not None:  # same content: nothing to write, not even the Parquet
        return known, False
    # The rows' key order travels with them (the join gathers instead of sorting); it is
    # not part of the digests above, which the frame alone gives.
    blob, size = write_offline(store.blobs, view.frame, view.features, view.entity)
    dataset_id = None
    if dataset_id_for is not None:
        dataset_id = dataset_id_for(f"features/{name}", view.data_digest, size,
                                    len(view.frame), view.schema, where)
    return store.features.add_view_version(
        name=name, digest=digest, data_digest=view.data_digest, blob_digest=blob,
        schema=view.schema, entity=entity_cols, timestamp_column=ts_col,
        features=feature_cols, ttl_seconds=ttl_s, description=description, source=where,
        rows=len(view.frame), entities=view.entities, min_event_ns=view.min_event_ns,
        max_event_ns=view.max_event_ns, dataset_id=dataset_id, user=user,
        stats=feature_stats(view.frame, feature_cols))
