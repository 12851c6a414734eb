"""Training sets: the entity frame joined point-in-time to the requested features."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.feature_store.frames import _content_digest, check_columns, entity_keys, key_kind
from jupyter_mlops.feature_store.join import asof_join
from jupyter_mlops.feature_store.join_outofcore import asof_join_duckdb, needs_out_of_core
from jupyter_mlops.feature_store.offline import read_join_table
from jupyter_mlops.feature_store.refs import FeatureRef, parse_refs
from jupyter_mlops.feature_store.timestamps import check_same_kind, event_times, is_aware, to_ns
from jupyter_mlops.hashing import hash_bytes

ENTITY_FRAME = "the entity frame"


@dataclasses.dataclass(frozen=True, eq=False)
class TrainingSet:
    """A point-in-time correct training set and what it was built from.

    ``frame`` is the entity frame (its index and columns as given) with one column per
    requested feature. ``digest`` names it in the lineage graph (``training_set:<digest>``):
    the same entity frame and the same view versions give the same digest.
    ``client.features.log_training_set(ts, run_id)`` records it as the run's dataset.
    """

    frame: Any
    digest: str
    entity_digest: str
    features: tuple[str, ...]  # resolved references: "view@version:feature"
    views: tuple[tuple[int, str], ...]  # (view version id, "name@version")
    timestamp: str

    def to_pandas(self):
        return self.frame

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"TrainingSet({len(self.frame)} rows, features={list(self.features)}, "
                f"digest={self.digest[:12]})")


def build_training_set(store, entity_df: Any, features: Any, *, timestamp: str | None = None,
                       full_names: bool = False) -> TrainingSet:
    """Join ``entity_df`` point-in-time to ``features`` (see :mod:`.join` for the rules).

    Raises
    ------
    InvalidInputError
        Not a DataFrame; an unknown entity or timestamp column; bad or mixed times; a key
        dtype that differs from the view's; an output column that already exists.
    NotFoundError
        An unknown view or version, or a feature the view does not have.
    """
    import pandas as pd

    if not isinstance(entity_df, pd.DataFrame):
        raise InvalidInputError(
            f"The entity frame must be a pandas DataFrame with the entity and timestamp "
            f"columns, not {type(entity_df).__name__}.")
    refs = parse_refs(features)
    groups: dict[tuple[str, int | None], list[FeatureRef]] = {}
    for r in refs:
        groups.setdefault((r.view, r.version), []).append(r)
    # A SQLite file's views are read through sqlite3: the first training set of a notebook
    # then does not wait for SQLAlchemy and the ORM (lineage is written the same way).
    from jupyter_mlops.store.features_lite import feature_reader

    reader = feature_reader(store.url, lambda: store.features)
    views = {key: reader.get_view(*key) for key in groups}
    for key, rs in groups.items():
        for r in rs:
            _check_feature(views[key], r)
    ts_col = timestamp if timestamp is not None else next(iter(views.values())).timestamp_column
    if not isinstance(ts_col, str):
        raise InvalidInputError(f"timestamp must be a column name, not {ts_col!r}.")
    check_columns(entity_df, (ts_col,), "timestamp", ENTITY_FRAME + (
        "" if timestamp is not None else "; pass timestamp='COLUMN' to name another"))
    times = event_times(entity_df[ts_col], ts_col, ENTITY_FRAME)
    event_ns = to_ns(times)
    names = [_out_name(r, full_names) for r in refs]
    taken = set(map(str, entity_df.columns))
    for n in names:
        if n in taken or names.count(n) > 1:
            raise InvalidInputError(
                f"The training set would have two columns named {n!r}: pass full_names=True "
                "(columns 'view__feature') or rename the entity frame's column.")
    columns: dict[str, Any] = {}
    used_keys: list[str] = []
    for key, rs in groups.items():
        view = views[key]
        check_same_kind(_aware(view), view.timestamp_column, view.name, is_aware(times), ts_col)
        check_columns(entity_df, view.entity, "entity", ENTITY_FRAME)
        keys = entity_keys(entity_df.reset_index(drop=True), view.entity, ENTITY_FRAME)
        for c in view.entity:
            want = "integer" if view.schema.get(c, "").startswith("int") else "string"
            if key_kind(keys[c]) != want:
                raise InvalidInputError(
                    f"Entity column {c!r} of the entity frame holds {key_kind(keys[c])}s but "
                    f"feature view {view.name!r} keys are {want}s: convert it with "
                    f"df[{c!r}].astype({'int64' if want == 'integer' else 'str'!r}).")
        feats = [r.feature for r in rs]
        ttl_ns = None if view.ttl_seconds is None else int(view.ttl_seconds * 1e9)
        if needs_out_of_core(view, len(feats), len(entity_df)):  # past the memory budget
            joined = asof_join_duckdb(store.blobs, view, keys, times, feats, ttl_ns)
        else:
            data, order = read_join_table(store.blobs, view.blob_digest,
                                          [*view.entity, view.timestamp_column, *feats],
                                          view.entity)
            joined = asof_join(keys, times, data, view.timestamp_column, view.entity, feats,
                               ttl_ns, key_order=order)
        for r in rs:
            columns[_out_name(r, full_names)] = joined[r.feature]
        used_keys.extend(c for c in view.entity if c not in used_keys)
    # A shallow copy (copy-on-write keeps the caller's frame intact) plus the new columns.
    out = entity_df.copy(deep=False)
    for name in names:
        out[name] = columns[name]
    entity_digest = _content_digest(
        pd.DataFrame({**{c: entity_df[c].to_numpy() for c in used_keys}, ts_col: event_ns}),
        {"keys": ",".join(used_keys), "timestamp": ts_col})
    resolved = tuple(f"{views[(r.view, r.version)].ref}:{r.feature}" for r in refs)
    view_refs = tuple((v.id, v.ref) for v in views.values())
    digest = hash_bytes(json.dumps({"entity": entity_digest, "features": resolved,
                                    "views": [v.digest for v in views.values()],
                                    "full_names": full_names}).encode())
    for view in views.values():
        store.lineage.add_edge("feature_view", str(view.id), "training_set", digest, "joined")
    return TrainingSet(out, digest, entity_digest, resolved, view_refs, ts_col)


def _check_feature(view, ref: FeatureRef) -> None:
    from jupyter_mlops.errors import NotFoundError

    if ref.feature not in view.features:
        raise NotFoundError(
            f"Feature {ref.feature!r} is not in feature view {view.ref} (its features: "
            f"{', '.join(map(repr, view.features))}). If an older version had it, pin that "
            f"version: '{view.name}@N:{ref.feature}'.")


def _aware(view) -> bool:
    return "UTC" in view.schema.get(view.timestamp_column, "")


def _out_name(ref: FeatureRef, full_names: bool) -> str:
    return f"{ref.view}__{ref.feature}" if full_names else ref.feature
