"""The served model and its hot swap when the alias moves.

:class:`ModelHolder` resolves ``models:/NAME@ALIAS`` every ``poll_interval`` seconds in a
background thread. When the alias points at another version, the new version is loaded and
checked *off* the request path, then published with one attribute assignment. A request reads
``holder.current`` once and keeps that :class:`ServedModel` to the end, so requests in flight
during a switch finish on the version they started with and none fails; a version that cannot
be loaded is logged and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

import numpy as np

from jupyter_mlops.serving.batching import MicroBatcher, batch_invariant, batching_enabled
from jupyter_mlops.serving.inputs import InputError, Parsed, numeric_matrix, to_frame
from jupyter_mlops.serving.mlflow_rules import (
    MLFLOW,
    STRICT,
    check_rules,
    coerce,
    refuse_positional,
)

log = logging.getLogger(__name__)
_NUMERIC = ("float", "integer")


class ServedModel:
    """One loaded model version plus how to feed it.

    ``fast`` is True when the signature is all numeric and the model gives the same answer on a
    bare float array as on a DataFrame (checked once at load with the stored input example):
    then requests skip pandas entirely.
    """

    def __init__(self, loaded, version, input_rules: str = STRICT):
        self.loaded = loaded
        self.version = version
        self.input_rules = check_rules(input_rules)
        sig = loaded.signature
        self.signature = sig
        self.columns: list[str] | None = None
        self.kinds: list[str] = []
        if sig is not None and sig.type == "dataframe":
            self.columns = [c.name for c in sig.columns]
            self.kinds = [c.kind for c in sig.columns]
        self.fast = bool(self.columns) and all(k in _NUMERIC for k in self.kinds) and \
            self._array_ok()
        # The fast path checks finiteness itself, so the event loop can run the model with
        # scikit-learn's own check off (see app.py); models that score NaN keep getting it.
        self.allows_nan = self.fast and self._nan_ok()
        self.raw_predict = loaded.raw_predict  # a bare xgboost.Booster: inplace_predict
        # Concurrent small requests scored in one call, where that cannot change an answer.
        self.batcher = MicroBatcher(self.predict) if self.fast and batching_enabled() and \
            batch_invariant(self.predict, self._example_matrix()) else None

    @property
    def label(self) -> str:
        return f"{self.version.name} v{self.version.version}"

    def _example_frame(self):
        """The stored input example in signature order (two rows of zeros without one)."""
        import pandas as pd

        from jupyter_mlops.registry.signature import example_from_json

        example = example_from_json(self.version.input_example)
        frame = example if isinstance(example, pd.DataFrame) else None
        if frame is None or any(c not in frame.columns for c in self.columns):
            frame = pd.DataFrame(np.zeros((2, len(self.columns))), columns=self.columns)
        return frame[self.columns]

    def _example_matrix(self) -> np.ndarray:
        try:
            return self._example_frame().to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            return np.zeros((2, len(self.columns)))

    def _array_ok(self) -> bool:
        frame = self._example_frame()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                by_frame = np.asarray(self.loaded.raw_predict(frame))
                by_array = np.asarray(self.loaded.raw_predict(
                    frame.to_numpy(dtype=np.float64)))
        except Exception:
            return False
        return by_frame.shape == by_array.shape and bool(np.all(
            (by_frame == by_array) | ((by_frame != by_frame) & (by_array != by_array))))

    def _nan_ok(self) -> bool:
        probe = np.full((1, len(self.columns)), np.nan)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.loaded.raw_predict(probe)
        except Exception:
            return False
        return True

    def prepare(self, parsed: Parsed) -> Any:
        """The model input for a parsed request (raises InputError on a signature mismatch)."""
        if self.input_rules == MLFLOW:
            return self._prepare_like_mlflow(parsed)
        if self.fast:
            return self._matrix(parsed)
        data: Any = to_frame(parsed, self.columns, self.kinds)
        if data is None:
            data = np.asarray(parsed.data)
        return self._checked(data)

    def _matrix(self, parsed: Parsed) -> np.ndarray:
        X = numeric_matrix(parsed, self.columns, self.kinds)
        self._refuse_non_finite(X)
        return X

    def _refuse_non_finite(self, X: np.ndarray) -> None:
        if not self.allows_nan and not np.isfinite(X).all():
            bad = [c for c, ok in zip(self.columns, np.isfinite(X).all(axis=0)) if not ok]
            raise InputError(f"Column(s) {', '.join(map(repr, bad))} have missing (null) or "
                             "infinite values, which this model cannot score.", 400,
                             "BAD_REQUEST")

    def _checked(self, data: Any) -> Any:
        from jupyter_mlops.errors import InvalidInputError, SignatureTypeError

        try:
            return self.loaded.check_input(data)
        except SignatureTypeError as exc:  # MLflow's code for values of the wrong type
            raise InputError(str(exc), 400, "BAD_REQUEST") from None
        except InvalidInputError as exc:
            raise InputError(str(exc), 400, "INVALID_PARAMETER_VALUE") from None

    def _prepare_like_mlflow(self, parsed: Parsed) -> Any:
        """``serve --input-rules mlflow``: MLflow's conversions (:mod:`.mlflow_rules`)."""
        refuse_positional(parsed, self.columns)
        if self.fast:
            try:
                return self._matrix(parsed)
            except InputError:
                pass  # what the fast path refuses, MLflow may convert: read it as MLflow does
        data: Any = to_frame(parsed, self.columns, self.kinds)
        if data is None:
            return self._checked(np.asarray(parsed.data))
        checked = self._checked(coerce(data, self.columns or [], self.kinds))
        if not self.fast:
            return checked
        X = np.asarray(checked[self.columns], dtype=np.float64)
        self._refuse_non_finite(X)  # predict() runs a fast model without sklearn's own check
        return X

    def predict(self, X: Any) -> Any:
        """Score prepared input; a model's own ValueError/TypeError is the client's input."""
        try:
            if self.fast:
                return self.raw_predict(X)
            with _finite_checks():
                return self.raw_predict(X)
        except (ValueError, TypeError) as exc:
            # BAD_REQUEST, as MLflow's scoring server answers a model's own refusal.
            raise InputError(f"The model could not score this input: {exc}", 400,
                             "BAD_REQUEST") from None


