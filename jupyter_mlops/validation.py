"""The one validation layer: every value is checked where it enters, before any buffer.

The Python API (:class:`~jupyter_mlops.client.Client`), the ``%mlops`` magics (through the
fluent API), the REST handlers and monitoring all call these functions, so a value the store
cannot hold is refused *at the call* with one :class:`InvalidInputError` line that names the
field, says what is wrong and what to do. Nothing invalid reaches the write buffer, where one
bad row used to fail every later flush.

The rules, and why:

* **keys** (metric, param and tag names): 1–250 printable characters (``str.isprintable``:
  no control characters, no lone surrogates), 250 being the column width.
* **text values**: valid UTF-8 (a lone surrogate such as ``"\\udcff"`` cannot be encoded and
  is refused by SQLite and PostgreSQL alike), no NUL (PostgreSQL refuses it in text), at most
  6,000 characters for params and tags.
* **metric values**: real numbers, numpy scalars or 0-d arrays that convert to a float. NaN
  and ±inf are accepted as before: both backends store them (NaN becomes NULL in the
  latest-value index and stays NaN in the history); a number too large for a float is refused.
* **integers** (steps, ids): within int64, the width of every integer column.
* **timestamps**: epoch seconds, finite, from 1970-01-01 up to the end of year 9999 (what
  ``datetime`` and every display can show); anything else is a unit or clock mistake.
* **run ids**: 1–64 letters, digits, ``-`` or ``_`` (ours are 32 hex digits; pipelines and
  tests may name theirs).
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from jupyter_mlops.errors import InvalidInputError

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_RUN_ID = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z in epoch seconds.
MIN_TIMESTAMP = 0.0
MAX_TIMESTAMP = 253_402_300_799.0
_RUN_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def _show(value: Any, limit: int = 60) -> str:
    """A short, safe repr for a message: bounded, and printable even for hostile strings."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not replace our error with its own
        text = f"<{type(value).__name__}>"
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def check_key(key: Any, what: str = "key") -> str:
    """Return ``key`` if it is a valid metric, param or tag name, else raise.

    Raises
    ------
    InvalidInputError
        Not a string, empty, longer than :data:`MAX_KEY`, or holding a control character or a
        lone surrogate.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInputError(
            f"The {what} {_show(key)} is invalid: use 1–{MAX_KEY} printable characters "
            "(no control characters or lone surrogates).")
    return key


def check_text(text: str, what: str, limit: int | None = None) -> str:
    """Return ``text`` if it is valid UTF-8, NUL-free and at most ``limit`` characters."""
    if limit is not None and len(text) > limit:
        raise InvalidInputError(
            f"The {what} is {len(text)} characters; the limit is {limit}. "
            "Log large values as an artifact instead.")
    if "\x00" in text:
        # PostgreSQL refuses NUL in text; refusing it here keeps one bad value from
        # reaching the write queue.
        raise InvalidInputError(
            f"The {what} contains a NUL character (\\x00); remove it.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"The {what} is not valid UTF-8 (a lone surrogate {text[exc.start]!r} at position "
            f"{exc.start}); decode bytes with errors='replace' before logging.") from None
    return text


def to_metric_value(key: str, value: Any) -> float:
    """Accept ints, floats, numpy scalars and 0-d arrays as a float; refuse anything else.

    NaN and ±inf are kept (both backends store them); a number beyond the float range is
    refused, as is anything that is not a real number.
    """
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if getattr(value, "shape", None) == () and not isinstance(value, (str, bytes)):
            # numpy 0-d array / torch scalar tensor
            try:
                return _as_float(key, value)
            except InvalidInputError:
                raise
            except Exception:
                pass
        raise InvalidInputError(
            f"Metric {_show(key)} must be a number, got {_show(value)} "
            f"({type(value).__name__}).")
    return _as_float(key, value)


def _as_float(key: str, value: Any) -> float:
    try:
        out = float(value)
    except OverflowError:
        raise InvalidInputError(
            f"Metric {_show(key)} is {_show(value)}, beyond the float range (±1.8e308); "
            "log its logarithm or a scaled value.") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidInputError(
            f"Metric {_show(key)} cannot be read as a number ({exc}).") from None
    if type(out) is not float:  # a __float__ that returns a float subclass or worse
        raise InvalidInputError(f"Metric {_show(key)} did not convert to a float.")
    return out


def check_int64(value: Any, what: str) -> int:
    """Return ``value`` as an int if it is an integer within int64, else raise."""
    if type(value) is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    else:
        raise InvalidInputError(
            f"The {what} must be an integer, got {type(value).__name__} {_show(value)}.")
    raise InvalidInputError(
        f"The {what} {_show(value)} is outside the 64-bit integer range "
        f"({INT64_MIN}..{INT64_MAX}); use a smaller number.")


_ASCII_DIGITS = frozenset("0123456789")


def ascii_digits(text: Any) -> bool:
    """True when ``text`` is a non-empty string of the ASCII digits 0-9 only.

    Use it, not ``str.isdigit()``, to tell an id from a name: ``isdigit`` is also true of
    ``"²"``, ``"٣"`` and other Unicode digits, which ``int()`` then refuses with ValueError.
    """
    return isinstance(text, str) and bool(text) and _ASCII_DIGITS.issuperset(text)


def parse_int(text: Any, what: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    """Parse user text as a decimal integer within ``lo..hi``, else raise one clear line.

    Accepted: an optional ``-`` or ``+`` and the ASCII digits 0-9, nothing else (no spaces,
    no ``_``, no Unicode digits). Why not ``isdigit()`` + ``int()``: ``"²"`` passes the first
    and makes the second raise ValueError, ``int()`` refuses more than 4,300 digits with
    ValueError too, and 20 digits overflow every integer column of the store.

    Raises
    ------
    InvalidInputError
        ``text`` is not such a number, or is outside ``lo..hi`` (the message names ``what``).
    """
    digits = text[1:] if isinstance(text, str) and text[:1] in ("-", "+") else text
    if not ascii_digits(digits):
        raise InvalidInputError(
            f"The {what} must be a whole number written with the digits 0-9; got "
            f"{_show(text)}.")
    # Compare lengths before converting: int() of thousands of digits is slow, then refused.
    widest = max(len(str(abs(lo))), len(str(abs(hi))))
    significant = digits.lstrip("0") or "0"
    if len(significant) <= widest:
        value = -int(significant) if text[0] == "-" else int(significant)
        if lo <= value <= hi:
            return value
    raise InvalidInputError(
            f"The {what} {_show(text)} is outside {lo}..{hi}; use a number in that range.")


def check_step(step: Any) -> int:
    """A metric step: an integer within int64."""
    return check_int64(step, "step")


def check_timestamp(ts: Any, what: str = "timestamp") -> float:
    """Epoch seconds as a float, finite and within 1970..9999, else raise."""
    if isinstance(ts, bool) or not isinstance(ts, numbers.Real):
        raise InvalidInputError(
            f"The {what} must be a number of seconds since 1970-01-01 (time.time()), got "
            f"{type(ts).__name__} {_show(ts)}.")
    try:
        out = float(ts)
    except (OverflowError, TypeError, ValueError, ArithmeticError):
        out = math.inf
    if not (MIN_TIMESTAMP <= out <= MAX_TIMESTAMP):  # also False for NaN
        raise InvalidInputError(
            f"The {what} {_show(ts)} is not a time between 1970 and 9999 in epoch seconds; "
            "pass time.time() (seconds, not milliseconds) or leave it out.")
    return out


def to_param_value(key: str, value: Any, what: str = "param") -> str:
    """A param or tag value as text: strings as they are, lists and dicts as JSON, else str()."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str) if isinstance(value, (list, dict, tuple)) \
                else str(value)
        except Exception as exc:
            raise InvalidInputError(
                f"The value of {what} {_show(key)} cannot be turned into text ({exc}).") from None
        if type(text) is not str:  # pragma: no cover - str() always returns a str
            raise InvalidInputError(f"The value of {what} {_show(key)} is not text.")
    return check_text(text, f"value of {what} {_show(key)}", MAX_PARAM_VALUE)


