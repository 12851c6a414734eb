"""Model registry SQL (C6): models, versions, aliases, promotions, roles and the audit log.

Every change is one write transaction that also writes its audit event, so the log can never
miss a change or record one that did not happen. Alias moves lock the model's row first
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), so two processes reassigning an alias at once leave one winner and a history in
which every entry's ``previous`` is the entry before it.

Authorisation lives here too, inside the same transactions: the store holds the role mapping,
and checking it in another transaction would leave a window between check and change.
Which checks apply (and the promotion gates) is decided by :mod:`jupyter_mlops.registry`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, and_, delete, func, select, update

from jupyter_mlops.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.orm import (
    AuditEvent,
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
    RoleAssignment,
    RolePermission,
)
from jupyter_mlops.store.registry_records import (
    AliasRecord,
    AuditRecord,
    ModelVersionRecord,
    PromotionRecord,
    RegisteredModelRecord,
    RoleRecord,
)

#: Actions the role mapping grants. ``approve`` also covers rejecting a request; ``set_alias``
#: is needed to move a *protected* alias directly; ``manage`` edits roles and gate policies.
ACTIONS = ("propose", "approve", "set_alias", "manage")
#: The mapping used while the ``role_permissions`` table is empty.
DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "data_scientist": ("propose",),
    "ml_engineer": ("propose", "approve", "set_alias"),
    "admin": ACTIONS,
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,127}")
_ROLE = re.compile(r"[a-z][a-z0-9_\-]{0,63}")
#: Aliases that mean something else in a ``models:/`` URI.
RESERVED_ALIASES = ("latest",)

#: ``gate(policy, candidate, current) -> verdict dict (with a bool "passed") or None``.
Gate = Callable[[dict | None, ModelVersionRecord, "ModelVersionRecord | None"], dict | None]


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"Model names are 1–256 characters of letters, digits, '_', '.' and '-', starting "
            f"with a letter or digit (so 'models:/NAME@ALIAS' stays unambiguous); got {name!r}.")
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or alias in RESERVED_ALIASES:
        raise InvalidInputError(
            f"Aliases are 1–128 letters, digits, '_' or '-', starting with a letter or '_' "
            f"(not a number, which would read as a version, and not 'latest'); got {alias!r}.")
    return alias


def check_role(role: object) -> str:
    if not isinstance(role, str) or not _ROLE.fullmatch(role):
        raise InvalidInputError(
            f"Role names are lowercase letters, digits, '_' or '-' (e.g. 'ml_engineer'); "
            f"got {role!r}.")
    return role


def check_user(user: object) -> str:
    if not isinstance(user, str) or not user.strip() or len(user) > 128 \
            or not user.isprintable():
        raise InvalidInputError(f"A user name is 1–128 printable characters; got {user!r}.")
    return user


def clean_metrics(metrics: dict | None) -> dict[str, float | None]:
    """JSON-safe copy: NaN/inf become None (PostgreSQL's JSON rejects them)."""
    out: dict[str, float | None] = {}
    for key, value in (metrics or {}).items():
        v = float(value) if value is not None else None
        out[str(key)] = v if v is not None and math.isfinite(v) else None
    return out


def _model_record(row, latest: int | None, aliases: dict[str, int]) -> RegisteredModelRecord:
    return RegisteredModelRecord(
        id=row.id, name=row.name, description=row.description, gate_policy=row.gate_policy,
        created_at=row.created_at, updated_at=row.updated_at, latest_version=latest,
        aliases=aliases)


def _version_record(row, name: str, aliases: Iterable[str] = ()) -> ModelVersionRecord:
    return ModelVersionRecord(
        id=row.id, name=name, version=row.version, run_id=row.run_id, digest=row.digest,
        size=row.size, flavor=row.flavor, model_class=row.model_class,
        trusted_types=list(row.trusted_types or []), signature=row.signature,
        input_example=row.input_example, metrics=dict(row.metrics or {}),
        description=row.description, created_by=row.created_by, created_at=row.created_at,
        aliases=tuple(sorted(aliases)))


def _audit_record(row) -> AuditRecord:
    return AuditRecord(id=row.id, at=row.at, user=row.user, action=row.action,
                       target_type=row.target_type, target_id=row.target_id,
                       details=row.details, reason=row.reason)


class RegistryStore:
    """Registry reads and writes against one store URL."""

    def __init__(self, url: str):
        self.url = url

    # ================================================================== helpers (in a txn)
    @staticmethod
    def _audit(conn: Connection, user: str, action: str, target_type: str, target_id: str,
               details: dict | None = None, reason: str | None = None) -> None:
        conn.execute(AuditEvent.__table__.insert().values(
            at=now(), user=user, action=action, target_type=target_type, target_id=target_id,
            details=details, reason=reason))

    @staticmethod
    def _model_row(conn: Connection, name: str, *, lock: bool = False):
        stmt = select(RegisteredModel.__table__).where(RegisteredModel.name == name)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise NotFoundError(
                f"There is no registered model {name!r}. List models with `%mlops models` or "
                "`jupyter mlops models list`.")
        return row

    @staticmethod
    def _version_row(conn: Connection, model_id: int, name: str, version: int):
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInputError(f"Model versions are numbers from 1; got {version!r}.")
        row = conn.execute(select(ModelVersion.__table__).where(
            ModelVersion.model_id == model_id, ModelVersion.version == version)).first()
        if row is None:
            latest = conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == model_id)).scalar()
            have = f"its latest version is {latest}" if latest else "it has no versions"
            raise NotFoundError(f"Model {name!r} has no version {version}; {have}.")
        return row

    @staticmethod
    def _alias_target(conn: Connection, model_id: int, alias: str):
        return conn.execute(
            select(ModelAlias.version_id, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
            .where(ModelAlias.model_id == model_id, ModelAlias.alias == alias)).first()

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

    def _aliases_of_model(self, conn: Connection, model_id: int) -> dict[str, int]:
        rows = conn.execute(
            select(ModelAlias.alias, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
            .where(ModelAlias.model_id == model_id).order_by(ModelAlias.alias)).all()
        return {alias: version for alias, version in rows}

    def _versions(self, conn: Connection, model_row, where=None) -> list[ModelVersionRecord]:
        by_version: dict[int, list[str]] = {}
        for alias, version in self._aliases_of_model(conn, model_row.id).items():
            by_version.setdefault(version, []).append(alias)
        stmt = select(ModelVersion.__table__).where(ModelVersion.model_id == model_row.id)
        if where is not None:
            stmt = stmt.where(where)
        rows = conn.execute(stmt.order_by(ModelVersion.version)).all()
        return [_version_record(r, model_row.name, by_version.get(r.version, ())) for r in rows]

    # ================================================================== models and versions
    def create_version(
        self, name: str, *, digest: str, size: int, flavor: str, model_class: str,
        trusted_types: list[str] | None, signature: dict | None, input_example: dict | None,
        metrics: dict | None, description: str | None, run_id: str | None, user: str,
        details: dict | None = None,
    ) -> ModelVersionRecord:
        """Add version N+1 of ``name`` (creating the model if new) and audit it."""
        check_model_name(name)
        check_user(user)
        t = now()
        with write_connection(self.url) as conn:
            stmt = upsert(conn, RegisteredModel.__table__).values(
                name=name, description=description, gate_policy=None, created_at=t,
                updated_at=t)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            model = self._model_row(conn, name, lock=True)
            version = max(conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == model.id)).scalar() or 0,
                self._highest_deleted(conn, name)) + 1
            values = dict(
                model_id=model.id, version=version, run_id=run_id, digest=digest, size=size,
                flavor=flavor, model_class=model_class[:512],
                trusted_types=sorted(set(trusted_types or [])), signature=signature,
                input_example=input_example, metrics=clean_metrics(metrics),
                description=description, created_by=user, created_at=t)
            version_id = conn.execute(ModelVersion.__table__.insert().values(**values)
                                      ).inserted_primary_key[0]
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(updated_at=t))
            self._audit(conn, user, "register", "model", name, {
                "version": version, "digest": digest, "flavor": flavor, "run_id": run_id,
                "trusted_types": values["trusted_types"], **(details or {})})
        values.pop("model_id")
        return ModelVersionRecord(id=version_id, name=name, **values)

    def get_model(self, name: str) -> RegisteredModelRecord:
        check_model_name(name)
        with read_connection(self.url) as conn:
            row = self._model_row(conn, name)
            latest = conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == row.id)).scalar()
            return _model_record(row, latest, self._aliases_of_model(conn, row.id))

    def list_models(self) -> list[RegisteredModelRecord]:
        with read_connection(self.url) as conn:
            rows = conn.execute(select(RegisteredModel.__table__)
                                .order_by(RegisteredModel.name)).all()
            latest = dict(conn.execute(select(ModelVersion.model_id, func.max(
                ModelVersion.version)).group_by(ModelVersion.model_id)).all())
            aliases: dict[int, dict[str, int]] = {}
            for model_id, alias, version in conn.execute(
                    select(ModelAlias.model_id, ModelAlias.alias, ModelVersion.version)
                    .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
                    .order_by(ModelAlias.alias)):
                aliases.setdefault(model_id, {})[alias] = version
        return [_model_record(r, latest.get(r.id), aliases.get(r.id, {})) for r in rows]

    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        check_model_name(name)
        with read_connection(self.url) as conn:
            model = self._model_row(conn, name)
            self._version_row(conn, model.id, name, version)
            return self._versions(conn, model, ModelVersion.version == version)[0]

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersionRecord:
        check_model_name(name)
        check_alias(alias)
        with read_connection(self.url) as conn:
            model = self._model_row(conn, name)
            target = self._alias_target(conn, model.id, alias)
            if target is None:
                known = ", ".join(self._aliases_of_model(conn, model.id)) or "none"
                raise NotFoundError(
                    f"Model {name!r} has no alias {alias!r} (its aliases: {known}). Set one "
                    f"with `mlops.set_alias({name!r}, {alias!r}, VERSION)`.")
            return self._versions(conn, model, ModelVersion.id == target.version_id)[0]

    def get_latest_version(self, name: str) -> ModelVersionRecord:
        check_model_name(name)
        with read_connection(self.url) as conn:
            model = self._model_row(conn, name)
            latest = conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == model.id)).scalar()
            if latest is None:
                raise NotFoundError(f"Model {name!r} has no versions yet.")
            return self._versions(conn, model, ModelVersion.version == latest)[0]

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        check_model_name(name)
        with read_connection(self.url) as conn:
            return self._versions(conn, self._model_row(conn, name))

    def set_gate_policy(self, name: str, policy: dict | None, *, user: str,
                        reason: str | None = None) -> RegisteredModelRecord:
        """Replace the model's promotion-gate policy (needs ``manage``); audited."""
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            self._require(conn, user, "manage")
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(gate_policy=policy, updated_at=now()))
            self._audit(conn, user, "set_gate_policy", "model", name,
                        {"policy": policy, "previous": model.gate_policy}, reason)
        return self.get_model(name)

    def referenced_digests(self) -> set[str]:
        """Blob digests the registry points at (to keep them out of garbage collection)."""
        with read_connection(self.url) as conn:
            return set(conn.execute(select(ModelVersion.digest)).scalars())

    # ================================================================== aliases
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

    @staticmethod
    def _highest_deleted(conn: Connection, name: str) -> int:
        """The highest version number of ``name`` ever deleted: numbers are never reused."""
        rows = conn.execute(select(AuditEvent.details).where(
            AuditEvent.target_type == "model", AuditEvent.target_id == name,
            AuditEvent.action.in_(("delete_version", "delete_model"))))
        return max((int(d.get("highest_version") or d.get("version") or 0)
                    for (d,) in rows if isinstance(d, dict)), default=0)

    def delete_version(self, name: str, version: int, *, user: str,
                       reason: str | None = None) -> None:
        """Delete one version (needs ``manage``); refused while an alias points at it.

        Its pending promotion requests go with it; its blob is left for ``jupyter mlops gc``;
        the audit log keeps the registration and the deletion, and the number is not reused.
        """
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            self._require(conn, user, "manage")
            aliases = sorted(conn.execute(select(ModelAlias.alias).where(
                ModelAlias.version_id == row.id)).scalars())
            if aliases:
                raise ConflictError(
                    f"Version {version} of {name!r} is {', '.join(aliases)}: point "
                    f"{'those aliases' if len(aliases) > 1 else 'that alias'} elsewhere or "
                    "delete it first.")
            conn.execute(delete(PromotionRequest).where(PromotionRequest.version_id == row.id))
            conn.execute(delete(ModelVersion).where(ModelVersion.id == row.id))
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(updated_at=now()))
            self._audit(conn, user, "delete_version", "model", name,
                        {"version": version, "digest": row.digest, "run_id": row.run_id},
                        reason)

    def delete_model(self, name: str, *, user: str, reason: str | None = None) -> int:
        """Delete a model and all its versions (needs ``manage``); refused while it has
        aliases. Returns how many versions went. The audit log keeps its history."""
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            self._require(conn, user, "manage")
            aliases = self._aliases_of_model(conn, model.id)
            if aliases:
                raise ConflictError(
                    f"Model {name!r} still has aliases ({', '.join(sorted(aliases))}): "
                    "delete them first, so no deployment loses its model by surprise.")
            versions = list(conn.execute(select(ModelVersion.version).where(
                ModelVersion.model_id == model.id)).scalars())
            conn.execute(delete(PromotionRequest).where(PromotionRequest.model_id == model.id))
            conn.execute(delete(ModelVersion).where(ModelVersion.model_id == model.id))
            conn.execute(delete(RegisteredModel).where(RegisteredModel.id == model.id))
            self._audit(conn, user, "delete_model", "model", name,
                        {"versions": sorted(versions),
                         "highest_version": max([*versions, self._highest_deleted(conn, name)])},
                        reason)
        return len(versions)

    def alias_history(self, name: str, alias: str | None = None) -> list[AuditRecord]:
        """Every alias move of ``name`` (oldest first), refused gate checks included."""
        check_model_name(name)
        events = self.audit_log("model", name, actions=("set_alias", "delete_alias",
                                                         "gate_failed"), limit=None)
        events.reverse()
        if alias is not None:
            events = [e for e in events if (e.details or {}).get("alias") == alias]
        return events

    # ================================================================== promotions
    def create_promotion(self, name: str, version: int, alias: str, *, user: str,
                         reason: str | None = None) -> PromotionRecord:
        check_alias(alias)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            self._require(conn, user, "propose")
            pending = conn.execute(select(PromotionRequest.id).where(
                PromotionRequest.model_id == model.id, PromotionRequest.status == "PENDING",
                PromotionRequest.alias == alias, PromotionRequest.version_id == row.id)).first()
            if pending is not None:
                raise ConflictError(
                    f"Request #{pending.id} to point {alias!r} of {name!r} at version {version} "
                    "is already pending; approve or reject it.")
            t = now()
            request_id = conn.execute(PromotionRequest.__table__.insert().values(
                model_id=model.id, version_id=row.id, alias=alias, status="PENDING",
                proposed_by=user, proposed_at=t, reason=reason)).inserted_primary_key[0]
            self._audit(conn, user, "propose", "model", name,
                        {"request_id": request_id, "alias": alias, "version": version}, reason)
        return PromotionRecord(request_id, name, version, alias, "PENDING", user, t, reason,
                               None, None, None)

    def decide_promotion(self, request_id: int, *, approve: bool, user: str,
                         reason: str | None = None, gate: Gate | None = None) -> PromotionRecord:
        """Approve (moving the alias, gate permitting) or reject a PENDING request."""
        check_user(user)
        refused = None
        with write_connection(self.url) as conn:
            req = self._request_row(conn, request_id)
            model = conn.execute(select(RegisteredModel.__table__).where(
                RegisteredModel.id == req.model_id).with_for_update()).one()
            req = self._request_row(conn, request_id)  # re-read under the model's lock
            if req.status != "PENDING":
                raise ConflictError(
                    f"Request #{request_id} is already {req.status} (by {req.decided_by}).")
            self._require(conn, user, "approve")
            if approve and req.proposed_by == user and (model.gate_policy or {}).get(
                    "separate_approver"):
                raise PermissionDeniedError(
                    f"{user!r} proposed request #{request_id}; the policy of {model.name!r} "
                    "(separate_approver) needs another user with the approve role to approve "
                    "it.")
            row = conn.execute(select(ModelVersion.__table__).where(
                ModelVersion.id == req.version_id)).one()
            verdict = None
            if approve:
                refused, verdict = self._move_alias(
                    conn, model, row, req.alias, user, reason, gate,
                    {"via": "promotion", "request_id": request_id})
            if refused is not None:  # stays PENDING: it may pass once reproduced
                conn.execute(update(PromotionRequest).where(PromotionRequest.id == request_id)
                             .values(gate_verdict=verdict))
            else:
                conn.execute(update(PromotionRequest).where(PromotionRequest.id == request_id)
                             .values(status="APPROVED" if approve else "REJECTED",
                                     decided_by=user, decided_at=now(), gate_verdict=verdict))
                self._audit(conn, user, "approve" if approve else "reject", "model", model.name,
                            {"request_id": request_id, "alias": req.alias,
                             "version": row.version}, reason)
        if refused:
            raise refused
        return self.get_promotion(request_id)

    @staticmethod
    def _request_row(conn: Connection, request_id: int):
        if isinstance(request_id, bool) or not isinstance(request_id, int):
            raise InvalidInputError(f"Promotion request ids are numbers; got {request_id!r}.")
        row = conn.execute(select(PromotionRequest.__table__).where(
            PromotionRequest.id == request_id)).first()
        if row is None:
            raise NotFoundError(f"There is no promotion request #{request_id}. List them with "
                                "`jupyter mlops models requests`.")
        return row

    def get_promotion(self, request_id: int) -> PromotionRecord:
        with read_connection(self.url) as conn:
            self._request_row(conn, request_id)  # NotFoundError / InvalidInputError
        return self._promotions(PromotionRequest.id == request_id)[0]

    def list_promotions(self, name: str | None = None,
                        status: str | None = None) -> list[PromotionRecord]:
        conds = []
        if name is not None:
            conds.append(RegisteredModel.name == check_model_name(name))
        if status is not None:
            conds.append(PromotionRequest.status == status.upper())
        return self._promotions(and_(*conds) if conds else None)

    def _promotions(self, where) -> list[PromotionRecord]:
        p = PromotionRequest
        stmt = (select(p.id, RegisteredModel.name, ModelVersion.version, p.alias, p.status,
                       p.proposed_by, p.proposed_at, p.reason, p.decided_by, p.decided_at,
                       p.gate_verdict)
                .join(RegisteredModel, RegisteredModel.id == p.model_id)
                .join(ModelVersion, ModelVersion.id == p.version_id).order_by(p.id))
        if where is not None:
            stmt = stmt.where(where)
        with read_connection(self.url) as conn:
            return [PromotionRecord(*r) for r in conn.execute(stmt).all()]

    # ================================================================== roles
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

    # ================================================================== audit log
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
