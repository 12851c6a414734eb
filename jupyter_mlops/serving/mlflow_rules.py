"""``serve --input-rules mlflow``: read requests the way MLflow's scoring server reads them.

By default (``strict``) the server checks every value where it enters and refuses what does
not have its column's type (docs/serving.md, "MLflow parity"): a silently converted feature
is a wrong prediction nobody sees. A team moving clients off ``mlflow models serve`` may
depend on MLflow's conversions, though, so this mode reproduces them, as MLflow 3's
scoring server does when it builds the DataFrame from the request and casts each column to
its schema type (``astype``):

* an integer column takes ``30.5`` as ``30`` (truncated), ``"42"`` as ``42`` and ``true``
  as ``1``; a float column takes ``"1.5"`` as ``1.5``; a string column takes ``7`` as
  ``"7"``. What ``astype`` cannot convert (``null`` or ``"x"`` for an integer column) is
  refused with ``BAD_REQUEST`` naming the column, as MLflow refuses it;
* a ``dataframe_split`` row shorter than its columns is padded with nulls (pandas does it
  for MLflow);
* rows without column names (``dataframe_split`` without ``columns``, ``instances`` or
  ``inputs`` as lists of lists) are refused for a model with named columns, with MLflow's
  codes, instead of being read in the trained column order;
* ``GET /health`` answers MLflow's newline.

``tests/serving/test_mlflow_protocol.py`` holds both modes to MLflow 3.17.2's answers: this
one must agree on every case.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jupyter_mlops.serving.inputs import InputError, Parsed

STRICT, MLFLOW = "strict", "mlflow"
RULES = (STRICT, MLFLOW)

#: MLflow's codes for positional rows sent to a model with named columns.
_POSITIONAL_CODES = {"dataframe_split": "INVALID_PARAMETER_VALUE", "instances": "BAD_REQUEST",
                     "inputs": "BAD_REQUEST"}


def check_rules(rules: str) -> str:
    """``rules`` if it is one of :data:`RULES`; else one line saying which there are."""
    if rules not in RULES:
        raise ValueError(f"Unknown input rules {rules!r}: use {' or '.join(RULES)}.")
    return rules


def refuse_positional(parsed: Parsed, columns: list[str] | None) -> None:
    """MLflow's refusal of rows without column names for a model that has named columns."""
    if columns and parsed.kind == "rows" and parsed.columns is None:
        raise InputError(f"The model expects named columns {columns[:8]}; send them with the "
                         "rows (dataframe_split with \"columns\", or records).", 400,
                         _POSITIONAL_CODES.get(parsed.shape, "BAD_REQUEST"))


def coerce(frame, columns: list[str], kinds: list[str]):
    """``frame`` with each signature column present cast to its kind, as MLflow casts it."""
    import pandas as pd

    for name, kind in zip(columns, kinds):
        if name not in frame:
            continue
        col = frame[name]
        try:
            if kind == "integer":
                frame[name] = col.astype(np.int64)
            elif kind == "float":
                frame[name] = col.astype(np.float64)
            elif kind in ("string", "category"):
                frame[name] = pd.Series([_as_text(v) for v in col.tolist()],
                                        index=col.index, dtype=object)
            elif kind == "boolean":
                frame[name] = col.astype(bool)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"Input column {name!r} could not be read as {kind}: "
                             f"{_first_bad(col, kind)}.", 400, "BAD_REQUEST") from None
    return frame


def _as_text(value: Any) -> Any:
    """A value of a string column as text; a missing one (null, NaN) stays missing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def _first_bad(col, kind: str) -> str:
    """Which value failed, described without echoing it whole (it may be long)."""
    caster = {"integer": np.int64, "float": np.float64}.get(kind)
    for i, value in enumerate(col.tolist()):
        if value is None or (isinstance(value, float) and value != value):
            return f"row {i} is null"
        if caster is not None:
            try:
                caster(value)
            except (TypeError, ValueError, OverflowError):
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                return f"row {i} holds {shown}"
    return "a value has another type"
