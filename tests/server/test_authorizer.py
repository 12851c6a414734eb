"""Every mlops route goes through jupyter_server's authorizer (resource "mlops")."""

from __future__ import annotations

import pytest
from jupyter_server.auth.authorizer import Authorizer
from traitlets.config import Config

from jupyter_mlops.server.base import AUTH_RESOURCE


class DenyMlops(Authorizer):
    """Allows everything except the mlops resource, and records what it was asked."""

    asked: list[tuple[str, str, str]] = []

    def is_authorized(self, handler, user, action, resource):
        DenyMlops.asked.append((handler.request.method, action, resource))
        return resource != AUTH_RESOURCE


@pytest.fixture
def jp_server_config(mlops_store) -> Config:
    return Config({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops.server": True},
            "authorizer_class": DenyMlops,
        },
    })


async def test_authorizer_is_consulted_for_every_verb(raw_fetch, every_request, body_for):
    status, _, _ = await raw_fetch("api/status")
    assert status == 200  # the rest of the server is allowed
    DenyMlops.asked.clear()
    for method, path in every_request:
        status, _, body = await raw_fetch(path, method=method, body=body_for(method))
        assert status == 403, (method, path)
        assert b"not authorized" in body
    mlops_checks = [a for a in DenyMlops.asked if a[2] == AUTH_RESOURCE]
    assert len(mlops_checks) == len(every_request)
    assert ("PATCH", "write", AUTH_RESOURCE) in mlops_checks
    assert ("GET", "read", AUTH_RESOURCE) in mlops_checks
