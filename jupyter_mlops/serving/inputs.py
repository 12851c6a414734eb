"""Request bodies → model input: MLflow's scoring JSON shapes, checked against the signature.

Accepted (the shapes ``mlflow models serve`` accepts, so existing clients work unchanged)::

    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
    {"dataframe_records": [{"col": value, ...}, ...]}
    {"instances": [[...], ...]}        or  {"instances": [{"col": value}, ...]}
    {"inputs": {"col": [...], ...}}    or  {"inputs": [[...], ...]}

plus an optional ``"ids": [...]`` (one per row) naming rows for later ground truth.

For a model whose signature is all numbers (the common tabular case) the rows go straight
into one float64 NumPy array in the trained column order — no DataFrame per request, which is
where most of a Python model server's time usually goes. Column names are checked, values must
be JSON numbers (``true``/``false`` and strings are refused for numeric columns, ``null``
becomes NaN for float columns), integers are accepted for float columns and integral numbers
for integer columns. Anything else (strings, categories) goes through the registry's
:meth:`Signature.enforce` on a DataFrame.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.request_body import (
    BodyLimits,
    BodyTooLargeError,
    JsonSyntaxError,
    parse_json_body,
)
from jupyter_mlops.validation import (
    MAX_ROW_ID,
    check_int64,
    check_row_ids,
    check_text,
    parse_int,
)

SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")
_NUMERIC = ("float", "integer")
#: Environment variable raising the nesting-depth limit of request bodies.
MAX_DEPTH_ENV = "MLOPS_SERVE_MAX_JSON_DEPTH"
#: Deep enough for any scoring shape (a batch of images as nested lists is 5 levels).
DEFAULT_MAX_DEPTH = 64
#: Longest class label of /feedback, in characters (as long as a row id).
MAX_LABEL = MAX_ROW_ID
#: MLflow's scoring server answers values of the wrong type (and a model's own refusal, e.g.
#: of NaN) with BAD_REQUEST, a missing column or a wrong shape with INVALID_PARAMETER_VALUE.
_TYPE_CODE = "BAD_REQUEST"


class InputError(Exception):
    """A client mistake: answered with ``status`` and a JSON error, never a traceback."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclasses.dataclass(frozen=True)
class Parsed:
    """A request in a normalised form before the signature is applied."""

    kind: str  # "rows" (+columns or None), "records", "columns", "array"
    data: Any
    columns: list[str] | None
    ids: list[str] | None
    shape: str = ""  # which of SHAPES the body used ("" for CSV)


def body_limits(max_bytes: int, max_depth: int | None = None) -> BodyLimits:
    """The model server's :class:`BodyLimits`: ``max_depth`` defaults to
    ``MLOPS_SERVE_MAX_JSON_DEPTH`` (else 64); Python's ``NaN``/``Infinity`` literals pass,
    since ``json.dumps`` writes them and a float column takes them as missing values."""
    if max_depth is None:
        raw = os.environ.get(MAX_DEPTH_ENV, "").strip()
        # parse_int, not int(): int() also takes "٣" and " 7 " and numbers beyond int64.
        max_depth = parse_int(raw, f"deepest JSON nesting to accept ({MAX_DEPTH_ENV}={raw!r}, "
                              "e.g. 100)") if raw else DEFAULT_MAX_DEPTH
    if max_depth < 1:
        raise InvalidInputError(f"The JSON nesting-depth limit must be at least 1, not "
                                f"{max_depth} (see {MAX_DEPTH_ENV}).")
    return BodyLimits(max_bytes=max_bytes, max_depth=max_depth,
                      raise_bytes="start the server with a larger --max-body-mb",
                      raise_depth=f"start the server with {MAX_DEPTH_ENV} set higher",
                      allow_nan=True)


#: Used when a caller gives no limits (tests, scripts): the server's defaults.
_DEFAULT_LIMITS = body_limits(16 * 1024 * 1024, DEFAULT_MAX_DEPTH)


def read_json(body: bytes, limits: BodyLimits | None = None) -> Any:
    """Decode a request body within ``limits`` (size, nesting, UTF-8, int64), as InputError."""
    try:
        return parse_json_body(body, limits or _DEFAULT_LIMITS)
    except BodyTooLargeError as exc:
        raise InputError(str(exc), 413, "REQUEST_TOO_LARGE") from None
    except JsonSyntaxError as exc:
        raise InputError(f"Malformed JSON: {exc.detail}.") from None
    except InvalidInputError as exc:
        raise InputError(str(exc)) from None


