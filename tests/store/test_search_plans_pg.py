"""PostgreSQL search plans at a size where the planner's choices matter (issue 14).

20,000 runs in three experiments (60 / 30 / 10 %), 5 params, 2 metrics and 1 tag each,
loaded with COPY and then ANALYZEd (what ``planner_stats`` does after a bulk write). For each
common search, the SELECTs ``search_runs`` really executes are captured (from the engine, or
from psycopg's own connection where a fresh process searches without SQLAlchemy:
store/pg_lite.py) and their ``EXPLAIN`` is checked for the intended access path — plan shape
only, never a time — on both paths; and both paths' plans are compared. At 100,000 runs the
same searches and their ``EXPLAIN (ANALYZE, BUFFERS)`` are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import pytest

from tests.store.test_planner_stats import driver_reads
from tests.store.test_search_pg_session import lite_prepared, on_path, search_path  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

N_RUNS = 20_000
MODELS = ("svc", "lr", "rf", "knn", "gb")


def _copy_seed(url: str, n: int) -> None:
    import psycopg

    from jupyter_mlops.store.metric_chunks import pack

    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        ids = [conn.execute("INSERT INTO experiments (name, created_at) VALUES (%s, 0) "
                            "RETURNING id", (name,)).fetchone()[0]
               for name in ("big", "mid", "small")]

        def experiment(i: int) -> int:
            tenth = i % 10
            return ids[0] if tenth < 6 else ids[1] if tenth < 9 else ids[2]

        with conn.cursor() as cur:
            with cur.copy('COPY runs (id, experiment_id, name, status, "user", start_time, '
                          "end_time, heartbeat_at) FROM STDIN") as cp:
                for i in range(n):
                    t = 1_000_000.0 + i
                    cp.write_row((f"{i:032x}", experiment(i), f"r{i}", "FINISHED",
                                  ("ann", "bob", "cy")[i % 3], t, t + 1, t + 1))
            with cur.copy("COPY params (run_id, key, value) FROM STDIN") as cp:
                for i in range(n):
                    for key, value in (("model", MODELS[i % 5]), ("lr", str(i % 7)),
                                       ("depth", str(i % 11)), ("optimizer", "adam"),
                                       ("seed", str(i))):
                        cp.write_row((f"{i:032x}", key, value))
            with cur.copy("COPY tags (run_id, key, value) FROM STDIN") as cp:
                for i in range(n):
                    cp.write_row((f"{i:032x}", "team", ("vision", "nlp", "tab")[i % 3]))
            with cur.copy("COPY latest_metrics (run_id, key, value, step, timestamp, count) "
                          "FROM STDIN") as cp:
                for i in range(n):
                    for key, value in (("acc", (i * 7919 % 1000) / 1000), ("loss", (i % 13) / 13)):
                        cp.write_row((f"{i:032x}", key, value, 0, 1_000_000.0 + i, 1))
            with cur.copy("COPY metric_chunks (run_id, key, n, first_step, last_step, data) "
                          "FROM STDIN") as cp:
                for i in range(n):
                    for key, value in (("acc", (i * 7919 % 1000) / 1000), ("loss", (i % 13) / 13)):
                        cp.write_row((f"{i:032x}", key, 1, 0, 0,
                                      pack([(value, 0, 1_000_000.0 + i)])[0]))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")


@pytest.fixture
def pg_seeded(client, store_url, monkeypatch, search_path):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL plans")
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")  # the in-memory index would answer instead
    _copy_seed(store_url, N_RUNS)
    return on_path(client, search_path), store_url


def _plans(client, url: str, **search) -> list[tuple[str, str]]:
    """(statement, EXPLAIN text) of every SELECT ``client.search_runs(**search)`` runs."""
    from sqlalchemy import event

    from jupyter_mlops.store import filter_hints
    from jupyter_mlops.store.engine import get_engine

    filter_hints._confirmed.clear()  # the key probes run again for each search
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = get_engine(url, writer=False)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with driver_reads(lambda sql, args: capture(None, None, sql, args, None, False)):
            found = client.search_runs(max_results=100, **search)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert found, f"{search} matched nothing: its plan would be for a wrong store"
    out = []
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()
        for statement, parameters in seen:
            cur.execute("EXPLAIN " + statement, parameters)
            out.append((statement, "\n".join(row[0] for row in cur.fetchall())))
    return out


def _search_plan(plans: list[tuple[str, str]]) -> str:
    """The plan of the search statement itself (the one ordering runs)."""
    found = [p for s, p in plans if "FROM runs JOIN experiments" in s and "ORDER BY" in s]
    assert len(found) == 1, [s[:200] for s, _ in plans]
    return found[0]


def test_common_searches_use_their_indexes(pg_seeded):
    client, url = pg_seeded
    problems = []

    def check(label, ok, text):
        if not ok:
            problems.append(f"--- {label}\n{text}")

    text = _search_plan(_plans(client, url, experiment="big"))
    check("experiment: newest first through the start_time index",
          "Index Scan Backward using ix_runs_start_time on runs" in text
          and "Seq Scan on runs" not in text, text)

    for label, flt in (("metric threshold", "metrics.acc > 0.9"),
                       ("tag equality", "tags.team = 'nlp'")):
        plans = _plans(client, url, filter=flt, experiment="big")
        text = _search_plan(plans)
        check(f"{label}: newest first, one primary-key probe per run",
              "Index Scan Backward using ix_runs_start_time on runs" in text
              and "Seq Scan on runs" not in text
              and not any(f"Seq Scan on {t}" in text
                          for t in ("params", "tags", "latest_metrics")), text)
        # Whether the filter's key exists (filter_hints): an index probe that stops at one
        # row, never a read of every row holding the key.
        probes = [(s, p) for s, p in plans if "LIMIT" in s and "FROM runs" not in s]
        check(f"{label}: key probe", probes and all(
            p.splitlines()[0].startswith("Limit") for _, p in probes)
              and not any("DISTINCT" in s for s, _ in plans), "\n".join(p for _, p in plans))

    text = _search_plan(_plans(client, url, filter="params.seed = '4242'", experiment="big"))
    check("rare param value: through ix_params_key_value",
          "ix_params_key_value" in text and "Seq Scan" not in text.replace(
              "Seq Scan on experiments", ""), text)

    assert not problems, "\n".join(problems)


def test_param_equality_walks_newest_first(pg_seeded):
    # Needs migration 0011's statistics on (key, value): without them PostgreSQL takes
    # key='model' AND value='svc' as independent (0.8 % instead of 20 %) and reads the whole
    # experiment to sort it.
    client, url = pg_seeded
    text = _search_plan(_plans(client, url, filter="params.model = 'svc'", experiment="big"))
    assert "Index Scan Backward using ix_runs_start_time on runs" in text, text
    assert "Seq Scan on runs" not in text, text


def test_name_prefix_uses_the_pattern_index(pg_seeded):
    client, url = pg_seeded
    text = _search_plan(_plans(client, url, filter="attributes.name LIKE 'r1234%'",
                               experiment="big"))
    assert "ix_runs_name_pattern" in text, text


def test_a_search_repeated_in_one_process_keeps_its_plan(pg_seeded):
    """psycopg prepares a statement after 5 executions, and PostgreSQL then plans it
    generically (without the values) if that looks no costlier: the generic plan of
    ``metrics.acc > 0.9 and params.model = 'svc'`` took ``model = $4`` for a rare value,
    read every 'svc' param and sorted (100,848 buffers at 100,000 runs, 60-240 ms). The
    search statements run unprepared (filter_sql.custom_plans): after 15 searches none is
    prepared and the plans are still the ones the values call for."""
    from jupyter_mlops.store.engine import get_engine
    from jupyter_mlops.store.pg_lite import PgLiteRunStore
    from tests.store.test_search_pg_session import prepared_statements

    client, url = pg_seeded
    flt = "params.model = 'svc'"  # walks newest first at this size (see above)
    searches = [lambda order_by=order_by: client.search_runs(flt, "big", order_by=order_by,
                                                             max_results=100)
                for order_by in (None, ["metrics.acc DESC"]) for _ in range(15)]
    if isinstance(client.store.runs, PgLiteRunStore):
        prepared = lite_prepared(url, searches)
    else:
        prepared = prepared_statements(get_engine(url, writer=False), searches)
    assert not [s for s in prepared if "FROM runs" in s], prepared
    assert any("FROM params" in s for s in prepared), "nothing prepared: the check is vacuous"

    text = _search_plan(_plans(client, url, filter=flt, experiment="big"))
    assert "Index Scan Backward using ix_runs_start_time on runs" in text, text
    assert "Seq Scan on runs" not in text, text
    plans = _plans(client, url, filter=flt, experiment="big", order_by=["metrics.acc DESC"])
    walk = [p for s, p in plans if "ORDER BY lm.value DESC" in s]
    assert walk and "ix_latest_metrics_key_value" in walk[0], [p for _, p in plans]


# ----------------------------------------------------------------------------- both paths
SEARCHES = [
    {"experiment": "big"},
    {"filter": "metrics.acc > 0.9", "experiment": "big"},
    {"filter": "tags.team = 'nlp'", "experiment": "big"},
    {"filter": "params.seed = '4242'", "experiment": "big"},
    {"filter": "params.model = 'svc'", "experiment": "big"},
    {"filter": "metrics.acc > 0.9 and params.model = 'svc'"},
    {"filter": "attributes.name LIKE 'r1234%'", "experiment": "big"},
    {"filter": "params.lr >= 3 and tags.team ilike 'NL%'", "experiment": "mid"},
    {"filter": "params.model in ('svc', 'lr') or not (metrics.loss < 0.5)"},
    {"filter": "params.model = 'svc'", "experiment": "big", "order_by": ["metrics.acc DESC"]},
    {"filter": "metrics.acc > 0.5", "order_by": ["metrics.acc", "name"]},
    {"order_by": ["params.depth DESC", "experiment"], "experiment": "small"},
]


@pytest.mark.parametrize("search_path", ["psycopg"], indirect=True)
def test_both_paths_send_statements_planned_alike(pg_seeded, monkeypatch):
    """For each search, the statements the psycopg path sends — the search (or the metric
    walk), the value reads, the key probes — are planned exactly as the SQLAlchemy path's:
    the same EXPLAIN, nodes, conditions, estimates and costs."""
    from jupyter_mlops.store import pg_lite

    client, url = pg_seeded
    lite = {i: _plans(client, url, **search) for i, search in enumerate(SEARCHES)}
    monkeypatch.setattr(pg_lite, "ENABLED", False)
    on_path(client, "sqlalchemy")
    for i, search in enumerate(SEARCHES):
        ours = [p for _, p in lite[i]]
        theirs = [p for _, p in _plans(client, url, **search)]
        assert len(ours) >= 4 and ours == theirs, (search, ours, theirs)
