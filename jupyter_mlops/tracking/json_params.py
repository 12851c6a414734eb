"""A model's settings written as JSON beside its weights, and checked when read back.

Autologging and the registry record what rebuilds a model in a file that never runs code: a
LightGBM/XGBoost wrapper's constructor params (``get_params()``), a LightningModule's
``hparams``. Only JSON scalars (None, booleans, finite numbers, text) and lists of them are
kept; a value that is anything else (a callable objective, a dict, an array, NaN) is *left
out* and its name recorded, so the record says what a rebuilt model will lack — it is never
pickled.

Read back, the record is untrusted input (anyone who can write a run's artifacts wrote it):
:func:`check_params` accepts only a JSON object of such values and, when told, only the keys
the model's class takes, refusing anything else in one line that names the key.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from jupyter_mlops.errors import InvalidInputError

#: Lists inside lists, as deep as a setting ever is (``interaction_constraints``).
MAX_DEPTH = 4
MAX_KEYS = 1000


def json_safe(params: Mapping[Any, Any]) -> tuple[dict[str, Any], list[str]]:
    """``(kept, left_out)``: the settings that are JSON scalars or lists of them (tuples as
    lists, NumPy scalars as Python numbers), and the sorted names of the others."""
    kept: dict[str, Any] = {}
    left_out: list[str] = []
    for key, value in params.items():
        plain = _plain(value, 0)
        if isinstance(key, str) and plain is not _UNSAFE:
            kept[key] = plain
        else:
            left_out.append(str(key))
    return kept, sorted(left_out)


def check_params(params: Any, where: str, allowed: Collection[str] | None = None
                 ) -> dict[str, Any]:
    """``params`` read from a file, as a dict of JSON scalars and lists.

    ``allowed``: the only keys taken (those a fresh instance's ``get_params()`` has), or None
    for any key that is a Python identifier (keyword arguments of a constructor).

    Raises
    ------
    InvalidInputError
        Not an object, too many keys, a key outside ``allowed`` (or not an identifier), or a
        value that is not a JSON scalar or list — one line naming the key.
    """
    if not isinstance(params, dict):
        raise InvalidInputError(f"{where}: the recorded params must be a JSON object, not "
                                f"{type(params).__name__}.")
    if len(params) > MAX_KEYS:
        raise InvalidInputError(f"{where}: {len(params)} recorded params, more than "
                                f"{MAX_KEYS}.")
    for key, value in params.items():
        shown = repr(key[:80]) if isinstance(key, str) else repr(key)
        if not (isinstance(key, str) and key.isidentifier()):
            raise InvalidInputError(f"{where}: recorded param {shown} is not a keyword "
                                    "argument name; refused.")
        if allowed is not None and key not in allowed:
            raise InvalidInputError(f"{where}: recorded param {shown} is not one the class "
                                    "takes; refused.")
        if _plain(value, 0) is _UNSAFE:
            raise InvalidInputError(f"{where}: recorded param {shown} is not a JSON scalar or "
                                    "list; refused.")
    return params


_UNSAFE = object()


def _plain(value: Any, depth: int) -> Any:
    """``value`` as a JSON scalar or (nested) list, or :data:`_UNSAFE`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):  # NaN and infinities are not JSON
        return float(value) if math.isfinite(value) else _UNSAFE
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        item = value.item()
        return _plain(item, depth) if isinstance(item, (bool, int, float, str)) else _UNSAFE
    if isinstance(value, (list, tuple)) and depth < MAX_DEPTH:
        items = [_plain(v, depth + 1) for v in value]
        return _UNSAFE if any(v is _UNSAFE for v in items) else items
    return _UNSAFE

