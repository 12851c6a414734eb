"""Reading the fields of one MLflow request, validated where they enter.

A request is a plain dict: the JSON body of a POST/PATCH/DELETE, or the query string of a
GET (a repeated key becomes a list). MLflow's client serialises messages with protobuf's JSON
mapping, so 64-bit integers may arrive as strings and NaN/Infinity as ``"NaN"``/``"Infinity"``:
both are accepted, as MLflow's server accepts them.
"""

from __future__ import annotations

import math
from typing import Any

from jupyter_mlops.mlflow_api.errors import invalid
from jupyter_mlops.validation import INT64_MAX, INT64_MIN, check_key, check_run_id

_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
           "nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def one(request: dict, name: str) -> Any:
    """The field's single value (the first of a repeated query key)."""
    value = request.get(name)
    if isinstance(value, list) and request.get("__query__"):
        return value[0] if value else None
    return value


def text(request: dict, name: str, *, required: bool = True, limit: int = 6000) -> str | None:
    value = one(request, name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid value {_show(value)} for parameter '{name}': expected a string.")
    if len(value) > limit or "\x00" in value:
        raise invalid(f"Invalid value for parameter '{name}': at most {limit} characters, "
                      "no NUL.")
    return value


def integer(request: dict, name: str, default: int | None = None) -> int | None:
    value = one(request, name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid(f"Invalid value {_show(value)} for parameter '{name}': expected an integer.")
    try:
        number = int(value)
    except ValueError:
        raise invalid(f"Invalid value {_show(value)} for parameter '{name}': expected an "
                      "integer.") from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise invalid(f"Invalid value for parameter '{name}': outside the 64-bit range.")
    return number


def number(value: Any, name: str) -> float:
    """A metric value: a JSON number, or protobuf's "NaN"/"Infinity" strings (as MLflow)."""
    if isinstance(value, str) and value in _FLOATS:
        return _FLOATS[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(f"Invalid value {_show(value)} for parameter '{name}': expected a number.")
    try:
        return float(value)
    except OverflowError:
        raise invalid(f"Invalid value for parameter '{name}': beyond the float range.") from None


def run_id(request: dict) -> str:
    """``run_id`` (MLflow ≥ 1.0) or the older ``run_uuid``: the same id as ours."""
    value = one(request, "run_id") or one(request, "run_uuid")
    if value is None:
        raise invalid("Missing value for required parameter 'run_id'.")
    try:
        return check_run_id(value)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def key(value: Any, what: str) -> str:
    try:
        return check_key(value, what)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def entries(request: dict, name: str, limit: int) -> list[dict]:
    """A list of objects (``tags``, ``params``, ``metrics``), at most ``limit`` of them."""
    value = request.get(name) or []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise invalid(f"Invalid value for parameter '{name}': expected a list of objects.")
    if len(value) > limit:
        raise invalid(f"A batch logging request can contain at most {limit} {name}; got "
                      f"{len(value)}. Send them in several requests.")
    return value


def key_values(request: dict, name: str, limit: int, what: str) -> dict[str, str]:
    out = {}
    for entry in entries(request, name, limit):
        k = key(entry.get("key"), what)
        v = entry.get("value", "")
        if not isinstance(v, str):
            v = "" if v is None else str(v)
        out[k] = v
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
