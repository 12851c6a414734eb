"""The stdlib write path (store/lite.py) against SQLAlchemy's RunStore: the same rows.

A SQLite file store writes through :class:`LiteRunStore`; PostgreSQL (and SQLite URLs with
options) through :class:`RunStore`. Both are driven here with the same random batches on
two SQLite files, and every table the writes touch must come out identical.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store import forget_open_stores, lite, open_store
from jupyter_mlops.store.runs import RunStore

KEYS = st.sampled_from(["acc", "loss", "f1", "lr", "a.b/c", "ünï"])
VALUES = st.floats(allow_nan=True, allow_infinity=True, width=64)
STEPS = st.integers(min_value=-5, max_value=5)
STAMPS = st.sampled_from([1.0, 2.0, 2.0, 3.5])  # repeats: ties decide which point is newest
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
BATCH = st.fixed_dictionaries({
    "params": st.lists(st.tuples(KEYS, TEXT), max_size=4),
    "tags": st.lists(st.tuples(KEYS, TEXT), max_size=4),
    "metrics": st.lists(st.tuples(KEYS, VALUES, STEPS, STAMPS), max_size=8),
})


@pytest.fixture
def two_stores(tmp_path, monkeypatch):
    """A lite store and a SQLAlchemy store, on two fresh SQLite files."""
    monkeypatch.chdir(tmp_path)
    stores = []
    for name in ("lite", "sqlalchemy"):
        folder = tmp_path / name
        folder.mkdir()
        store = open_store(f"sqlite:///{folder / 'mlops.db'}", str(folder / "artifacts"))
        stores.append(store)
    fast, full = stores[0].runs, RunStore(stores[1].url)
    assert isinstance(fast, lite.LiteRunStore)
    yield fast, full
    forget_open_stores()


def _rows(url: str) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(url[len("sqlite:///"):])
    try:
        return {
            "params": conn.execute("SELECT run_id, key, value FROM params ORDER BY 1, 2").fetchall(),
            "tags": conn.execute("SELECT run_id, key, value FROM tags ORDER BY 1, 2").fetchall(),
            "latest": conn.execute("SELECT run_id, key, value, step, timestamp, count "
                                   "FROM latest_metrics ORDER BY 1, 2").fetchall(),
            "chunks": conn.execute("SELECT run_id, key, n, first_step, last_step, data "
                                   "FROM metric_chunks ORDER BY id").fetchall(),
            "runs": conn.execute('SELECT id, name, status, "user", parent_run_id, environment_id,'
                                 " reproducible FROM runs ORDER BY id").fetchall(),
            "experiments": conn.execute("SELECT id, name FROM experiments ORDER BY id").fetchall(),
        }
    finally:
        conn.close()


def _same(a, b) -> bool:  # NaN == NaN for this comparison
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(BATCH, min_size=1, max_size=4))
def test_random_batches_give_identical_rows(two_stores, batches):
    fast, full = two_stores
    run_id = uuid.uuid4().hex
    for store in (fast, full):
        store.create_run(experiment="e", name="r", user="u", run_id=run_id, tags={"t": "1"})
        for batch in batches:
            store.log_batch(run_id, **batch)
    a, b = _rows(fast.url), _rows(full.url)
    assert _same(a, b), (a, b)
    for key in {k for batch in batches for k, *_ in batch["metrics"]}:
        points = [[(p.step, p.value, p.timestamp) for p in store.metric_history(run_id, key)]
                  for store in (fast, full)]
        assert _same(*points), points


def test_run_lifecycle_gives_identical_rows(two_stores):
    fast, full = two_stores
    for store in (fast, full):
        parent = store.create_run(experiment="e", name="p", user="u", run_id="a" * 32)
        store.create_run(experiment="e", name="c", user="u", run_id="b" * 32,
                         parent_run_id=parent.id)
        store.heartbeat(["a" * 32, "b" * 32])
        store.mark_reproducible("a" * 32)
        store.end_run("b" * 32, "failed")
    a, b = _rows(fast.url), _rows(full.url)
    assert a == b
    assert [r[2] for r in a["runs"]] == ["RUNNING", "FAILED"]


def test_errors_are_the_stores_errors(two_stores):
    fast, full = two_stores
    for store in (fast, full):
        with pytest.raises(NotFoundError):
            store.end_run("c" * 32)
        with pytest.raises(NotFoundError):  # foreign key: the run does not exist
            store.log_batch("c" * 32, params=[("k", "v")])
        with pytest.raises(NotFoundError):
            store.create_run(experiment="e", name="x", user="u", parent_run_id="d" * 32)
        with pytest.raises(InvalidInputError):
            store.end_run("c" * 32, "RUNNING")


def test_other_methods_come_from_the_sqlalchemy_store(two_stores):
    fast, _ = two_stores
    run = fast.create_run(experiment="e", name="r", user="u")
    fast.log_batch(run.id, metrics=[("acc", 0.5, 0, 1.0)], params=[("p", "1")])
    found = fast.search_runs("metrics.acc > 0.4")  # a RunStore method, loaded on first use
    assert [r.id for r in found] == [run.id] and found[0].params == {"p": "1"}


def test_reaping_a_dead_writer_is_the_same_rule(two_stores):
    fast, full = two_stores
    for store in (fast, full):
        store.create_run(experiment="e", name="r", user="u", run_id="e" * 32)
        with sqlite3.connect(store.url[len("sqlite:///"):]) as conn:
            conn.execute("UPDATE runs SET writer = 'elsewhere:1:1', heartbeat_at = 5")
        assert store.reap_dead_runs(60.0) == ["e" * 32]
        assert store.reap_dead_runs(60.0) == []
    assert _rows(fast.url)["runs"] == _rows(full.url)["runs"]


def test_constants_agree_with_the_sqlalchemy_modules():
    from jupyter_mlops.store import engine, migrate

    assert lite.BUSY_TIMEOUT_S == engine.BUSY_TIMEOUT_S
    assert lite.HEAD_REVISION == migrate.HEAD_REVISION


def test_both_paths_set_up_their_connections_alike(tmp_path):
    """The stdlib connection and SQLAlchemy's get the same pragmas (sqlite_pragmas)."""
    from jupyter_mlops.store import engine, sqlite_pragmas

    url = f"sqlite:///{tmp_path / 'p.db'}"
    names = ("busy_timeout", "cache_size", "journal_mode", "synchronous", "foreign_keys")
    with engine.write_connection(url) as conn:
        via_sqlalchemy = [conn.exec_driver_sql(f"PRAGMA {n}").scalar() for n in names]
    via_stdlib = [lite._connection(str(tmp_path / "p.db")).conn.execute(
        f"PRAGMA {n}").fetchone()[0] for n in names]
    assert via_sqlalchemy == via_stdlib
    assert via_stdlib[:2] == [int(sqlite_pragmas.BUSY_TIMEOUT_S * 1000),
                              -sqlite_pragmas.CACHE_KIB]


