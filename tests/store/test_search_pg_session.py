"""Searches repeated in one process on PostgreSQL keep the plan their values call for (issue 14).

psycopg prepares a statement once a connection has run it 5 times, and PostgreSQL plans a
prepared statement generically (without its bound values) from its 6th execution on when that
plan looks no costlier. At 100,000 runs the generic plan of ``metrics.acc > 0.9 and
params.model = 'svc'`` read every 'svc' param and sorted: from a process's ~11th identical
search on, each took 70 ms instead of 16 ms (benchmarks/cold/first_search.py, warm searches).
``filter_sql.custom_plans`` runs the search statements unprepared; the value reads that
follow stay prepared (their plan is a primary-key probe whatever the ids). The same holds on
psycopg's own connection, where a ``postgresql+psycopg`` store searches without SQLAlchemy
(store/pg_lite.py, ``prepare=False``): every test here runs on both paths.
"""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.postgres

FILTER = "metrics.acc > 0.5 and params.model = 'svc'"


@pytest.fixture(params=["psycopg", "sqlalchemy"])
def search_path(request, monkeypatch) -> str:
    """Which path answers ``store.runs``: pg_lite's psycopg one (a fresh process's first
    search) or SQLAlchemy's RunStore."""
    from jupyter_mlops.store import pg_lite

    if request.param == "sqlalchemy":
        monkeypatch.setattr(pg_lite, "ENABLED", False)
    return request.param


def on_path(client, path: str):
    """``client`` with ``store.runs`` built again for ``path`` (see search_path)."""
    from jupyter_mlops.store import pg_lite
    from jupyter_mlops.store.runs import RunStore

    client.store.__dict__.pop("runs", None)  # Store.runs is a cached_property
    runs = client.store.runs
    assert isinstance(runs, pg_lite.PgLiteRunStore if path == "psycopg" else RunStore)
    return client


@pytest.fixture
def pg_client(client, store_url, monkeypatch, search_path):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL sessions")
    on_path(client, search_path)
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")
    for i in range(30):
        run = client.create_run(experiment="e", name=f"r{i}")
        client.store.runs.log_batch(run.id, params=[("model", ("svc", "lr")[i % 2])],
                                    metrics=[("acc", i / 30, 0, 1.0)])
        client.end_run(run.id)
    return client


def prepared_statements(engine, searches) -> list[str]:
    """Run ``searches``; return the statements prepared on the connections they used."""
    import contextlib

    from sqlalchemy import event

    used = set()

    def note(conn, cursor, statement, parameters, context, executemany):
        used.add(id(conn.connection.driver_connection))

    event.listen(engine, "before_cursor_execute", note)
    try:
        for search in searches:
            search()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    statements, seen = [], set()
    with contextlib.ExitStack() as stack:  # every idle connection of the pool, at once
        for _ in range(len(used) + 1):
            conn = stack.enter_context(engine.connect())
            conn.execution_options(isolation_level="AUTOCOMMIT")
            seen.add(id(conn.connection.driver_connection))
            statements += conn.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements").scalars().all()
    assert used <= seen, "a connection the searches used is no longer in the pool"
    return statements


def lite_prepared(url: str, searches) -> list[str]:
    """Run ``searches``; return the statements prepared on pg_lite's connection to ``url``."""
    from jupyter_mlops.store.pg_lite import connection

    for search in searches:
        search()
    return [s for (s,) in connection(url).read("SELECT statement FROM pg_prepared_statements",
                                                prepare=False)]


def _prepared(client, searches) -> list[str]:
    from jupyter_mlops.store.engine import get_engine
    from jupyter_mlops.store.pg_lite import PgLiteRunStore

    if isinstance(client.store.runs, PgLiteRunStore):
        return lite_prepared(client.store.url, searches)
    return prepared_statements(get_engine(client.store.url, writer=False), searches)


@pytest.mark.parametrize("order_by", [None, ["metrics.acc DESC"]])
def test_repeated_searches_are_never_prepared(pg_client, order_by):
    runs = pg_client.store.runs
    statements = _prepared(pg_client, [
        lambda: runs.search_runs(FILTER, "e", order_by, 10) for _ in range(15)])
    searches = [s for s in statements if "FROM runs" in s]
    assert not searches, searches
    # The control: preparing is on in this session (the value reads were prepared), so the
    # assertion above is not vacuous.
    assert any("FROM params" in s and "IN (" in s for s in statements), statements


def test_repeated_counts_and_key_probes_are_never_prepared(pg_client, search_path):
    from jupyter_mlops.store import filter_hints
    from jupyter_mlops.store.engine import get_engine

    runs = pg_client.store.runs

    def both():
        filter_hints._confirmed.clear()  # the key probes run every time
        filter_hints.filter_text_hint(runs.url, "metrics.acc > 0.5 and params.nope = 'x'")
        runs.count_runs(FILTER, "e")  # on SQLAlchemy's connections on both paths

    def unprepared(statements):
        return not [s for s in statements if "WHERE" in s and ("count(" in s or "LIMIT" in s)]

    statements = prepared_statements(get_engine(runs.url, writer=False), [both] * 15)
    assert unprepared(statements), statements
    if search_path == "psycopg":  # the key probes ran on pg_lite's connection
        probes = lite_prepared(runs.url, [])
        assert unprepared(probes), probes


def test_the_search_answers_the_same_after_many_repeats(pg_client):
    runs = pg_client.store.runs
    first = [r.id for r in runs.search_runs(FILTER, "e", None, 10)]
    for _ in range(14):
        again = [r.id for r in runs.search_runs(FILTER, "e", None, 10)]
    assert again == first and len(first) == 7


def test_a_second_search_imports_no_in_memory_index(pg_client, monkeypatch):
    """Only SQLite stores have one (run_index.index_for): importing it cost a PostgreSQL
    store's second search numpy's import for nothing."""
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "1")
    monkeypatch.delitem(sys.modules, "jupyter_mlops.store.run_index", raising=False)
    runs = pg_client.store.runs
    for _ in range(3):
        runs.search_runs(FILTER, "e", None, 10)
        runs.count_runs(FILTER, "e")
    assert "jupyter_mlops.store.run_index" not in sys.modules
