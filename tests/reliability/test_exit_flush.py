"""The exit flush is bounded: a store locked by another process cannot hold an exit hostage.

Before, a process whose queued values met SQLite's write lock held by someone else waited for
the writer thread's flush (60 s busy timeout) and then for its own (60 s again): a `jupyter
server` told to stop took three minutes. Now the exit flush gives up after
``MLOPS_EXIT_FLUSH_SECONDS`` and sets the unwritten rows aside in the dead-letter file, from
which ``jupyter mlops dead-letter replay`` writes them once the lock is gone.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from jupyter_mlops.tracking.dead_letter import DeadLetterFile
from tests.reliability.faults import record
from tests.reliability.test_validation import fresh_read

POINTS = 200

#: Logs after the parent says "go" (by then the parent holds the write lock), then exits
#: without flushing: only the atexit flush can save the values.
CHILD = textwrap.dedent(f"""
    import sys
    from jupyter_mlops.client import Client

    client = Client(sys.argv[1], sys.argv[2])
    run = client.create_run(name="exit-flush").id
    client.flush()
    print(run, flush=True)
    assert sys.stdin.readline().strip() == "go"
    for i in range({POINTS}):
        client.log_metric(run, "loss", float(i), step=i)
    client.log_params(run, {{"lr": "0.1"}})
    client.set_tags(run, {{"phase": "exit"}})
""")


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # SQLite's write lock
def test_exit_with_the_store_locked_sets_rows_aside_and_replay_stores_them(
        store, store_url, artifact_root, subprocess_env, tmp_path, capsys):
    # ``store``: the file is a copy of the session's migrated template, so the child does not
    # replay every migration first (the locked exit is what is tested, not the first open).
    env = {**subprocess_env, "MLOPS_EXIT_FLUSH_SECONDS": "2"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, store_url, artifact_root],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lock = None
    try:
        run = child.stdout.readline().strip()
        assert len(run) == 32, child.stderr.read() if child.poll() is not None else run
        lock = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the write lock, as another process's writer holds it
        child.stdin.write("go\n")
        child.stdin.flush()
        # A hang detector, not a timing: without the deadline the child waits out SQLite's
        # busy timeout twice (≥ 120 s); with it, 2 s plus start-up on a loaded machine.
        _, err = child.communicate(timeout=100)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        dead_after_exit = DeadLetterFile(store_url).rows()
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()
    assert child.returncode == 0, err
    warned = [line for line in err.splitlines() if "were not written at exit" in line]
    assert len(warned) == 1, err
    assert run in warned[0] and "dead-letter replay" in warned[0]
    assert "MLOPS_EXIT_FLUSH_SECONDS=2" in warned[0]

    kinds = sorted((r.kind, r.key) for r in dead_after_exit)
    assert {r.run_id for r in dead_after_exit} == {run}
    assert kinds.count(("metric", "loss")) == POINTS
    assert ("param", "lr") in kinds and ("tag", "phase") in kinds

    # The CLI command, in this process (the child is gone; what it stored is read back below
    # by a fresh one).
    from jupyter_mlops.cli import main

    capsys.readouterr()
    code = main(["--tracking-uri", store_url, "--artifact-root", artifact_root,
                 "dead-letter", "replay"])
    assert code == 0, capsys.readouterr()
    got = fresh_read(subprocess_env, store_url, artifact_root, [run])[run]
    points = [(step, value) for step, value, _ in got["metrics"].get("loss", [])]
    lost = POINTS - len(set(points)) + (got["params"] != {"lr": "0.1"})
    record("exit-flush-locked", faults=1, lost=lost, checked=POINTS + 2)
    assert sorted(points) == [(i, float(i)) for i in range(POINTS)]
    assert got["params"] == {"lr": "0.1"} and got["tags"].get("phase") == "exit"
    assert DeadLetterFile(store_url).rows() == []
