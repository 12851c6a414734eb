"""Run liveness by owner: attached processes never end a run; gc reports what it changed.

Real processes throughout: an owner that creates a run and keeps logging on request, an
attacher that attaches, logs and exits, and ``jupyter mlops gc`` run as its own process (which
opens the store, and so reaps, before gc runs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.store.runs import writer_token
from tests.reliability.faults import record


def _sql(client, statement: str, **params):
    """Direct SQL on the test store, bypassing the code under test (to tamper or check)."""
    from sqlalchemy import text

    from jupyter_mlops.store.engine import write_connection

    with write_connection(client.store.url) as conn:
        return conn.execute(text(statement), params).all() if statement.startswith(
            "SELECT") else conn.execute(text(statement), params)


def _orphan(client, name: str) -> str:
    """A RUNNING run whose writer is on another host and silent since 1970."""
    run = client.store.runs.create_run(experiment=None, name=name, user="u")
    _sql(client, "UPDATE runs SET writer = 'elsewhere:1:1', heartbeat_at = 1000 "
                 "WHERE id = :r", r=run.id)
    return run.id

OWNER = """
import json, sys
from jupyter_mlops.client import Client
client = Client()
run = client.create_run(name="owned")
print(json.dumps({"run_id": run.id}), flush=True)
for line in sys.stdin:  # one metric per line read, flushed, then acknowledged
    client.log_metric(run.id, "owner", float(line))
    client.flush()
    print("logged", flush=True)
