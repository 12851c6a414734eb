"""How many statements a small run's writes cost, per backend (issue 14): counts, not times.

PostgreSQL: every write of a small run — create (with tags), a flush of params, tags and
metrics, end, heartbeat — is ONE statement sent in autocommit, i.e. one round trip and one
commit (``store/pg_writes.py``); no read happens on the way. SQLite (the stdlib write path,
``store/lite.py``) keeps its shape: BEGIN IMMEDIATE, one prepared statement per table, COMMIT,
and no SELECT. A regression — a per-row SELECT, a statement per table again, a ping per
checkout — changes these counts. Random values (hypothesis) read back exactly as written on
both backends, since PostgreSQL's values now travel as arrays.
"""

from __future__ import annotations

import contextlib
import math
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@contextlib.contextmanager
def statements(client, url: str):
    """Record every statement this thread has the store execute: (sql, autocommit) on
    PostgreSQL, (sql, None) on SQLite's stdlib connection (its trace callback sees each
    execution). Other threads (the environment capture, the writer's timer) are left out."""
    seen: list[tuple[str, bool | None]] = []
    me = threading.get_ident()
    if url.startswith("sqlite"):
        from jupyter_mlops.store import lite

        conn = lite._connection(url[len("sqlite:///"):]).conn
        conn.set_trace_callback(
            lambda sql: seen.append((sql, None)) if threading.get_ident() == me else None)
        try:
            yield seen
        finally:
            conn.set_trace_callback(None)
        return
    from sqlalchemy import event

    from jupyter_mlops.store.engine import get_engine

    def record(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == me:
            seen.append((statement, conn.connection.driver_connection.autocommit))

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _verbs(seen) -> list[str]:
    return [sql.split(None, 1)[0].upper() for sql, _ in seen]


def _one_autocommit_statement(seen, verb: str) -> None:
    assert len(seen) == 1, [s[:80] for s, _ in seen]
    sql, autocommit = seen[0]
    assert autocommit is True, "sent inside BEGIN … COMMIT: three round trips, not one"
    assert sql.split(None, 1)[0].upper() == verb, sql[:80]


def test_a_flush_is_one_statement(client, store_url):
    client.writer._interval = 3600  # the flush below, not the writer's timer, writes the batch
    run = client.create_run(experiment="trips", name="r")
    client.log_params(run.id, {f"p{i}": i for i in range(5)})
    client.set_tags(run.id, {"team": "nlp", "stage": "dev"})
    for step in range(3):
        client.log_metrics(run.id, {"loss": 1 / (step + 1), "acc": step / 3}, step=step)
    with statements(client, store_url) as seen:
        client.flush()
    if store_url.startswith("sqlite"):
        verbs = _verbs(seen)
        assert verbs[0] == "BEGIN" and verbs[-1] == "COMMIT", verbs
        assert "SELECT" not in verbs, verbs
        # One prepared statement per table: the trace sees each row of an executemany,
        # with its values bound, so statements are told apart by verb and table.
        shapes = {" ".join(sql.split()[:3]) for sql, _ in seen[1:-1]}
        assert shapes == {f"INSERT INTO {t}" for t in (
            "params", "tags", "metric_chunks", "latest_metrics")}, shapes
    else:
        # Params, tags, chunks and latest values: one statement of data-modifying CTEs.
        _one_autocommit_statement(seen, "WITH")
    got = client.get_run(run.id)
    assert got.params == {f"p{i}": str(i) for i in range(5)}
    assert got.tags["team"] == "nlp" and got.metrics == {"loss": 1 / 3, "acc": 2 / 3}


def test_run_create_end_and_heartbeat_without_reads(client, store_url):
    runs = client.store.runs
    runs.get_or_create_experiment("trips")  # read once per process, then known
    with statements(client, store_url) as created:
        run = runs.create_run(experiment="trips", name="r", user="u", tags={"a": "1"})
    with statements(client, store_url) as beat:
        runs.heartbeat([run.id])
    with statements(client, store_url) as ended:
        runs.end_run(run.id)
    if store_url.startswith("sqlite"):
        for seen in (created, beat, ended):
            assert "SELECT" not in _verbs(seen), _verbs(seen)
    else:
        _one_autocommit_statement(created, "WITH")  # the run and its tags together
        _one_autocommit_statement(beat, "UPDATE")
        _one_autocommit_statement(ended, "UPDATE")
    got = runs.get_run(run.id)
    assert got.status == "FINISHED" and got.tags == {"a": "1"}


def test_a_batch_for_a_deleted_run_is_refused_as_not_found(client, store_url):
    """The one-statement flush still maps a missing run to NotFoundError (the batch writer
    drops that run's values and keeps every other's)."""
    import pytest

    from jupyter_mlops.errors import NotFoundError

    run = client.create_run(experiment="trips")
    client.store.runs.delete_run(run.id)
    with pytest.raises(NotFoundError):
        client.store.runs.log_batch(run.id, params=[("p", "v")],
                                    metrics=[("m", 1.0, 0, 1.0)])


_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1,
                max_size=40).filter(str.isprintable)  # what check_key accepts
_value = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=200)
_number = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.integers(-2**53, 2**53))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(_text, _value, max_size=6),
       tags=st.dictionaries(_text, _value, max_size=4),
       points=st.lists(st.tuples(_text, _number, st.integers(0, 2**62)), max_size=12))
def test_random_values_read_back_exactly(client, store_url, params, tags, points):
    """Quotes, braces, backslashes, commas, unicode: array parameters must not mangle any."""
    run = client.create_run(experiment="trips")
    client.log_params(run.id, params)
    if tags:
        client.set_tags(run.id, tags)
    for key, value, step in points:
        client.log_metric(run.id, key, value, step=step)
    client.flush()
    got = client.get_run(run.id)
    assert got.params == params
    assert {k: v for k, v in got.tags.items() if k in tags} == tags
    for key in {k for k, _, _ in points}:
        history = client.store.runs.metric_history(run.id, key)
        mine = [(s, float(v)) for k, v, s in points if k == key]
        assert len(history) == len(mine)
        assert sorted((p.step, repr(p.value)) for p in history) == sorted(
            (s, repr(v)) for s, v in mine)
        newest = max(mine, key=lambda sv: sv[0])[0]
        assert any(p.step == newest for p in history)
        latest = got.metrics[key]
        candidates = [v for s, v in mine if s == newest]
        assert any((math.isnan(c) and math.isnan(latest)) or c == latest for c in candidates)