def _finite_checks():
    """scikit-learn's own NaN/inf check back on (the slow path has not checked)."""
    try:
        import sklearn

        return sklearn.config_context(assume_finite=False)
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()


class ModelHolder:
    """Keep the version ``ref`` names loaded; switch when the alias moves.

    Parameters
    ----------
    client : Client
    ref : str
        ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/NAME`` (latest).
    trusted : bool
        Allow pickle/joblib versions.
    poll_interval : float
        Seconds between looks at the registry (0 disables watching).
    on_switch : callable, optional
        ``on_switch(old, new)`` after a switch (the server closes the monitor window).
    input_rules : {"strict", "mlflow"}
        How requests are read (:mod:`jupyter_mlops.serving.mlflow_rules`), for every
        version this holder loads.
    """

    def __init__(self, client, ref: str, *, trusted: bool = False, poll_interval: float = 2.0,
                 on_switch=None, input_rules: str = STRICT):
        self.client = client
        self.ref = ref if ref.startswith("models:/") else f"models:/{ref}"
        self.registry = client.registry
        self.trusted = trusted
        self.poll_interval = poll_interval
        self.on_switch = on_switch
        self.input_rules = check_rules(input_rules)
        self.switches = 0
        self.last_error: str | None = None
        # Loaded with warnings silenced once here rather than per request.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        self.current = self._load(self.registry.resolve(self.ref))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _load(self, version) -> ServedModel:
        loaded = self.registry.load_model(f"models:/{version.name}/{version.version}",
                                          trusted=self.trusted)
        return ServedModel(loaded, version, self.input_rules)

    def refresh(self) -> bool:
        """Look at the registry once; switch if the reference now names another version."""
        try:
            version = self.registry.resolve(self.ref)
        except Exception as exc:  # registry unreachable or alias deleted: keep serving
            self._note(f"could not resolve {self.ref}: {exc}")
            return False
        if version.id == self.current.version.id:
            return False
        try:
            new = self._load(version)
        except Exception as exc:
            self._note(f"could not load {version.name} v{version.version}: {exc}")
            return False
        old, self.current = self.current, new
        self.switches += 1
        self.last_error = None
        log.warning("%s now serves %s (was %s)", self.ref, new.label, old.label)
        if self.on_switch is not None:
            try:
                self.on_switch(old, new)
            except Exception:
                log.exception("switch callback failed")
        return True

    def _note(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s; still serving %s", message, self.current.label)
        self.last_error = message

    def start(self) -> "ModelHolder":
        if self.poll_interval > 0 and (self._thread is None or not self._thread.is_alive()):
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="mlops-model-watch",
                                            daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.refresh()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
