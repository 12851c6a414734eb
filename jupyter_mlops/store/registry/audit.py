"""Reading the registry's audit log (each change writes its own event: see ``rows._audit``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from jupyter_mlops.store.engine import read_connection
from jupyter_mlops.store.orm import AuditEvent
from jupyter_mlops.store.registry.rows import RegistryRows, _audit_record
from jupyter_mlops.store.registry_records import AuditRecord


class RegistryAuditLog(RegistryRows):
    """The audit log, newest first."""

    def audit_log(self, target_type: str | None = None, target_id: str | None = None, *,
                  actions: Iterable[str] | None = None,
                  limit: int | None = 200) -> list[AuditRecord]:
        """Audit events, newest first."""
        stmt = select(AuditEvent.__table__).order_by(AuditEvent.id.desc())
        if target_type is not None:
            stmt = stmt.where(AuditEvent.target_type == target_type)
        if target_id is not None:
            stmt = stmt.where(AuditEvent.target_id == target_id)
        if actions is not None:
            stmt = stmt.where(AuditEvent.action.in_(list(actions)))
        if limit is not None:
            stmt = stmt.limit(limit)
        with read_connection(self.url) as conn:
            return [_audit_record(r) for r in conn.execute(stmt).all()]
