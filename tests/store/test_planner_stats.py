"""The planner's statistics stay current without the user, and searches use their indexes.

Plans are asserted, never times: the stores hold a few thousand runs, enough for the planner
to choose between plans, seeded in one bulk write as a ``jupyter mlops migrate`` or an import
would. The search SQL checked is whatever ``search_runs`` really executed (captured from the
engine), so a change to how searches are phrased is checked too.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

import pytest

from jupyter_mlops.store import planner_stats

N_RUNS = 3_000
MODELS = ("svc", "lr", "rf", "knn", "gb")
METRIC_AND_PARAM = "metrics.acc > 0.9 and params.model = 'svc'"
TAG = "tags.team = 'nlp'"


def bulk_seed(url: str, n: int = N_RUNS, experiment: str = "plans") -> None:
    """``n`` finished runs (5 params, 2 metrics, 1 tag each) in one write transaction."""
    from jupyter_mlops.store.engine import write_connection
    from jupyter_mlops.store.metric_chunks import pack
    from jupyter_mlops.store.orm import Experiment, LatestMetric, MetricChunk, Param, Run, Tag

    with write_connection(url) as conn:
        conn.execute(Experiment.__table__.insert().values(name=experiment, created_at=0.0))
        (exp_id,) = conn.execute(Experiment.__table__.select().with_only_columns(
            Experiment.id).where(Experiment.name == experiment)).one()
        runs, params, chunks, latest, tags = [], [], [], [], []
        for i in range(n):
            rid, t = f"{i:032x}", 1_000_000.0 + i
            runs.append({"id": rid, "experiment_id": exp_id, "name": f"r{i}",
                         "status": "FINISHED", "user": "u", "start_time": t, "end_time": t + 1,
                         "heartbeat_at": t + 1})
            params += [{"run_id": rid, "key": k, "value": v} for k, v in {
                "model": MODELS[i % 5], "lr": str(i % 7), "depth": str(i % 11),
                "optimizer": "adam", "seed": str(i)}.items()]
            for k, v in {"acc": (i * 7919 % 1000) / 1000, "loss": (i % 13) / 13}.items():
                chunks.append({"run_id": rid, "key": k, "n": 1, "first_step": 0,
                               "last_step": 0, "data": pack([(v, 0, t)])[0]})
                latest.append({"run_id": rid, "key": k, "value": v, "step": 0,
                               "timestamp": t, "count": 1})
            tags.append({"run_id": rid, "key": "team", "value": ("vision", "nlp", "tab")[i % 3]})
        for table, rows in ((Run, runs), (Param, params), (MetricChunk, chunks),
                            (LatestMetric, latest), (Tag, tags)):
            conn.execute(table.__table__.insert(), rows)


@contextlib.contextmanager
def driver_reads(note):
    """Call ``note(sql, args)`` for each statement read on a driver's own connection: a
    SQLite file's on sqlite3 (store/lite.py), a postgresql+psycopg store's on psycopg
    (store/pg_lite.py); SQLAlchemy's are seen through the engine's events."""
    from jupyter_mlops.store import lite, pg_lite

    drivers = {module: module._Connection.read for module in (lite, pg_lite)}

    def noted(real):
        def read(self, sql, args=(), **kw):
            note(sql, list(args))
            return real(self, sql, args, **kw)
        return read

    for module, real in drivers.items():
        module._Connection.read = noted(real)
    try:
        yield
    finally:
        for module, real in drivers.items():
            module._Connection.read = real


def executed_search(client, url: str, flt: str, order_by=None) -> tuple[str, object]:
    """The SQL (and parameters) ``client.search_runs`` executes for ``flt``, checked correct,
    whether through SQLAlchemy, lite's sqlite3 or pg_lite's psycopg connection."""
    from sqlalchemy import event

    from jupyter_mlops.store.engine import get_engine

    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "EXISTS" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    engine = get_engine(url, writer=False)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with driver_reads(lambda sql, args: capture(None, None, sql, args, None, False)):
            found = client.search_runs(flt, experiment="plans", order_by=order_by)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert found, f"{flt!r} matched nothing: the plan checked would be for a wrong store"
    assert len(seen) == 1, seen
    return seen[0]


def plan(url: str, statement: str, parameters) -> str:
    """The plan of ``statement``, one line per node (EXPLAIN QUERY PLAN / EXPLAIN)."""
    from jupyter_mlops.store.engine import get_engine

    with get_engine(url, writer=False).connect() as conn:
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        if url.startswith("sqlite"):
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(row[3] for row in cur.fetchall())
        cur.execute("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in cur.fetchall())


@pytest.fixture
def seeded(client, store_url, monkeypatch):
    """A store of N_RUNS runs written in one bulk transaction; searches forced into SQL."""
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")  # the in-memory index would answer instead
    bulk_seed(store_url)
    return store_url


# ----------------------------------------------------------------------------- both backends


def test_a_bulk_write_leaves_fresh_statistics(seeded, raw_db):
    if seeded.startswith("sqlite"):
        stat = raw_db.scalar("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1")
        assert stat is not None and int(stat.split()[0]) == N_RUNS
        analyzed = {r[0] for r in raw_db.rows("SELECT DISTINCT tbl FROM sqlite_stat1")}
    else:
        # last_analyze is set by an explicit ANALYZE only (autovacuum sets last_autoanalyze).
        analyzed = {r[0] for r in raw_db.rows(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")}
        assert raw_db.scalar("SELECT reltuples FROM pg_class WHERE relname = 'runs'") == N_RUNS
    assert set(planner_stats.SEARCH_TABLES) <= analyzed


def test_metric_and_param_filter_uses_its_indexes(seeded, client):
    text = plan(seeded, *executed_search(client, seeded, METRIC_AND_PARAM))
    if seeded.startswith("sqlite"):
        # Newest first through the start_time index, stopping once the page is full; each
        # condition one primary-key probe. Never the whole experiment read and sorted.
        assert "SCAN runs USING INDEX ix_runs_start_time" in text, text
        assert "USE TEMP B-TREE FOR ORDER BY" not in text, text
        assert ("SEARCH latest_metrics USING INDEX sqlite_autoindex_latest_metrics_1 "
                "(run_id=? AND key=?)") in text, text
        assert "SEARCH params USING INDEX sqlite_autoindex_params_1 (run_id=? AND key=?)" in text
    else:
        # Cost-based: each condition through its (key, value) index or a primary-key probe
        # per run; neither values table read whole.
        assert "ix_params_key_value" in text or "pk_params" in text, text
        assert "ix_latest_metrics_key_value" in text or "pk_latest_metrics" in text, text
        assert "Seq Scan on params" not in text and "Seq Scan on latest_metrics" not in text


def test_order_by_metric_reads_the_metric_index_in_range(seeded, client):
    """Ordered by the filtered metric: its (key, value) index gives the range (store/
    metric_order.py), instead of one probe per run of the experiment."""
    text = plan(seeded, *executed_search(client, seeded, METRIC_AND_PARAM,
                                         order_by=["metrics.acc DESC"]))
    if seeded.startswith("sqlite"):
        assert "SCAN latest_metrics" not in text and "SCAN params" not in text, text
        assert "USING INDEX ix_latest_metrics_key_value (key=? AND value>?)" in text, text
    else:
        assert "Seq Scan on params" not in text and "Seq Scan on latest_metrics" not in text
        assert "ix_latest_metrics_key_value" in text, text


def test_the_reaper_at_every_open_finds_running_runs_through_the_status_index(seeded, client):
    """Every process pays the reaper when it opens the store: in a store of finished runs the
    statistics make 'RUNNING' look as common as any status, and it must not scan the runs."""
    from sqlalchemy import event

    from jupyter_mlops.store.engine import get_engine

    seen: list[tuple[str, object]] = []

    def driver_read(sql, args):
        if "RUNNING" in sql:
            seen.append((sql, args))

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "runs.status" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = get_engine(seeded, writer=False)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with driver_reads(driver_read):
            client.store.reap_dead_runs()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen
    for statement, parameters in seen:
        text = plan(seeded, statement, parameters)
        assert "SCAN runs" not in text and "SCAN r\n" not in text + "\n", text
        assert "Seq Scan on runs" not in text, text


def test_tag_filter_walks_newest_first(seeded, client):
    text = plan(seeded, *executed_search(client, seeded, TAG))
    if seeded.startswith("sqlite"):
        assert "SCAN runs USING INDEX ix_runs_start_time" in text, text
        assert "SEARCH tags USING INDEX sqlite_autoindex_tags_1 (run_id=? AND key=?)" in text
        assert "USE TEMP B-TREE FOR ORDER BY" not in text, text
    else:
        assert "Index Scan Backward using ix_runs_start_time on runs" in text, text
        assert "pk_tags" in text, text


# ----------------------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_seeded(seeded):
    if not seeded.startswith("sqlite"):
        pytest.skip("SQLite's statistics")
    return seeded


def test_without_statistics_sqlite_picks_the_slow_plan(sqlite_seeded, client):
    """Why this module exists: with no sqlite_stat1 the same search reads the whole
    experiment and sorts it (checked on a raw connection that runs none of our hooks)."""
    statement, parameters = executed_search(client, sqlite_seeded, METRIC_AND_PARAM)
    path = sqlite_seeded[len("sqlite:///"):]
    dropper = sqlite3.connect(path, isolation_level=None)
    dropper.execute("DROP TABLE sqlite_stat1")
    dropper.close()
    raw = sqlite3.connect(path)  # a new connection: statistics are read when it opens
    try:
        text = "\n".join(r[3] for r in raw.execute("EXPLAIN QUERY PLAN " + statement,
                                                   parameters))
    finally:
        raw.close()
    assert "USE TEMP B-TREE FOR ORDER BY" in text, text


def test_a_store_without_statistics_gets_them_on_open(sqlite_seeded, client, raw_db):
    from jupyter_mlops.store import forget_open_stores

    raw_db.execute("DROP TABLE sqlite_stat1")
    forget_open_stores()  # every pooled and lite connection closed: the next one is new
    text = plan(sqlite_seeded, *executed_search(client, sqlite_seeded, METRIC_AND_PARAM))
    assert "SCAN runs USING INDEX ix_runs_start_time" in text, text
    stat = raw_db.scalar("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1")
    assert int(stat.split()[0]) == N_RUNS


def test_staleness_rule(tmp_path):
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, start_time REAL)")
    conn.execute("CREATE INDEX ix_start ON runs (start_time)")

    def add(n):
        (have,) = conn.execute("SELECT count(*) FROM runs").fetchone()
        with conn:  # one transaction (autocommit would sync once per row)
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO runs VALUES (?, ?)",
                             [(f"r{i}", float(i)) for i in range(have, have + n)])

    add(planner_stats.MIN_RUNS - 1)
    assert not planner_stats.sqlite_stats_stale(conn)  # small: any plan is fast
    add(1)
    assert planner_stats.sqlite_stats_stale(conn)  # big and never analyzed
    assert planner_stats.sqlite_refresh(conn, ("runs",))
    assert not planner_stats.sqlite_stats_stale(conn)
    assert not planner_stats.sqlite_refresh(conn, ("runs",))  # fresh: nothing done
    add(planner_stats.MIN_RUNS * (planner_stats.GROWTH - 1) - 1)
    assert not planner_stats.sqlite_stats_stale(conn)  # grew, but less than GROWTH-fold
    add(1)
    assert planner_stats.sqlite_stats_stale(conn)
    conn.close()


def test_refresh_never_waits_for_a_writer(tmp_path):
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, start_time REAL)")
    with conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO runs VALUES (?, ?)",
                         [(f"r{i}", float(i)) for i in range(planner_stats.MIN_RUNS)])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock ANALYZE needs
    try:
        done = threading.Event()
        result = []
        worker = threading.Thread(target=lambda: (result.append(
            planner_stats.sqlite_refresh(conn, ("runs",))), done.set()))
        worker.start()
        # With the connection's own 60 s busy timeout this would still be waiting.
        assert done.wait(30), "sqlite_refresh waited for the writer's lock"
        assert result == [False]
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (60_000,)  # restored
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert planner_stats.sqlite_refresh(conn, ("runs",))  # the lock is free: done now
    conn.close()


def test_lite_writer_refreshes_after_bulk_flushes(store, store_url, monkeypatch):
    """Runs written through the stdlib write path (a notebook's) get statistics without a
    search or a manual step: checked every BULK_ROWS rows that connection wrote."""
    if not store_url.startswith("sqlite"):
        pytest.skip("the stdlib write path is SQLite's")
    from jupyter_mlops.store import lite

    monkeypatch.setattr(planner_stats, "MIN_RUNS", 150)
    monkeypatch.setattr(planner_stats, "BULK_ROWS", 500)
    writer = lite.LiteRunStore(store_url)
    for i in range(200):
        run = writer.create_run(experiment="bulk", name=f"r{i}", user="u")
        writer.log_batch(run.id, params=[("model", MODELS[i % 5])],
                         metrics=[("acc", i / 200, 0, 1.0)])
        writer.end_run(run.id)
    check = sqlite3.connect(store_url[len("sqlite:///"):])
    try:
        stat = check.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1"
                             ).fetchone()
        # The contract: statistics within GROWTH-fold of the truth (SQLite's own optimize
        # may have analyzed the table while it was small; the growth rule takes it from there).
        assert stat is not None, "no statistics were written"
        assert not planner_stats.sqlite_stats_stale(check)
    finally:
        check.close()