def parse_body(body: bytes, limits: BodyLimits | None = None, *,
               pad_short_rows: bool = False) -> Parsed:
    """Decode the JSON and find which MLflow shape it uses.

    ``pad_short_rows``: a ``dataframe_split`` row shorter than its columns is padded with
    nulls, as MLflow's pandas does (``serve --input-rules mlflow``), instead of refused.
    """
    obj = read_json(body, limits)
    if not isinstance(obj, dict):
        raise InputError(f"Expected a JSON object with one of {', '.join(SHAPES)}; got a "
                         f"{type(obj).__name__}.")
    found = [k for k in SHAPES if k in obj]
    if len(found) != 1:
        raise InputError(
            f"Give exactly one of {', '.join(SHAPES)} (found "
            f"{', '.join(found) if found else 'none'}). Example: "
            '{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}.')
    # Other top-level keys are ignored, as MLflow's scoring server ignores them.
    ids = _ids(obj.get("ids"))
    key, value = found[0], obj[found[0]]
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise InputError('"dataframe_split" must be an object with "data" (and usually '
                             '"columns").')
        columns = value.get("columns")
        if columns is not None and (not isinstance(columns, list)
                                    or not all(isinstance(c, str) for c in columns)):
            raise InputError('"dataframe_split.columns" must be a list of column names.')
        if columns is not None and len(set(columns)) != len(columns):
            raise _duplicates(columns)
        data = value["data"]
        if pad_short_rows and columns is not None and isinstance(data, list):
            data = [r + [None] * (len(columns) - len(r))
                    if isinstance(r, list) and len(r) < len(columns) else r for r in data]
        return _rows(data, columns, ids, shape=key)
    if key == "dataframe_records":
        return _records(value, ids, key)
    if isinstance(value, dict):  # instances or inputs as {column: values}
        if not value:
            raise InputError(f'"{key}" has no columns.', 400, "INVALID_PARAMETER_VALUE")
        return Parsed("columns", value, list(value), ids, key)
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return _records(value, ids, key)
    return _rows(value, None, ids, "INVALID_PARAMETER_VALUE", key)


def _duplicates(columns: list[str]) -> InputError:
    seen: set[str] = set()
    dup = sorted({c for c in columns if c in seen or seen.add(c)})
    return InputError(f"Duplicate column name(s) {', '.join(map(repr, dup[:5]))}: each column "
                      "may appear once.", 400, "INVALID_PARAMETER_VALUE")


def parse_csv(body: bytes, kinds: dict[str, str] | None = None) -> Parsed:
    """A ``text/csv`` body (``DataFrame.to_csv()``, header first) as rows.

    ``kinds`` maps the signature's columns to their kinds: a numeric column whose cells are
    not all numbers is refused here, as MLflow's typed CSV reader refuses it.
    """
    import io

    import pandas as pd

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("The CSV body is not UTF-8.") from None
    if not text.strip():
        raise InputError("The CSV body is empty: send a header line and one line per row.")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except Exception as exc:  # pandas raises several classes for malformed CSV
        raise InputError(f"Malformed CSV: {str(exc).splitlines()[0][:200]}") from None
    if frame.empty:
        raise InputError("The CSV body has a header but no rows.")
    columns = [str(c) for c in frame.columns]
    for name, kind in (kinds or {}).items():
        if kind in _NUMERIC and name in frame and \
                not pd.api.types.is_numeric_dtype(frame[name].dtype):
            raise InputError(f"CSV column {name!r} should hold numbers ({kind}); some of its "
                             "cells are not numbers.")
    return Parsed("rows", frame.astype(object).to_numpy().tolist(), columns, None)


def _ids(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(i, (str, int)) and
                                              not isinstance(i, bool) for i in value):
        raise InputError('"ids" must be a list of strings or integers, one per row.')
    return [row_id(v, f"ids[{i}]") for i, v in enumerate(value)]


def row_id(value: Any, field: str) -> str:
    """A row id as monitoring stores it (:func:`~jupyter_mlops.validation.check_row_ids`: a
    string of 1–256 characters without NUL, or an integer within int64), named ``field``."""
    if type(value) in (int, str):
        try:
            return check_row_ids([value], what=field)[0]
        except InvalidInputError as exc:
            raise InputError(str(exc), 400, "INVALID_PARAMETER_VALUE") from None
    raise InputError(f"{field} must be a string of 1–{MAX_ROW_ID} characters or an "
                     f"integer; got {_kind(value)}.", 400, "INVALID_PARAMETER_VALUE")


