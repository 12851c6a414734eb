"""Aliases (``champion`` -> version 3): moved atomically, gated, every move audited.

An alias move locks the model's row first (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers), so two processes reassigning an alias at once
leave one winner and a history in which every entry's ``previous`` is the entry before it.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete

from jupyter_mlops.errors import ConflictError, NotFoundError
from jupyter_mlops.store.engine import now, upsert, write_connection
from jupyter_mlops.store.interfaces.registry import Gate
from jupyter_mlops.store.orm import ModelAlias, ModelVersion
from jupyter_mlops.store.registry.access import RegistryAccess
from jupyter_mlops.store.registry.audit import RegistryAuditLog
from jupyter_mlops.store.registry.checks import check_alias, check_model_name, check_user
from jupyter_mlops.store.registry_records import AliasRecord, AuditRecord


class ModelAliases(RegistryAccess, RegistryAuditLog):
    """Set, move and delete aliases, and their history."""

    def set_alias(self, name: str, alias: str, version: int, *, user: str,
                  reason: str | None = None, require: str | None = None,
                  gate: Gate | None = None, details: dict | None = None) -> AliasRecord:
        """Point ``alias`` at ``version`` atomically; audit it with the previous target.

        ``require`` names an action the user's roles must grant; ``gate`` may veto the move
        (the refusal and its verdict are audited, then :class:`ConflictError` is raised).
        """
        check_alias(alias)
        check_user(user)
        refused = None
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            if require:
                self._require(conn, user, require)
            refused, _ = self._move_alias(conn, model, row, alias, user, reason, gate, details)
        if refused:
            raise refused
        return AliasRecord(name, alias, version, user, now())

    def _move_alias(self, conn: Connection, model, row, alias: str, user: str,
                    reason: str | None, gate: Gate | None,
                    details: dict | None) -> tuple[ConflictError | None, dict | None]:
        """Within the caller's transaction: run the gate, move the alias, audit.

        Returns ``(error, verdict)``: the error to raise after commit when the gate refused
        (the refusal itself is recorded, so it must not be rolled back), and the verdict.
        """
        name = model.name
        current = self._alias_target(conn, model.id, alias)
        verdict = None
        if gate is not None:
            candidate = self._versions(conn, model, ModelVersion.id == row.id)[0]
            incumbent = (self._versions(conn, model, ModelVersion.id == current.version_id)[0]
                         if current is not None else None)
            verdict = gate(model.gate_policy, candidate, incumbent)
        base = {"alias": alias, "version": row.version,
                "previous": current.version if current is not None else None,
                **(details or {})}
        if verdict is not None:
            base["gate"] = verdict
        if verdict is not None and not verdict.get("passed"):
            self._audit(conn, user, "gate_failed", "model", name, base, reason)
            return ConflictError(
                f"The promotion gate of {name!r} refused to point {alias!r} at version "
                f"{row.version}: {verdict.get('summary', 'gate failed')}. The verdict is in "
                "the audit log."), verdict
        stmt = upsert(conn, ModelAlias.__table__).values(
            model_id=model.id, alias=alias, version_id=row.id, updated_by=user, updated_at=now())
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["model_id", "alias"],
            set_={k: stmt.excluded[k] for k in ("version_id", "updated_by", "updated_at")}))
        self._audit(conn, user, "set_alias", "model", name, base, reason)
        return None, verdict

    def delete_alias(self, name: str, alias: str, *, user: str, reason: str | None = None,
                     require: str | None = None) -> int:
        """Remove ``alias``; return the version it pointed at. NotFoundError if unset."""
        check_alias(alias)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            current = self._alias_target(conn, model.id, alias)
            if current is None:
                raise NotFoundError(f"Model {name!r} has no alias {alias!r} to delete.")
            if require:
                self._require(conn, user, require)
            conn.execute(delete(ModelAlias).where(ModelAlias.model_id == model.id,
                                                  ModelAlias.alias == alias))
            self._audit(conn, user, "delete_alias", "model", name,
                        {"alias": alias, "version": None, "previous": current.version}, reason)
        return current.version

    def alias_history(self, name: str, alias: str | None = None) -> list[AuditRecord]:
        """Every alias move of ``name`` (oldest first), refused gate checks included."""
        check_model_name(name)
        events = self.audit_log("model", name, actions=("set_alias", "delete_alias",
                                                         "gate_failed"), limit=None)
        events.reverse()
        if alias is not None:
            events = [e for e in events if (e.details or {}).get("alias") == alias]
        return events
