"""Event-time columns: one representation (ns; UTC when tz-aware) and errors naming the column.

A point-in-time join compares instants, so both sides must mean the same thing by a time:
naive wall-clock times on both sides, or aware instants on both sides (compared in UTC).
Mixing the two, inside a column or between an entity frame and a view, is refused rather than
guessed, because either guess can move a value across the cut-off and leak the future.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from jupyter_mlops.errors import InvalidInputError

NS = "datetime64[ns]"
NS_UTC = "datetime64[ns, UTC]"


def event_times(series, column: str, where: str):
    """``series`` as ``datetime64[ns]`` (naive) or ``datetime64[ns, UTC]`` (aware).

    Parameters
    ----------
    series : pandas.Series
    column, where : str
        The column's name and what it belongs to ("feature view 'trips'", "the entity
        frame"), for the error message.

    Raises
    ------
    InvalidInputError
        Numbers or other non-times, missing times, naive and aware times mixed, or times
        outside 1677–2262 (what nanoseconds since the epoch can hold).
    """
    import pandas as pd

    kind = series.dtype.kind
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return _as(series.dt.tz_convert("UTC"), NS_UTC, column, where)
    if kind == "M":
        return _as(series, NS, column, where)
    if kind in "biufc":
        raise InvalidInputError(
            f"Column {column!r} of {where} holds numbers, not times: convert it with "
            f"pandas.to_datetime(df[{column!r}], unit='s') (or the unit it counts in).")
    values = series.to_numpy(dtype=object)
    aware = naive = False
    for v in values:  # one pass in Python: only object/str columns get here
        if isinstance(v, dt.datetime):
            if v.tzinfo is not None and v.tzinfo.utcoffset(v) is not None:
                aware = True
            else:
                naive = True
            if aware and naive:
                break
    if aware and naive:
        raise _mixed(column, where)
    try:
        parsed = pd.to_datetime(series, utc=aware, format="ISO8601")
    except (ValueError, TypeError) as exc:
        if "mixed time" in str(exc).lower() or "tz-naive" in str(exc).lower() \
                or "tz-aware" in str(exc).lower():
            raise _mixed(column, where) from None
        raise InvalidInputError(
            f"Column {column!r} of {where} is not a timestamp column ({exc}); convert it with "
            f"pandas.to_datetime(df[{column!r}]).") from None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return _as(parsed.dt.tz_convert("UTC"), NS_UTC, column, where)
    return _as(parsed, NS, column, where)


def _as(series, dtype: str, column: str, where: str):
    if series.isna().any():
        n = int(series.isna().sum())
        raise InvalidInputError(
            f"Column {column!r} of {where} has {n} missing time(s): every row needs an event "
            "time to be placed in time; drop or fill those rows.")
    try:
        return series.astype(dtype)
    except (ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"Column {column!r} of {where} has a time outside 1677–2262, which nanosecond "
            f"timestamps cannot hold ({exc}); clip or drop those rows.") from None


def _mixed(column: str, where: str) -> InvalidInputError:
    return InvalidInputError(
        f"Column {column!r} of {where} mixes timezone-naive and timezone-aware times: make "
        f"them all aware (pandas.to_datetime(df[{column!r}], utc=True)) or all naive.")


def is_aware(series) -> bool:
    import pandas as pd

    return isinstance(series.dtype, pd.DatetimeTZDtype)


def to_ns(series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC for aware times) as int64."""
    if is_aware(series):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]").view("int64")


def check_same_kind(view_aware: bool, view_column: str, view_name: str,
                    frame_aware: bool, frame_column: str) -> None:
    """Refuse joining naive times to aware ones (naming both columns)."""
    if view_aware == frame_aware:
        return
    v, f = ("aware", "naive") if view_aware else ("naive", "aware")
    raise InvalidInputError(
        f"Column {frame_column!r} of the entity frame is timezone-{f} but feature view "
        f"{view_name!r} has timezone-{v} times in {view_column!r}: convert the entity frame's "
        f"column with pandas.to_datetime(df[{frame_column!r}], utc=True)"
        + (".tz_localize(None)" if not view_aware else "") + " so both mean the same instants.")


def to_timestamp_ns(value, what: str) -> int:
    """A ``start``/``end`` bound (datetime, Timestamp or ISO string) as ns since the epoch.

    Naive bounds are read as wall-clock times (the same convention as naive event columns);
    aware ones are converted to UTC.
    """
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"{what} must be a datetime or an ISO-8601 string, not {value!r} ({exc}).") from None
    if ts is pd.NaT:
        raise InvalidInputError(f"{what} must be a time, not NaT.")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.as_unit("ns").value)
