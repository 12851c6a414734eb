"""``%load_ext jupyter_mlops``: register the magics and the cell hooks (nothing heavy imported)."""

from __future__ import annotations

_hooks = None


def ensure_hooks(ipython) -> None:
    """Register the cell hooks in ``ipython`` once per kernel.

    Called by ``%load_ext`` and by the fluent API when it starts (or attaches to) a run in an
    IPython kernel, so values logged after a bare ``import jupyter_mlops`` are also durable
    at the end of each cell and the run ends with the notebook's status at kernel exit.
    """
    global _hooks
    if _hooks is None:  # %load_ext after the fluent API (or twice) must not double-register
        from jupyter_mlops.notebook.hooks import CellHooks

        _hooks = CellHooks(ipython)
        _hooks.register()


def load(ipython) -> None:
    from jupyter_mlops.notebook.magics import MlopsMagics

    ipython.register_magics(MlopsMagics)
    ensure_hooks(ipython)
    print(f"jupyter-mlops: {_location().describe()}")


def _location():
    """Where the kernel's runs go, and why; the config resolver alone (no SQLAlchemy import).

    A default client already made (or set by ``set_client``) wins: it is the store in use.
    """
    import sys

    fluent = sys.modules.get("jupyter_mlops.fluent")
    client = getattr(fluent, "_client", None)
    if client is not None:
        return client.location
    from jupyter_mlops.config import resolve_locations

    return resolve_locations()


def unload(ipython) -> None:
    global _hooks
    if _hooks is not None:
        _hooks.unregister()
        _hooks = None
