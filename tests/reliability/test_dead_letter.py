"""A flush never wedges: rows the store refuses are set aside, everything else is written.

Each test forces a write-time refusal the validation layer cannot see — a patched insert, or
a real SQLite trigger that aborts — and checks that the other rows land (read back by a
fresh process), the refused row is in the dead-letter file with one warning, the writer
thread lives on, and ``jupyter mlops dead-letter replay`` writes the row once the cause is
gone. Outages (the store unavailable) must still keep rows queued, never set them aside.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import warnings

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from jupyter_mlops.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from jupyter_mlops.store.runs import RunStore
from jupyter_mlops.tracking.dead_letter import DeadLetterFile, DeadLetterWarning, refuses_row
from tests.reliability.faults import record
from tests.reliability.test_validation import fresh_read


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # never find a real project's .mlops/ (PostgreSQL stores)


@pytest.fixture
def store_patch():
    """Patches of RunStore undone on their own (``monkeypatch.undo()`` would also undo the
    fixtures' chdir and environment); undone at teardown whatever happens."""
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def refuse_metric_key(patch: pytest.MonkeyPatch, bad: set[str]) -> list[int]:
    """Make the store refuse any metric batch holding a key in ``bad``; count the writes."""
    from jupyter_mlops.store.lite import LiteRunStore  # a SQLite file's write path

    calls = [0]
    for cls in (RunStore, LiteRunStore):
        original, log_batch = cls._insert_metrics, cls.log_batch

        def insert(conn, run_id, metrics, original=original):
            if any(k in bad for k, *_ in metrics):
                raise ValueError(f"refused for the test: {sorted(bad)}")
            return original(conn, run_id, metrics)

        def counted(self, *args, log_batch=log_batch, **kwargs):
            calls[0] += 1
            return log_batch(self, *args, **kwargs)

        patch.setattr(cls, "_insert_metrics", staticmethod(insert))
        patch.setattr(cls, "log_batch", counted)
    return calls


def cli(subprocess_env, url, root, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", url, "--artifact-root",
         root, "dead-letter", *args], env=subprocess_env, capture_output=True, text=True,
        timeout=300)


@pytest.mark.slow  # CLI and reader subprocesses: 50 s at load ~25
def test_a_refused_row_is_set_aside_the_rest_written_and_replay_recovers_it(
        client, store_url, artifact_root, subprocess_env, store_patch):
    a, b = client.create_run(name="a").id, client.create_run(name="b").id
    refuse_metric_key(store_patch, {"poison"})
    for i in range(100):
        client.log_metric(a, "x", float(i))
        client.log_metric(b, "x", float(i))
    client.log_metric(b, "poison", 13.0, step=7)
    client.log_params(b, {"p": "1"})
    client.set_tags(a, {"t": "kept"})
    with pytest.warns(DeadLetterWarning, match=f"refused 1 value.*run {b}.*dead-letter replay"):
        client.flush()  # raised (and kept raising) before: the batch was re-queued forever
    client.log_metric(a, "after", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadLetterWarning)  # reported once, not per flush
        client.flush()
    store_patch.undo()  # the cause is fixed

    got = fresh_read(subprocess_env, store_url, artifact_root, [a, b])
    assert [p[1] for p in got[a]["metrics"]["x"]] == [float(i) for i in range(100)]
    assert [p[1] for p in got[b]["metrics"]["x"]] == [float(i) for i in range(100)]
    assert "poison" not in got[b]["metrics"]
    assert got[b]["params"] == {"p": "1"} and got[a]["tags"]["t"] == "kept"
    assert got[a]["metrics"]["after"][0][1] == 1.0

    rows = DeadLetterFile(store_url).rows()
    assert [(r.run_id, r.kind, r.key, r.value, r.step) for r in rows] == \
        [(b, "metric", "poison", 13.0, 7)]
    assert "refused for the test" in rows[0].error
    listed = cli(subprocess_env, store_url, artifact_root, "list")
    assert listed.returncode == 0 and "poison" in listed.stdout and b[:12] in listed.stdout

    replayed = cli(subprocess_env, store_url, artifact_root, "replay")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "written: 1" in replayed.stdout
    got = fresh_read(subprocess_env, store_url, artifact_root, [b])
    assert [p[:2] for p in got[b]["metrics"]["poison"]] == [[7, 13.0]]
    assert DeadLetterFile(store_url).rows() == []
    record("dead-letter", faults=1, lost=0, checked=204)


