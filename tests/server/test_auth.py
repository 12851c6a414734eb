"""Authentication and XSRF on every mlops route, and a static check of the decorators."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.server.base import AUTH_RESOURCE, MlopsHandler
from jupyter_mlops.server.handlers import API_ROOT, ROUTES


def _decorator_codes(fn) -> set:
    codes = set()
    while fn is not None:
        codes.add(fn.__code__)
        fn = getattr(fn, "__wrapped__", None)
    return codes


def _registered_mlops_handlers(web_app) -> list[type]:
    """Walk tornado's routers and return every registered MlopsHandler subclass."""
    found = []

    def walk(router):
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, type) and issubclass(target, MlopsHandler):
                found.append(target)
            else:
                walk(target)

    walk(web_app.default_router)
    return found


async def test_every_verb_is_authenticated_and_authorized(jp_web_app, handler_verbs):
    """Each verb of each registered handler is wrapped by @authenticated and @authorized."""
    authenticated_code = web.authenticated(lambda self: None).__code__
    authorized_code = authorized(lambda self: None).__code__
    handlers = _registered_mlops_handlers(jp_web_app)
    assert {h for _, h in ROUTES} <= set(handlers), "some routes are not registered"
    for handler in handlers:
        assert handler.auth_resource == AUTH_RESOURCE
        verbs = handler_verbs(handler)
        assert verbs, handler
        for verb in verbs:
            codes = _decorator_codes(getattr(handler, verb))
            assert authenticated_code in codes, f"{handler.__name__}.{verb} lacks @authenticated"
            assert authorized_code in codes, f"{handler.__name__}.{verb} lacks @authorized"


async def test_no_token_is_403_everywhere(raw_fetch, mlops_store, every_request, body_for):
    assert ("PATCH", f"{API_ROOT}/runs/{mlops_store.beta}") in every_request
    for method, path in every_request:
        status, _, body = await raw_fetch(path, auth=False, method=method, body=body_for(method))
        assert status == 403, (method, path, status)
        assert b"threshold" not in body and b"cells" not in body


async def test_wrong_token_is_403(raw_fetch, every_request, body_for):
    for method, path in every_request:
        status, _, _ = await raw_fetch(path, auth=False, method=method, body=body_for(method),
                                       headers={"Authorization": "token not-the-token"})
        assert status == 403, (method, path)


async def test_token_in_query_string_works(raw_fetch, mlops_store, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    status, _, body = await raw_fetch(f"{API_ROOT}/runs?token={token}", auth=False)
    assert status == 200 and json.loads(body)["total"] == 9


def _cookies(headers) -> str:
    jar = SimpleCookie()
    for value in headers.get_list("Set-Cookie"):
        jar.load(value)
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


async def test_cookie_mutation_without_xsrf_is_403(raw_fetch, mlops_store):
    # A token-authenticated request hands out the login cookie, as a browser gets it.
    status, headers, _ = await raw_fetch(f"{API_ROOT}/health")
    assert status == 200
    cookie = _cookies(headers)
    assert cookie, "no login cookie was set"
    run = f"{API_ROOT}/runs/{mlops_store.alpha[0]}"
    patch = json.dumps({"name": "xsrf-victim"}).encode()

    # The cookie alone authenticates reads…
    status, _, body = await raw_fetch(run, auth=False, headers={"Cookie": cookie})
    assert status == 200 and json.loads(body)["name"] == "alpha-0"
    # …but a mutation without the XSRF token is refused and changes nothing.
    status, _, body = await raw_fetch(run, auth=False, method="PATCH", body=patch,
                                      headers={"Cookie": cookie})
    assert status == 403
    assert b"XSRF" in body or b"xsrf" in body
    status, _, body = await raw_fetch(run)
    assert json.loads(body)["name"] == "alpha-0"

    # With the double-submit token (cookie + header, as JupyterLab sends it) it passes.
    xsrf = "2|1a2b3c4d|0123456789abcdef0123456789abcdef|1700000000"
    status, _, body = await raw_fetch(
        run, auth=False, method="PATCH", body=patch,
        headers={"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf})
    assert status == 200, body
    assert json.loads(body)["name"] == "xsrf-victim"
