"""Who may call the model server, against a real server process on loopback.

Mutating routes (``POST /feedback``) need the bearer token: none or a wrong one → 401; a
cross-site ``Origin``/``Referer`` → 403; a form or text body (what a cross-site HTML form or
"simple" request can send) → 415; a Host that is not loopback (DNS rebinding) → 403. After
every refusal the store holds exactly what it held before (feedback and prediction records
counted in the database). With the token, from the server's own origin or an allowed one,
the same request is accepted. ``--auth all`` puts every route but the probes behind the
token; a server started without one generates it, prints it once and writes it to a 0600
file that disappears when the server stops.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import time

import pytest
from sqlalchemy import func, select

from tests.reliability.faults import record

from .conftest import TOKEN, Server

ALLOWED = "http://app.example:8080"
FEEDBACK = json.dumps({"ids": ["probe-1", "probe-2"], "y_true": [1, 0]}).encode()
PREDICT = json.dumps({"instances": [[0.1, 0.2, 0.3]], "ids": ["probe-p"]}).encode()


def request(server, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        is_json = hdrs.get("content-type", "").startswith("application/json")
        return r.status, hdrs, (json.loads(raw) if raw and is_json else {})
    finally:
        conn.close()


def records(project) -> tuple[int, int]:
    """(monitor records, of which with feedback) in the store, read from the database."""
    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.orm import MonitorRecord as R

    with read_connection(project.url) as conn:
        total = conn.execute(select(func.count()).select_from(R)).scalar_one()
        labelled = conn.execute(select(func.count()).select_from(R).where(
            R.feedback_at.is_not(None))).scalar_one()
    return int(total), int(labelled)


@pytest.fixture(scope="module")
def guarded(project):
    s = Server(project, "--monitor", "clf@champion", "--poll-seconds", "0",
               "--allow-origin", ALLOWED)
    yield s
    s.stop()


def _json(token: str | None = TOKEN, **extra) -> dict:
    headers = {"Content-Type": "application/json", **extra}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


REFUSED = [
    # (case, method, path, body, headers, status, error_code)
    ("no token", "POST", "/feedback", FEEDBACK, _json(None), 401, "UNAUTHENTICATED"),
    ("wrong token", "POST", "/feedback", FEEDBACK, _json("x" + TOKEN[1:]), 401,
     "UNAUTHENTICATED"),
    ("token prefix", "POST", "/feedback", FEEDBACK, _json(TOKEN[:-1]), 401, "UNAUTHENTICATED"),
    ("basic auth", "POST", "/feedback", FEEDBACK,
     {"Content-Type": "application/json", "Authorization": f"Basic {TOKEN}"}, 401,
     "UNAUTHENTICATED"),
    ("empty bearer", "POST", "/feedback", FEEDBACK, _json(None, Authorization="Bearer "), 401,
     "UNAUTHENTICATED"),
    ("cross-site origin", "POST", "/feedback", FEEDBACK,
     _json(Origin="http://evil.example"), 403, "CROSS_SITE_REQUEST"),
    ("cross-site, other port", "POST", "/feedback", FEEDBACK,
     _json(Origin="http://127.0.0.1:1"), 403, "CROSS_SITE_REQUEST"),
    ("null origin", "POST", "/feedback", FEEDBACK, _json(Origin="null"), 403,
     "CROSS_SITE_REQUEST"),
    ("cross-site referer", "POST", "/feedback", FEEDBACK,
     _json(Referer="https://evil.example/page"), 403, "CROSS_SITE_REQUEST"),
    ("html form post", "POST", "/feedback", b"ids=probe-1&y_true=1",
     {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
     403, "CROSS_SITE_REQUEST"),
    ("form content-type", "POST", "/feedback", FEEDBACK,
     _json(**{"Content-Type": "application/x-www-form-urlencoded"}), 415,
     "UNSUPPORTED_MEDIA_TYPE"),
    ("text/plain", "POST", "/feedback", FEEDBACK, _json(**{"Content-Type": "text/plain"}), 415,
     "UNSUPPORTED_MEDIA_TYPE"),
    ("multipart", "POST", "/feedback", FEEDBACK,
     _json(**{"Content-Type": "multipart/form-data; boundary=x"}), 415,
     "UNSUPPORTED_MEDIA_TYPE"),
    ("no content-type", "POST", "/feedback", FEEDBACK,
     {"Authorization": f"Bearer {TOKEN}"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("dns rebinding", "POST", "/feedback", FEEDBACK, _json(Host="evil.example:5005"), 403,
     "HOST_NOT_ALLOWED"),
    ("rebinding, same-origin", "POST", "/feedback", FEEDBACK,
     _json(Host="evil.example", Origin="http://evil.example"), 403, "HOST_NOT_ALLOWED"),
    ("predict cross-site", "POST", "/invocations", PREDICT,
     {"Content-Type": "application/json", "Origin": "http://evil.example"}, 403,
     "CROSS_SITE_REQUEST"),
    ("predict, form from a page", "POST", "/invocations", PREDICT,
     {"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403,
     "CROSS_SITE_REQUEST"),
    ("predict rebinding", "POST", "/invocations", PREDICT,
     {"Content-Type": "application/json", "Host": "evil.example"}, 403, "HOST_NOT_ALLOWED"),
    ("health rebinding", "GET", "/health", None, {"Host": "attacker.example"}, 403,
     "HOST_NOT_ALLOWED"),
]


def test_refused_requests_record_nothing(guarded, project):
    before = records(project)
    for case, method, path, body, headers, status, code in REFUSED:
        got, hdrs, out = request(guarded, method, path, body, headers)
        assert (got, out.get("error_code")) == (status, code), (case, got, out)
        assert out["message"], case
        if status == 401:
            assert hdrs["www-authenticate"].startswith("Bearer"), case
        assert TOKEN not in json.dumps(out)  # an error never echoes the secret
    time.sleep(1.5)  # the monitor sink drains every 0.5 s: give a leak time to land
    after = records(project)
    record("refused-request", inputs=len(REFUSED), lost=0,
           leaked=(after[0] - before[0]) + (after[1] - before[1]))
    assert after == before, "a refused request reached the store"


def test_with_the_token_feedback_is_accepted(guarded, project):
    before = records(project)
    own = f"http://127.0.0.1:{guarded.port}"
    status, _, out = request(guarded, "POST", "/feedback", FEEDBACK, _json(Origin=own))
    assert status == 200 and out["received"] == 2
    # "token TOKEN" (Jupyter's spelling) and a charset parameter are fine too.
    body = json.dumps({"ids": ["probe-3"], "y_true": [1]}).encode()
    status, _, out = request(guarded, "POST", "/feedback", body, {
        "Authorization": f"token {TOKEN}", "Content-Type": "application/json; charset=utf-8",
        "Host": f"localhost:{guarded.port}"})
    assert status == 200 and out["received"] == 1
    assert records(project)[1] == before[1] + 3
    # Scoring needs no token by default (MLflow clients send none).
    status, _, out = request(guarded, "POST", "/invocations", PREDICT,
                             {"Content-Type": "application/json"})
    assert status == 200 and out["predictions"] in ([0], [1])


def test_allowed_origin_gets_cors(guarded):
    status, hdrs, _ = request(guarded, "OPTIONS", "/feedback", None, {
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert status == 204
    assert hdrs["access-control-allow-origin"] == ALLOWED
    assert "authorization" in hdrs["access-control-allow-headers"]
    body = json.dumps({"ids": ["probe-4"], "y_true": [0]}).encode()
    status, hdrs, out = request(guarded, "POST", "/feedback", body, _json(Origin=ALLOWED))
    assert status == 200 and out["received"] == 1
    assert hdrs["access-control-allow-origin"] == ALLOWED
    # …but the token is still required, and other origins get no preflight.
    assert request(guarded, "POST", "/feedback", body, _json(None, Origin=ALLOWED))[0] == 401
    status, hdrs, out = request(guarded, "OPTIONS", "/feedback", None,
                                {"Origin": "http://evil.example"})
    assert status == 403 and out["error_code"] == "CROSS_SITE_REQUEST"
    assert "access-control-allow-origin" not in hdrs


@pytest.mark.slow  # starts its own model server, 20.8 s measured (load 9)
def test_auth_all_protects_every_route_but_the_probes(project):
    server = Server(project, "--auth", "all", "--poll-seconds", "0")
    try:
        for path in ("/version", "/metrics"):
            status, _, out = request(server, "GET", path)
            assert (status, out["error_code"]) == (401, "UNAUTHENTICATED"), path
            assert request(server, "GET", path, headers=_json())[0] == 200
        status, _, out = request(server, "POST", "/invocations", PREDICT,
                                 {"Content-Type": "application/json"})
        assert status == 401
        assert request(server, "POST", "/invocations", PREDICT, _json())[0] == 200
        assert request(server, "GET", "/health")[0] == 200
        record("refused-request", inputs=3)
    finally:
        server.stop()


@pytest.mark.slow  # starts its own model server, 20.7 s measured (load 9)
def test_generated_token_is_printed_once_and_kept_in_a_private_file(project, tmp_path):
    token_file = tmp_path / "runtime" / "serve.json"
    server = Server(project, "--monitor", "clf@champion", "--poll-seconds", "0",
                    "--token-file", str(token_file), token=None)
    try:
        info = json.loads(token_file.read_text())
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = info["token"]
        assert len(token) >= 32 and info["url"] == server.url and info["pid"] == server.proc.pid
        log = server.log.read_text()
        assert log.count(token) == 1 and f"{server.url}/invocations" in log
        assert str(token_file) in log
        assert request(server, "POST", "/feedback", FEEDBACK, _json(None))[0] == 401
        assert request(server, "POST", "/feedback", FEEDBACK, _json(TOKEN))[0] == 401
        assert request(server, "POST", "/feedback", FEEDBACK, _json(token))[0] == 200
    finally:
        server.stop()
    assert not token_file.exists()  # removed when the server stops


@pytest.mark.slow  # starts its own model server, 20.1 s measured (load 9)
def test_given_token_is_not_printed(project, tmp_path):
    token_file = tmp_path / "given.json"
    server = Server(project, "--poll-seconds", "0", "--token-file", str(token_file))
    try:
        log = server.log.read_text()
        assert TOKEN not in log and "MLOPS_SERVE_TOKEN" in log
        assert json.loads(token_file.read_text())["token"] == TOKEN
    finally:
        server.stop()


def test_guard_unit_cases():
    """Parsing corner cases without a server: ports, IPv6, case, malformed values."""
    from jupyter_mlops.serving.auth import Guard, is_loopback, normalise_origin
    from jupyter_mlops.serving.inputs import InputError

    assert normalise_origin("HTTP://Example.COM:80/") == "http://example.com"
    assert normalise_origin("https://a.example:443") == "https://a.example"
    assert normalise_origin("http://[::1]:5005") == "http://[::1]:5005"
    assert normalise_origin("file:///etc") is None and normalise_origin("null") is None
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]",
                                        "localhost", "LOCALHOST.", "x.localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "evil.example",
                                            "localhost.evil.example", ""))
    guard = Guard("t" * 32, allow_origins=["https://App.example"])

    def scope(**headers):
        return {"scheme": "http", "headers": [(k.lower().replace("_", "-").encode(),
                                               v.encode()) for k, v in headers.items()]}

    ok = {"host": "127.0.0.1:5005", "authorization": "Bearer " + "t" * 32,
          "content_type": "application/json"}
    assert guard.check(scope(**ok), "/feedback", "POST") is None
    assert guard.check(scope(**ok, origin="http://127.0.0.1:5005"), "/feedback", "POST") is None
    assert guard.check(scope(**ok, origin="https://app.example"), "/feedback",
                       "POST") == "https://app.example"
    assert guard.check(scope(**{**ok, "host": "[::1]:5005"}), "/feedback", "POST") is None
    cases = 0
    for bad in ({"origin": "http://localhost:5005"},  # another origin, even if loopback
                {"origin": "http://127.0.0.1:5005.evil.example"},
                {"referer": "http://evil.example/"}, {"authorization": "Bearer"},
                {"authorization": "Bearer " + "t" * 31 + "T"}, {"content_type": "text/json"},
                {"host": "127.0.0.1.evil.example"}):
        with pytest.raises(InputError):
            guard.check(scope(**{**ok, **bad}), "/feedback", "POST")
        cases += 1
    # GETs carry no cross-site risk the server could act on; the token rule still applies.
    assert guard.check(scope(host="127.0.0.1", origin="http://evil.example"), "/version",
                       "GET") is None
    open_guard = Guard("t" * 32, bind_host="0.0.0.0")
    assert open_guard.check(scope(host="my-server.example:5005"), "/invocations",
                            "POST") is None
    record("refused-request", inputs=cases)
