"""Reference profiles: everything drift checks need from the reference data, computed once.

A numeric column keeps its sorted non-missing values (for an exact Kolmogorov–Smirnov test by
binary search instead of re-sorting the reference every window) plus quantile bin edges and
the reference's share per bin (for PSI). A categorical column keeps its category counts. The
profile is saved as one ``.npz`` blob (NumPy arrays plus a JSON header; loading never
unpickles) and cached by the reference data's content hash, so several monitors on the same
dataset version share one profile and reopening a monitor costs one file read.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError

#: Integer columns with at most this many distinct reference values are treated as categories.
MAX_INTEGER_CATEGORIES = 20
#: Quantile bins of the reference used by PSI.
PSI_BINS = 10
#: Column name under which prediction distributions are profiled and reported.
PREDICTION = "@prediction"
PROFILE_FORMAT = 1


@dataclasses.dataclass
class ColumnProfile:
    """One reference column.

    ``kind`` is ``"numeric"`` or ``"categorical"``; ``dtype_kind`` the schema kind (``float``,
    ``integer``, ``string``, …) used by the type-change check.
    """

    name: str
    kind: str
    dtype_kind: str
    rows: int
    missing: int
    sorted_values: np.ndarray | None = None  # numeric: non-missing values, ascending
    edges: np.ndarray | None = None  # numeric: inner PSI bin edges (ascending, unique)
    bin_props: np.ndarray | None = None  # numeric: reference share per PSI bin
    categories: list[str] | None = None  # categorical: labels, most frequent first
    counts: np.ndarray | None = None  # categorical: count per label

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def std(self) -> float:
        v = self.sorted_values
        return float(v.std()) if v is not None and len(v) else float("nan")


def series_kind(series) -> str:
    """The schema kind of a pandas Series (the registry signature's vocabulary)."""
    from jupyter_mlops.registry.signature import _kind_of_series

    return _kind_of_series(series)


def label_strings(values) -> np.ndarray:
    """Category labels as strings, with integral floats written as integers (1.0 → "1")."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        return arr.astype(np.int8).astype(str)
    if arr.dtype.kind == "f":
        if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return arr.astype(np.int64).astype(str)
        return arr.astype(str)
    if arr.dtype.kind in "iu":
        return arr.astype(str)
    return np.array([_label(v) for v in arr.tolist()], dtype=object).astype(str)


def _label(v: Any) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def numeric_edges(sorted_values: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (duplicates removed for tied data)."""
    if len(sorted_values) == 0:
        return np.empty(0)
    q = np.linspace(0, 1, bins + 1)[1:-1]
    idx = np.minimum((q * len(sorted_values)).astype(np.int64), len(sorted_values) - 1)
    edges = np.unique(sorted_values[idx])
    # An edge equal to the maximum would leave the last bin empty by construction.
    return edges[edges < sorted_values[-1]] if len(edges) else edges


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``sorted_values`` in bins ``(-inf, e0], (e0, e1], …, (e_last, inf)``."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], cuts, [len(sorted_values)])))


def _is_categorical(series, kind: str, forced: set[str], numeric: set[str]) -> bool:
    name = str(series.name)
    if name in forced:
        return True
    if name in numeric:
        return False
    if kind in ("float",):
        return False
    if kind == "integer":
        return series.nunique(dropna=True) <= MAX_INTEGER_CATEGORIES
    return True


def profile_column(series, *, categorical: bool | None = None) -> ColumnProfile:
    """Profile one pandas Series."""
    kind = series_kind(series)
    name = str(series.name)
    if categorical is None:
        categorical = _is_categorical(series, kind, set(), set())
    rows = len(series)
    if not categorical:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan) \
            if kind != "boolean" else series.to_numpy(dtype=np.float64)
        sv = np.sort(values)
        finite = len(sv) - int(np.isnan(sv).sum())
        sv = np.ascontiguousarray(sv[:finite])
        edges = numeric_edges(sv)
        counts = bin_counts(sv, edges)
        props = counts / finite if finite else np.zeros(len(counts))
        return ColumnProfile(name, "numeric", kind, rows, rows - finite, sv, edges, props)
    mask = series.notna().to_numpy()
    vc = _value_counts(series.to_numpy()[mask])
    return ColumnProfile(name, "categorical", kind, rows, int(rows - mask.sum()),
                         categories=list(vc[0]), counts=vc[1])


def _value_counts(values) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    labels = label_strings(values) if len(values) else np.array([], dtype=str)
    vc = pd.Series(labels, dtype=object).value_counts(sort=True)
    return [str(x) for x in vc.index], vc.to_numpy(dtype=np.int64)


