"""Model registry SQL (C6): models, versions, aliases, promotions, roles and the audit log.

Every change is one write transaction that also writes its audit event, so the log can never
miss a change or record one that did not happen. One module per concern, joined here into
:class:`RegistryStore`:

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

from jupyter_mlops.store.interfaces.registry import AbstractRegistryStore, Gate
from jupyter_mlops.store.registry.access import ACTIONS, DEFAULT_PERMISSIONS, RegistryAccess
from jupyter_mlops.store.registry.aliases import ModelAliases
from jupyter_mlops.store.registry.audit import RegistryAuditLog
from jupyter_mlops.store.registry.checks import (
    RESERVED_ALIASES,
    check_alias,
    check_model_name,
    check_role,
    check_user,
    clean_metrics,
)
from jupyter_mlops.store.registry.metadata import ModelMetadata
from jupyter_mlops.store.registry.promotions import Promotions
from jupyter_mlops.store.registry.versions import ModelVersions

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


class RegistryStore(ModelVersions, ModelMetadata, Promotions, ModelAliases, RegistryAccess,
                    RegistryAuditLog, AbstractRegistryStore):
    """Registry reads and writes against one store URL."""
