"""Run lifecycle callbacks, in a module light enough for ``%load_ext`` to import.

The notebook layer registers here without importing the client (and SQLAlchemy) up front.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: Called with (active run, end status) just before a run ends; the notebook layer snapshots
#: the notebook there. A hook must not raise.
before_end_hooks: list[Callable[[Any, str], None]] = []
#: Called with the active run when the fluent API starts or attaches to one; the package root
#: registers the notebook's cell hooks there (injected: fluent never imports a front door).
run_start_hooks: list[Callable[[Any], None]] = []


class LazyModule:
    """Attribute access imports the module on first use (keeps ``%load_ext`` fast)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


fluent = LazyModule("jupyter_mlops.fluent")


def lazy_exports(package: str, table: dict[str, str], extra: tuple[str, ...] = ()):
    """Module ``__getattr__``/``__dir__`` that import ``name`` from ``table[name]`` on first use.

    Packages export their public names this way so importing them stays cheap (PEP 562); the
    value is cached in the package's namespace, so later look-ups are plain attribute reads.
    """
    import sys

    names = sorted(table) + list(extra)

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