@pytest.mark.slow  # CLI and reader subprocesses: 26 s at load ~25
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # an SQLite trigger
def test_a_real_database_refusal_is_isolated(client, store_url, artifact_root, subprocess_env):
    """A trigger aborts one param's insert: the database itself refuses the row."""
    from pathlib import Path

    from sqlalchemy import create_engine, text

    run = client.create_run().id
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON params "
                          "WHEN NEW.value = 'poison' "
                          "BEGIN SELECT RAISE(ABORT, 'poison is refused'); END"))
    client.log_params(run, {"a": "1", "bad": "poison", "b": "2"})
    client.set_tags(run, {"t": "x"})
    client.log_metrics(run, {"m": 0.5, "n": math.nan})
    with pytest.warns(DeadLetterWarning, match="poison is refused"):
        client.flush()
    assert [(r.kind, r.key, r.value) for r in DeadLetterFile(store_url).rows()] == \
        [("param", "bad", "poison")]
    beside = Path(store_url.removeprefix("sqlite:///")).parent / "dead-letter.jsonl"
    assert beside.is_file()  # next to the SQLite file
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_poison"))
    engine.dispose()
    done = cli(subprocess_env, store_url, artifact_root, "replay")
    assert done.returncode == 0, done.stdout + done.stderr
    got = fresh_read(subprocess_env, store_url, artifact_root, [run])[run]
    assert got["params"] == {"a": "1", "bad": "poison", "b": "2"}
    assert got["tags"]["t"] == "x" and got["metrics"]["m"][0][1] == 0.5
    assert math.isnan(got["metrics"]["n"][0][1])


def test_bisection_writes_every_good_row_in_few_writes(client, store_patch):
    """k refused rows among n cost O(k log n) writes, not n."""
    run = client.create_run().id
    bad = {"poison-1", "poison-2", "poison-3"}
    calls = refuse_metric_key(store_patch, bad)
    for i in range(1000):
        client.log_metric(run, "x", float(i))
        if i in (10, 500, 990):
            client.log_metric(run, f"poison-{(i % 3) + 1}", float(i))
    with pytest.warns(DeadLetterWarning, match="refused 3 value"):
        client.flush()
    store_patch.undo()
    assert [p.value for p in client.metric_history(run, "x")] == [float(i) for i in range(1000)]
    assert sorted(r.key for r in DeadLetterFile(client.tracking_uri).rows()) == sorted(bad)
    assert calls[0] <= 1 + 3 * 2 * math.ceil(math.log2(1003)), calls[0]


def test_an_outage_keeps_rows_queued_and_sets_nothing_aside(client, store_patch):
    run = client.create_run().id
    # lite's for a SQLite file, else RunStore (a PostgreSQL store's runs only search on
    # psycopg, store/pg_lite.py: its writes are RunStore's).
    writer = type(client.store.runs) if "log_batch" in dir(type(client.store.runs)) else RunStore
    original = writer.log_batch

    def down(self, *args, **kwargs):
        raise StoreUnavailableError("The metadata store is unavailable (test outage).")

    store_patch.setattr(writer, "log_batch", down)
    for i in range(10):
        client.log_metric(run, "x", float(i))
    client.log_params(run, {"p": "1"})
    with pytest.raises(StoreUnavailableError):
        client.flush()
    assert client.writer.pending() == 11
    store_patch.setattr(writer, "log_batch", original)
    client.flush()
    assert [p.value for p in client.metric_history(run, "x")] == [float(i) for i in range(10)]
    assert client.get_run(run).run.params == {"p": "1"}
    assert DeadLetterFile(client.tracking_uri).rows() == []
    record("outage-requeue", faults=1, lost=0, checked=11)


def test_an_outage_during_bisection_loses_and_duplicates_nothing(client, store_patch):
    run = client.create_run().id
    refuse_metric_key(store_patch, {"poison"})
    # lite's for a SQLite file, else RunStore (a PostgreSQL store's runs only search on
    # psycopg, store/pg_lite.py: its writes are RunStore's).
    writer = type(client.store.runs) if "log_batch" in dir(type(client.store.runs)) else RunStore
    patched = writer.log_batch
    writes = [0]

    def flaky(self, *args, **kwargs):
        writes[0] += 1
        if writes[0] == 4:  # in the middle of isolating the refused row
            raise StoreUnavailableError("The metadata store is unavailable (test outage).")
        return patched(self, *args, **kwargs)

    store_patch.setattr(writer, "log_batch", flaky)
    for i in range(64):
        client.log_metric(run, "x", float(i), step=i)
    client.log_metric(run, "poison", 1.0)
    with pytest.raises(StoreUnavailableError):
        client.flush()
    with pytest.warns(DeadLetterWarning):
        client.flush()
    store_patch.undo()
    steps = [p.step for p in client.metric_history(run, "x")]
    assert steps == list(range(64))  # each point once: nothing lost, nothing written twice
    assert [r.key for r in DeadLetterFile(client.tracking_uri).rows()] == ["poison"]


