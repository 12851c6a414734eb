"""Registry roles apply to the Jupyter user: an identity provider with named users (what
JupyterHub gives a single-user server), and ``user_identity`` configuration."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets.config import Config

API = "mlops/api/v1"


class NamedTokens(IdentityProvider):
    """Each of these tokens is one named person (the server token still works too)."""

    USERS: ClassVar[dict[str, str]] = {"tok-alice": "alice", "tok-bob": "bob",
                                       "tok-carol": "carol"}

    async def get_user_token(self, handler):
        name = self.USERS.get(self.get_token(handler) or "")
        if name:
            return User(username=name, name=name.title())
        return await super().get_user_token(handler)


@pytest.fixture
def jp_server_config(mlops_store) -> Config:
    return Config({"ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True},
                                 "identity_provider_class": NamedTokens}})


@pytest.fixture
def as_user(raw_fetch):
    """``await as_user("alice", "models/churn", method="POST", body={...})`` → (status, JSON)."""

    async def call(user: str, path: str, method: str = "GET", body=None):
        token = {v: k for k, v in NamedTokens.USERS.items()}[user]
        data = None if body is None else json.dumps(body).encode()
        status, _, raw = await raw_fetch(f"{API}/{path}", auth=False, method=method, body=data,
                                         headers={"Authorization": f"token {token}"})
        return status, json.loads(raw) if raw else None

    return call


async def test_identity_is_the_jupyter_user(as_user, registry_seed):
    status, body = await as_user("alice", "identity")
    assert status == 200
    assert body["user"] == "alice" and body["source"] == "jupyter"
    assert body["jupyter_user"] == "alice" and body["jupyter_display_name"] == "Alice"
    assert body["roles"] == ["data_scientist"] and body["actions"] == ["propose"]
    status, body = await as_user("carol", "identity")
    assert body["roles"] == [] and body["actions"] == []


async def test_data_scientist_proposes_engineer_approves(as_user, registry_seed, registry):
    status, req = await as_user("alice", "models/churn/promotions", "POST",
                                {"version": 2, "reason": "better acc"})
    assert status == 201 and req["proposed_by"] == "alice"

    # Alice may not approve (her own or anyone's): 403 with the registry's message,
    # and nothing changed.
    status, body = await as_user("alice", f"promotions/{req['id']}/approve", "POST", {})
    assert status == 403
    assert body["error"]["type"] == "PermissionDeniedError"
    message = body["error"]["message"]
    assert "'alice' may not approve" in message and "ml_engineer" in message
    assert registry.get_model("churn").aliases == {"champion": 1}
    assert [p.status for p in registry.list_promotions("churn")] == ["PENDING"]
    status, body = await as_user("alice", f"promotions/{req['id']}/reject", "POST", {})
    assert status == 403
    assert [p.status for p in registry.list_promotions("churn")] == ["PENDING"]
    assert [e.action for e in registry.audit_log("churn")][:1] == ["propose"]

    status, done = await as_user("bob", f"promotions/{req['id']}/approve", "POST",
                                 {"reason": "ok"})
    assert status == 200 and done["decided_by"] == "bob"
    assert registry.get_model("churn").aliases == {"champion": 2}
    events = [(e.action, e.user) for e in registry.audit_log("churn")][:3]
    assert events == [("approve", "bob"), ("set_alias", "bob"), ("propose", "alice")]


async def test_user_without_role_cannot_propose(as_user, registry_seed, registry):
    status, body = await as_user("carol", "models/churn/promotions", "POST", {"version": 2})
    assert status == 403
    assert "'carol' may not propose" in body["error"]["message"]
    assert "no role" in body["error"]["message"]
    assert registry.list_promotions("churn") == []
    # Reading is open to every authenticated user.
    status, body = await as_user("carol", "models/churn")
    assert status == 200 and body["aliases"] == {"champion": 1}


class TestProcessIdentity:
    """``user_identity = "process"``: every request acts as the server's own user."""

    @pytest.fixture
    def jp_server_config(self, mlops_store) -> Config:
        return Config({"ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True},
                                     "identity_provider_class": NamedTokens},
                       "MlopsExtension": {"user_identity": "process"}})

    async def test_named_user_acts_as_the_server(self, as_user, registry_seed):
        status, body = await as_user("carol", "identity")
        assert body["user"] == "tester" and body["source"] == "process"
        assert body["jupyter_user"] == "carol"
        status, req = await as_user("carol", "models/churn/promotions", "POST", {"version": 2})
        assert status == 201 and req["proposed_by"] == "tester"


class TestJupyterIdentityUnderTokenLogin:
    """``user_identity = "jupyter"`` with the built-in token login: the random session id."""

    @pytest.fixture
    def jp_server_config(self, mlops_store) -> Config:
        return Config({"ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}},
                       "MlopsExtension": {"user_identity": "jupyter"}})

    async def test_anonymous_id_has_no_role(self, api, registry_seed, registry):
        status, body = await api("identity")
        assert body["source"] == "jupyter" and body["user"] == body["jupyter_user"]
        assert body["roles"] == []
        status, body = await api("models", "churn", "promotions", method="POST",
                                 body=json.dumps({"version": 2}))
        assert status == 403 and body["error"]["type"] == "PermissionDeniedError"
        assert registry.list_promotions("churn") == []
