"""A LightGBM/XGBoost scikit-learn wrapper's constructor params, kept beside its model file.

Neither library's model file keeps what the wrapper was built with (``LGBMClassifier(
n_estimators=50, learning_rate=0.2)``), so the ``lightgbm``/``xgboost`` flavors record it —
in autologging's ``model.json`` and in the registered file's header (:mod:`.boosters`) — as

* ``params``: ``get_params()``'s values that are JSON scalars or lists
  (:mod:`jupyter_mlops.tracking.json_params`) whose key a fresh instance of the class has;
* ``params_left_out``: the names of the others, never pickled — a value that is not JSON (a
  callable ``objective``) or a keyword argument the class does not name (LightGBM's
  ``verbose=-1``, kept by its ``get_params()`` but refused on load, below). A non-JSON value
  equal to the class default (XGBoost's ``missing=nan``) is not named: loading restores it.

On load they are untrusted input: LightGBM's ``set_params`` sets any attribute it is handed
(``_Booster``, ``predict``), so only keys a fresh instance's ``get_params()`` has pass, each a
JSON scalar or list; anything else is refused in one line naming the key.
"""

from __future__ import annotations

import math
import os
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.tracking.json_params import check_params, json_safe


def recorded(model: Any) -> dict[str, Any]:
    """``{"params": {...}, "params_left_out": [...]}`` of a wrapper (see the module doc)."""
    params = model.get_params()
    kept, left_out = json_safe(params)
    defaults = type(model)().get_params()
    named = [key for key in left_out if key not in defaults
             or not _is_default(params[key], defaults[key])]
    named += [key for key in kept if key not in defaults]
    return {"params": {k: v for k, v in kept.items() if k in defaults},
            "params_left_out": sorted(named)}


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    return (isinstance(value, float) and isinstance(default, float)
            and math.isnan(value) and math.isnan(default))


def check(cls: type, params: Any, where: str) -> dict[str, Any]:
    """``params`` read from a file, refused (one line naming the key) unless each key is one
    a fresh ``cls()``'s ``get_params()`` has and each value a JSON scalar or list."""
    return check_params(params, where, allowed=set(cls().get_params()))


def apply(model: Any, params: Any, where: str) -> None:
    """``model.set_params(**params)`` with ``params`` checked by :func:`check` (None: none
    recorded). A thread count above this machine's cores is lowered to them: it is a setting
    of the machine that predicts, and a crafted record could otherwise ask for a million."""
    if params is None:
        return
    params = dict(check(type(model), params, where))
    cores = os.cpu_count() or 1
    if isinstance(params.get("n_jobs"), int) and abs(params["n_jobs"]) > cores:
        params["n_jobs"] = cores
    try:
        model.set_params(**params)
    except Exception as exc:
        detail = (" ".join(str(exc).split()) or type(exc).__name__)[:300]
        raise InvalidInputError(f"{where}: its params could not be set on a "
                                f"{type(model).__name__}: {detail}.") from None
