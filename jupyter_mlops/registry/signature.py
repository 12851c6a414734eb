"""Model signatures: the input columns and dtypes a model expects, inferred and enforced.

A signature is inferred from training data or an input example (a pandas DataFrame, a dict of
columns or a NumPy array) and stored as JSON on the model version. :meth:`Signature.enforce`
checks what reaches ``predict`` through the registry: a missing column or a column of the
wrong kind raises :class:`InvalidInputError` naming it; extra columns are dropped and the rest
put in the trained order. Integers are accepted where floats were trained (a safe widening),
never the other way round.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from jupyter_mlops.errors import InvalidInputError, SignatureTypeError

#: Kinds a column can have, from pandas/NumPy dtypes.
KINDS = ("boolean", "integer", "float", "string", "datetime", "category", "object")
#: Which input kinds each expected kind accepts.
_ACCEPTS = {
    "boolean": {"boolean"},
    "integer": {"integer"},
    "float": {"float", "integer"},
    "string": {"string", "category"},
    "category": {"category", "string"},
    "datetime": {"datetime"},
    "object": set(KINDS),
}
EXAMPLE_ROWS = 5
_SIGNATURE_KEYS = {"type", "columns", "kind", "dtype", "shape"}


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str
    dtype: str  # the exact dtype seen at inference, for display


@dataclasses.dataclass(frozen=True)
class Signature:
    """Expected model input: named, typed columns (``dataframe``) or an array (``ndarray``)."""

    type: str  # "dataframe" or "ndarray"
    columns: tuple[ColumnSpec, ...] = ()
    #: ndarray only: the kind/dtype of the elements and the shape after the batch axis.
    kind: str | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        if self.type == "dataframe":
            return {"type": "dataframe", "columns": [dataclasses.asdict(c) for c in self.columns]}
        return {"type": "ndarray", "kind": self.kind, "dtype": self.dtype,
                "shape": list(self.shape or ())}

    @classmethod
    def from_dict(cls, data: dict) -> "Signature":
        try:
            if data["type"] == "dataframe":
                cols = tuple(ColumnSpec(str(c["name"]), str(c["kind"]), str(c.get("dtype", "")))
                             for c in data["columns"])
                bad = [c.kind for c in cols if c.kind not in KINDS]
                if bad:
                    raise ValueError(f"unknown kind(s) {bad}")
                return cls("dataframe", cols)
            if data["type"] == "ndarray":
                return cls("ndarray", (), str(data["kind"]), str(data.get("dtype", "")),
                           tuple(int(n) for n in data.get("shape", ())))
            raise ValueError(f"unknown type {data['type']!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"Not a model signature: {exc}. Pass a DataFrame or array to infer one, or a "
                "dict like {'type': 'dataframe', 'columns': [{'name': 'x', 'kind': 'float'}]}."
            ) from exc

    # ------------------------------------------------------------------ checking
    def enforce(self, data: Any) -> Any:
        """Return ``data`` checked against the signature (columns reordered, extras dropped).

        Raises
        ------
        InvalidInputError
            A column is missing, a column has the wrong kind, or an array has the wrong
            shape or element kind.
        """
        return _enforce_frame(self, data) if self.type == "dataframe" else \
            _enforce_array(self, data)

    def describe(self) -> list[tuple[str, str]]:
        """(name, type) rows for tables and model cards."""
        if self.type == "dataframe":
            return [(c.name, c.dtype or c.kind) for c in self.columns]
        shape = ", ".join(str(n) for n in (self.shape or ()))
        return [("(array)", f"{self.dtype or self.kind}[batch, {shape}]" if shape else
                 f"{self.dtype or self.kind}[batch]")]


def _kind_of_series(series) -> str:
    import pandas as pd
    from pandas.api import types as t

    dtype = series.dtype
    if t.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if t.is_integer_dtype(dtype):
        return "integer"
    if t.is_float_dtype(dtype):
        return "float"
    if t.is_datetime64_any_dtype(dtype):
        return "datetime"
    if t.is_string_dtype(dtype):
        if dtype == object:
            inferred = pd.api.types.infer_dtype(series, skipna=True)
            return "string" if inferred in ("string", "empty") else "object"
        return "string"
    return "object"


def _kind_of_numpy(dtype) -> str:
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "float", "U": "string",
            "S": "string", "M": "datetime"}.get(dtype.kind, "object")


def _as_frame(data: Any):
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        try:
            return pd.DataFrame(data)
        except ValueError:  # a single row of scalars
            return pd.DataFrame([data])
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame(data)
    return None


def infer_signature(data: Any) -> Signature:
    """Infer a signature from a DataFrame, a dict of columns, a list of records or an array."""
    frame = _as_frame(data)
    if frame is not None:
        if len(set(map(str, frame.columns))) != len(frame.columns):
            raise InvalidInputError("Cannot infer a signature: column names repeat.")
        return Signature("dataframe", tuple(
            ColumnSpec(str(name), _kind_of_series(frame[name]), str(frame[name].dtype))
            for name in frame.columns))
    import numpy as np

    if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        arr = np.asarray(data)
        if arr.ndim == 0:
            raise InvalidInputError("Cannot infer a signature from a scalar; pass a batch.")
        return Signature("ndarray", (), _kind_of_numpy(arr.dtype), str(arr.dtype),
                         tuple(arr.shape[1:]))
    raise InvalidInputError(
        f"Cannot infer a signature from a {type(data).__name__}: pass a pandas DataFrame, a "
        "dict of columns, a list of records or a NumPy array.")


def to_signature(value: Any) -> Signature | None:
    """Accept a Signature, its dict form, or data to infer one from."""
    if value is None or isinstance(value, Signature):
        return value
    if isinstance(value, dict) and "type" in value and set(value) <= _SIGNATURE_KEYS:
        return Signature.from_dict(value)
    return infer_signature(value)


def _enforce_frame(sig: Signature, data: Any):
    frame = _as_frame(data)
    if frame is None:
        import numpy as np

        arr = np.asarray(data)
        if arr.ndim == 2 and arr.shape[1] == len(sig.columns):
            import pandas as pd

            frame = pd.DataFrame(arr, columns=[c.name for c in sig.columns])
        else:
            raise InvalidInputError(
                f"The model expects a table with columns {[c.name for c in sig.columns]}; got "
                f"a {type(data).__name__}" + (f" of shape {arr.shape}." if arr.ndim else "."))
    by_name = {str(c): c for c in frame.columns}
    missing = [c.name for c in sig.columns if c.name not in by_name]
    if missing:
        have = list(by_name)
        shown = ", ".join(map(repr, have[:8])) + (f" and {len(have) - 8} more"
                                                   if len(have) > 8 else "")
        raise InvalidInputError(
            f"Input is missing column(s) {', '.join(map(repr, missing))} that the model "
            f"was trained with; it has {shown or 'no columns'}.")
    wrong = []
    for spec in sig.columns:
        got = _kind_of_series(frame[by_name[spec.name]])
        if got not in _ACCEPTS[spec.kind]:
            wrong.append(f"{spec.name!r} should be {spec.kind} ({spec.dtype}) but is {got} "
                         f"({frame[by_name[spec.name]].dtype})")
    if wrong:
        raise SignatureTypeError("Input column(s) of the wrong type: " + "; ".join(wrong) + ".")
    cols = [by_name[c.name] for c in sig.columns]
    return frame if list(frame.columns) == cols else frame[cols]


def _enforce_array(sig: Signature, data: Any):
    import numpy as np

    frame = _as_frame(data)
    arr = frame.to_numpy() if frame is not None else np.asarray(data)
    want = tuple(sig.shape or ())
    if arr.ndim != len(want) + 1 or tuple(arr.shape[1:]) != want:
        raise InvalidInputError(
            f"The model expects arrays shaped (batch, {', '.join(map(str, want))}); got shape "
            f"{arr.shape}.")
    got = _kind_of_numpy(arr.dtype)
    if got not in _ACCEPTS.get(sig.kind or "object", set(KINDS)):
        raise SignatureTypeError(
            f"The model expects {sig.kind} values ({sig.dtype}); got {got} ({arr.dtype}).")
    return arr


# ---------------------------------------------------------------------- input examples
def example_to_json(example: Any) -> dict:
    """A JSON-safe copy of the first rows of an input example."""
    frame = _as_frame(example)
    if frame is not None:
        head = frame.head(EXAMPLE_ROWS)
        return {"type": "dataframe", "columns": [str(c) for c in head.columns],
                "data": json.loads(head.to_json(orient="values", date_format="iso"))}
    import numpy as np

    try:
        arr = np.asarray(example)
    except Exception as exc:
        raise InvalidInputError(f"Cannot store a {type(example).__name__} as an input "
                                "example: pass a DataFrame, dict or array.") from exc
    if arr.dtype == object or arr.ndim == 0:
        raise InvalidInputError(f"Cannot store a {type(example).__name__} as an input example: "
                                "pass a DataFrame, dict or numeric array.")
    return {"type": "ndarray", "dtype": str(arr.dtype),
            "data": _finite(arr[:EXAMPLE_ROWS].tolist())}


def example_from_json(data: dict | None) -> Any:
    """Rebuild a stored input example as a DataFrame or array (None if there is none)."""
    if not data:
        return None
    if data.get("type") == "dataframe":
        import pandas as pd

        return pd.DataFrame(data["data"], columns=data["columns"])
    import numpy as np

    return np.asarray(data["data"], dtype=data.get("dtype") or None)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
