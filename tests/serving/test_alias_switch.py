"""Moving the alias under load: the server switches version without a restart, and no
request fails or is answered by a half-loaded model."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from .conftest import Server, frame, get

# Its own model server under load while the alias moves: 41.7 s with setup, measured (load 9).
pytestmark = pytest.mark.slow

BODY = json.dumps({"instances": [[1.0, 1.0, 5.0]]})


def _client_loop(port: int, stop: threading.Event, results: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.time() + 60  # bounded even if the test hangs
    while not stop.is_set() and time.time() < deadline:
        try:
            conn.request("POST", "/invocations", body=BODY,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            payload = r.read()
            results.append((r.status, json.loads(payload)["predictions"][0]
                            if r.status == 200 else payload))
        except Exception as exc:  # any failure is a lost request
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()


def test_alias_switch_under_load_loses_no_request(project):
    server = Server(project, "--poll-seconds", "0.2")
    try:
        v1 = project.v1_model.predict(frame(1, 0).assign(a=1.0, b=1.0, c=5.0))[0]
        stop = threading.Event()
        results: list = []
        errors: list = []
        threads = [threading.Thread(target=_client_loop, args=(server.port, stop, results,
                                                               errors)) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        before = len(results)
        project.reg.set_alias("clf", "champion", project.v2.version)
        deadline = time.time() + 20
        while time.time() < deadline and json.loads(get(server.url + "/info")[1])[
                "version"] != project.v2.version:
            time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(30)
        assert errors == []
        assert before > 0 and len(results) > before
        assert {status for status, _ in results} == {200}
        answers = [a for _, a in results]
        # v1 answers first, then v2's (opposite) answer; every request got one or the other.
        assert answers[0] == v1 and answers[-1] == 1 - v1
        assert set(answers) == {v1, 1 - v1}
        assert json.loads(get(server.url + "/info")[1])["switches"] == 1
    finally:
        project.reg.set_alias("clf", "champion", project.v1.version)
        server.stop()
