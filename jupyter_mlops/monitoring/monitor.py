"""``mlops.monitor("churn@champion", reference=df)``: watch a model's inputs and outputs.

A :class:`Monitor` buffers what :meth:`Monitor.log_predictions` receives and closes a window
every ``window`` rows (``window=1000``) or every period of time (``window="1h"``, by the rows'
timestamps). Closing a window compares it with the reference profile (drift, missing values,
schema, prediction drift), stores every measure as one point of a per-feature time series,
stores the rows' predictions under their ids (so later :meth:`Monitor.log_feedback` can join
ground truth to them and compute live quality) and checks the alert rules.

Windows are cut by the process that logs (a notebook, or the model server's logging thread);
two processes logging to one monitor each cut their own windows, numbered in one sequence.

Input is checked at the call (:mod:`jupyter_mlops.validation`): row ids are strings of 1–256
characters or integers within int64, one per row (an id given twice keeps its last value);
arrays have one entry per row;
timestamps are epoch seconds between 1970 and 9999. Rows still buffered in an open window
when the interpreter exits are not lost: an ``atexit`` hook closes every live monitor's open
window (however few rows it has), as :meth:`Monitor.flush` does.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.extras import require
from jupyter_mlops.monitoring.alerts import (
    DEFAULT_COOLDOWN_S,
    AlertEvaluator,
    check_rule,
    parse_duration,
)
from jupyter_mlops.monitoring.drift import DEFAULT_THRESHOLDS, DriftReport, compute_drift
from jupyter_mlops.monitoring.profile import (
    PREDICTION,
    ReferenceProfile,
    label_strings,
    prediction_is_label,
)
from jupyter_mlops.monitoring.quality import window_quality
from jupyter_mlops.monitoring.windows import Chunk, parse_window, timestamps
from jupyter_mlops.store.monitoring import MonitorInfo, WindowRecord
from jupyter_mlops.validation import (
    check_int64,
    check_row_ids,
    check_timestamp,
    check_timestamps,
)

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ComponentStoresHolder, MonitorClient, StoresHolder

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 1000
TASKS = ("classification", "regression")
_UNSET: Any = object()


def canonical_ref(model: str) -> tuple[str, str, str | None, int | None]:
    """``(ref, name, alias, version)`` from ``models:/m@a``, ``m@a``, ``m/3`` or ``m``."""
    from jupyter_mlops.registry.api import parse_model_ref

    name, alias, version = parse_model_ref(model)
    ref = f"{name}@{alias}" if alias else f"{name}/{version}" if version else name
    return ref, name, alias, version


class Monitor:
    """Drift, data quality and live model quality of one model, window by window.

    Create with :func:`monitor`. Thread-safe: one lock serialises logging and window closing.

    Attributes
    ----------
    name : str
    model_ref : str
        ``name@alias``, ``name/version`` or ``name`` (latest).
    profile : ReferenceProfile
    latest : DriftReport or None
        The last window's report (this process).
    """

    def __init__(self, client: StoresHolder, info: MonitorInfo, profile: ReferenceProfile,
                 launcher=None, clock=None):
        self.client = client
        self.info = info
        self.profile = profile
        self.store = client.stores.monitoring
        self.alerts_engine = AlertEvaluator(self.store, client, launcher, clock)
        self.window = dict(info.config.get("window") or {"rows": DEFAULT_WINDOW})
        self.thresholds = {**DEFAULT_THRESHOLDS, **(info.config.get("thresholds") or {})}
        self.task: str | None = info.config.get("task") or (
            ("classification" if profile.prediction.kind == "categorical" else "regression")
            if profile.prediction is not None else None)
        self.keep_rows = bool(info.config.get("keep_rows"))
        self.latest: DriftReport | None = None
        self.latest_window: WindowRecord | None = None
        self.latest_quality: dict[str, float] = {}
        self.predictions_logged = 0
        self.feedback_logged = 0
        self._chunks: list[Chunk] = []
        self._buffered = 0
        self._bucket: int | None = None
        self._lock = threading.RLock()
        _live_monitors.add(self)

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return self.info.name

    @property
    def model_ref(self) -> str:
        return self.info.model_ref

    @property
    def id(self) -> int:
        return self.info.id

    def __repr__(self) -> str:
        return (f"<Monitor {self.name!r} of {self.model_ref} window={self.window} "
                f"buffered={self._buffered}>")

    # ------------------------------------------------------------------ logging
    def log_predictions(self, X: Any, y_pred: Any = None, ids: Sequence[Any] | None = None,
                        timestamp: Any = None,
                        model_version: int | None = None) -> list[WindowRecord]:
        """Add a batch of model inputs and outputs; return the windows this closed.

        Parameters
        ----------
        X : DataFrame, mapping of columns, list of records or 2-D array
            The inputs the model received (an array's columns are the reference's, in order).
        y_pred : array-like, optional
            The model's outputs, one per row (prediction drift and live quality).
        ids : sequence, optional
            Row ids for joining ground truth later with :meth:`log_feedback`.
        timestamp : float, datetime, or array of them, optional
            When the rows were predicted (default: now). Time windows are cut by these.
        model_version : int, optional
            Which version produced them (default: what the alias points at when the
            window closes).

        Returns
        -------
        LoggedWindows
            The windows this call closed (a list of ``WindowRecord``, often empty). It shows
            itself as one line on how full the open window is, e.g. ``window 37/1000 rows;
            flush() to close it now``, so a notebook cell ending in this call says something.

        Raises
        ------
        InvalidInputError
            Lengths disagree, X cannot be read as a table, a row id is not a string of
            1–256 characters nor an integer within int64, or a timestamp is not between
            1970 and 9999.
        """
        chunk = self._chunk(X, y_pred, ids, timestamp, model_version)
        closed = LoggedWindows(self)
        if len(chunk) == 0:
            return closed
        with self._lock:
            self.predictions_logged += len(chunk)
            if self._chunks and model_version is not None and \
                    self._chunks[-1].version not in (None, model_version):
                closed += self._close_buffer()  # one model version per window
            if "rows" in self.window:
                closed += self._add_by_rows(chunk)
            else:
                closed += self._add_by_time(chunk)
        return closed

    def _chunk(self, X, y_pred, ids, timestamp, version) -> Chunk:
        frame = self._frame(X)
        n = len(frame)
        preds = None
        if y_pred is not None:
            preds = np.asarray(y_pred)
            if preds.ndim == 2 and preds.shape[1] == 1:
                preds = preds[:, 0]
            if preds.ndim != 1 or len(preds) != n:
                raise InvalidInputError(
                    f"y_pred must have one value per row of X ({n}); got shape {preds.shape}.")
        id_list = None if ids is None else check_row_ids(ids, n)
        if version is not None:
            version = check_int64(version, "model_version")
        try:
            ts = timestamps(timestamp, n)
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise InvalidInputError(
                f"timestamp must be epoch seconds, a datetime, or one of them per row ({exc})."
            ) from None
        return Chunk(frame, preds, id_list, check_timestamps(ts), version)

    def _frame(self, X):
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            return X
        if isinstance(X, Mapping):
            return pd.DataFrame(dict(X))
        if isinstance(X, list) and X and isinstance(X[0], Mapping):
            return pd.DataFrame(X)
        arr = np.asarray(X)
        cols = list(self.profile.columns)
        if arr.ndim == 2 and arr.shape[1] == len(cols):
            return pd.DataFrame(arr, columns=cols)
        raise InvalidInputError(
            f"X must be a DataFrame, a dict of columns, a list of records or a 2-D array with "
            f"the reference's {len(cols)} columns; got {type(X).__name__}"
            + (f" of shape {arr.shape}." if arr.ndim else "."))

    def _add_by_rows(self, chunk: Chunk) -> list[WindowRecord]:
        size = self.window["rows"]
        closed = []
        while len(chunk):
            room = size - self._buffered
            head, chunk = chunk.split(room) if len(chunk) > room else (chunk, None)
            self._chunks.append(head)
            self._buffered += len(head)
            if self._buffered >= size:
                closed += self._close_buffer()
            if chunk is None:
                break
        return closed

    def _add_by_time(self, chunk: Chunk) -> list[WindowRecord]:
        period = self.window["seconds"]
        buckets = np.floor(chunk.ts / period).astype(np.int64)
        closed = []
        if self._bucket is None:
            self._bucket = int(buckets.min())
        # Late rows (an earlier bucket than the open one) join the open window.
        for b in [self._bucket, *sorted(set(buckets[buckets > self._bucket].tolist()))]:
            part = chunk.take((buckets <= b) if b == self._bucket else (buckets == b))
            if b != self._bucket:
                closed += self._close_buffer()
                self._bucket = b
            if len(part):
                self._chunks.append(part)
                self._buffered += len(part)
        return closed

    def tick(self, now: float | None = None) -> list[WindowRecord]:
        """Close a time window whose period is over (the model server calls this)."""
        if "seconds" not in self.window:
            return []
        now = time.time() if now is None else now
        with self._lock:
            if self._bucket is not None and self._buffered and \
                    math.floor(now / self.window["seconds"]) > self._bucket:
                return self._close_buffer()
        return []

    def progress(self) -> str:
        """One line on the open window: how many rows it holds, and when it will close."""
        with self._lock:
            buffered, bucket = self._buffered, self._bucket
        tail = "; flush() to close it now" if buffered else ""
        if "rows" in self.window:
            return f"window {buffered}/{self.window['rows']} rows{tail}"
        period = self.window["seconds"]
        if not buffered or bucket is None:
            return f"window 0 rows (a window closes every {period:g} s of row timestamps)"
        closes = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((bucket + 1) * period))
        return (f"window {buffered} rows, closes with the first row stamped after {closes} "
                f"(every {period:g} s){tail}")

    def flush(self) -> WindowRecord | None:
        """Close the open window now, however few rows it has (None if it is empty)."""
        with self._lock:
            closed = self._close_buffer()
        return closed[0] if closed else None

    # ------------------------------------------------------------------ closing a window
    def _close_buffer(self) -> list[WindowRecord]:
        if not self._chunks:
            return []
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        return [self._close(chunks)]

    def _close(self, chunks: list[Chunk]) -> WindowRecord:
        import pandas as pd

        frame = pd.concat([c.frame for c in chunks], ignore_index=True) if len(chunks) > 1 \
            else chunks[0].frame.reset_index(drop=True)
        preds = None
        if all(c.preds is not None for c in chunks):
            preds = np.concatenate([c.preds for c in chunks])
        ts = np.concatenate([c.ts for c in chunks])
        report = compute_drift(self.profile, frame, predictions=preds,
                               thresholds=self.thresholds)
        if self.task is None and preds is not None:
            self.task = "classification" if prediction_is_label(preds) else "regression"
        version = next((c.version for c in reversed(chunks) if c.version is not None), None)
        if version is None:
            version = self._current_version()
        records = self._records(chunks, preds)
        digest = self._save_rows(frame, preds, chunks, ts) if self.keep_rows else None
        summary = report.summary()
        summary["task"] = self.task
        window = self.store.add_window(
            self.id, start_at=float(ts.min()), end_at=float(ts.max()), rows=len(frame),
            model_version=version, columns_checked=len(report.columns),
            columns_drifted=len(report.drifted), summary=summary, data_digest=digest,
            results=report.results(), records=records)
        points = report.results()
        if records:  # ground truth that arrived before the predictions were stored
            points += self._update_quality(window)
        self.latest, self.latest_window = report, window
        self.alerts_engine.evaluate(self.id, window.id, points, f"window {window.seq}")
        return window

    def _records(self, chunks: list[Chunk], preds: np.ndarray | None) -> list[dict]:
        rows: list[dict] = []
        offset = 0
        labels = values = None
        if preds is not None:
            if self.task == "classification":
                labels = label_strings(preds).tolist()
            if preds.dtype.kind in "biuf":
                values = preds.astype(np.float64).tolist()
        for c in chunks:
            if c.ids is not None:
                for i, rid in enumerate(c.ids):
                    j = offset + i
                    rows.append({"row_id": rid, "ts": float(c.ts[i]),
                                 "prediction_value": values[j] if values else None,
                                 "prediction_label": labels[j][:256] if labels else None})
            offset += len(c)
        # An id logged by two calls of one window: the last prediction wins (one upsert may
        # not touch a row twice on PostgreSQL).
        return list({r["row_id"]: r for r in rows}.values())

    def _save_rows(self, frame, preds, chunks, ts) -> str:
        require("pyarrow", "fastparquet", extra="parquet", feature="A monitor's keep_rows")
        import io

        out = frame.copy()
        if preds is not None:
            out[PREDICTION] = preds
        if all(c.ids is not None for c in chunks):
            out["@id"] = [i for c in chunks for i in c.ids]
        out["@ts"] = ts
        buf = io.BytesIO()
        out.to_parquet(buf)
        info = self.client.store.blobs.put_bytes(buf.getvalue())
        import uuid

        self.client.store.catalog.add_artifact(
            None, f"monitoring/{self.name}/rows-{int(ts.min())}-{uuid.uuid4().hex[:8]}.parquet",
            info.digest, info.size, "application/vnd.apache.parquet", "monitoring")
        return info.digest

    def _current_version(self) -> int | None:
        try:
            _, name, alias, version = canonical_ref(self.model_ref)
            reg = self.client.stores.registry
            if alias:
                return reg.get_version_by_alias(name, alias).version
            return version or reg.get_latest_version(name).version
        except NotFoundError:
            return None

    # ------------------------------------------------------------------ feedback
    def log_feedback(self, ids: Sequence[Any], y_true: Sequence[Any],
                     timestamp: float | None = None) -> dict[int, dict[str, float]]:
        """Record ground truth for earlier predictions, joined by id; return the updated
        live quality per window (``{window_seq: {"accuracy": …, "f1": …}}``).

        Ground truth for ids not yet in a closed window is kept and counted when that
        window closes.
        """
        ids = check_row_ids(ids)
        at = time.time() if timestamp is None else check_timestamp(timestamp)
        truth = np.asarray(y_true)
        if truth.ndim != 1 or len(truth) != len(ids):
            raise InvalidInputError(f"y_true must have one value per id ({len(ids)}); got "
                                    f"shape {truth.shape}.")
        if not ids:
            return {}
        values = truth.astype(np.float64).tolist() if truth.dtype.kind in "biuf" \
            else [None] * len(ids)
        labels = [s[:256] for s in label_strings(truth).tolist()]
        # One row per id (the last wins): one upsert may not touch a row twice on PostgreSQL.
        rows = list({r[0]: r for r in zip(ids, values, labels)}.values())
        seqs = self.store.add_feedback(self.id, rows, at)
        self.feedback_logged += len(ids)
        out: dict[int, dict[str, float]] = {}
        for seq in seqs:
            window = self.store.get_window(self.id, seq)
            points = self._update_quality(window)
            out[seq] = {m: v for _, m, v, _ in points}
            if points:
                self.alerts_engine.evaluate(self.id, window.id, points,
                                            f"window {seq} (feedback)")
        return out

    def _update_quality(self, window: WindowRecord) -> list[tuple]:
        rows = self.store.labelled(self.id, window.seq)
        task = self.task or ((window.summary or {}).get("task"))
        if task is None and rows:
            task = "classification" if rows[0][1] is not None else "regression"
        quality = window_quality(rows, task or "classification")
        points = [("", k, v, None) for k, v in quality.items()]
        if points:
            self.store.upsert_results(self.id, window.id, window.end_at, points)
            self.latest_quality = quality
        return points

    # ------------------------------------------------------------------ ad-hoc checks
    def evaluate(self, X: Any, y_pred: Any = None) -> DriftReport:
        """Drift of a batch against the reference, without storing anything."""
        frame = self._frame(X)
        return compute_drift(self.profile, frame, predictions=y_pred,
                             thresholds=self.thresholds)

    # ------------------------------------------------------------------ reading back
    def windows(self, last: int | None = None) -> list[WindowRecord]:
        return self.store.list_windows(self.id, last)

    def results(self, measure: str | None = None, feature: str | None = None):
        """The stored time series as a DataFrame (window, at, feature, measure, value, drifted)."""
        import pandas as pd

        points = self.store.series(self.id, measure, feature)
        return pd.DataFrame([p.to_dict() for p in points],
                            columns=["window_seq", "at", "feature", "measure", "value",
                                     "drifted"]).rename(columns={"window_seq": "window"})

    def alerts(self, limit: int = 100):
        """Recorded alerts, newest first."""
        return self.store.list_alerts(self.id, limit)

    def rules(self):
        return self.store.list_rules(self.id)

    def add_alert(self, measure: str, threshold: float, *, op: str = ">",
                  feature: str | None = None, pipeline: str | None = None,
                  parameters: dict | None = None,
                  cooldown: float | str = DEFAULT_COOLDOWN_S, user: str | None = None):
        """Alert when ``measure op threshold`` (on ``feature``, or any feature).

        Parameters
        ----------
        measure : str
            A stored measure: ``psi``, ``ks``, ``ks_pvalue``, ``js``, ``chi2_pvalue``,
            ``drift`` (0/1), ``missing_share``, ``drift_share``, ``schema_issues``,
            ``accuracy``, ``f1``, ``mae``, ``rmse``…
        threshold : float
        op : {">", ">=", "<", "<="}
        feature : str, optional
            One feature (``"@prediction"`` for the model's outputs); default any.
        pipeline : str, optional
            Path of a ``pipeline.yaml`` to run when the alert fires (e.g. retraining).
        parameters : dict, optional
            Pipeline parameters.
        cooldown : float or str
            Minimum time between two pipeline runs of this rule (default ``"1h"``).
        """
        from pathlib import Path

        from jupyter_mlops.config import current_user

        check_rule(measure, op)
        if pipeline is not None:
            path = Path(pipeline).expanduser()
            if not path.is_file():
                raise NotFoundError(f"No pipeline file at {pipeline!r}.")
            pipeline = str(path.resolve())
        return self.store.add_rule(self.id, measure=measure, feature=feature, op=op,
                                   threshold=float(threshold), pipeline=pipeline,
                                   parameters=parameters, cooldown_s=parse_duration(cooldown),
                                   user=user or current_user())

    def remove_alert(self, rule_id: int) -> None:
        self.store.remove_rule(self.id, rule_id)

    def report(self, last: int = 50, measure: str = "psi"):
        """A :class:`~jupyter_mlops.monitoring.report.MonitorReport` (figures, HTML export)."""
        from jupyter_mlops.monitoring.report import build_report

        return build_report(self, last=last, measure=measure)

    def _repr_html_(self) -> str:
        return self.report()._repr_html_()


# ============================================================================ exit
#: Monitors alive in this process; their open windows are closed at interpreter exit.
_live_monitors: "weakref.WeakSet[Monitor]" = weakref.WeakSet()


class LoggedWindows(list):
    """What :meth:`Monitor.log_predictions` returns: the windows it closed (a plain list),
    shown as a line on them and on how full the open window is (``window 37/1000 rows;
    flush() to close it now``): a window needs ``window`` rows before anything is computed,
    and a first try with a few rows should say so rather than print ``[]``."""

    def __init__(self, monitor: Monitor):
        super().__init__()
        self._progress = monitor.progress

    def __repr__(self) -> str:
        closed = "".join(
            f"closed window {w.seq} ({w.rows} rows, {w.columns_drifted} of "
            f"{w.columns_checked} columns drifted); " for w in self)
        return closed + self._progress()

    __str__ = __repr__

    def _repr_pretty_(self, p, cycle) -> None:  # IPython: the same line, not a list
        p.text(repr(self))


def buffered_progress(monitor_id: int) -> list[str]:
    """:meth:`Monitor.progress` of every monitor object in this process logging to
    ``monitor_id`` that holds rows (``%mlops monitor`` reopens the monitor, so the rows a
    notebook logged live in another object)."""
    return [m.progress() for m in list(_live_monitors) if m.id == monitor_id and m._buffered]


@atexit.register
def _flush_monitors_at_exit() -> None:
    """Close every live monitor's open window, so rows logged last are stored, not lost."""
    for mon in list(_live_monitors):
        try:
            if mon._buffered:
                mon.flush()
        except Exception as exc:  # pragma: no cover - nothing left to report to
            log.error("jupyter-mlops: monitor %r could not store its last %d row(s) at exit: "
                      "%s", mon.name, mon._buffered, exc)


# ============================================================================ creating
def monitor(model: str, reference: Any = None, *, name: str | None = None,
            window: Any = _UNSET, thresholds: Mapping[str, float] | None = None,
            task: str | None = None, categorical: Sequence[str] = (),
            numeric: Sequence[str] = (), exclude: Sequence[str] = (),
            reference_predictions: Any = None, keep_rows: bool | None = None,
            client: MonitorClient, launcher=None, user: str | None = None) -> Monitor:
    """Create (or reopen) the monitor of a registered model.

    Parameters
    ----------
    model : str
        ``"name@alias"``, ``"models:/name@alias"``, ``"name/3"`` or ``"name"``.
    reference : DataFrame or str, optional
        The data the model is expected to see: a DataFrame, or the name of a dataset logged
        with ``mlops.log_dataset`` from a file (``"name"`` for the latest version,
        ``"name:3"`` for version 3). Profiled once and cached by content. Optional when
        reopening an existing monitor.
    name : str, optional
        Monitor name (default: the model reference, e.g. ``"churn@champion"``).
    window : int or str, optional
        Rows per window (``1000``, the default) or a period (``"1h"``, ``"1d"``).
    thresholds : mapping, optional
        Overrides of the drift thresholds (``psi``, ``ks_pvalue``, ``js``,
        ``chi2_pvalue``, ``missing_increase``).
    task : {"classification", "regression"}, optional
        Default: inferred from the predictions.
    categorical, numeric : sequence of str
        Force how columns are treated.
    exclude : sequence of str
        Reference columns that are not model inputs (ids, the target).
    reference_predictions : array-like, optional
        The model's outputs on the reference rows (baseline for prediction drift). Default:
        the model itself is loaded (safe formats only) and run on the reference.
    keep_rows : bool, optional
        Also store each window's raw rows as a Parquet artifact (default False).
    client : Client
        The store the monitor lives in (``mlops.monitor`` passes the fluent API's client).
    launcher : callable, optional
        How alert-triggered pipelines start (default: a detached process).

    Returns
    -------
    Monitor

    Raises
    ------
    NotFoundError
        Unknown dataset, or no reference given for a monitor that does not exist yet.
    InvalidInputError
        A bad model reference, window, threshold or reference.
    """
    from jupyter_mlops.config import current_user
    from jupyter_mlops.store.catalog import check_label

    ref, model_name, _alias, _version = canonical_ref(model)
    name = check_label(name or ref, "monitor name")
    if task is not None and task not in TASKS:
        raise InvalidInputError(f"task must be 'classification' or 'regression'; got {task!r}.")
    store = client.stores.monitoring
    try:
        existing = store.get_monitor(name)
    except NotFoundError:
        existing = None
    config = dict(existing.config) if existing else {"window": {"rows": DEFAULT_WINDOW}}
    if window is not _UNSET:
        config["window"] = parse_window(window)
    if thresholds is not None:
        unknown = set(thresholds) - set(DEFAULT_THRESHOLDS)
        if unknown:
            raise InvalidInputError(f"Unknown threshold(s) {sorted(unknown)}; known: "
                                    f"{sorted(DEFAULT_THRESHOLDS)}.")
        config["thresholds"] = {k: float(v) for k, v in thresholds.items()}
    if task is not None:
        config["task"] = task
    if keep_rows is not None:
        if keep_rows:  # fail now, not when the first window closes
            require("pyarrow", "fastparquet", extra="parquet", feature="A monitor's keep_rows")
        config["keep_rows"] = bool(keep_rows)
    if reference is None:
        if existing is None:
            raise NotFoundError(
                f"There is no monitor {name!r} yet: give reference= (a DataFrame or a logged "
                "dataset's name) to create it.")
        if existing.model_ref != ref:
            raise InvalidInputError(f"Monitor {name!r} watches {existing.model_ref}, not {ref}.")
        profile = ReferenceProfile.from_bytes(
            client.store.blobs.get_bytes(existing.profile_digest))
        info = store.save_monitor(
            name=name, model_name=model_name, model_ref=ref,
            reference_digest=existing.reference_digest,
            reference_dataset_id=existing.reference_dataset_id,
            profile_digest=existing.profile_digest, config=config,
            user=user or current_user()) if config != existing.config else existing
        return Monitor(client, info, profile, launcher)
    from jupyter_mlops.monitoring.references import build_profile

    profile, profile_digest, data_digest, dataset_id = build_profile(
        client, ref, reference, categorical=categorical, numeric=numeric, exclude=exclude,
        reference_predictions=reference_predictions)
    config.update({"categorical": list(categorical), "numeric": list(numeric),
                   "exclude": list(exclude)})
    info = store.save_monitor(name=name, model_name=model_name, model_ref=ref,
                              reference_digest=data_digest, reference_dataset_id=dataset_id,
                              profile_digest=profile_digest, config=config,
                              user=user or current_user())
    return Monitor(client, info, profile, launcher)


def get_monitor(name: str, client: StoresHolder, launcher=None) -> Monitor:
    """Reopen an existing monitor by name."""
    info = client.stores.monitoring.get_monitor(name)
    profile = ReferenceProfile.from_bytes(client.store.blobs.get_bytes(info.profile_digest))
    return Monitor(client, info, profile, launcher)


def list_monitors(client: ComponentStoresHolder) -> list[MonitorInfo]:
    """Every monitor in the store."""
    return client.stores.monitoring.list_monitors()
