"""SIGKILL during an artifact write and at random points of a metric/artifact burst.

After each kill: the store opens cleanly, the dead writer's run is KILLED, everything flushed
before the kill is there, no partial blob is visible (every stored blob verifies, every
artifact row's blob exists), and ``gc`` reports and removes the temp file left behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.faults import record

HELPER = Path(__file__).resolve().parent / "helpers" / "killed_writer.py"


@pytest.fixture
def store_url(tmp_path):  # crash semantics are the store's, not the database's: SQLite only
    folder = tmp_path / "store"
    folder.mkdir()
    return f"sqlite:///{folder / 'mlops.db'}"


def start(mode: str, env: dict) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, str(HELPER), mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, proc.communicate(timeout=30)[1]
    return proc, json.loads(line)


def reopen():
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    return Client()  # opening reaps runs whose writer is gone


def measure_loss(client, info: dict) -> tuple[int, int]:
    """(items flushed before the kill that are missing or corrupt, items checked)."""
    from jupyter_mlops.errors import MlopsError

    try:
        flushed = {p.step for p in client.metric_history(info["run"], "flushed")}
    except MlopsError:
        flushed = set()
    lost = len(set(range(1000)) - flushed)
    try:
        ok = client.read_artifact(info["run"], "before.bin")[1] == b"durable before the kill"
    except MlopsError:
        ok = False
    blobs = client.store.blobs
    stored = set(blobs.iter_digests())
    lost += (not ok) + sum(not blobs.verify(d) for d in stored)
    lost += sum(a.digest not in stored for a in client.list_artifacts(info["run"]))
    return lost, len(flushed) + 1 + len(stored)


def assert_consistent(client, info: dict) -> None:
    lost, checked = measure_loss(client, info)
    record("sigkill-writer", faults=1, lost=lost, checked=checked)
    run = client.get_run(info["run"]).run
    assert run.status == "KILLED"
    assert [p.step for p in client.metric_history(info["run"], "flushed")] == list(range(1000))
    assert client.read_artifact(info["run"], "before.bin")[1] == b"durable before the kill"
    blobs = client.store.blobs
    stored = set(blobs.iter_digests())
    for digest in stored:
        assert blobs.verify(digest), f"partial or corrupt blob {digest} is visible"
    for a in client.list_artifacts(info["run"]):
        assert a.digest in stored  # no row points at a blob that never landed


@pytest.mark.slow  # SIGKILLs a writer mid-write, 5.8 s measured (load 10)
def test_sigkill_mid_artifact_write_leaves_no_partial_blob(client, subprocess_env, artifact_root):
    proc, info = start("stall", subprocess_env)
    assert proc.stdout.readline().strip() == "WRITING"  # 1 MiB of 4 written to a temp file
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    client = reopen()
    assert_consistent(client, info)
    temps = list((Path(artifact_root) / "tmp").iterdir())
    assert len(temps) == 1 and temps[0].stat().st_size >= 1 << 20  # the torn write, unseen
    assert len(list(client.store.blobs.iter_digests())) == 1  # only "before.bin"

    report = client.gc().blobs
    assert report.temp_removed == ()  # young: might belong to a live writer
    old = time.time() - 2 * 3600
    os.utime(temps[0], (old, old))
    dry = client.gc(dry_run=True).blobs
    assert dry.temp_removed == (temps[0].name,) and temps[0].exists()
    report = client.gc().blobs
    assert report.temp_removed == (temps[0].name,) and not temps[0].exists()
    assert report.corrupt == () and report.deleted == ()
    client.writer.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_point_of_a_burst(client, subprocess_env, artifact_root, seed):
    proc, info = start("burst", subprocess_env)
    time.sleep(random.Random(seed).uniform(0.05, 1.0))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    client = reopen()
    assert_consistent(client, info)
    from jupyter_mlops.errors import NotFoundError

    try:
        burst = client.metric_history(info["run"], "burst")
    except NotFoundError:  # killed before the burst's first flush
        burst = []
    assert [p.step for p in burst] == list(range(len(burst)))  # a prefix, no holes
    old = time.time() - 2 * 3600
    for tmp in (Path(artifact_root) / "tmp").glob("*"):
        os.utime(tmp, (old, old))
    report = client.gc().blobs
    assert report.corrupt == ()
    assert not list((Path(artifact_root) / "tmp").glob("*"))
    client.writer.close()