def test_rows_that_cannot_be_set_aside_stay_queued(client, store_patch, tmp_path):
    run = client.create_run().id
    refuse_metric_key(store_patch, {"poison"})
    (tmp_path / "a-file").write_text("not a folder")
    client.writer._dead_letter = DeadLetterFile(client.tracking_uri,
                                                tmp_path / "a-file" / "dead-letter.jsonl")
    client.log_metric(run, "x", 1.0)
    client.log_metric(run, "poison", 2.0)
    with pytest.raises(StoreUnavailableError, match="could not be set aside"):
        client.flush()
    assert [p.value for p in client.store.runs.metric_history(run, "x")] == [1.0]  # written
    assert client.writer.pending() == 1  # the refused row waits in memory, not lost
    good = DeadLetterFile(client.tracking_uri, tmp_path / "ok" / "dead-letter.jsonl")
    client.writer._dead_letter = good
    with pytest.warns(DeadLetterWarning):
        client.flush()
    assert [r.key for r in good.rows()] == ["poison"] and client.writer.pending() == 0


def test_the_writer_thread_survives_a_refused_row(client, store_patch):
    run = client.create_run().id
    refuse_metric_key(store_patch, {"poison"})
    client.writer._interval = 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeadLetterWarning)
        client.log_metric(run, "poison", 1.0)
        client.log_metric(run, "x", 1.0)
        deadline = time.monotonic() + 60
        while client.writer.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        client.log_metric(run, "x", 2.0)
        deadline = time.monotonic() + 60
        while client.writer.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert client.writer._thread.is_alive()
    store_patch.undo()
    assert [p.value for p in client.metric_history(run, "x")] == [1.0, 2.0]
    assert [r.key for r in DeadLetterFile(client.tracking_uri).rows()] == ["poison"]


@pytest.mark.slow  # two CLI subprocesses: 25 s at load ~25
def test_replay_keeps_what_is_still_refused_and_drop_removes_it(
        client, store_url, artifact_root, subprocess_env, store_patch):
    gone, live = client.create_run().id, client.create_run().id
    refuse_metric_key(store_patch, {"poison"})
    client.log_metric(gone, "poison", 1.0)
    client.log_metric(live, "poison", 2.0)
    with pytest.warns(DeadLetterWarning):
        client.flush()
    store_patch.undo()
    client.delete_run(gone)
    dead = DeadLetterFile(store_url)
    # A row no longer valid by today's rules, and another store's row sharing the file.
    with open(dead.path, "a") as f:
        row = json.loads(dead.path.read_text().splitlines()[-1])
        f.write(json.dumps({**row, "timestamp": float("nan")}) + "\n")
        f.write(json.dumps({**row, "store": "postgresql://elsewhere/db"}) + "\n")
        f.write('{"v": 1, "store": "sqlite:///torn by a power cut\n')

    kept = cli(subprocess_env, store_url, artifact_root, "replay")
    assert kept.returncode == 1, kept.stdout + kept.stderr
    assert "written: 1  kept: 2  dropped: 0" in kept.stdout
    reasons = sorted(r.error for r in dead.rows())
    assert any("does not exist" in r or "no longer exists" in r for r in reasons), reasons
    assert any("between 1970 and 9999" in r for r in reasons), reasons

    dropped = cli(subprocess_env, store_url, artifact_root, "replay", "--drop")
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert "written: 0  kept: 0  dropped: 2" in dropped.stdout
    assert dead.rows() == []
    left = dead.path.read_text()
    assert "elsewhere" in left  # another store's rows are left alone,
    assert '{"v": 1, "store": "sqlite:///torn by a power cut\n' in left  # a torn line too
    assert [p.value for p in client.metric_history(live, "poison")] == [2.0]


@pytest.mark.parametrize("exc, refused", [
    (ValueError("x"), True),
    (UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"), True),
    (OverflowError("int too big"), True),
    (TypeError("unsupported type"), True),
    (InvalidInputError("bad"), True),
    (AlreadyExistsError("NOT NULL constraint failed"), True),
    (DataError("INSERT", {}, Exception("invalid byte sequence")), True),
    (IntegrityError("INSERT", {}, Exception("check constraint")), True),
    (OperationalError("INSERT", {}, Exception("database is locked")), False),
    (StoreUnavailableError("down"), False),
    (NotFoundError("run deleted"), False),
    (OSError("network"), False),
    (MemoryError(), False),
])
def test_only_errors_about_the_data_set_rows_aside(exc, refused):
    assert refuses_row(exc) is refused
