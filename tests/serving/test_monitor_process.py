"""The model server's monitoring in a child process (serving.sink with ``process=True``):
the wire format, nothing lost on a clean stop, one version per window, a failing or dying
monitor never reaching requests, and the real server leaving no child behind."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.serving import sink as sinkmod
from jupyter_mlops.serving.monitor_process import _read_message, _write_message
from jupyter_mlops.serving.sink import PredictionSink
from tests.serving.conftest import FEATURES, Server, frame, post


def _new_monitor(project, name: str):
    from jupyter_mlops.monitoring.monitor import monitor

    return monitor("clf@champion", reference=project.X, name=name, window=50,
                   client=project.client)


def _submit(sink: PredictionSink, version: int, n: int, seed: int, prefix: str) -> None:
    X = frame(n, seed).to_numpy()
    for i in range(n):
        sink.submit(version, X[i:i + 1], np.array([i % 2]), [f"{prefix}{i}"], FEATURES)


def _windows(mon):
    return mon.store.list_windows(mon.id)


def _wait(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_wire_round_trip_without_pickle():
    table = pd.DataFrame({"a": [1.5, np.nan, 3.0], "n": np.array([1, 2, 3], dtype=np.int64),
                          "s": ["x", None, "z"], "b": [True, False, True]})
    preds = np.array(["yes", "no", "yes"])
    ts = np.array([1.0, 2.0, 3.0])
    buf = io.BytesIO()
    _write_message(buf, {"op": "log", "version": 4, "ids": ["i", "j", 7]}, table, preds, ts)
    _write_message(buf, {"op": "tick"})
    buf.seek(0)
    head, got, got_preds, got_ts = _read_message(buf)
    assert head["op"] == "log" and head["version"] == 4 and head["ids"] == ["i", "j", 7]
    assert list(got.columns) == ["a", "n", "s", "b"]
    np.testing.assert_array_equal(got["a"].to_numpy(), table["a"].to_numpy())
    assert got["n"].dtype == np.int64 and got["b"].dtype == bool
    assert got["s"].iloc[0] == "x" and pd.isna(got["s"].iloc[1])
    np.testing.assert_array_equal(got_preds, preds)
    np.testing.assert_array_equal(got_ts, ts)
    assert _read_message(buf)[0]["op"] == "tick"
    assert _read_message(buf) is None  # the end of the stream


def test_many_requests_stack_into_one_matrix_message():
    from jupyter_mlops.serving.sink import _stack

    X = frame(4, seed=1).to_numpy()
    items = [(1, X[i:i + 1], np.array([[0.2, 0.8]]), [f"r{i}"], FEATURES, 100.0 + i)
             for i in range(4)]
    stacked, preds, ids, ts = _stack(items)
    assert isinstance(stacked, tuple) and stacked[1] == FEATURES
    np.testing.assert_array_equal(preds, [0.2] * 4)  # the first output column
    assert ids == ["r0", "r1", "r2", "r3"]
    np.testing.assert_array_equal(ts, [100.0, 101.0, 102.0, 103.0])
    buf = io.BytesIO()
    _write_message(buf, {"op": "log"}, stacked, preds, ts)
    buf.seek(0)
    head, got, _, _ = _read_message(buf)
    assert "matrix" in head and list(got.columns) == FEATURES
    np.testing.assert_array_equal(got.to_numpy(), X)
    # One request without ids: the batch has none (the monitor takes ids for all or none).
    items[2] = (*items[2][:3], None, *items[2][4:])
    assert _stack(items)[2] is None


def test_a_clean_stop_logs_everything_and_closes_the_window(project):
    mon = _new_monitor(project, "proc-stop")
    sink = PredictionSink(mon, process=True, interval=60).start()  # no timed drain here
    try:
        assert sink.worker is not None and sink.worker.alive()
        _submit(sink, 1, 120, seed=3, prefix="s")
    finally:
        sink.stop()
    windows = _windows(mon)
    assert [w.rows for w in windows] == [50, 50, 20]  # the last one closed by the stop
    assert mon.store.record_counts(mon.id)[0] == 120
    assert sink.logged_rows == 120 and mon.predictions_logged == 120
    assert sink.dropped == 0 and sink.errors == 0 and sink.worker is None


def test_a_version_switch_closes_the_window_in_the_child(project):
    mon = _new_monitor(project, "proc-switch")
    sink = PredictionSink(mon, process=True, interval=60).start()
    try:
        _submit(sink, 1, 30, seed=4, prefix="v1-")
        sink.switch()
        _submit(sink, 2, 10, seed=5, prefix="v2-")
    finally:
        sink.stop()
    assert [(w.rows, w.model_version) for w in _windows(mon)] == [(30, 1), (10, 2)]


def test_a_failing_monitor_is_counted_and_the_next_batches_still_land(project):
    mon = _new_monitor(project, "proc-errors")
    sink = PredictionSink(mon, process=True, interval=60).start()
    try:
        # A row id longer than 256 characters: the child's log_predictions refuses it.
        sink.submit(1, np.zeros((2, 3)), np.array([0, 1]), ["x" * 300, "bad1"], FEATURES)
        sink.drain()
        _submit(sink, 1, 50, seed=6, prefix="ok")
    finally:
        sink.stop()
    assert sink.errors == 1
    assert mon.store.record_counts(mon.id)[0] == 50
    assert [w.rows for w in _windows(mon)] == [50]


def test_a_dead_child_is_replaced_and_its_batches_are_counted_as_dropped(project,
                                                                          monkeypatch):
    monkeypatch.setattr(sinkmod, "RESTART_SECONDS", 0.0)
    mon = _new_monitor(project, "proc-dies")
    sink = PredictionSink(mon, process=True, interval=60).start()
    try:
        first = sink.worker
        first.proc.kill()
        first.proc.wait()
        _submit(sink, 1, 50, seed=7, prefix="d")
        sink.drain()  # finds the child dead: starts another; these rows reach it
        assert sink.worker is not first and sink.worker.alive()
        assert sink.errors >= 1
        _submit(sink, 1, 50, seed=8, prefix="e")
    finally:
        sink.stop()
    assert mon.store.record_counts(mon.id)[0] == 100
    assert sink.dropped == 0


def test_send_to_a_dead_child_drops_and_counts(project, monkeypatch):
    monkeypatch.setattr(sinkmod, "RESTART_SECONDS", 3600.0)  # no restart within the test
    mon = _new_monitor(project, "proc-drop")
    sink = PredictionSink(mon, process=True, interval=60).start()
    try:
        sink._restart_at = time.monotonic() + 3600
        sink.worker.proc.kill()
        sink.worker.proc.wait()
        _submit(sink, 1, 5, seed=9, prefix="x")
        assert sink.drain() == 0
        assert sink.dropped == 5
    finally:
        sink.stop()


def test_without_a_child_the_sink_logs_in_this_process(project, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("the store is not one another process can open")

    monkeypatch.setattr(sinkmod.MonitorProcess, "start", refuse)
    mon = _new_monitor(project, "proc-fallback")
    sink = PredictionSink(mon, process=True, interval=60).start()
    try:
        assert sink.worker is None
        _submit(sink, 1, 60, seed=2, prefix="f")
    finally:
        sink.stop()
    assert [w.rows for w in _windows(mon)] == [50, 10]
    assert sink.logged_rows == 60


def test_server_sigterm_stores_every_request_and_leaves_no_child(project):
    mon = _new_monitor(project, "proc-server")
    server = Server(project, "--monitor", "proc-server", "--poll-seconds", "0")
    try:
        children = _children(server.proc.pid)
        assert len(children) == 1  # the monitor's process
        X = frame(30, seed=12)
        for i in range(0, 30, 3):
            status, _ = post(server.url + "/invocations",
                             {"dataframe_split": {"columns": FEATURES,
                                                  "data": X.iloc[i:i + 3].to_numpy().tolist()},
                              "ids": [f"srv{j}" for j in range(i, i + 3)]})
            assert status == 200
    finally:
        server.stop()  # SIGTERM: the queue is drained, the child closes the open window
    assert server.proc.returncode is not None
    assert _wait(lambda: not any(_alive(pid) for pid in children), 10)
    assert mon.store.record_counts(mon.id)[0] == 30
    assert [w.rows for w in _windows(mon)] == [30]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
