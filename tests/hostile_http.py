"""Shared by the hostile-request tests of the REST extension and the model server.

:func:`json_request` sends one request and reads the reply as JSON (or its first bytes when it
is not JSON); :func:`assert_stops_on_sigterm` sends SIGTERM to a server fed poison and fails,
with the end of its log, unless it stops, recording the outcome for the fault bench;
:func:`hostile_json_bodies` is the hypothesis strategy of hostile body bytes both fuzz.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
from collections.abc import Callable

import pytest
from hypothesis import strategies as st


def json_request(port: int, method: str, path: str, body: bytes | None,
                 headers: dict[str, str]) -> tuple[int, dict]:
    """``(status, parsed JSON body)``; ``{"raw": first bytes}`` when the body is not JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else {}
        except ValueError:
            return response.status, {"raw": raw[:200]}
    finally:
        conn.close()


def assert_stops_on_sigterm(proc: subprocess.Popen, tail: Callable[[], str], what: str,
                            inputs: int, record: Callable[..., None]) -> None:
    """SIGTERM ``proc``: it must exit (within a generous 60 s) and log no traceback."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)  # a generous bound: it must stop, not stop fast
    except subprocess.TimeoutExpired:
        record("sigterm-after-poison", faults=1, inputs=inputs, lost=1)
        pytest.fail(f"{what} ignored SIGTERM after poison requests:\n" + tail())
    record("sigterm-after-poison", faults=1, inputs=inputs, checked=1)
    assert "Traceback" not in tail(), tail()


def json_values(max_text: int, odd_texts: list[str], edge_ints: list[int]
                ) -> st.SearchStrategy:
    """Nested JSON values: any text (up to ``max_text`` characters, or one of ``odd_texts``),
    integers past int64 (and ``edge_ints``), NaN and infinities, null, booleans."""
    text = st.text(st.characters(exclude_categories=()), max_size=max_text) | st.sampled_from(
        odd_texts)
    numbers = (st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(edge_ints)
               | st.floats(allow_nan=True, allow_infinity=True))
    scalars = st.none() | st.booleans() | numbers | text
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(text, inner, max_size=4), max_leaves=12)


def hostile_json_bodies(values: st.SearchStrategy, fields: list[str]) -> st.SearchStrategy:
    """Hostile body bytes: a JSON value from ``values``, alone or under some of ``fields``,
    ASCII-escaped or not (surrogates pass through), inside 0 to 100,000 extra levels of
    nesting; sometimes truncated or holding one invalid UTF-8 byte."""
    shaped = st.fixed_dictionaries({}, optional={name: values for name in fields})

    @st.composite
    def body(draw) -> bytes:
        text = json.dumps(draw(st.one_of(shaped, values)), ensure_ascii=draw(st.booleans()))
        depth = draw(st.sampled_from([0, 0, 1, 63, 64, 65, 500, 100_000]))
        raw = ("[" * depth + text + "]" * depth).encode("utf-8", "surrogatepass")
        how = draw(st.sampled_from(["as is", "as is", "truncate", "bad byte"]))
        if how == "truncate" and raw:
            raw = raw[:draw(st.integers(0, len(raw) - 1))]
        elif how == "bad byte":
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + raw[at:]
        return raw

    return body()
