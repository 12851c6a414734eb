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

The rest of skops' import cost is naming ≈ 800 NumPy and SciPy ufuncs: ``whichmodule`` scans
``sys.modules`` for each one lacking ``__module__`` (≈ 0.4 s). Both answers depend only on the
installed skops, scikit-learn, NumPy and SciPy, so the first import writes the names it
found to a per-user cache (``$XDG_CACHE_HOME/jupyter-mlops``, keyed by those versions and
Python's), and later processes hand skops those names instead of recomputing them. A cache
file is used only if it is the user's own, not writable by anyone else, and every name in it
has the shape and package prefix skops itself keeps (so a bad file can never widen the set
beyond those packages' types); anything else is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import pkgutil
import re
import sys
import tempfile
import threading
import types
import warnings
from pathlib import Path
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

            cache = _NameCache()
            real = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = cache.all_estimators(_pruned_or(real))
            finder = _TrustedTypesFinder(cache)
            sys.meta_path.insert(0, finder)
            try:
                import skops.io
            finally:
                sys.meta_path.remove(finder)
                sklearn.utils.all_estimators = real
            cache.save()
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


# ------------------------------------------------------------------ the per-user name cache
#: Bumped when what the cache holds changes meaning.
_CACHE_FORMAT = 1
#: A dotted Python name (what skops' type names are).
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def cache_file() -> Path | None:
    """The cache file for the installed skops/sklearn/NumPy/SciPy/Python, or None."""
    try:  # the modules' own versions: cheaper than importlib.metadata's file parsing
        import numpy
        import scipy
        import skops
        import sklearn

        key = json.dumps([_CACHE_FORMAT, sys.implementation.cache_tag, sys.version,
                          *(str(m.__version__) for m in (skops, sklearn, numpy, scipy)),
                          *(str(Path(m.__file__).parent) for m in (skops, sklearn))])
    except Exception:  # noqa: BLE001 - no version to key on: no cache, just slower
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(base) / "jupyter-mlops" / f"skops-trusted-{digest}.json"


class _NameCache:
    """skops' expensive answers: read from the cache file, else computed and recorded."""

    def __init__(self):
        self.path = cache_file()
        self.loaded = _read_cache(self.path) if self.path else None
        self.found: dict[str, list[str]] = {}

    def all_estimators(self, compute):
        def all_estimators(type_filter=None):
            if type_filter is not None:
                return compute(type_filter)
            names = (self.loaded or {}).get("estimators")
            if names is not None:
                # skops reads only each class's module and name (get_type_name).
                return [(n.rpartition(".")[2], _named(n)) for n in names]
            found = compute(None)
            self.found["estimators"] = [f"{c.__module__}.{c.__name__}" for _, c in found]
            return found
        return all_estimators

    def public_type_names(self, compute):
        def get_public_type_names(module, oftype):
            key = f"public:{module.__name__}:{oftype.__module__}.{oftype.__qualname__}"
            names = (self.loaded or {}).get(key)
            if names is not None:
                return list(names)
            found = compute(module, oftype)
            self.found[key] = list(found)
            return found
        return get_public_type_names

    def save(self) -> None:
        """Write what this import computed (only when nothing came from the cache)."""
        if self.loaded is not None or self.path is None or "estimators" not in self.found:
            return
        if not all(_valid(k, v) for k, v in self.found.items()):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".skops-", suffix=".tmp")
            with os.fdopen(fd, "w") as f:  # mkstemp: mode 0600, ours
                json.dump(self.found, f)
            os.replace(tmp, self.path)
        except OSError:  # a read-only home: no cache, the next process computes again
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass


def _named(dotted: str) -> Any:
    """A stand-in with the ``__module__`` and ``__name__`` of the class ``dotted`` names."""
    module, _, name = dotted.rpartition(".")
    return types.SimpleNamespace(__module__=module, __name__=name)


def _valid(key: str, names: object) -> bool:
    """The shape skops' own lists have: dotted names under the package skops filters on."""
    if key == "estimators":
        prefix = "sklearn."
    elif key.startswith("public:") and key.split(":")[1].split(".")[0] in ("numpy", "scipy"):
        prefix = key.split(":")[1].split(".")[0] + "."  # names of that package's objects
    else:
        return False
    return (isinstance(names, list) and len(names) < 100_000 and all(
        isinstance(n, str) and len(n) <= 512 and n.startswith(prefix) and _DOTTED.fullmatch(n)
        for n in names))


def _read_cache(path: Path) -> dict[str, list[str]] | None:
    """The cache file's names, or None if it is missing, foreign, writable by others or odd."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            return None
        if st.st_size > 4_000_000:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(data, dict) or "estimators" not in data \
            or not all(_valid(k, v) for k, v in data.items()):
        return None
    return data


class _TrustedTypesFinder(importlib.abc.MetaPathFinder):
    """Runs ``skops.io._trusted_types`` with ``get_public_type_names`` served by the cache."""

    def __init__(self, cache: _NameCache):
        self.cache = cache

    def find_spec(self, fullname, path, target=None):
        if fullname != "skops.io._trusted_types":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _CachedLoader(spec.loader, self.cache)
        return spec


class _CachedLoader(importlib.abc.Loader):
    def __init__(self, loader, cache: _NameCache):
        self.loader = loader
        self.cache = cache

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        utils = importlib.import_module("skops.io._utils")
        real = utils.get_public_type_names
        utils.get_public_type_names = self.cache.public_type_names(real)
        try:
            self.loader.exec_module(module)
        finally:
            utils.get_public_type_names = real
