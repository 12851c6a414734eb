"""One bad request never poisons the model server (issue 12, item 2).

Against the real server process: ``/feedback`` refuses prediction ids and labels that are
lists, objects, null, booleans (ids), a megabyte of text or integers beyond int64, with 400
naming the item, and records nothing for them (the database is counted before and after);
both routes refuse 100,000-deep bodies, lone surrogates and bodies over the size limit with
the limit named and how to raise it. After each refusal a good request still succeeds and
its data lands in the store. The server, fed the same poison, stops on SIGTERM. A
hypothesis test posts random hostile JSON: never a 5xx, and good requests keep working.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.hostile_http import (
    assert_stops_on_sigterm,
    hostile_json_bodies,
    json_request,
    json_values,
)
from tests.reliability.faults import record

from .conftest import TOKEN, Server

ROW = [0.1, 0.2, 0.3]


def request(server, path: str, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return json_request(server.port, "POST", path, body, headers)


def feedback_rows(project, ids=None) -> int:
    """Monitor records with ground truth (those with ``ids`` only, if given)."""
    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.orm import MonitorRecord as R

    query = select(func.count()).select_from(R).where(R.feedback_at.is_not(None))
    if ids is not None:
        query = query.where(R.row_id.in_([str(i) for i in ids]))
    with read_connection(project.url) as conn:
        return int(conn.execute(query).scalar_one())


def good_feedback_lands(server, project) -> None:
    """A fresh prediction and its ground truth are accepted and stored."""
    ids = [f"good-{uuid.uuid4().hex}"]
    status, out = request(server, "/invocations",
                          json.dumps({"instances": [ROW], "ids": ids}).encode(), token=None)
    assert status == 200, out
    status, out = request(server, "/feedback", json.dumps({"ids": ids, "y_true": [1]}).encode())
    stored = feedback_rows(project, ids)
    record("hostile-serving-request", lost=int(stored != 1), checked=1)
    assert status == 200, out
    assert out["received"] == 1
    assert stored == 1


@pytest.fixture(scope="module")
def hostile_server(project):
    """A server with a monitor and the default limits (16 MB, 64 levels)."""
    s = Server(project, "--monitor", "clf@champion", "--poll-seconds", "0")
    yield s
    s.stop()


MEGABYTE = "x" * (1 << 20)
BAD_FEEDBACK = [
    # (case, body, status, error_code, what the message names)
    ("id is a list", {"ids": [[1]], "y_true": [1]}, 400, "INVALID_PARAMETER_VALUE", "ids[0]"),
    ("id is an object", {"ids": ["ok", {"a": 1}], "y_true": [1, 0]}, 400,
     "INVALID_PARAMETER_VALUE", "ids[1]"),
    ("id is null", {"ids": [None], "y_true": [1]}, 400, "INVALID_PARAMETER_VALUE", "ids[0]"),
    ("id is a boolean", {"ids": [True], "y_true": [1]}, 400, "INVALID_PARAMETER_VALUE",
     "ids[0]"),
    ("id is a megabyte", {"ids": [MEGABYTE], "y_true": [1]}, 400, "INVALID_PARAMETER_VALUE",
     "ids[0]"),
    ("id is empty", {"ids": [""], "y_true": [1]}, 400, "INVALID_PARAMETER_VALUE", "ids[0]"),
    ("id holds NUL", {"ids": ["a\x00b"], "y_true": [1]}, 400, "INVALID_PARAMETER_VALUE",
     "ids[0]"),
    ("label holds NUL", {"ids": ["a"], "y_true": ["\x00"]}, 400, "INVALID_PARAMETER_VALUE",
     "y_true[0]"),
    ("id beyond int64", {"ids": [2**64], "y_true": [1]}, 400, "BAD_REQUEST", "ids[0]"),
    ("ids not a list", {"ids": "abc", "y_true": [1]}, 400, "BAD_REQUEST", '"ids"'),
    ("ids null", {"ids": None, "y_true": [1]}, 400, "BAD_REQUEST", '"ids"'),
    ("label is a list", {"ids": ["a"], "y_true": [[1]]}, 400, "INVALID_PARAMETER_VALUE",
     "y_true[0]"),
    ("label is an object", {"ids": ["a"], "y_true": [{"x": 1}]}, 400,
     "INVALID_PARAMETER_VALUE", "y_true[0]"),
    ("label is null", {"ids": ["a"], "y_true": [None]}, 400, "INVALID_PARAMETER_VALUE",
     "y_true[0]"),
    ("label is long text", {"ids": ["a"], "y_true": ["y" * 300]}, 400,
     "INVALID_PARAMETER_VALUE", "y_true[0]"),
    ("label beyond int64", {"ids": ["a"], "y_true": [-(2**63) - 1]}, 400, "BAD_REQUEST",
     "y_true[0]"),
    ("label NaN", b'{"ids": ["a"], "y_true": [NaN]}', 400, "INVALID_PARAMETER_VALUE",
     "y_true[0]"),
    ("label overflows", b'{"ids": ["a"], "y_true": [1e999]}', 400, "INVALID_PARAMETER_VALUE",
     "y_true[0]"),
    ("lengths differ", {"ids": ["a", "b"], "y_true": [1]}, 400, "BAD_REQUEST", "y_true"),
    ("unknown field", {"ids": ["a"], "y_true": [1], "extra": 1}, 400, "BAD_REQUEST",
     "extra"),
    ("a list", [["a"], [1]], 400, "BAD_REQUEST", "a list"),
    ("null", None, 400, "BAD_REQUEST", "null"),
    ("surrogate id", b'{"ids": ["a\\udcffb"], "y_true": [1]}', 400, "BAD_REQUEST", "ids[0]"),
    ("invalid UTF-8 id", b'{"ids": ["a\xffb"], "y_true": [1]}', 400, "BAD_REQUEST", "ids[0]"),
    ("surrogate label", b'{"ids": ["a"], "y_true": ["\\ud800"]}', 400, "BAD_REQUEST",
     "y_true[0]"),
    ("100,000 deep", b'{"ids": ["a"], "y_true": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     400, "BAD_REQUEST", "MLOPS_SERVE_MAX_JSON_DEPTH"),
    ("100,000 unclosed", b"[" * 100_000, 400, "BAD_REQUEST", "nesting-depth limit"),
]


def _raw(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def test_bad_feedback_is_400_records_nothing_and_feedback_goes_on(hostile_server, project):
    before = feedback_rows(project)
    for case, body, status, code, names in BAD_FEEDBACK:
        got, out = request(hostile_server, "/feedback", _raw(body))
        assert (got, out.get("error_code")) == (status, code), (case, got, out)
        assert names in out["message"], (case, out)
        assert len(out["message"]) < 1000, case  # a refused megabyte is not echoed back
    time.sleep(1.0)  # the sink drains every 0.5 s: give a leak time to land
    leaked = feedback_rows(project) - before
    record("refused-feedback", inputs=len(BAD_FEEDBACK), leaked=leaked)
    assert leaked == 0, "a refused feedback request was recorded"
    assert feedback_rows(project, ["a", "b", "ok"]) == 0
    good_feedback_lands(hostile_server, project)


def test_feedback_accepts_every_documented_id_and_label_kind(hostile_server, project):
    ids = [f"k-{uuid.uuid4().hex}", 2**63 - 1, -(2**63), "\U0001f600" * 10]
    status, out = request(hostile_server, "/feedback", json.dumps(
        {"ids": ids, "y_true": [1, "yes", True, 0.5]}).encode())
    assert status == 200, out
    assert feedback_rows(project, ids) == len(ids)


BAD_INVOCATIONS = [
    ("int beyond float", b'{"instances": [[' + b"1" + b"0" * 400 + b', 1, 2]]}',
     "instances[0][0]"),
    ("int beyond int64", b'{"instances": [[18446744073709551616, 1, 2]]}', "instances[0][0]"),
    ("surrogate id", b'{"instances": [[1, 2, 3]], "ids": ["\\udcff"]}', "ids[0]"),
    ("surrogate column", b'{"dataframe_records": [{"a": 1, "b": 2, "c": 3, "\\ud800": 4}]}',
     "a key in dataframe_records[0]"),
    ("100,000 deep", b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "nesting-depth limit"),
    ("id beyond int64", b'{"instances": [[1, 2, 3]], "ids": [9223372036854775808]}', "ids[0]"),
]


def test_bad_invocations_are_400_and_scoring_goes_on(hostile_server, project):
    for case, body, names in BAD_INVOCATIONS:
        got, out = request(hostile_server, "/invocations", body, token=None)
        assert (got, out.get("error_code")) == (400, "BAD_REQUEST"), (case, got, out)
        assert names in out["message"], (case, out)
    good_feedback_lands(hostile_server, project)


@pytest.mark.parametrize("header,value", [("Host", "127.0.0.1:\u00b2"),
                                          ("Origin", "http://127.0.0.1:\u00b2"),
                                          ("Host", "127.0.0.1:99999999999999999999")])
def test_odd_ports_in_headers_are_not_a_500(hostile_server, project, header, value):
    # A header is latin-1: byte 0xB2 is "²", which str.isdigit() accepts and int() refuses.
    conn = http.client.HTTPConnection("127.0.0.1", hostile_server.port, timeout=60)
    try:
        conn.putrequest("POST", "/feedback", skip_host=header == "Host")
        conn.putheader(header, value)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Authorization", f"Bearer {TOKEN}")
        body = json.dumps({"ids": ["odd-port"], "y_true": [1]}).encode()
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status < 500
    good_feedback_lands(hostile_server, project)


@pytest.mark.slow  # starts its own server (a smaller --max-body-mb)
def test_too_large_bodies_are_413_naming_the_limit(project):
    server = Server(project, "--monitor", "clf@champion", "--poll-seconds", "0",
                    "--max-body-mb", "0.01")
    try:
        for path in ("/invocations", "/feedback"):
            body = json.dumps({"ids": ["a"] * 3000, "y_true": [1] * 3000}).encode()
            got, out = request(server, path, body)
            assert (got, out["error_code"]) == (413, "REQUEST_TOO_LARGE"), (path, out)
            assert "10485" in out["message"], out  # int(0.01 MiB), the limit in force
            assert "--max-body-mb" in out["message"]
        good_feedback_lands(server, project)
    finally:
        server.stop()


def test_depth_limit_follows_the_environment(monkeypatch):
    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.serving.inputs import InputError, body_limits, parse_body

    monkeypatch.setenv("MLOPS_SERVE_MAX_JSON_DEPTH", "3")
    limits = body_limits(1 << 20)
    assert limits.max_depth == 3
    assert parse_body(b'{"instances": [[1, 2]]}', limits).kind == "rows"
    with pytest.raises(InputError, match="more than 3 levels.*MLOPS_SERVE_MAX_JSON_DEPTH"):
        parse_body(b'{"instances": [[[1, 2]]]}', limits)
    monkeypatch.setenv("MLOPS_SERVE_MAX_JSON_DEPTH", "deep")
    with pytest.raises(InvalidInputError, match="MLOPS_SERVE_MAX_JSON_DEPTH='deep'"):
        body_limits(1 << 20)
    monkeypatch.delenv("MLOPS_SERVE_MAX_JSON_DEPTH")
    assert body_limits(1 << 20).max_depth == 64


@pytest.mark.slow
def test_server_stops_on_sigterm_after_poison_requests(project):
    server = Server(project, "--monitor", "clf@champion", "--poll-seconds", "0")
    try:
        for _case, body, _status, _code, _names in BAD_FEEDBACK:
            assert request(server, "/feedback", _raw(body))[0] == 400
        for _case, body, _names in BAD_INVOCATIONS:
            assert request(server, "/invocations", body, token=None)[0] == 400
        good_feedback_lands(server, project)
        assert_stops_on_sigterm(server.proc, lambda: server.log.read_text(errors="replace")[-4000:],
                                "the model server", len(BAD_FEEDBACK) + len(BAD_INVOCATIONS),
                                record)
    finally:
        server.stop()


# ---------------------------------------------------------------------- hypothesis
def _json_values():
    return json_values(12, ["\udcff", "\ud800", "a\udfffb", "\ud83d\ude00", "", "x" * 300],
                       [2**63, -(2**63) - 1, 2**63 - 1, 10**400])


def _bodies():
    """Random JSON shaped like the routes' bodies, or not, with surrogate escapes, huge ints,
    NaN, wrong types, random extra nesting, a bad byte or a truncation."""
    return hostile_json_bodies(_json_values(),
                               ["ids", "y_true", "instances", "dataframe_split", "inputs"])


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(path=st.sampled_from(["/feedback", "/invocations"]), raw=_bodies())
def test_random_hostile_bodies_never_5xx_and_serving_goes_on(hostile_server, project, path,
                                                             raw):
    status, out = request(hostile_server, path, raw)
    assert status < 500, (status, out, raw[:300])
    if status >= 400:
        assert out["error_code"] and out["message"], out
    good_feedback_lands(hostile_server, project)