@dataclasses.dataclass
class ReferenceProfile:
    """The profiled reference: feature columns (in order) and optionally the predictions."""

    rows: int
    columns: dict[str, ColumnProfile]
    prediction: ColumnProfile | None = None
    digest: str | None = None  # content hash of the data it was built from

    @property
    def schema(self) -> dict[str, str]:
        return {n: c.dtype_kind for n, c in self.columns.items()}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_frame(cls, frame, *, predictions: Any = None, categorical: Any = (),
                   numeric: Any = (), exclude: Any = (),
                   digest: str | None = None) -> "ReferenceProfile":
        """Profile every column of ``frame`` (except ``exclude``) and optional predictions.

        Parameters
        ----------
        frame : pandas.DataFrame
        predictions : array-like, optional
            The model's predictions on the reference rows (the prediction-drift baseline).
        categorical, numeric : iterable of str
            Force how columns are treated (default: floats numeric; strings, booleans,
            categories and integers with at most 20 distinct values categorical).
        exclude : iterable of str
            Columns that are not model inputs (ids, the target…).
        """
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(
                f"A reference must be a pandas DataFrame or a registered dataset name; got "
                f"{type(frame).__name__}.")
        if len(frame) == 0:
            raise InvalidInputError("The reference data has no rows.")
        forced, nums, skip = set(map(str, categorical)), set(map(str, numeric)), \
            set(map(str, exclude))
        cols: dict[str, ColumnProfile] = {}
        for name in frame.columns:
            if str(name) in skip:
                continue
            s = frame[name]
            kind = series_kind(s)
            if kind in ("datetime", "object") and str(name) not in forced:
                continue  # timestamps and free-form objects are not drift-checked
            cols[str(name)] = profile_column(
                s.rename(str(name)), categorical=_is_categorical(s.rename(str(name)), kind,
                                                                 forced, nums))
        pred = None
        if predictions is not None:
            pred = profile_predictions(predictions)
        return cls(len(frame), cols, pred, digest)

    # ------------------------------------------------------------------ (de)serialising
    def to_bytes(self) -> bytes:
        header: dict[str, Any] = {"format": PROFILE_FORMAT, "rows": self.rows,
                                  "digest": self.digest, "columns": []}
        arrays: dict[str, np.ndarray] = {}
        entries = list(self.columns.values()) + ([self.prediction] if self.prediction else [])
        for i, c in enumerate(entries):
            meta = {"name": c.name, "kind": c.kind, "dtype_kind": c.dtype_kind, "rows": c.rows,
                    "missing": c.missing, "prediction": c is self.prediction}
            if c.kind == "numeric":
                arrays[f"v{i}"], arrays[f"e{i}"], arrays[f"p{i}"] = \
                    c.sorted_values, c.edges, c.bin_props
            else:
                meta["categories"] = c.categories
                arrays[f"c{i}"] = c.counts
            header["columns"].append(meta)
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ReferenceProfile":
        from jupyter_mlops.archive_limits import check_zip

        check_zip(data, "reference profile")  # a stored blob: bounded before inflating
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            if header.get("format") != PROFILE_FORMAT:
                raise InvalidInputError("This reference profile was written by another "
                                        "version of jupyter-mlops; recreate the monitor.")
            cols: dict[str, ColumnProfile] = {}
            pred = None
            for i, m in enumerate(header["columns"]):
                c = ColumnProfile(m["name"], m["kind"], m["dtype_kind"], m["rows"], m["missing"])
                if c.kind == "numeric":
                    c.sorted_values, c.edges, c.bin_props = npz[f"v{i}"], npz[f"e{i}"], \
                        npz[f"p{i}"]
                else:
                    c.categories, c.counts = list(m["categories"]), npz[f"c{i}"]
                if m.get("prediction"):
                    pred = c
                else:
                    cols[c.name] = c
        return cls(header["rows"], cols, pred, header.get("digest"))


def profile_predictions(predictions: Any) -> ColumnProfile:
    """Profile model outputs: floats as numeric, labels (ints, strings, bools) as categories."""
    import pandas as pd

    arr = np.asarray(predictions)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInputError(f"Predictions must be one value per row; got shape {arr.shape}.")
    s = pd.Series(arr, name=PREDICTION)
    return profile_column(s, categorical=prediction_is_label(arr))


def prediction_is_label(arr: np.ndarray) -> bool:
    """Class labels (ints, bools, strings, integral floats with few values) vs. regression."""
    if arr.dtype.kind in "biuUSO":
        return True
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        return bool(len(finite)) and bool(np.all(finite == np.round(finite))) and \
            len(np.unique(finite)) <= MAX_INTEGER_CATEGORIES
    return False
