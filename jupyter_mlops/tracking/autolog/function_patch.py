"""Reversible patching of ``lightgbm.train``, ``xgboost.train`` and Lightning's
``Trainer.fit``, now or when imported.

``autolog()`` usually comes before ``import lightgbm``, and importing LightGBM or XGBoost
just in case would cost a notebook a good part of a second. So a library that is not
imported yet is patched the moment its import finishes: a finder on ``sys.meta_path`` wraps
the package's loader once, then steps aside. A library that is not installed costs nothing.

The wrapper shares :mod:`.patching`'s depth counter, so a ``train`` called inside an
autologged ``fit`` (or the other way round) is recorded once, by the outermost call. It
gives the hooks a chance to add what they need to the call (an evaluation recorder), calls
the original, and only then records; a failure while recording is one printed line, and the
trained booster is returned untouched. ``from lightgbm import train`` run *before*
``autolog()`` keeps the unpatched function, as with any module-attribute patch.
"""

from __future__ import annotations

import functools
import importlib.abc
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from jupyter_mlops.tracking.autolog import patching
from jupyter_mlops.tracking.autolog.record import FitRecord

#: Writes a gathered record to a run (raises FitNotRecorded naming what failed).
Writer = Callable[[FitRecord], None]

_MARK = "__mlops_autolog_original__"
#: Library -> the attributes holding its training function.
#: ``module:Class.method`` names a method patched on its class (Lightning's ``Trainer.fit``).
TARGETS = {"lightgbm": ("lightgbm.train", "lightgbm.engine.train"),
           "xgboost": ("xgboost.train", "xgboost.training.train"),
           "lightning": ("lightning.pytorch.trainer.trainer:Trainer.fit",),
           "pytorch_lightning": ("pytorch_lightning.trainer.trainer:Trainer.fit",)}

_lock = threading.RLock()
_writer: dict[str, Any] = {"write": None, "log_datasets": True}
_patched: list[tuple[ModuleType, str, Callable]] = []
_pending: set[str] = set()


def patch_training_functions(write: Writer, log_datasets: bool) -> None:
    """Patch each library in :data:`TARGETS` now if imported, else when it is imported."""
    with _lock:
        _writer["write"], _writer["log_datasets"] = write, log_datasets
        for library in TARGETS:
            if any(m is sys.modules.get(library) for m, _, _ in _patched):
                continue
            module = sys.modules.get(library)
            if module is not None:
                _patch_library(library)
            else:
                _pending.add(library)
        if _pending and not any(isinstance(f, _ImportFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _ImportFinder())


def unpatch() -> None:
    """Put the original functions back and stop waiting for imports (idempotent)."""
    with _lock:
        _writer["write"] = None
        _pending.clear()
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _ImportFinder)]
        for module, attr, original in reversed(_patched):
            if getattr(getattr(module, attr, None), _MARK, None) is original:
                setattr(module, attr, original)
        _patched.clear()


def _patch_library(library: str) -> None:
    hooks = _hooks(library)
    for target in TARGETS[library]:
        owner, attr = _owner(target)
        original = getattr(owner, attr, None) if owner is not None else None
        if original is None or hasattr(original, _MARK):
            continue
        setattr(owner, attr, _wrap(original, target, hooks))
        _patched.append((owner, attr, original))


def _owner(target: str) -> tuple[Any, str]:
    """``module.attr`` -> (module, attr); ``module:Class.method`` -> (Class, method)."""
    if ":" not in target:
        module_name, attr = target.rsplit(".", 1)
        return sys.modules.get(module_name), attr
    module_name, path = target.split(":", 1)
    owner: Any = sys.modules.get(module_name)
    *classes, attr = path.split(".")
    for name in classes:
        owner = getattr(owner, name, None)
    return owner, attr


def _hooks(library: str) -> Any:
    if library in ("lightning", "pytorch_lightning"):
        from jupyter_mlops.tracking.autolog import lightning_fit

        return lightning_fit
    if library == "lightgbm":
        from jupyter_mlops.tracking.autolog import lightgbm_fit

        return lightgbm_fit
    from jupyter_mlops.tracking.autolog import xgboost_fit

    return xgboost_fit


def _wrap(original: Callable, name: str, hooks: Any) -> Callable:
    if hasattr(hooks, "wrap"):  # records while it runs (Lightning's Trainer.fit)
        wrapped = hooks.wrap(original)
        setattr(wrapped, _MARK, original)
        return wrapped
    what = name.split(".", 1)[0] + ".train"

    @functools.wraps(original)
    def train(*args, **kwargs):
        if not patching.enter_outermost():
            return original(*args, **kwargs)
        try:
            write = _writer["write"]
            try:
                call_args, call_kwargs, context = hooks.before(
                    original, args, kwargs, log_datasets=_writer["log_datasets"])
            except Exception as exc:  # cannot prepare: train unrecorded, as called
                patching.report(what, exc)
                return original(*args, **kwargs)
            booster = original(*call_args, **call_kwargs)
            if write is not None and _writer["write"] is write:  # still on after training
                try:
                    write(hooks.after(context, booster))
                except Exception as exc:  # never break the user's training over logging
                    patching.report(what, exc)
            return booster
        finally:
            patching.leave()

    setattr(train, _MARK, original)
    return train


class _ImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for a pending library it takes the spec the other finders
    give and wraps its loader, so the library is patched once its import has finished."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader, fullname)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, library: str):
        self._loader = loader
        self._library = library

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        with _lock:
            if self._library in _pending and _writer["write"] is not None:
                _pending.discard(self._library)
                try:
                    _patch_library(self._library)
                except Exception as exc:  # never break the user's import
                    patching.report(f"{self._library} (patching its train)", exc)
            if not _pending:
                sys.meta_path[:] = [f for f in sys.meta_path
                                    if not isinstance(f, _ImportFinder)]
