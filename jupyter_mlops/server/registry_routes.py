"""Model-registry routes: models, versions, audit log, model cards, promotion requests.

Each verb parses, calls the Client's ``client.registry`` off the event loop and
renders. The acting user is the request's (``MlopsHandler.acting_user``): roles and the
audit log apply to the Jupyter user, and a refusal is the registry's own
``PermissionDeniedError`` → 403 with its message (nothing changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.registry_schemas import (
    DecisionBody,
    ProposeBody,
    card_json,
    identity_json,
    model_detail_json,
    parse_request_id,
    parse_version,
    version_detail_json,
)

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

_MODEL = r"(?P<model>[^/]+)"
_VERSION = r"(?P<version>[^/]+)"
_REQUEST = r"(?P<request_id>[^/]+)"


def _registry(client: Client):
    return client.registry


class IdentityHandler(MlopsHandler):
    """Who this request acts as, its roles and the registry actions they allow."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user, source = self.acting_identity

        def who(client: Client) -> tuple[list[Any], list[str]]:
            reg = _registry(client)
            return reg.list_roles(user), reg.allowed_actions(user)

        roles, actions = await self.call(who)
        self.write_json(identity_json(user, source, self.current_user, roles, actions))


class ModelsHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        models = await self.call(lambda c: _registry(c).list_models())
        self.write_json({"models": [m.to_dict() for m in models]})


class ModelHandler(MlopsHandler):
    """A model with its versions, aliases, gate policy and promotion requests."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        def load(client: Client) -> dict[str, Any]:
            reg = _registry(client)
            return model_detail_json(reg.get_model(model), reg.list_versions(model),
                                     reg.list_promotions(model))

        self.write_json(await self.call(load))


class ModelVersionHandler(MlopsHandler):
    """One version (by number or alias): metrics, signature, run, lineage, requests."""

    @web.authenticated
    @authorized
    async def get(self, model: str, version: str) -> None:
        depth = self.int_arg("depth", 3, 1, 20)

        def load(client: Client) -> dict[str, Any]:
            from jupyter_mlops.registry.signature import Signature

            reg = _registry(client)
            v = reg.get_version(model, parse_version(version))
            run = None
            if v.run_id:
                try:
                    run = client.get_run(v.run_id).run
                except NotFoundError:
                    run = None
            rows = Signature.from_dict(v.signature).describe() if v.signature else []
            return version_detail_json(
                v, signature_rows=rows, run=run,
                lineage=client.lineage(f"model:{v.name}/{v.version}", depth=depth),
                promotions=[p for p in reg.list_promotions(model) if p.version == v.version])

        self.write_json(await self.call(load))


class ModelCardHandler(MlopsHandler):
    """The model card as Markdown and as (escaped) HTML."""

    @web.authenticated
    @authorized
    async def get(self, model: str, version: str) -> None:
        card = await self.call(lambda c: _registry(c).model_card(model, parse_version(version)))
        self.write_json(card_json(card))


class ModelAuditHandler(MlopsHandler):
    """The model's audit log, newest first."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        limit = self.int_arg("limit", 200, 1, 10_000)

        def load(client: Client) -> list[Any]:
            reg = _registry(client)
            reg.get_model(model)  # 404 for an unknown model rather than an empty log
            return reg.audit_log(model, limit=limit)

        events = await self.call(load)
        self.write_json({"name": model, "events": [e.to_dict() for e in events]})


class PromotionsHandler(MlopsHandler):
    """List a model's promotion requests; ``POST`` proposes one (needs ``propose``)."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        status = self.str_arg("status")

        def load(client: Client) -> list[Any]:
            reg = _registry(client)
            reg.get_model(model)
            return reg.list_promotions(model, status)

        requests = await self.call(load)
        self.write_json({"name": model, "promotions": [p.to_dict() for p in requests]})

    @web.authenticated
    @authorized
    async def post(self, model: str) -> None:
        body = ProposeBody.from_json(self.json_body())
        user = self.acting_user
        request = await self.call(lambda c: _registry(c).propose(
            model, body.version, body.alias, reason=body.reason, user=user))
        self.write_json(request.to_dict(), status=201)


class _DecisionHandler(MlopsHandler):
    approve = True

    @web.authenticated
    @authorized
    async def post(self, request_id: str) -> None:
        rid = parse_request_id(request_id)
        body = DecisionBody.from_json(self.json_body())
        user = self.acting_user

        def decide(client: Client) -> Any:
            reg = _registry(client)
            act = reg.approve if self.approve else reg.reject
            return act(rid, reason=body.reason, user=user)

        self.write_json((await self.call(decide)).to_dict())


class ApproveHandler(_DecisionHandler):
    """Approve a pending request: the alias moves if the model's gates pass."""

    approve = True


class RejectHandler(_DecisionHandler):
    """Reject a pending request (needs ``approve``)."""

    approve = False


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("identity", IdentityHandler),
    ("models", ModelsHandler),
    (rf"models/{_MODEL}", ModelHandler),
    (rf"models/{_MODEL}/versions/{_VERSION}", ModelVersionHandler),
    (rf"models/{_MODEL}/versions/{_VERSION}/card", ModelCardHandler),
    (rf"models/{_MODEL}/audit", ModelAuditHandler),
    (rf"models/{_MODEL}/promotions", PromotionsHandler),
    (rf"promotions/{_REQUEST}/approve", ApproveHandler),
    (rf"promotions/{_REQUEST}/reject", RejectHandler),
]
