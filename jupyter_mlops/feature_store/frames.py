"""A view's rows: read from its source, checked, put in one canonical order, hashed.

The canonical frame has the entity columns, the event-time column and the features, in that
order, sorted by (event time, entity key). Sorting once at registration is what makes every
later point-in-time join a merge of already-sorted data, and it makes the content hash
independent of the order rows arrived in: the same rows are the same version.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.feature_store.timestamps import event_times, is_aware, to_ns
from jupyter_mlops.hashing import hash_array, hash_bytes

#: ``source="table:NAME"`` reads a SQL table through the store's engine.
TABLE_PREFIX = "table:"
TABULAR = (".parquet", ".pq", ".csv")


@dataclasses.dataclass(frozen=True)
class ViewFrame:
    """The canonical rows of a view and what is known about them."""

    frame: Any  # pandas.DataFrame, canonical column order and row order
    entity: tuple[str, ...]
    timestamp: str
    features: tuple[str, ...]
    schema: dict[str, str]
    data_digest: str
    entities: int
    min_event_ns: int | None
    max_event_ns: int | None


def read_source(source: Any, read_table) -> tuple[Any, str]:
    """``(DataFrame, description)`` for a DataFrame, a Parquet/CSV file or folder, or a table.

    ``read_table(name)`` reads a SQL table through the store (the component never holds an
    engine).
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source, "DataFrame"
    if isinstance(source, str) and source.startswith(TABLE_PREFIX):
        name = source[len(TABLE_PREFIX):]
        return read_table(name), source
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            raise NotFoundError(
                f"No file or folder at {str(source)!r}: give a Parquet or CSV file or folder, "
                f"a pandas DataFrame, or '{TABLE_PREFIX}NAME' for a SQL table in the store.")
        return _read_path(path), str(path.resolve())
    raise InvalidInputError(
        f"A feature view's source must be a pandas DataFrame, a Parquet/CSV path or "
        f"'{TABLE_PREFIX}NAME', not {type(source).__name__}.")


def _read_path(path: Path):
    import pandas as pd

    from jupyter_mlops.extras import require

    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TABULAR
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise InvalidInputError(f"{str(path)!r} holds no .parquet or .csv files.")
    kinds = {p.suffix.lower() in (".parquet", ".pq") for p in files}
    if len(kinds) > 1:
        raise InvalidInputError(
            f"{str(path)!r} mixes Parquet and CSV files: keep one format per view's folder.")
    bad = [p for p in files if p.suffix.lower() not in TABULAR]
    if bad:
        raise InvalidInputError(
            f"{str(bad[0])!r} is neither Parquet nor CSV: convert it to one of them.")
    if kinds == {True}:
        require("pyarrow", extra="parquet", feature="Reading a Parquet feature source")
        parts = [pd.read_parquet(p) for p in files]
    else:
        parts = [pd.read_csv(p) for p in files]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def as_names(value: Any, what: str) -> tuple[str, ...]:
    """One column name or a list of them, as a tuple of distinct non-empty strings."""
    names = (value,) if isinstance(value, str) else tuple(value) if value is not None else ()
    if not names or any(not isinstance(n, str) or not n or not n.isprintable()
                        or len(n) > 256 for n in names):
        raise InvalidInputError(
            f"{what} must be a column name or a list of column names (printable, at most 256 "
            f"characters), not {value!r}.")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"{what} names a column twice: {list(names)!r}.")
    return names


def check_columns(frame, wanted: tuple[str, ...], role: str, where: str) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        have = ", ".join(map(repr, map(str, list(frame.columns)[:30])))
        raise InvalidInputError(
            f"Unknown {role} column {missing[0]!r} in {where} (its columns: {have}).")


def entity_keys(frame, entity: tuple[str, ...], where: str) -> dict[str, Any]:
    """The entity columns as int64 or str Series; errors name the column."""
    out = {}
    for col in entity:
        s = frame[col]
        if s.isna().any():
            raise InvalidInputError(
                f"Entity column {col!r} of {where} has {int(s.isna().sum())} missing key(s): "
                "every row needs its entity; drop or fill those rows.")
        kind = s.dtype.kind
        if kind in "iu":
            out[col] = s.astype("int64")
        elif kind == "b":
            out[col] = s.astype("int64")
        elif kind in "OSUT" or str(s.dtype) in ("str", "string"):
            values = s.to_numpy(dtype=object)
            if not all(isinstance(v, str) for v in values):
                raise InvalidInputError(
                    f"Entity column {col!r} of {where} mixes strings with other values: make "
                    f"the keys one type (df[{col!r}].astype(str) or .astype('int64')).")
            out[col] = s.astype("str")
        else:
            raise InvalidInputError(
                f"Entity column {col!r} of {where} is {s.dtype}: entity keys must be integers "
                f"or strings (df[{col!r}].astype('int64') or .astype(str)).")
    return out


