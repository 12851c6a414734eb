"""Reversible patching of scikit-learn's ``fit`` methods, logging once per outermost call.

Every class below ``sklearn.base.BaseEstimator`` that defines its own ``fit`` gets a wrapper;
classes defined *after* :func:`patch` (the user imports ``LogisticRegression`` after calling
``autolog()``, the usual order) are patched as they are created, through an
``__init_subclass__`` installed on ``BaseEstimator``. Importing every estimator up front
(``sklearn.utils.all_estimators``) would cost seconds; this costs nothing until a class exists.

A wrapper calls the original ``fit`` first and returns its result untouched; an exception from
``fit`` propagates as if nothing were patched. Only then does it call the recorder, and any
error there becomes one printed line. Nested fits (a Pipeline's steps, a search's inner fits,
a subclass calling ``super().fit``) run unlogged: one process-wide depth counter, so the inner
fits of a threading joblib backend, which run in other threads, are inner fits too.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

#: Called after an outermost ``fit`` returned: (estimator, fit's args, fit's kwargs, the
#: original unbound fit). It may raise; the wrapper turns that into one line.
Recorder = Callable[[Any, tuple, dict, Callable], None]

_MARK = "__mlops_autolog_original__"
_lock = threading.Lock()
_depth = 0  # outermost fits in progress, process-wide (see the module docstring)
_patched: list[tuple[type, Callable]] = []  # (class, its original fit), to undo
_state: dict[str, Any] = {"recorder": None, "silent": False, "base": None, "own_hook": None}


def is_patched() -> bool:
    return _state["recorder"] is not None


def patch(recorder: Recorder, *, silent: bool = False) -> None:
    """Wrap ``fit`` on every estimator class, now and as new ones are defined (idempotent:
    a second call only swaps the recorder and the silent flag)."""
    from sklearn.base import BaseEstimator

    with _lock:
        _state["recorder"], _state["silent"] = recorder, silent
        if _state["base"] is not None:
            return
        _state["base"] = BaseEstimator
        _state["own_hook"] = BaseEstimator.__dict__.get("__init_subclass__")
        for cls in _subclasses(BaseEstimator):
            _patch_class(cls)

        def __init_subclass__(cls, **kwargs):
            super(BaseEstimator, cls).__init_subclass__(**kwargs)
            if _state["recorder"] is not None:
                _patch_class(cls)

        BaseEstimator.__init_subclass__ = classmethod(__init_subclass__)


def set_recorder(recorder: Recorder, *, silent: bool = False) -> None:
    """Turn recording on without patching scikit-learn (it is not installed): the training
    functions of :mod:`.function_patch` count their calls here too."""
    with _lock:
        _state["recorder"], _state["silent"] = recorder, silent


def unpatch() -> None:
    """Put every original ``fit`` back and remove the class-creation hook (idempotent)."""
    with _lock:
        base = _state["base"]
        _state["recorder"] = None
        if base is None:
            return
        if _state["own_hook"] is not None:
            base.__init_subclass__ = _state["own_hook"]
        elif "__init_subclass__" in base.__dict__:
            del base.__init_subclass__
        for cls, original in reversed(_patched):
            # Someone who re-patched the class after us keeps their wrapper.
            if getattr(cls.__dict__.get("fit"), _MARK, None) is original:
                setattr(cls, "fit", original)
        _patched.clear()
        _state["base"] = None


def _subclasses(cls: type) -> list[type]:
    found, todo = [], list(cls.__subclasses__())
    while todo:
        sub = todo.pop()
        if sub not in found:
            found.append(sub)
            todo.extend(sub.__subclasses__())
    return found


def _patch_class(cls: type) -> None:
    original = cls.__dict__.get("fit")
    if not callable(original) or hasattr(original, _MARK):
        return
    setattr(cls, "fit", _wrap(original))
    _patched.append((cls, original))


def enter_outermost() -> bool:
    """Count one call in; True when it is the outermost and autologging is on (the caller
    must then call :func:`leave` when it ends)."""
    global _depth
    with _lock:
        outermost = _state["recorder"] is not None and _depth == 0
        if outermost:
            _depth += 1
    return outermost


def leave() -> None:
    global _depth
    with _lock:
        _depth -= 1


def report(what: str, exc: Exception) -> None:
    """One line on stderr for a record that failed (unless autolog is silent)."""
    if not _state["silent"]:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"jupyter-mlops: autolog did not record {what}: {text} (the fit itself "
              "succeeded).", file=sys.stderr)


def _wrap(original: Callable) -> Callable:
    @functools.wraps(original)  # keeps the signature sklearn's metadata routing inspects
    def fit(self, *args, **kwargs):
        if not enter_outermost():
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **kwargs)
            recorder = _state["recorder"]
            try:
                if recorder is not None:  # still on after the fit
                    recorder(self, args, kwargs, original)
            except Exception as exc:  # never break the user's fit over a logging problem
                report(f"{type(self).__name__}.fit", exc)
            return result
        finally:
            leave()

    setattr(fit, _MARK, original)
    return fit
