"""Who may do what in the registry: role assignments, the role -> actions mapping, checks.

Authorisation is checked inside the same transaction as the change it guards: checking in
another transaction would leave a window between check and change.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select

from jupyter_mlops.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.orm import AuditEvent, RoleAssignment, RolePermission
from jupyter_mlops.store.registry.checks import check_role, check_user
from jupyter_mlops.store.registry.rows import RegistryRows
from jupyter_mlops.store.registry_records import RoleRecord

#: Actions the role mapping grants. ``approve`` also covers rejecting a request; ``set_alias``
#: is needed to move a *protected* alias directly; ``manage`` edits roles and gate policies.
ACTIONS = ("propose", "approve", "set_alias", "manage")
#: The mapping used while the ``role_permissions`` table is empty.
DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "data_scientist": ("propose",),
    "ml_engineer": ("propose", "approve", "set_alias"),
    "admin": ACTIONS,
}


class RegistryAccess(RegistryRows):
    """Roles and permissions, and the check every guarded change makes in its transaction."""

    @staticmethod
    def _permissions(conn: Connection) -> dict[str, set[str]]:
        rows = conn.execute(select(RolePermission.role, RolePermission.action)).all()
        if not rows:
            return {role: set(actions) for role, actions in DEFAULT_PERMISSIONS.items()}
        out: dict[str, set[str]] = {}
        for role, action in rows:
            out.setdefault(role, set()).add(action)
        return out

    @staticmethod
    def _never_shared(conn: Connection) -> bool:
        """True while no role has ever been granted in this store.

        Such a store is one person's: whoever opens it holds every role. Before this rule
        anyone could already grant themselves ``admin`` there (the bootstrap of ``manage``),
        so treating them as admin outright gives nobody a power they lacked. The first
        ``grant`` makes roles matter for good: revoking every role later does not reopen
        the store (the grant stays in the audit log). Four-eyes policies
        (``separate_approver``) are checked apart from roles and hold either way.
        """
        if conn.execute(select(RoleAssignment.user).limit(1)).first() is not None:
            return False
        return conn.execute(select(AuditEvent.id).where(
            AuditEvent.action == "grant_role").limit(1)).first() is None

    def _require(self, conn: Connection, user: str, action: str) -> None:
        """Raise PermissionDeniedError unless one of ``user``'s roles grants ``action``."""
        if self._never_shared(conn):
            return  # a single-user store: its user holds every role (see _never_shared)
        perms = self._permissions(conn)
        roles = set(conn.execute(select(RoleAssignment.role)
                                 .where(RoleAssignment.user == user)).scalars())
        if any(action in perms.get(role, ()) for role in roles):
            return
        granting = sorted(role for role, actions in perms.items() if action in actions)
        raise PermissionDeniedError(
            f"User {user!r} may not {action.replace('_', ' ')}: that needs one of the roles "
            f"{', '.join(granting) or '(none grants it)'}, and {user!r} holds "
            f"{', '.join(sorted(roles)) or 'no role'}. Ask an admin to run "
            f"`jupyter mlops models grant {user} {granting[0] if granting else 'ROLE'}`.")

    def grant_role(self, user: str, role: str, *, by: str) -> RoleRecord:
        check_user(user)
        check_role(role)
        check_user(by)
        t = now()
        with write_connection(self.url) as conn:
            self._require(conn, by, "manage")
            stmt = upsert(conn, RoleAssignment.__table__).values(
                user=user, role=role, granted_by=by, granted_at=t)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["user", "role"]))
            self._audit(conn, by, "grant_role", "user", user, {"role": role})
        return RoleRecord(user, role, by, t)

    def revoke_role(self, user: str, role: str, *, by: str) -> None:
        check_user(by)
        with write_connection(self.url) as conn:
            self._require(conn, by, "manage")
            gone = conn.execute(delete(RoleAssignment).where(
                RoleAssignment.user == user, RoleAssignment.role == role)).rowcount
            if not gone:
                raise NotFoundError(f"User {user!r} does not hold role {role!r}.")
            self._audit(conn, by, "revoke_role", "user", user, {"role": role})

    def list_roles(self, user: str | None = None) -> list[RoleRecord]:
        stmt = select(RoleAssignment.__table__).order_by(RoleAssignment.user, RoleAssignment.role)
        if user is not None:
            stmt = stmt.where(RoleAssignment.user == user)
        with read_connection(self.url) as conn:
            return [RoleRecord(r.user, r.role, r.granted_by, r.granted_at)
                    for r in conn.execute(stmt).all()]

    def permissions(self) -> dict[str, list[str]]:
        """role -> actions it grants (the defaults while none were configured)."""
        with read_connection(self.url) as conn:
            return {role: sorted(actions) for role, actions in
                    sorted(self._permissions(conn).items())}

    def set_permission(self, role: str, action: str, allowed: bool = True, *,
                       by: str) -> dict[str, list[str]]:
        """Grant or withdraw ``action`` for ``role``; the first edit copies in the defaults."""
        check_role(role)
        check_user(by)
        if action not in ACTIONS:
            raise InvalidInputError(f"Unknown action {action!r}; actions: {', '.join(ACTIONS)}.")
        with write_connection(self.url) as conn:
            self._require(conn, by, "manage")
            table = RolePermission.__table__
            if conn.execute(select(func.count()).select_from(table)).scalar_one() == 0:
                conn.execute(table.insert(), [{"role": r, "action": a} for r, actions in
                                              DEFAULT_PERMISSIONS.items() for a in actions])
            if allowed:
                stmt = upsert(conn, table).values(role=role, action=action)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["role", "action"]))
            else:
                conn.execute(delete(RolePermission).where(RolePermission.role == role,
                                                          RolePermission.action == action))
            self._audit(conn, by, "grant_permission" if allowed else "revoke_permission",
                        "role", role, {"action": action})
        return self.permissions()

    def roles_apply(self) -> bool:
        """False while the store was never shared (no role ever granted): see _never_shared."""
        with read_connection(self.url) as conn:
            return not self._never_shared(conn)

    def may(self, user: str, action: str) -> bool:
        with read_connection(self.url) as conn:
            try:
                self._require(conn, user, action)
            except PermissionDeniedError:
                return False
        return True