def check_run_id(run_id: Any) -> str:
    """Return ``run_id`` if it is 1–64 letters, digits, ``-`` or ``_``, else raise."""
    if (not isinstance(run_id, str) or not run_id or len(run_id) > MAX_RUN_ID
            or not _RUN_ID_CHARS.issuperset(run_id)):
        raise InvalidInputError(
            f"{_show(run_id)} is not a run id (1–{MAX_RUN_ID} letters, digits, '-' or '_'; "
            "ours are 32 hex digits). List runs with `jupyter mlops runs list`.")
    return run_id


MAX_ROW_ID = 256


def check_row_ids(ids: Any, n: int | None = None, what: str = "ids") -> list[str]:
    """Prediction row ids as text: each a string (1–256 characters, valid UTF-8, no NUL) or
    an integer within int64, one per row when ``n`` is given.

    Monitoring joins ground truth to predictions by these ids, so an id that is a list, a
    float, None or a megabyte of text is refused here rather than stored.
    """
    import numpy as np

    if ids is None or isinstance(ids, (str, bytes, bytearray, dict, set, frozenset)) \
            or not hasattr(ids, "__iter__"):
        raise InvalidInputError(
            f"{what} must be a list or array of row ids (strings or integers), got "
            f"{type(ids).__name__}.")
    arr = ids if isinstance(ids, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iu":  # fast path for integer arrays
        if arr.ndim != 1:
            raise InvalidInputError(f"{what} must be one-dimensional; got shape {arr.shape}.")
        if arr.size and arr.dtype.kind == "u" and int(arr.max()) > INT64_MAX:
            raise InvalidInputError(f"A row id in {what} is beyond the 64-bit integer range.")
        out = [str(i) for i in arr.tolist()]
    else:
        items = ids.tolist() if hasattr(ids, "tolist") else ids
        out = []
        for i in items:
            if isinstance(i, str):
                if not i or len(i) > MAX_ROW_ID:
                    raise InvalidInputError(
                        f"Row id {_show(i)} in {what} must be 1–{MAX_ROW_ID} characters.")
                out.append(check_text(str(i), f"row id {_show(i)} in {what}"))
            elif isinstance(i, numbers.Integral) and not isinstance(i, bool):
                out.append(str(check_int64(i, f"row id in {what}")))
            else:
                raise InvalidInputError(
                    f"Row id {_show(i)} in {what} must be a string or an integer, not "
                    f"{type(i).__name__}.")
    if n is not None and len(out) != n:
        raise InvalidInputError(f"{what} must have one entry per row ({n}); got {len(out)}.")
    return out


def check_timestamps(ts: Any, what: str = "timestamp") -> Any:
    """An array of epoch seconds, each finite and within 1970..9999, else raise."""
    import numpy as np

    arr = np.asarray(ts, dtype=np.float64)
    ok = (arr >= MIN_TIMESTAMP) & (arr <= MAX_TIMESTAMP)  # False for NaN
    if not bool(np.all(ok)):
        bad = arr[~ok][0]
        raise InvalidInputError(
            f"The {what} {_show(float(bad))} is not a time between 1970 and 9999 in epoch "
            "seconds; pass time.time() (seconds, not milliseconds) or leave it out.")
    return arr