def key_kind(series) -> str:
    return "integer" if series.dtype.kind == "i" else "string"


def canonical(frame, entity: tuple[str, ...], timestamp: str, features: tuple[str, ...],
              where: str) -> ViewFrame:
    """Check a source frame and return its canonical, hashed form.

    Raises
    ------
    InvalidInputError
        A missing entity, timestamp or feature column; a feature that is also the entity or
        timestamp; bad times; or two rows with the same key at the same time.
    """
    import pandas as pd

    check_columns(frame, entity, "entity", where)
    check_columns(frame, (timestamp,), "timestamp", where)
    check_columns(frame, features, "feature", where)
    clash = (set(entity) | {timestamp}) & set(features)
    if clash or timestamp in entity:
        raise InvalidInputError(
            f"Column {sorted(clash or {timestamp})[0]!r} of {where} is used twice: entity, "
            "timestamp and feature columns must be different columns.")
    # A fresh RangeIndex (lazy under copy-on-write): columns align by position, and a source
    # with a duplicated index cannot misalign them.
    frame = frame.reset_index(drop=True)
    keys = entity_keys(frame, entity, where)
    times = event_times(frame[timestamp], timestamp, where)
    out = pd.DataFrame({**keys, timestamp: times})
    for f in features:
        out[f] = _feature_column(frame[f], f, where)
    order = [timestamp, *entity]
    out = out.sort_values(order, kind="stable", ignore_index=True)
    dup = out.duplicated(order, keep=False)
    if dup.any():
        first = out.loc[dup.to_numpy().argmax()]
        key = ", ".join(f"{c}={_plain(first[c])!r}" for c in entity)
        raise InvalidInputError(
            f"{int(dup.sum())} rows of {where} share an entity key and a time in "
            f"{timestamp!r} (e.g. {key} at {first[timestamp]}): a point-in-time join could "
            "not choose between them; keep one row per key and time.")
    ns = to_ns(out[timestamp])
    schema = {c: str(out[c].dtype) for c in out.columns}
    digest = _content_digest(out, schema)
    n_entities = int(len(out.drop_duplicates(list(entity)))) if len(entity) > 1 \
        else int(out[entity[0]].nunique())
    return ViewFrame(out, entity, timestamp, features, schema, digest, n_entities,
                     int(ns.min()) if len(ns) else None, int(ns.max()) if len(ns) else None)


def _plain(value):
    """A numpy scalar as the Python value it holds (messages show 1, not np.int64(1))."""
    return value.item() if hasattr(value, "item") else value


def _feature_column(col, name: str, where: str):
    """Numbers, booleans, times and strings pass as they are; other objects are refused."""
    import pandas as pd

    if col.dtype.kind != "O" or isinstance(col.dtype, pd.StringDtype):
        return col
    values = col.to_numpy(dtype=object)
    if all(v is None or isinstance(v, str) or (isinstance(v, float) and v != v)
           for v in values):
        return col.astype("str")
    raise InvalidInputError(
        f"Feature column {name!r} of {where} holds mixed Python objects: keep one type of "
        f"numbers, booleans, strings or times per feature column (df[{name!r}].astype(...)).")


def _content_digest(frame, schema: dict[str, str]) -> str:
    """Hash of the canonical rows: column names, dtypes and values, column by column."""
    import pandas as pd

    parts = [json.dumps(schema, sort_keys=False).encode()]
    for c in frame.columns:
        col = frame[c]
        if col.dtype.kind in "biufM" and not isinstance(col.dtype, pd.DatetimeTZDtype):
            parts.append(hash_array(col.to_numpy()).encode())
        else:  # strings, tz-aware times, nullable types: pandas' stable per-value hash
            parts.append(hash_array(pd.util.hash_pandas_object(
                col, index=False).to_numpy()).encode())
    return hash_bytes(b"\n".join(parts))


def definition_digest(data_digest: str, entity, timestamp: str, features,
                      ttl_seconds: float | None) -> str:
    """What makes a version: the data and how it is read (the description does not)."""
    return hash_bytes(json.dumps(
        {"data": data_digest, "entity": list(entity), "timestamp": timestamp,
         "features": list(features), "ttl_seconds": ttl_seconds}, sort_keys=True).encode())


def timestamps_aware(view_schema: dict[str, str], timestamp: str) -> bool:
    return "UTC" in view_schema.get(timestamp, "")


__all__ = ["ViewFrame", "read_source", "canonical", "as_names", "check_columns",
           "entity_keys", "definition_digest", "is_aware"]
