"""Opening stores, heartbeats, dead writers, and many writers at once, on every backend."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from jupyter_mlops.client import Client
from jupyter_mlops.errors import StoreUnavailableError
from jupyter_mlops.store import forget_open_stores, open_store
from jupyter_mlops.store.runs import writer_token

HOUR = 3600.0


def read_line(proc: subprocess.Popen, timeout: float = 120.0) -> str:
    """The child's next stdout line; fail (with its stderr) if it dies or stays silent."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            pytest.fail(f"helper printed nothing in {timeout}s: {proc.communicate()[1]}")
    line = proc.stdout.readline()
    if not line:
        pytest.fail(f"helper exited with {proc.wait()} before reporting: {proc.stderr.read()}")
    return line


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll until ``condition()`` is truthy (a deadline for hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


# ----------------------------------------------------------------------------- opening
def test_open_store_is_cached_until_forgotten(store_url, artifact_root, mlops_env):
    first = open_store(store_url, artifact_root)
    assert open_store(store_url, artifact_root) is first
    run = first.runs.create_run(experiment=None, name="kept", user="u")

    forget_open_stores()
    second = open_store(store_url, artifact_root)
    assert second is not first
    assert second.runs.get_run(run.id).name == "kept"
    forget_open_stores()


def test_default_store_comes_from_the_environment(store_url, artifact_root, mlops_env):
    store = open_store()
    assert (store.url, store.artifact_root) == (store_url, artifact_root)
    client = Client()
    try:
        assert client.tracking_uri == store_url
        run = client.create_run(name="env")
        client.log_artifact(run.id, b"x", name="x.bin")
        assert os.path.isdir(os.path.join(artifact_root, "blobs"))
    finally:
        client.writer.close()
        forget_open_stores()


def test_unreachable_store_says_so_without_leaking_the_password(store_url, tmp_path,
                                                                  artifact_root):
    if store_url.startswith("sqlite"):
        bad = f"sqlite:///{tmp_path}"  # a folder, not a database file
    else:
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        bad = make_url(store_url).set(password="s3cret", port=port).render_as_string(
            hide_password=False)
    with pytest.raises(StoreUnavailableError) as err:
        open_store(bad, artifact_root)
    assert "unavailable" in str(err.value) and "s3cret" not in str(err.value)


def test_sqlite_store_uses_wal_and_foreign_keys(tmp_path):
    from sqlalchemy import text

    from jupyter_mlops.store.engine import read_connection

    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_store(url, str(tmp_path / "artifacts"))
    try:
        with read_connection(url) as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
    finally:
        forget_open_stores()


# ----------------------------------------------------------------------------- heartbeats
def test_heartbeat_refreshes_running_runs_only(client, raw_db):
    live, done = client.create_run(), client.create_run()
    client.end_run(done.id)
    raw_db.execute("UPDATE runs SET heartbeat_at = 1000")

    before = time.time()
    client.store.runs.heartbeat([live.id, done.id])

    beats = dict(raw_db.rows("SELECT id, heartbeat_at FROM runs"))
    assert beats[live.id] >= before
    assert beats[done.id] == 1000


def test_live_runs_send_heartbeats_in_the_background(store, store_url, artifact_root,
                                                     monkeypatch, raw_db):
    monkeypatch.setenv("MLOPS_HEARTBEAT_SECONDS", "0.05")
    client = Client(store_url, artifact_root)
    try:
        run = client.create_run()
        raw_db.execute("UPDATE runs SET heartbeat_at = 1000 WHERE id = :r", r=run.id)
        wait_for(lambda: raw_db.scalar("SELECT heartbeat_at FROM runs WHERE id = :r",
                                       r=run.id) > 1000, "a heartbeat")
    finally:
        client.writer.close()


def _unwatched_runs(client: Client, *names: str) -> list:
    """Runs this process does not heartbeat (as if another process wrote them)."""
    return [client.store.runs.create_run(experiment=None, name=n, user="u") for n in names]


def test_reap_kills_silent_runs_and_keeps_live_ones(client, raw_db, monkeypatch):
    silent, quiet, fresh, done = _unwatched_runs(client, "silent", "quiet", "fresh", "done")
    client.end_run(done.id)
    now = time.time()
    # Writers on another host: their liveness can only be judged by heartbeats.
    raw_db.execute("UPDATE runs SET writer = 'elsewhere:1:1'")
    raw_db.execute("UPDATE runs SET heartbeat_at = :t WHERE id IN (:a, :d)",
                   t=now - 2 * HOUR, a=silent.id, d=done.id)
    raw_db.execute("UPDATE runs SET heartbeat_at = :t WHERE id = :q", t=now - 200, q=quiet.id)

    assert client.store.reap_dead_runs() == [silent.id]  # default: silent for 300 s

    status = {r.name: r.status for r in client.search_runs()}
    assert status == {"silent": "KILLED", "quiet": "RUNNING", "fresh": "RUNNING",
                      "done": "FINISHED"}
    # The end time is the last sign of life, not the moment someone noticed.
    assert client.get_run(silent.id).run.end_time == pytest.approx(now - 2 * HOUR)

    monkeypatch.setenv("MLOPS_DEAD_AFTER_SECONDS", "100")
    assert client.store.reap_dead_runs() == [quiet.id]
    assert client.store.reap_dead_runs() == []
    assert client.get_run(fresh.id).status == "RUNNING"


def test_reap_kills_runs_whose_local_writer_is_gone(client, raw_db):
    host = socket.gethostname()
    gone, reused, alive = _unwatched_runs(client, "gone", "reused", "alive")
    raw_db.execute("UPDATE runs SET writer = :w WHERE id = :r",
                   w=f"{host}:{dead_pid()}:12345", r=gone.id)
    # Our pid but another start time: the pid was reused, the writer is gone.
    raw_db.execute("UPDATE runs SET writer = :w WHERE id = :r",
                   w=f"{host}:{os.getpid()}:1", r=reused.id)
    assert raw_db.scalar("SELECT writer FROM runs WHERE id = :r", r=alive.id) == writer_token()

    assert sorted(client.store.reap_dead_runs()) == sorted([gone.id, reused.id])
    assert client.get_run(alive.id).status == "RUNNING"


# ----------------------------------------------------------------------------- crash
N_FLUSHED = 2000


def _kill_writer_after_flush(spawn_helper) -> str:
    proc = spawn_helper("crash_writer.py", N_FLUSHED)
    run_id = json.loads(read_line(proc))["run_id"]
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    return run_id


def _assert_flushed_values_survived(client: Client, run_id: str) -> None:
    detail = client.get_run(run_id)
    assert detail.status == "KILLED"
    assert detail.run.start_time <= detail.run.end_time <= time.time()
    assert detail.params == {"lr": "0.01", "model": "svc"}
    assert detail.tags == {"stage": "before-kill"}
    history = client.metric_history(run_id, "loss")
    assert [p.step for p in history] == list(range(N_FLUSHED))
    assert history[-1].value == 1.0 / N_FLUSHED
    assert json.loads(client.read_artifact(run_id, "model.json")[1]) == {"weights": [1, 2, 3]}
    # Points logged after the last flush may or may not have been written, but batches are
    # atomic: whatever is there is a gap-free prefix.
    if "after" in detail.metric_keys:
        steps = [p.step for p in client.metric_history(run_id, "after")]
        assert steps == list(range(len(steps)))


def test_killed_writer_is_reaped(client, spawn_helper):
    run_id = _kill_writer_after_flush(spawn_helper)
    assert client.get_run(run_id).status == "RUNNING"  # nobody has looked yet

    assert client.store.reap_dead_runs() == [run_id]

    _assert_flushed_values_survived(client, run_id)


@pytest.mark.slow  # spawns and kills a writer, 5.3 s measured (load 8)
def test_killed_writer_is_reaped_on_next_open(client, spawn_helper, store_url, artifact_root):
    run_id = _kill_writer_after_flush(spawn_helper)
    client.writer.close()
    forget_open_stores()

    fresh = Client(store_url, artifact_root)  # opening the store reaps
    try:
        _assert_flushed_values_survived(fresh, run_id)
    finally:
        fresh.writer.close()


# ----------------------------------------------------------------------------- concurrency
WORKERS, POINTS = 4, 5000


@pytest.mark.slow  # 4 processes x 5000 points, 21.9 s measured (load 8)
def test_many_processes_log_to_one_store_and_lose_nothing(client, spawn_helper, store_url,
                                                          artifact_root, tmp_path):
    shared = client.create_run(experiment="concurrency", name="shared")
    go = tmp_path / "go"
    procs = [spawn_helper("log_metrics.py", store_url, artifact_root, shared.id, w, POINTS, go)
             for w in range(WORKERS)]
    wait_for(lambda: all((tmp_path / f"go.ready{w}").exists() for w in range(WORKERS))
             or any(p.poll() is not None for p in procs), "every worker to be ready", 180)
    go.touch()

    own_runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err, err
        assert "failed" not in err, err
        own_runs.append(json.loads(out)["own_run"])

    history = client.metric_history(shared.id, "loss")
    assert len(history) == WORKERS * POINTS
    assert sorted(p.value for p in history) == sorted(
        float(w * 1_000_000 + s) for w in range(WORKERS) for s in range(POINTS))
    assert client.get_run(shared.id).metrics["loss"] % 1_000_000 == POINTS - 1
    for run_id in own_runs:
        detail = client.get_run(run_id)
        assert detail.status == "FINISHED"
        assert [p.step for p in client.metric_history(run_id, "acc")] == list(range(POINTS))
    assert client.count_runs(experiment="concurrency") == WORKERS + 1


def test_many_threads_log_through_one_client(client):
    run = client.create_run()
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for s in range(2000):
                client.log_metric(run.id, f"t{t}", s, step=s)
                if s % 500 == 0:
                    client.flush()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for t in range(8):
        assert [p.value for p in client.metric_history(run.id, f"t{t}")] == [
            float(s) for s in range(2000)]
