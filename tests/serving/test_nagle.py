"""A behaviour check (not a benchmark): small sequential requests on one keep-alive
connection must not wait for delayed ACKs (≈ 40–44 ms each on Linux when TCP_NODELAY is
off). The control case turns the option off and must show the stall, proving the check
can fail."""

from __future__ import annotations

import http.client
import json
import statistics
import time

import pytest

from .conftest import Server

# Each test starts its own model server: 28.6 s and 26.0 s measured (load 9).
pytestmark = pytest.mark.slow

BODY = json.dumps({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.0, 2.0, 3.0]]}})


def _median_ms(port: int, n: int = 30) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/invocations", body=BODY,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return statistics.median(times)


def test_no_nagle_stall_on_small_sequential_requests(project):
    server = Server(project, "--poll-seconds", "0")
    try:
        _median_ms(server.port, 5)  # warm up
        assert _median_ms(server.port) < 25.0  # ≈ 0.5 ms here; 44 ms with the stall
    finally:
        server.stop()


def test_control_without_nodelay_shows_the_stall(project):
    server = Server(project, "--poll-seconds", "0", env={"MLOPS_SERVE_NODELAY": "0"})
    try:
        _median_ms(server.port, 5)
        assert _median_ms(server.port, 12) > 30.0
    finally:
        server.stop()