def test_schema_check_reads_without_writing(tmp_path):
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert not lite.schema_is_current(url)
    assert not (tmp_path / "none.db").exists()  # read-only: not created
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 10)
    assert not lite.schema_is_current(f"sqlite:///{tmp_path / 'junk.db'}")
    assert lite.sqlite_path("sqlite:///x.db?mode=ro") is None
    assert lite.sqlite_path("postgresql://h/db") is None
    assert lite.sqlite_path("sqlite:///:memory:") is None


@pytest.mark.slow  # fresh processes: 39 s at load ~25
def test_first_metric_in_a_fresh_process_never_imports_sqlalchemy(tmp_path):
    """The reason for lite: %load_ext + a first %mlops metric on an up-to-date store."""
    (tmp_path / ".mlops").mkdir()
    env_code = "import jupyter_mlops as m; m.Client().close()"
    subprocess.run([sys.executable, "-c", env_code], cwd=tmp_path, check=True)  # migrates
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'jupyter_mlops')\n"
        "r = ip.run_cell('%mlops metric acc=0.9')\n"
        "assert r.success, r\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                         capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    check = ("import jupyter_mlops as m; c = m.Client(); r = c.search_runs()[0]; "
             "print(r.metrics['acc'], c.get_run(r.id).environment is not None)")
    seen = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, check=True,
                          capture_output=True, text=True)
    assert seen.stdout.split() == ["0.9", "True"], seen.stdout + seen.stderr


def test_plain_listing_is_the_sqlalchemy_stores(two_stores, monkeypatch):
    fast, _ = two_stores
    # Only a process that built the in-memory index sends the listing elsewhere.
    monkeypatch.delitem(sys.modules, "jupyter_mlops.store.run_index", raising=False)
    full = RunStore(fast.url)
    for i in range(7):
        run = fast.create_run(experiment="e" if i % 2 else "f", name=f"r{i}", user="u",
                              run_id=f"{i:032x}", tags={"t": str(i)})
        fast.log_batch(run.id, params=[("p", str(i))],
                       metrics=[("acc", float("nan") if i == 3 else i / 10, 0, 1.0)])
        if i == 2:
            fast.mark_reproducible(run.id)
            fast.end_run(run.id, "FAILED")
    with sqlite3.connect(fast.url[len("sqlite:///"):]) as conn:  # ties on start_time
        conn.execute("UPDATE runs SET start_time = 100 WHERE name IN ('r1', 'r4', 'r5')")
    for kwargs in ({}, {"experiment": "e"}, {"max_results": 2, "offset": 3},
                   {"experiment": "nope"}):
        got, want = fast.search_runs(**kwargs), full.search_runs(**kwargs)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in want], kwargs
    listed = {r.name: r for r in fast.search_runs()}
    assert len(listed) == 7 and math.isnan(listed["r3"].metrics["acc"])
    assert listed["r2"].reproducible is True and listed["r2"].status == "FAILED"
    with pytest.raises(InvalidInputError):
        fast.search_runs(max_results=0)
