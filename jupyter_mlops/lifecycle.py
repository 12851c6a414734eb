"""Run lifecycle callbacks, in a module light enough for ``%load_ext`` to import.

The notebook layer registers here without importing the client (and SQLAlchemy) up front.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: Called with (active run, end status) just before a run ends; the notebook layer snapshots
#: the notebook there. A hook must not raise. Registered with :func:`add_before_end_hook`.
_before_end_hooks: list[Callable[[Any, str], None]] = []
#: Called with the active run when the fluent API starts or attaches to one; the package root
#: registers the notebook's cell hooks there (injected: fluent never imports a front door).
#: Registered with :func:`add_run_start_hook`.
_run_start_hooks: list[Callable[[Any], None]] = []


# Other modules hand their hooks in through these functions; only this module writes the lists.
def add_before_end_hook(hook: Callable[[Any, str], None]) -> None:
    """Call ``hook(run, status)`` just before the fluent API ends a run (once per hook)."""
    if hook not in _before_end_hooks:
        _before_end_hooks.append(hook)


def remove_before_end_hook(hook: Callable[[Any, str], None]) -> None:
    """Stop calling ``hook`` (no-op when it is not registered)."""
    if hook in _before_end_hooks:
        _before_end_hooks.remove(hook)


def add_run_start_hook(hook: Callable[[Any], None]) -> None:
    """Call ``hook(run)`` whenever the fluent API starts or attaches to a run (once per hook)."""
    if hook not in _run_start_hooks:
        _run_start_hooks.append(hook)


def remove_run_start_hook(hook: Callable[[Any], None]) -> None:
    """Stop calling ``hook`` (no-op when it is not registered)."""
    if hook in _run_start_hooks:
        _run_start_hooks.remove(hook)


def run_started(run: Any) -> None:
    """Tell the run-start hooks (the fluent API calls this)."""
    for hook in list(_run_start_hooks):
        hook(run)


def run_ending(run: Any, status: str) -> None:
    """Tell the before-end hooks (the fluent API calls this before ending ``run``)."""
    for hook in list(_before_end_hooks):
        hook(run, status)


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