"""

ATTACHER = """
import sys
from jupyter_mlops.client import Client
client = Client()
client.attach_run(sys.argv[1])
client.log_metric(sys.argv[1], "attached", 1.0)
client.close()
"""

ATTACH_AND_WAIT = """
import sys
from jupyter_mlops.client import Client
client = Client()
client.attach_run(sys.argv[1])
print("attached", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def procs(spawn_python):
    """``python -c code *args`` with a stdin pipe, on the test store; killed at teardown."""

    def start(code: str, *args: str) -> subprocess.Popen:
        return spawn_python("-c", code, *args, stdin=subprocess.PIPE)

    return start


def _line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return line.strip()


def _attach_and_exit(subprocess_env, run_id: str) -> None:
    done = subprocess.run([sys.executable, "-c", ATTACHER, run_id], env=subprocess_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _gc_cli(subprocess_env, *args: str) -> subprocess.CompletedProcess:
    """``jupyter mlops gc`` in a fresh process, as a user or a cron job runs it."""
    return subprocess.run([sys.executable, "-m", "jupyter_mlops.cli", "gc", *args],
                          env=subprocess_env, capture_output=True, text=True, timeout=300)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL


@pytest.mark.slow
def test_an_attached_process_exiting_never_kills_the_run(client, procs, subprocess_env):
    owner = procs(OWNER)
    run_id = json.loads(_line(owner))["run_id"]
    ((owner_token,),) = _sql(client, "SELECT writer FROM runs WHERE id = :r", r=run_id)

    _attach_and_exit(subprocess_env, run_id)

    # The attacher is recorded beside the owner, never in its place.
    owned_by, attached = client.store.runs.writers_of(run_id)
    assert owned_by == owner_token and len(attached) == 1 and attached[0] != owner_token
    done = _gc_cli(subprocess_env)
    assert done.returncode == 0, done.stderr
    assert "runs marked KILLED: 0" in done.stdout, done.stdout
    assert client.get_run(run_id).status == "RUNNING"
    # The owner goes on logging to its run.
    owner.stdin.write("0.5\n")
    owner.stdin.flush()
    assert _line(owner) == "logged"
    assert [p.value for p in client.metric_history(run_id, "owner")] == [0.5]
    assert [p.value for p in client.metric_history(run_id, "attached")] == [1.0]
    record("attached-writer-exit", faults=1, lost=0, checked=2)


@pytest.mark.slow
def test_a_killed_owner_is_marked_killed_and_reported(client, procs, subprocess_env):
    owner = procs(OWNER)
    run_id = json.loads(_line(owner))["run_id"]
    _attach_and_exit(subprocess_env, run_id)
    _kill(owner)

    done = _gc_cli(subprocess_env)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "runs marked KILLED: 1" in lines, done.stdout
    assert f"  {run_id}" in lines
    assert client.get_run(run_id).status == "KILLED"
    again = _gc_cli(subprocess_env)  # reported once: nothing changed the second time
    assert "runs marked KILLED: 0" in again.stdout.splitlines(), again.stdout
    record("sigkill-run-owner", faults=1, checked=1)


@pytest.mark.slow
def test_a_live_attached_writer_keeps_the_run_of_a_dead_owner(client, procs, subprocess_env):
    owner = procs(OWNER)
    run_id = json.loads(_line(owner))["run_id"]
    attached = procs(ATTACH_AND_WAIT, run_id)
    assert _line(attached) == "attached"
    _kill(owner)

    assert client.gc().runs_killed == []
    assert client.get_run(run_id).status == "RUNNING"

    attached.stdin.close()  # the last writer exits: now the run is dead
    assert attached.wait(timeout=120) == 0, attached.stderr.read()
    assert client.gc().runs_killed == [run_id]
    assert client.get_run(run_id).status == "KILLED"


def test_attaching_in_the_owning_process_records_no_extra_writer(client):
    run = client.create_run()
    client.attach_run(run.id)
    assert client.store.runs.writers_of(run.id) == (writer_token(), [])


def test_gc_reports_runs_reaped_when_it_opened_the_store(client, store_url, artifact_root):
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    run_id = _orphan(client, "orphan")
    client.writer.close()
    forget_open_stores()
    fresh = Client(store_url, artifact_root)  # opening reaps the orphan
    try:
        assert fresh.get_run(run_id).status == "KILLED"
        assert fresh.gc().runs_killed == [run_id]
        assert fresh.gc().runs_killed == []
    finally:
        fresh.close()


def test_consecutive_reapers_report_a_run_once(client):
    run_id = _orphan(client, "silent")
    runs = client.store.runs
    first, second = runs.reap_dead_runs(300), runs.reap_dead_runs(300)
    assert (first, second) == ([run_id], [])


def test_a_heartbeat_arriving_before_the_update_saves_the_run(client, monkeypatch):
    from jupyter_mlops.store import writers as runs_module  # both write paths' rule

    run_id = _orphan(client, "late")
    # The orphan is judged by its silence; its owner's liveness is then asked about a
    # second run, which is when we let the orphan's heartbeat arrive.
    probe = client.store.runs.create_run(experiment=None, name="probe", user="u")
    _sql(client, "UPDATE runs SET writer = 'elsewhere:1:2' WHERE id = :r", r=probe.id)
    real = runs_module.writer_is_dead

    def beat_meanwhile(token):
        client.store.runs.heartbeat([run_id])
        return real(token)

    monkeypatch.setattr(runs_module, "writer_is_dead", beat_meanwhile)
    assert client.store.runs.reap_dead_runs(300) == []
    assert client.get_run(run_id).status == "RUNNING"


# ----------------------------------------------------------------------------- missing blobs
def _remove_blob(client, digest: str) -> None:
    path = Path(client.store.blobs.path_of(digest))
    os.chmod(path, 0o644)
    path.unlink()


def test_gc_verify_fails_and_names_a_missing_blob(client, capsys):
    from jupyter_mlops.cli import main

    run = client.create_run()
    (kept,) = client.log_artifact(run.id, b"still here", name="kept.bin")
    (gone,) = client.log_artifact(run.id, b"about to vanish", name="model.json")
    _remove_blob(client, gone.digest)

    report = client.gc()
    assert report.blobs.missing == (gone.digest,) and not report.ok
    assert report.missing_used_by == {gone.digest: [f"artifact 'model.json' of run {run.id}"]}

    capsys.readouterr()
    assert main(["gc", "--verify"]) == 1
    out = capsys.readouterr().out
    assert "blobs missing: 1" in out
    assert f"missing blob {gone.digest}, used by artifact 'model.json' of run {run.id}" in out
    assert kept.digest not in out
    # Without --verify the loss is still reported, but does not fail the command.
    assert main(["gc"]) == 0
    assert f"missing blob {gone.digest}" in capsys.readouterr().out
    record("missing-blob", faults=1, checked=2)


def test_gc_verify_passes_on_an_intact_store_and_keeps_dry_run(client, capsys):
    from jupyter_mlops.cli import main

    run = client.create_run()
    client.log_artifact(run.id, b"fine", name="fine.bin")
    orphan = client.store.blobs.put_bytes(b"orphan")
    os.utime(client.store.blobs.path_of(orphan.digest), (1000, 1000))

    capsys.readouterr()
    assert main(["gc", "--verify", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "blobs missing: 0" in out and "blobs would be deleted (unreferenced): 1" in out
    assert client.store.blobs.exists(orphan.digest)
    assert main(["gc", "--verify"]) == 0
    assert not client.store.blobs.exists(orphan.digest)


def test_a_missing_model_version_blob_is_named(client):
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier().fit([[0], [1]], [0, 1])
    version = client.registry.register_model(model, "tiny")
    _remove_blob(client, version.digest)

    report = client.gc()
    assert report.blobs.missing == (version.digest,)
    assert report.missing_used_by[version.digest] == ["model 'tiny' version 1"]
