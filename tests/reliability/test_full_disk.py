"""A full disk during artifact and metric writes: a clear error, a consistent store, no loss.

Artifacts: ENOSPC is injected into the blob writer's file writes and fsync (the machine may
not let tests mount a tiny filesystem). Metrics: SQLite itself reports the disk full, because
``PRAGMA max_page_count`` caps the database at its current size — the same SQLITE_FULL path a
real full disk takes. The queued points must survive the failure and land, exactly once, on
the next flush after space is freed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from sqlalchemy import event, text

from jupyter_mlops.errors import StoreUnavailableError
from jupyter_mlops.store import blobs as blobs_module
from tests.reliability.faults import record


@pytest.fixture
def store_url(tmp_path):  # max_page_count is SQLite's; the artifact path is backend-neutral
    folder = tmp_path / "store"
    folder.mkdir()
    return f"sqlite:///{folder / 'mlops.db'}"


class _FullFile:
    """A real file whose writes fail with ENOSPC once ``room`` bytes were written."""

    def __init__(self, f, room: int):
        self._f, self._room = f, room

    def write(self, data):
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_enospc_during_artifact_write(client, artifact_root, monkeypatch, where):
    run = client.create_run(experiment="full", name="r")
    payload = os.urandom(3 * (1 << 20))
    if where == "write":
        real_open = open
        monkeypatch.setattr(blobs_module, "open", lambda p, mode="r", *a, **k: _FullFile(
            real_open(p, mode, *a, **k), 1 << 20) if "x" in mode else real_open(p, mode, *a, **k),
            raising=False)
    else:
        def no_room(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(blobs_module.os, "fsync", no_room)
    with pytest.raises(StoreUnavailableError) as info:
        client.log_artifact(run.id, payload, name="big.bin")
    # One clear error saying what happened and what to do; the OS error stays chained.
    assert "No space left" in str(info.value) and "Free some space" in str(info.value)
    assert info.value.__cause__.errno == errno.ENOSPC
    # Nothing half-done is left: no row, no blob, no temp file.
    assert client.list_artifacts(run.id) == []
    assert list(client.store.blobs.iter_digests()) == []
    assert list((Path(artifact_root) / "tmp").glob("*")) == []

    monkeypatch.undo()  # space freed: the same call now succeeds
    rec = client.log_artifact(run.id, payload, name="big.bin")[0]
    got = client.read_artifact(run.id, "big.bin")[1]
    record("enospc", faults=1, lost=int(got != payload), checked=1, where=where)
    assert got == payload
    assert list(client.store.blobs.iter_digests()) == [rec.digest]
    client.end_run(run.id)


def test_disk_full_during_metric_writes_keeps_the_queue(client, store_url):
    from jupyter_mlops.store.engine import get_engine

    run = client.create_run(experiment="full", name="r")
    for step in range(100):
        client.log_metric(run.id, "loss", step, step=step)
    client.flush()
    engine = get_engine(store_url, writer=True)

    def cap(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    event.listen(engine, "connect", cap)
    engine.dispose()  # new connections get the cap: the "disk" is now full
    # A SQLite file's values are written by the stdlib-sqlite3 path (store/lite.py) on its
    # own long-lived connection: the "disk" must be full for it too.
    lite_db = getattr(client.store.runs, "_db", None)
    if lite_db is not None:
        cap(lite_db.conn, None)
    try:
        for step in range(100, 30_100):
            client.log_metric(run.id, "loss", step, step=step)
        client.log_params(run.id, {"p": "x" * 5000})
        with pytest.raises(StoreUnavailableError) as info:
            client.flush()
        message = str(info.value)
        assert "full" in message and "retry" in message
        assert client.writer.pending() >= 30_000  # nothing was dropped
        with get_engine(store_url, writer=False).connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        # Readers still see the consistent state from before the failure.
        assert [p.step for p in client.store.runs.metric_history(run.id, "loss")] == \
            list(range(100))
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()  # space freed
        if lite_db is not None:
            lite_db.conn.execute("PRAGMA max_page_count = 1073741823")
    client.flush()  # the queued points are retried and land exactly once
    steps = [p.step for p in client.metric_history(run.id, "loss")]
    record("sqlite-full", faults=1, lost=len(set(range(30_100)) - set(steps)),
           checked=len(steps), duplicates=len(steps) - len(set(steps)))
    assert steps == list(range(30_100))
    assert client.get_run(run.id).run.params == {"p": "x" * 5000}
    client.end_run(run.id)
