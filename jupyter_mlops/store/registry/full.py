"""The SQLAlchemy registry store: every concern's mixin joined into one class.

Kept apart from the package's ``__init__`` so that importing the name checks
(``store.registry.checks``) does not import SQLAlchemy; ``store.registry.RegistryStore``
loads this module on first use.
"""

from __future__ import annotations

from jupyter_mlops.store.interfaces.registry import AbstractRegistryStore
from jupyter_mlops.store.registry.access import RegistryAccess
from jupyter_mlops.store.registry.aliases import ModelAliases
from jupyter_mlops.store.registry.metadata import ModelMetadata
from jupyter_mlops.store.registry.audit import RegistryAuditLog
from jupyter_mlops.store.registry.promotions import Promotions
from jupyter_mlops.store.registry.versions import ModelVersions


class RegistryStore(ModelVersions, ModelMetadata, Promotions, ModelAliases, RegistryAccess,
                    RegistryAuditLog, AbstractRegistryStore):
    """Registry reads and writes against one store URL."""
