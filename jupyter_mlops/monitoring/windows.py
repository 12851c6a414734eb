"""Cutting logged rows into windows: window specs, buffered chunks and row timestamps."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.monitoring.alerts import parse_duration
from jupyter_mlops.validation import ascii_digits, parse_int


def parse_window(window: Any) -> dict:
    """``1000`` → every 1,000 rows; ``"1h"``/``"30m"``/``"1d"`` → by time; or a dict."""
    if isinstance(window, dict):
        if set(window) == {"rows"} and int(window["rows"]) > 0:
            return {"rows": int(window["rows"])}
        if set(window) == {"seconds"} and float(window["seconds"]) > 0:
            return {"seconds": float(window["seconds"])}
        raise InvalidInputError(f"window must be {{'rows': N}} or {{'seconds': S}}; got {window}.")
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise InvalidInputError("A window needs at least one row.")
        return {"rows": window}
    if isinstance(window, str):
        text = window.strip().lower()
        if text.endswith("rows") or ascii_digits(text):
            return {"rows": parse_int(text.removesuffix("rows").strip(), "window row count", 1)}
        seconds = parse_duration(text)
        if seconds <= 0:
            raise InvalidInputError("A time window must be longer than zero.")
        return {"seconds": seconds}
    raise InvalidInputError(f"window must be a row count (1000) or a duration ('1h'); "
                            f"got {window!r}.")



@dataclasses.dataclass
class Chunk:
    """Rows logged by one call (or part of one), waiting for their window to close."""

    frame: Any  # pandas DataFrame
    preds: np.ndarray | None
    ids: list[str] | None
    ts: np.ndarray
    version: int | None

    def __len__(self) -> int:
        return len(self.ts)

    def split(self, n: int) -> tuple["Chunk", "Chunk"]:
        a = Chunk(self.frame.iloc[:n], None if self.preds is None else self.preds[:n],
                   None if self.ids is None else self.ids[:n], self.ts[:n], self.version)
        b = Chunk(self.frame.iloc[n:], None if self.preds is None else self.preds[n:],
                   None if self.ids is None else self.ids[n:], self.ts[n:], self.version)
        return a, b

    def take(self, mask: np.ndarray) -> "Chunk":
        idx = np.flatnonzero(mask)
        return Chunk(self.frame.iloc[idx], None if self.preds is None else self.preds[idx],
                      None if self.ids is None else [self.ids[i] for i in idx], self.ts[idx],
                      self.version)


def timestamps(timestamp: Any, n: int) -> np.ndarray:
    """Epoch seconds per row from None (now), a number, a datetime or an array of them."""
    if timestamp is None:
        return np.full(n, time.time())
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        return np.full(n, float(timestamp))
    if hasattr(timestamp, "timestamp") and not hasattr(timestamp, "__len__"):
        return np.full(n, float(timestamp.timestamp()))
    import pandas as pd

    arr = np.asarray(timestamp)
    if arr.dtype.kind == "M" or arr.dtype == object:
        arr = pd.to_datetime(pd.Series(timestamp)).astype("int64").to_numpy() / 1e9
    arr = np.asarray(arr, dtype=np.float64)
    if arr.shape != (n,):
        raise InvalidInputError(f"timestamp must be one value or one per row ({n}).")
    return arr