def parse_feedback(obj: Any) -> tuple[list[str], list[Any]]:
    """``{"ids": [...], "y_true": [...]}`` → (ids, labels), every item checked.

    An id is what :func:`row_id` accepts; a label is a string of 1–256 characters, a boolean,
    an integer within int64 or a finite number. Anything else (a list, an object, null, a
    megabyte of text) refuses the whole request before anything is recorded.
    """
    usage = 'Send {"ids": [...], "y_true": [...]} with one ground-truth value per id.'
    if not isinstance(obj, dict):
        raise InputError(f"{usage} Got {_kind(obj)}.")
    unknown = set(obj) - {"ids", "y_true"}
    if unknown:
        raise InputError(f"Unknown field(s) {sorted(unknown)[:5]} in the feedback. {usage}")
    ids, labels = obj.get("ids"), obj.get("y_true")
    if not isinstance(ids, list) or not isinstance(labels, list):
        bad = "ids" if not isinstance(ids, list) else "y_true"
        raise InputError(f'"{bad}" must be a list; got {_kind(obj.get(bad))}. {usage}')
    if len(ids) != len(labels):
        raise InputError(f'"ids" has {len(ids)} entries but "y_true" has {len(labels)}. '
                         f"{usage}")
    return ([row_id(v, f"ids[{i}]") for i, v in enumerate(ids)],
            [_label(v, f"y_true[{i}]") for i, v in enumerate(labels)])


def _label(value: Any, field: str) -> Any:
    kind = type(value)
    try:
        if kind is bool or (kind is float and math.isfinite(value)):
            return value
        if kind is int:
            return check_int64(value, field)
        if kind is str and value:
            return check_text(value, field, MAX_LABEL)
    except InvalidInputError as exc:
        raise InputError(str(exc), 400, "INVALID_PARAMETER_VALUE") from None
    raise InputError(f"{field} must be a class label or a number (a string of 1–"
                     f"{MAX_LABEL} characters, a boolean, an integer or a finite number); "
                     f"got {_kind(value)}.", 400, "INVALID_PARAMETER_VALUE")


