"""Model registry SQL (C6): models, versions, aliases, promotions, roles and the audit log.

Every change is one write transaction that also writes its audit event, so the log can never
miss a change or record one that did not happen. One module per concern, joined in
:mod:`.full` into :class:`RegistryStore`:

- :mod:`.checks`: names of models, aliases, roles and users; JSON-safe metrics;
- :mod:`.rows`: the row lookups, audit writer and record conversions every part shares;
- :mod:`.access`: roles and permissions, checked inside the transaction they guard;
- :mod:`.versions`: models and their numbered versions;
- :mod:`.metadata`: empty models, renames, descriptions and tags;
- :mod:`.aliases`: alias moves (locked, gated, audited);
- :mod:`.promotions`: promotion requests and their approval;
- :mod:`.audit`: reading the audit log.

Which checks apply (and the promotion gates) is decided by :mod:`jupyter_mlops.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.store.registry.checks import (
    RESERVED_ALIASES,
    check_alias,
    check_model_name,
    check_role,
    check_user,
    clean_metrics,
)

if TYPE_CHECKING:
    from jupyter_mlops.store.interfaces.registry import Gate
    from jupyter_mlops.store.registry.access import ACTIONS, DEFAULT_PERMISSIONS
    from jupyter_mlops.store.registry.full import RegistryStore

__all__ = [
    "ACTIONS",
    "DEFAULT_PERMISSIONS",
    "RESERVED_ALIASES",
    "Gate",
    "RegistryStore",
    "check_alias",
    "check_model_name",
    "check_role",
    "check_user",
    "clean_metrics",
]

#: Names whose modules import SQLAlchemy: loaded on first use, so that the name checks above
#: (what the registry API and the lite path need) cost no SQLAlchemy import.
_LAZY = {
    "ACTIONS": "jupyter_mlops.store.registry.access",
    "DEFAULT_PERMISSIONS": "jupyter_mlops.store.registry.access",
    "Gate": "jupyter_mlops.store.interfaces.registry",
    "RegistryStore": "jupyter_mlops.store.registry.full",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
