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


class LazyModule:
    """Attribute access imports the module on first use (keeps ``%load_ext`` fast)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


fluent = LazyModule("jupyter_mlops.fluent")
