"""The point-in-time join for a view too big for memory: DuckDB's ``ASOF JOIN``, spilling to disk.

The in-memory join (:mod:`.join`: packed key/position arrays and ``searchsorted``) reads the
view's key, time and feature columns whole and needs roughly three copies of what it joins.
When that estimate passes the memory budget, the same rules (latest row at or before the
entity time, within the TTL, never a later one) run in DuckDB instead: it reads the view's
Parquet blob in streaming fashion, keeps at most ``memory_limit`` in memory and spills the
rest to a temporary folder. We use an
existing engine rather than writing an external sort-merge ourselves.

The budget is ``MLOPS_FEATURES_MEMORY_MB`` (default: 4096 MB, or half the machine's memory if
that is less; 0 sends every join through DuckDB). DuckDB is an optional dependency:
``pip install "jupyter-mlops[features]"``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

import numpy as np

from jupyter_mlops.extras import require
from jupyter_mlops.validation import parse_int

MEMORY_ENV = "MLOPS_FEATURES_MEMORY_MB"
DEFAULT_MEMORY_MB = 4096
#: The in-memory join holds the view's columns about three times (read, packed keys and
#: their order, result).
_COPIES = 3


def memory_budget_bytes() -> int:
    """The feature join's memory budget in bytes (``MLOPS_FEATURES_MEMORY_MB``)."""
    text = os.environ.get(MEMORY_ENV)
    if text:
        return parse_int(text, MEMORY_ENV, 0, 1 << 40) << 20
    try:
        half = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # not every platform says
        half = DEFAULT_MEMORY_MB << 20
    return min(DEFAULT_MEMORY_MB << 20, half)


def needs_out_of_core(view, n_features: int, entity_rows: int) -> bool:
    """Whether joining ``n_features`` of ``view`` in pandas would pass the memory budget."""
    columns = len(view.entity) + 1 + n_features
    estimate = _COPIES * 8 * (view.rows * columns + entity_rows * (columns + 2))
    return estimate > memory_budget_bytes()


def asof_join_duckdb(blobs, view, keys: Mapping[str, object], times, features: list[str],
                     ttl_ns: int | None) -> dict:
    """Like :func:`.join.asof_join`, on the verified Parquet blob of ``view`` through DuckDB.

    Returns ``{feature: array}`` in the entity rows' order; a missing value is NaN (numbers),
    NaT (times) or None (text), as pandas' join gives.
    """
    require("duckdb", extra="features", feature="Joining a feature view bigger than memory")
    import duckdb
    import pandas as pd

    if not blobs.verify(view.blob_digest):  # a damaged file is an error, not wrong features
        from jupyter_mlops.errors import CorruptArtifactError

        raise CorruptArtifactError(
            f"The rows of feature view {view.ref} (blob {view.blob_digest[:12]}) do not match "
            "their digest: register the view again from its source.")
    entity = list(view.entity)
    left = pd.DataFrame({f"k{i}": np.asarray(keys[c]) for i, c in enumerate(entity)})
    left["t"] = times.reset_index(drop=True)
    left["row"] = np.arange(len(left), dtype=np.int64)
    budget_mb = max(64, memory_budget_bytes() >> 20)
    with tempfile.TemporaryDirectory(prefix="mlops-features-") as spill:
        path = _local_parquet(blobs, view.blob_digest, spill)
        con = duckdb.connect(config={"memory_limit": f"{budget_mb}MB",
                                     "temp_directory": spill,
                                     "preserve_insertion_order": False})
        try:
            con.register("entity_rows", left)
            on = " AND ".join(f'e.k{i} = f."{_q(c)}"' for i, c in enumerate(entity))
            cols = ", ".join(f'f."{_q(c)}" AS "v{j}"' for j, c in enumerate(features))
            sql = (f'SELECT e.row, e.t, f."{_q(view.timestamp_column)}" AS ft, {cols} '
                   f"FROM entity_rows e ASOF LEFT JOIN read_parquet(?) f "
                   f'ON {on} AND e.t >= f."{_q(view.timestamp_column)}" ORDER BY e.row')
            out = con.execute(sql, [path]).df()
        finally:
            con.close()
    stale = out["ft"].isna().to_numpy(copy=True)
    if ttl_ns is not None:
        age = _utc_ns(out["t"]) - _utc_ns(out["ft"])
        stale |= age > ttl_ns
    result = {}
    for j, f in enumerate(features):
        col = out[f"v{j}"]
        if stale.any():
            col = col.mask(stale)  # ints become float with NaN, as merge_asof gives
        result[f] = _like_pandas(col, view.schema.get(f, ""))
    return result


def _like_pandas(col, stored_dtype: str):
    """DuckDB's column as the dtype the in-memory join gives for the same values."""
    if col.dtype.kind == "M" or "datetime64" in stored_dtype:
        return col.to_numpy() if "UTC" not in stored_dtype else col.array
    if stored_dtype.startswith(("int", "uint")) and col.isna().any():
        return col.astype("float64").to_numpy()
    if stored_dtype.startswith(("int", "uint", "float", "bool")):
        return col.to_numpy(dtype=stored_dtype) if not col.isna().any() \
            else col.astype("float64").to_numpy()
    return col.astype("str").to_numpy()  # pandas' text dtype: a gap is NaN, as in memory


def _utc_ns(series) -> np.ndarray:
    """Times as int64 ns since the epoch, UTC (DuckDB may answer in µs, aware or naive)."""
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.to_numpy().astype("datetime64[ns]").view("int64")


def _local_parquet(blobs, digest: str, spill: str) -> str:
    try:
        return blobs.path_of(digest)
    except Exception:  # noqa: BLE001 - a remote artifact root: copy the blob next to the spill
        dest = os.path.join(spill, "view.parquet")
        blobs.copy_to(digest, dest)
        return dest


def _q(name: str) -> str:
    """A column name inside double quotes (a quote in it is doubled)."""
    return name.replace('"', '""')
