"""Import papermill without loading its remote-storage backends until one is used.

``papermill.iorw`` imports, when they are installed, ``papermill.s3`` (boto3) and
``pyarrow.fs`` (pyarrow's whole C++ library) at import time, for ``s3://`` and ``hdfs://``
notebook paths. A pipeline step never hands papermill such a path: the runner reads the
notebook from the project's folder and writes the executed copy to a local temporary
file (artifacts go to the store through fsspec, not through papermill). Both imports cost
about half a second of CPU on this project's 2-core machines, in every process that runs a
step (``benchmarks/cold/papermill_import.py``).

So, while papermill loads, those two imports fail *in the importing thread only* — papermill
expects that (they are optional) — and papermill's placeholders are then replaced with
functions that import the real backend on first use. A user who later passes papermill an
``s3://`` or ``hdfs://`` path in the same process gets exactly what papermill would have
given them. Other threads importing pyarrow at the same moment are not affected: the
finder below answers only for the thread that installed it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading

#: What papermill.iorw imports eagerly and a step never uses. ``pyarrow`` itself, not only
#: ``pyarrow.fs``: importing a submodule loads its package first, and that is the cost.
_DEFERRED = frozenset({"papermill.s3", "pyarrow"})

_lock = threading.Lock()


class _DeferInThisThread(importlib.abc.MetaPathFinder):
    """Refuses the deferred modules, for the thread that created it, while installed."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if name in _DEFERRED and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{name} is loaded when papermill first needs it",
                                      name=name)
        return None


def import_papermill():
    """``papermill``, imported (once) with its remote backends deferred; returns the module."""
    if "papermill.iorw" in sys.modules:
        return sys.modules["papermill"]
    with _lock:
        if "papermill.iorw" in sys.modules:
            return sys.modules["papermill"]
        finder = _DeferInThisThread()
        sys.meta_path.insert(0, finder)
        try:
            import papermill
            import papermill.iorw as iorw
        finally:
            sys.meta_path.remove(finder)
        _restore_on_use(iorw)
        return papermill


def _restore_on_use(iorw) -> None:
    """Put back, as load-on-call functions, the backends that were deferred and exist."""
    if "papermill.s3" not in sys.modules and _installed("boto3"):
        iorw.S3 = _on_first_call("papermill.s3", "S3")
    if "pyarrow.fs" not in sys.modules and _installed("pyarrow"):
        iorw.HadoopFileSystem = _on_first_call("pyarrow.fs", "HadoopFileSystem")
        iorw.FileSelector = _on_first_call("pyarrow.fs", "FileSelector")


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _on_first_call(module: str, attr: str):
    def construct(*args, **kwargs):
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    construct.__name__ = construct.__qualname__ = attr
    return construct
