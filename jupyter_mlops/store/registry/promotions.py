"""Promotion requests: propose an alias move, then another user approves (gate permitting)
or rejects it; the approval moves the alias in the same transaction."""

from __future__ import annotations

from sqlalchemy import Connection, and_, select, update

from jupyter_mlops.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from jupyter_mlops.store.engine import now, read_connection, write_connection
from jupyter_mlops.store.interfaces.registry import Gate
from jupyter_mlops.store.orm import ModelVersion, PromotionRequest, RegisteredModel
from jupyter_mlops.store.registry.aliases import ModelAliases
from jupyter_mlops.store.registry.checks import check_alias, check_model_name, check_user
from jupyter_mlops.store.registry_records import PromotionRecord


class Promotions(ModelAliases):
    """Promotion requests; approving one moves its alias through :meth:`_move_alias`."""

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
