"""The online table: materialize a view's latest values per entity, look them up by key.

Online answers are the point-in-time rule of :mod:`.join` applied at "now": the entity's
latest row, unless it is older than the view's TTL. Values are stored as one JSON list per
entity in the view's feature order, written with Python's float repr (exact round trip, NaN
and infinities included) and times as integer nanoseconds, so what the online table returns
is exactly the value a training set got from the offline rows.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.feature_store.refs import FeatureRef, parse_refs

# numpy, pandas and the offline reader are imported where used: a lookup needs none of them,
# and a fresh process's first lookup would pay their import (issue 16).

#: Online rows per transaction: a killed materialize loses at most one batch of work.
BATCH_ROWS = 20_000
MAX_KEYS = 100_000


@dataclasses.dataclass(frozen=True)
class MaterializeReport:
    view: str  # "name@version"
    rows_written: int  # online rows upserted (one per entity with new data)
    batches: int
    watermark_ns: int | None

    def __str__(self) -> str:
        return f"{self.view}: {self.rows_written} entities written in {self.batches} batch(es)"


def encode_key(values: Sequence[Any]) -> str:
    """The online table's key of one entity: a JSON list of its key values.

    The same text as ``json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)``
    (a test checks it), with integers written directly: a lookup encodes every key it gets.
    """
    return "[" + ",".join(str(v) if type(v) is int else _dumps(v) for v in values) + "]"


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def materialize(store, view, start: Any = None, end: Any = None, *,
                batch_rows: int = BATCH_ROWS,
                on_progress: Callable[[int, int], None] | None = None) -> MaterializeReport:
    """Write the latest values of ``view`` (a version record) per entity to the online table.

    Incremental: without ``start`` only rows newer than the watermark are read. Rows are
    written in batches of at most ``batch_rows`` entities, oldest event first, each batch
    committed together with the watermark after it; an online row is only ever replaced by a
    newer event. A run killed half-way therefore resumes where it stopped, and the online
    table ends up the same as after an uninterrupted run.

    ``start``/``end`` (datetimes or ISO strings, inclusive) limit the event times read. The
    watermark only advances when the run began at or before it (``start`` None or not later
    than the watermark), so a window far ahead never hides the rows before it.
    """
    import numpy as np

    from jupyter_mlops.feature_store.offline import read_offline
    from jupyter_mlops.feature_store.timestamps import to_ns, to_timestamp_ns

    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise InvalidInputError(f"batch_rows must be a positive integer, not {batch_rows!r}.")
    lo = None if start is None else to_timestamp_ns(start, "start")
    hi = None if end is None else to_timestamp_ns(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInputError(f"start ({start}) is after end ({end}).")
    done = store.features.materialization(view.id)
    mark = None if done is None else done.watermark_ns
    if lo is None:
        advance = True
    elif mark is not None:
        advance = lo <= mark + 1
    else:
        advance = view.min_event_ns is None or lo <= view.min_event_ns
    frame = read_offline(store.blobs, view.blob_digest,
                         [*view.entity, view.timestamp_column, *view.features])
    ns = to_ns(frame[view.timestamp_column])
    keep = np.ones(len(ns), dtype=bool)
    if lo is not None:
        keep &= ns >= lo
    elif mark is not None:
        keep &= ns > mark
    if hi is not None:
        keep &= ns <= hi
    frame, ns = frame[keep], ns[keep]
    # Rows are sorted by time: the last row of each key is its latest.
    last = ~frame.duplicated(list(view.entity), keep="last").to_numpy()
    latest, latest_ns = frame[last], ns[last]
    keys = _keys(latest, view.entity)
    values = _values(latest, view)
    total, written, batches, i = len(latest), 0, 0, 0
    while i < total or batches == 0:
        j = min(i + batch_rows, total)
        while 0 < j < total and latest_ns[j] == latest_ns[j - 1]:
            j += 1  # never split one instant: resuming reads strictly after the watermark
        rows = [(keys[k], int(latest_ns[k]), values[k]) for k in range(i, j)]
        watermark = int(latest_ns[j - 1]) if advance and j > i else None
        store.features.write_online(view.id, rows, watermark, len(rows))
        written += len(rows)
        batches += 1
        i = j
        if on_progress is not None:
            on_progress(written, total)
    final = store.features.materialization(view.id)
    # Lineage: the view version feeds its online table ("name@N online" in the graph); one
    # edge however often it is materialized.
    store.lineage.add_edge("feature_view", str(view.id), "materialization", str(view.id),
                           "materialized")
    return MaterializeReport(view.ref, written, batches, final.watermark_ns if final else None)


def _keys(frame, entity: tuple[str, ...]) -> list[str]:
    cols = [frame[c].tolist() for c in entity]
    return [encode_key(k) for k in zip(*cols)]


def _values(frame, view) -> list[str]:
    cols = []
    for f in view.features:
        s = frame[f]
        if s.dtype.kind == "M" or "datetime64" in str(s.dtype):
            # Times as integer ns since the epoch (UTC when aware); NaT as null.
            raw = to_ns_nullable(s)
            cols.append(raw)
        else:
            cols.append([None if _missing(v) else v for v in s.tolist()])
    return [json.dumps(row, separators=(",", ":"), ensure_ascii=False)
            for row in zip(*cols)] if cols else ["[]"] * len(frame)


def to_ns_nullable(series) -> list[int | None]:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    na = series.isna().to_numpy()
    raw = series.to_numpy(dtype="datetime64[ns]").view("int64").tolist()
    return [None if m else v for v, m in zip(raw, na)]


def _missing(v: Any) -> bool:
    # pandas' missing markers (NA, NaT, None) become null; float NaN stays NaN (exact).
    if v is None:
        return True
    try:
        import pandas as pd

        return v is pd.NA or v is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def online_features(store, entity_rows: Any, features: Any, *, full_names: bool = False,
                    now_ns: int | None = None, reader: Any = None) -> dict[str, list]:
    """Latest materialized values for each entity row, as ``{column: [values…]}``.

    ``entity_rows`` is a list of ``{entity column: key}`` mappings, a mapping of entity
    column to a list of keys, a DataFrame, or (when every requested view has one entity
    column) a plain list of keys. The answer has the entity columns, then one list per
    feature, aligned with the rows; a key that is not materialized, or whose latest value is
    older than the view's TTL, gets None.

    Raises
    ------
    NotFoundError
        An unknown view or feature, or a view version that is not materialized.
    InvalidInputError
        A missing entity column, or keys of the wrong type for the view.

    ``reader`` reads views, online rows and materializations (default: ``store.features``;
    the client passes a stdlib-``sqlite3`` one for a SQLite file, with the same answers).
    """
    db = store.features if reader is None else reader
    refs = parse_refs(features)
    groups: dict[tuple[str, int | None], list[FeatureRef]] = {}
    for r in refs:
        groups.setdefault((r.view, r.version), []).append(r)
    views = {k: db.get_view(*k) for k in groups}
    columns = _entity_columns(entity_rows, views.values())
    n = len(next(iter(columns.values())))
    out: dict[str, list] = {c: list(v) for c, v in columns.items()}
    now = time.time_ns() if now_ns is None else now_ns
    for key, rs in groups.items():
        view = views[key]
        for r in rs:
            if r.feature not in view.features:
                raise NotFoundError(
                    f"Feature {r.feature!r} is not in feature view {view.ref} (its features: "
                    f"{', '.join(map(repr, view.features))}).")
        keys = _encoded_keys([_typed_keys(columns, c, view) for c in view.entity])
        found = db.online_values(view.id, keys)
        # Found rows prove the version is materialized: only an empty answer needs the check
        # (one query fewer on a model server's hot path).
        if not found and db.materialization(view.id) is None:
            raise NotFoundError(
                f"Feature view {view.ref} is not materialized: run "
                f"`mlops.features.materialize({view.name!r})` first (online values are never "
                "taken from another version).")
        ttl_ns = None if view.ttl_seconds is None else view.ttl_seconds * 1e9
        index = [view.features.index(r.feature) for r in rs]
        decoders = [_decoder(view, r.feature) for r in rs]
        cols: list[list] = [[None] * n for _ in rs]
        hits = list(map(found.get, keys))
        positions = [row for row, hit in enumerate(hits) if hit is not None
                     and (ttl_ns is None or now - hit[0] <= ttl_ns)]
        # One parse for all hits: the JSON module's C scanner once, not once per key.
        decoded = json.loads("[" + ",".join([hits[row][1] for row in positions]) + "]"
                             ) if positions else []
        for col, ix, dec in zip(cols, index, decoders):  # column by column: no inner ifs
            if dec is None:
                for row, vals in zip(positions, decoded):
                    col[row] = vals[ix]
            else:
                for row, vals in zip(positions, decoded):
                    v = vals[ix]
                    col[row] = None if v is None else dec(v)
        for r, col in zip(rs, cols):
            out[f"{r.view}__{r.feature}" if full_names else r.feature] = col
    return out


def _decoder(view, feature: str):
    dtype = view.schema.get(feature, "")
    if "datetime64" not in dtype:
        return None
    import pandas as pd

    tz = "UTC" if "UTC" in dtype else None
    return lambda v: pd.Timestamp(v, unit="ns", tz=tz)


def _entity_columns(rows: Any, views) -> dict[str, list]:
    import sys

    pd = sys.modules.get("pandas")  # rows cannot be a DataFrame if pandas was never imported
    needed: list[str] = []
    for v in views:
        needed.extend(c for c in v.entity if c not in needed)
    if pd is not None and isinstance(rows, pd.DataFrame):
        cols = {c: rows[c].tolist() for c in needed if c in rows.columns}
    elif isinstance(rows, Mapping):
        cols = {c: list(rows[c]) for c in needed if c in rows}
    elif isinstance(rows, (list, tuple)):
        # Mapping or not, decided per distinct type: isinstance against the Mapping ABC for
        # each of 1,000 keys cost more than a third of a warm lookup.
        mapping = [t is dict or issubclass(t, Mapping) for t in {type(r) for r in rows}]
        if mapping and all(mapping):
            cols = {c: [r.get(c) for r in rows] for c in needed
                    if all(c in r for r in rows)}
        elif len(needed) == 1 and not any(mapping):
            cols = {needed[0]: list(rows)}
        elif not rows:
            cols = {c: [] for c in needed}
        else:
            raise InvalidInputError(
                f"Give entity rows as mappings of {needed} to keys (a plain list of keys only "
                "works when every view has a single entity column).")
    else:
        raise InvalidInputError(
            f"entity rows must be a list of mappings, a mapping of columns to lists or a "
            f"DataFrame, not {type(rows).__name__}.")
    missing = [c for c in needed if c not in cols]
    if missing:
        raise InvalidInputError(
            f"Unknown entity column {missing[0]!r}: every entity row needs "
            f"{', '.join(map(repr, needed))}.")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise InvalidInputError("The entity columns have different lengths.")
    if lengths and max(lengths) > MAX_KEYS:
        raise InvalidInputError(f"At most {MAX_KEYS} entity rows per online lookup.")
    return cols


def _encoded_keys(columns: list[list]) -> list[str]:
    """The online table's key of each row (:func:`encode_key`), one entity column fast."""
    if len(columns) == 1 and all(type(v) is int for v in columns[0]):
        return [f"[{v}]" for v in columns[0]]  # what encode_key writes for one integer
    return [encode_key(k) for k in zip(*columns)]


def _typed_keys(columns: Mapping[str, list], col: str, view) -> list:
    want_int = view.schema.get(col, "").startswith("int")
    values = columns[col]
    # The common case, checked by type in one pass: a model server looks up plain ints or
    # strings, and checking each key's type below costs more than the lookup's SQL.
    plain = int if want_int else str
    if all(type(v) is plain for v in values):
        return values
    import numpy as np

    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or v is None:
            ok = False
        elif want_int:
            ok = isinstance(v, (int, np.integer))
            v = int(v) if ok else v
        else:
            ok = isinstance(v, str)
        if not ok:
            raise InvalidInputError(
                f"Entity column {col!r}: feature view {view.name!r} keys are "
                f"{'integers' if want_int else 'strings'}, got {v!r}.")
        out.append(v)
    return out


__all__ = ["MaterializeReport", "materialize", "online_features", "encode_key"]