def _kind(value: Any) -> str:
    """What a rejected value is, without echoing it (it may be a megabyte long)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer outside the 64-bit range"
    if isinstance(value, float):
        return "a non-finite number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _rows(data: Any, columns: list[str] | None, ids, code: str = "BAD_REQUEST",
          shape: str = "") -> Parsed:
    if not isinstance(data, list) or not data:
        raise InputError("The rows must be a non-empty JSON list.", 400, code)
    if columns is not None:
        width = len(columns)
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                raise InputError(f"Row {i} must be a list of {width} values (one per column).")
    return Parsed("rows", data, columns, ids, shape)


def _records(data: Any, ids, shape: str = "") -> Parsed:
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        # MLflow's codes: not a list is a malformed request, a list of the wrong things an
        # invalid value.
        raise InputError('"dataframe_records" must be a non-empty list of objects '
                         '(one per row).', 400,
                         "INVALID_PARAMETER_VALUE" if isinstance(data, list) else "BAD_REQUEST")
    return Parsed("records", data, None, ids, shape)


# ---------------------------------------------------------------------- applying the signature
def numeric_matrix(parsed: Parsed, columns: list[str], kinds: list[str]) -> np.ndarray:
    """The rows as a float64 array in ``columns`` order (all-numeric signatures only)."""
    if parsed.kind == "rows":
        if parsed.columns is None:
            rows = parsed.data
            if not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
                raise InputError(f"Each row must have {len(columns)} values, in the order "
                                 f"{columns}.", 400, "INVALID_PARAMETER_VALUE")
            names = columns
        else:
            rows, names = parsed.data, parsed.columns
            missing = [c for c in columns if c not in names]
            if missing:
                raise _missing(missing, names)
            if names != columns:
                pos = {c: i for i, c in enumerate(names)}
                idx = [pos[c] for c in columns]
                rows = [[r[i] for i in idx] for r in rows]
    elif parsed.kind == "records":
        try:
            rows = [[rec[c] for c in columns] for rec in parsed.data]
        except KeyError:
            for i, rec in enumerate(parsed.data):
                missing = [c for c in columns if c not in rec]
                if missing:
                    raise _missing(missing, list(rec), f" in record {i}") from None
            raise
    else:  # columns
        cols = parsed.data
        missing = [c for c in columns if c not in cols]
        if missing:
            raise _missing(missing, list(cols))
        values = [cols[c] if isinstance(cols[c], list) else [cols[c]] for c in columns]
        if len({len(v) for v in values}) != 1:
            raise InputError('Every column in "inputs" must have the same number of values.',
                             400, "INVALID_PARAMETER_VALUE")
        rows = [list(r) for r in zip(*values)]
    return _to_float(rows, columns, kinds)


def _to_float(rows: list[list], columns: list[str], kinds: list[str]) -> np.ndarray:
    for row in rows:  # bool is an int in Python: refuse it explicitly (cheap: C-level `in`)
        if True in row or False in row:
            if any(type(v) is bool for v in row):
                bad = [columns[j] for j, v in enumerate(row) if type(v) is bool]
                raise _wrong(bad, kinds, columns, "a boolean")
    try:
        arr = np.array(rows)
    except (TypeError, ValueError):  # ragged rows
        raise _diagnose(rows, columns, kinds) from None
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise _diagnose(rows, columns, kinds)
    if arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64, copy=False)
    elif arr.dtype.kind == "O" and not any(type(v) not in (int, float) and v is not None
                                          for row in rows for v in row):
        arr = np.array(rows, dtype=np.float64)  # nulls become NaN
    else:  # strings (NumPy would happily parse "1.5"), nested lists, objects
        raise _diagnose(rows, columns, kinds)
    for j, kind in enumerate(kinds):
        if kind == "integer":
            col = arr[:, j]
            if not np.all(np.isfinite(col)) or not np.all(col == np.floor(col)):
                raise _wrong([columns[j]], kinds, columns, "a non-integer number")
    return arr


def _diagnose(rows, columns, kinds) -> InputError:
    bad: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, list) or len(row) != len(columns):
            return InputError(f"Each row must have {len(columns)} values.", 400,
                              "INVALID_PARAMETER_VALUE")
        for j, v in enumerate(row):
            if v is None:
                if kinds[j] == "integer":
                    bad.setdefault(columns[j], "null")
            elif type(v) not in (int, float):
                bad.setdefault(columns[j], type(v).__name__ if not isinstance(v, str)
                               else "a string")
    if not bad:
        return InputError("The rows could not be read as numbers.", 400,
                          "INVALID_PARAMETER_VALUE")
    detail = "; ".join(f"{c!r} should be {kinds[columns.index(c)]} but got {t}"
                       for c, t in bad.items())
    return InputError(f"Input column(s) of the wrong type: {detail}.", 400, _TYPE_CODE)


def _wrong(bad: list[str], kinds, columns, got: str) -> InputError:
    detail = "; ".join(f"{c!r} should be {kinds[columns.index(c)]} but got {got}" for c in bad)
    return InputError(f"Input column(s) of the wrong type: {detail}.", 400, _TYPE_CODE)


def _missing(missing: list[str], have: list[str], where: str = "") -> InputError:
    shown = ", ".join(map(repr, have[:8])) + (f" and {len(have) - 8} more" if len(have) > 8
                                              else "")
    return InputError(f"Input is missing column(s) {', '.join(map(repr, missing))}{where} that "
                      f"the model was trained with; it has {shown or 'no columns'}.", 400,
                      "INVALID_PARAMETER_VALUE")


def to_frame(parsed: Parsed, columns: list[str] | None = None,
             kinds: list[str] | None = None):
    """The request as a pandas DataFrame (the general, slower path).

    With ``kinds`` (the signature's, in ``columns`` order), an integer column that arrived as
    integral floats (``30.0``: JSON has one number type) is made integer again.
    """
    import pandas as pd

    if parsed.kind == "records":
        frame = pd.DataFrame(parsed.data)
    elif parsed.kind == "columns":
        values = {k: (v if isinstance(v, list) else [v]) for k, v in parsed.data.items()}
        try:
            frame = pd.DataFrame(values)
        except ValueError as exc:
            raise InputError(f"The columns do not line up: {exc}.", 400,
                             "INVALID_PARAMETER_VALUE") from None
    else:
        names = parsed.columns or columns
        if names is None:
            return None
        try:
            frame = pd.DataFrame(parsed.data, columns=names)
        except (ValueError, TypeError) as exc:
            raise InputError(f"The rows do not match the columns: {exc}.") from None
    if kinds and columns:
        for name, kind in zip(columns, kinds):
            if kind == "integer" and name in frame and frame[name].dtype.kind == "f":
                col = frame[name].to_numpy()
                if np.isfinite(col).all() and (col == np.floor(col)).all():
                    frame[name] = col.astype(np.int64)
    return frame


def row_count(parsed: Parsed) -> int:
    if parsed.kind == "columns":
        first = next(iter(parsed.data.values()))
        return len(first) if isinstance(first, list) else 1
    return len(parsed.data)


def jsonable(predictions: Any) -> list:
    """Model output as JSON-ready lists (NaN/inf become null)."""
    arr = predictions
    if hasattr(arr, "to_numpy"):
        arr = arr.to_numpy()
    arr = np.asarray(arr)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        return [_finite(v) for v in arr.tolist()]
    return arr.tolist()


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v
