"""``%load_ext jupyter_mlops``: register the magics and the cell hooks (nothing heavy imported)."""

from __future__ import annotations

_hooks = None


def load(ipython) -> None:
    global _hooks
    from jupyter_mlops.notebook.hooks import CellHooks
    from jupyter_mlops.notebook.magics import MlopsMagics

    ipython.register_magics(MlopsMagics)
    if _hooks is None:  # %load_ext twice must not double-register hooks
        _hooks = CellHooks(ipython)
        _hooks.register()


def unload(ipython) -> None:
    global _hooks
    if _hooks is not None:
        _hooks.unregister()
        _hooks = None
