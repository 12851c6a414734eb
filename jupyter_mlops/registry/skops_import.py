"""Import ``skops.io`` without walking all of scikit-learn's tests and vendored packages.

Why: at import, ``skops.io._trusted_types`` builds its default trusted set from
``sklearn.utils.all_estimators()``, whose ``pkgutil.walk_packages`` imports every *package*
under sklearn to find its submodules — test packages (which import pytest), and
``sklearn.externals.array_api_compat.dask`` (which imports dask.array) — only to skip what it
found there. That was most of the 1.9-2.6 s a process paid for its first ``register_model``.

:func:`skops_io` imports skops.io once with ``all_estimators`` replaced, for that import only,
by :func:`estimators`: the same scan without descending into the packages all_estimators
skips anyway (private ones, ``tests``, ``externals``…), so the same modules are inspected
with the same filters. The trusted set stays skops' own: the list can only be the one
sklearn gives (tests/registry compares them name by name), never larger.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import threading
import warnings
from typing import Any

_LOCK = threading.Lock()


def skops_io() -> Any:
    """``skops.io``, imported (the first time) with the pruned estimator scan.

    Always through the lock and an ``import`` statement: a module found in ``sys.modules``
    may still be initialising in another thread, and ``import`` waits for it.
    """
    with _LOCK:
        if "skops.io._trusted_types" not in sys.modules:
            import sklearn.utils

            real = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = _pruned_or(real)
            try:
                import skops.io
            finally:
                sklearn.utils.all_estimators = real
        import skops.io

        return skops.io


def _pruned_or(real):
    def all_estimators(type_filter=None):
        if type_filter is None:
            try:
                return estimators()
            except Exception:  # noqa: BLE001 - a changed sklearn: its own scan decides
                pass
        return real(type_filter)
    return all_estimators


def estimators() -> list[tuple[str, type]]:
    """``sklearn.utils.all_estimators()``'s answer, without importing skipped packages."""
    import sklearn
    from sklearn.base import BaseEstimator
    from sklearn.utils.discovery import _MODULE_TO_IGNORE

    classes: set[tuple[str, type]] = set()
    with warnings.catch_warnings():  # as all_estimators: deprecated modules warn on import
        warnings.simplefilter("ignore", FutureWarning)
        for module in _public_modules(sklearn.__path__, "sklearn.", _MODULE_TO_IGNORE):
            classes.update((n, c) for n, c in inspect.getmembers(module, inspect.isclass)
                           if not n.startswith("_"))
    found = [(n, c) for n, c in classes
             if issubclass(c, BaseEstimator) and n != "BaseEstimator"
             and not _is_abstract(c)]
    return sorted(set(found), key=lambda item: item[0])


def _public_modules(path, prefix: str, ignore):
    """The modules all_estimators inspects: no part private or in ``ignore``. Their
    subpackages are not entered either (all_estimators would skip everything in them)."""
    for info in pkgutil.iter_modules(path, prefix):
        parts = info.name.split(".")[1:]
        if any(p in ignore or p.startswith("_") for p in parts):
            continue
        module = importlib.import_module(info.name)
        yield module
        if info.ispkg:
            yield from _public_modules(module.__path__, info.name + ".", ignore)


def _is_abstract(c: type) -> bool:
    # all_estimators' own test (sklearn/utils/discovery.py)
    return bool(getattr(c, "__abstractmethods__", None))
