"""Shared by the hostile-request tests of the REST extension and the model server.

:func:`json_request` sends one request and reads the reply as JSON (or its first bytes when it
is not JSON); :func:`assert_stops_on_sigterm` sends SIGTERM to a server fed poison and fails,
with the end of its log, unless it stops, recording the outcome for the fault bench.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
from collections.abc import Callable

import pytest


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
