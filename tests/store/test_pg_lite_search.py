"""A PostgreSQL store's search on psycopg itself, without SQLAlchemy (store/pg_lite.py, issue 14).

Every answer of the psycopg path is compared with the SQLAlchemy RunStore's on the same real
PostgreSQL store: random filters, orders, experiments, run views and pages (hypothesis), hostile
values, the run view of a deleted experiment; the fallback for what lite_search does not
compile; errors; a connection the server dropped; a forked child; and fresh processes that open
the store and search (and hint) without importing SQLAlchemy at all. Whether the statements
are prepared is tests/store/test_search_pg_session.py's (both paths), their plans
tests/store/test_search_plans_pg.py's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import (
    FilterSyntaxError, InvalidInputError, StoreUnavailableError,
)
from jupyter_mlops.store import lite_search, pg_lite
from jupyter_mlops.store.filter_ast import INLINE_DEPTH
from jupyter_mlops.store.runs import RunStore
from jupyter_mlops.store.sql_dialects import POSTGRES
from tests.store.test_lite_search import (
    HOSTILE, _deep, _norm, _quote, filters, orders, seed_varied,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(store, store_url, monkeypatch):
    """A migrated PostgreSQL store of 60 varied runs, plus 3 in a deleted experiment."""
    if not store_url.startswith("postgresql+psycopg"):
        pytest.skip("the psycopg path")
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")
    full = RunStore(store_url)
    seed_varied(full, longest=250)
    for i in range(3):
        run = full.create_run(experiment="gone", name=f"gone-{i}", user="ann")
        full.log_batch(run.id, params=[("model", "svc")], metrics=[("acc", i / 3, 0, 1.0)])
    full.set_experiment_lifecycle(full.get_or_create_experiment("gone").id, "deleted")
    return store_url


def lite_answer(url, *args, **kwargs):
    store = pg_lite.PgLiteRunStore(url)
    found = store.search_runs(*args, **kwargs)
    assert store._full is None, "the psycopg path fell back to SQLAlchemy"
    return found


def sqlalchemy_answer(url, *args, **kwargs):
    return RunStore(url).search_runs(*args, **kwargs)


# ----------------------------------------------------------------------------- equivalence
@pytest.mark.slow  # 200 hypothesis examples, each searched twice
@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(flt=st.none() | filters(), order_by=st.none() | orders,
       experiment=st.sampled_from([None, "exp-a", "it's %_exp", "gone", "missing"]),
       lifecycle=st.sampled_from(["active", "active", "deleted", "all"]),
       max_results=st.integers(1, 70), offset=st.integers(0, 30))
def test_random_filters_match_the_sqlalchemy_path(pg_url, flt, order_by, experiment, lifecycle,
                                                  max_results, offset):
    args = (flt, experiment, order_by or None, max_results, offset)
    assert _norm(lite_answer(pg_url, *args, lifecycle=lifecycle)) == _norm(
        sqlalchemy_answer(pg_url, *args, lifecycle=lifecycle))


@pytest.mark.parametrize("flt, order_by", [
    ("metrics.acc > 0.5 and params.model = 'svc'", None),
    ("params.lr >= 1", ["metrics.acc DESC"]),
    ("tags.team ilike 'NLP'", ["params.model", "metrics.loss DESC"]),
    ("name like 'cv%'", ["experiment DESC"]),
    ("not (end_time is null)", ["end_time"]),
    ("params.model in ('it''s', '50%')", ["metrics.acc"]),
    ("metrics.loss is null", ["metrics.loss DESC", "name"]),
    ("experiment = 'it''s %_exp' and user = 'O''Brien'", ["tags.team DESC"]),
    ("params.lr < 7 or params.depth = '3'", ["params.lr DESC"]),
    ("metrics.acc >= 0.3 and metrics.acc < 0.8", ["metrics.acc DESC", "start_time"]),
])
def test_hand_picked_filters_select_some_runs_alike(pg_url, flt, order_by):
    """The equivalence is not vacuous: these find some runs, not all, in the same order."""
    found = lite_answer(pg_url, flt, None, order_by, 100, 0)
    assert 0 < len(found) < 60, flt
    assert _norm(found) == _norm(sqlalchemy_answer(pg_url, flt, None, order_by, 100, 0))


@pytest.mark.parametrize("lifecycle, expected", [("active", 60), ("deleted", 3), ("all", 63)])
def test_the_run_view_of_a_deleted_experiment(pg_url, lifecycle, expected):
    for order_by in (None, ["metrics.acc DESC"]):
        found = lite_answer(pg_url, None, None, order_by, 100, 0, lifecycle=lifecycle)
        assert len(found) == expected
        assert _norm(found) == _norm(sqlalchemy_answer(pg_url, None, None, order_by, 100, 0,
                                                       lifecycle=lifecycle))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_bound_never_spliced(pg_url, value):
    templates = ["params.model = {q}", "tags.team != {q}", "name like {q}",
                 "params.model not ilike {q}", "user in ({q}, 'ann')", "params.{k} = 'x'",
                 "experiment = {q}", "tags.team ilike {q}", "params.{k} >= 1"]

    def key(v):
        return "`" + v.replace("\\", "\\\\").replace("`", "``") + "`"

    for template in templates:
        def flt(v):
            return template.format(q=_quote(v), k=key(v))
        if "{k}" in template and not value:
            continue  # an empty key is a syntax error in both paths
        for order_by in (None, ["metrics.acc DESC"]):
            # The SQL text is the same whatever the value (also as the experiment's name):
            # values only ever travel as parameters.
            def sql(v):
                return lite_search.build_search(flt(v), v or "e", order_by, 100, 0,
                                                dialect=POSTGRES)[0]
            assert sql(value) == sql("zzz")
            assert _norm(lite_answer(pg_url, flt(value), None, order_by, 100, 0)) == _norm(
                sqlalchemy_answer(pg_url, flt(value), None, order_by, 100, 0)), flt(value)
    if value:  # a key in an order term is bound too
        def ordered(v):
            return lite_search.build_search(None, None, [f"params.{key(v)} DESC"], 100, 0,
                                            dialect=POSTGRES)[0]
        assert ordered(value) == ordered("zzz")
        assert _norm(lite_answer(pg_url, None, None, [f"tags.{key(value)}"], 100, 0)) == _norm(
            sqlalchemy_answer(pg_url, None, None, [f"tags.{key(value)}"], 100, 0))
    assert _norm(lite_answer(pg_url, None, value, None, 100, 0)) == _norm(
        sqlalchemy_answer(pg_url, None, value, None, 100, 0))


def test_paging_covers_every_run_once_in_both_paths(pg_url):
    for order in (["params.model DESC", "metrics.loss"], ["metrics.acc DESC", "name"], None):
        pages = [lite_answer(pg_url, "status != 'x'", None, order, 7, o)
                 for o in range(0, 63, 7)]
        ids = [r.id for page in pages for r in page]
        assert len(ids) == len(set(ids)) == 60
        assert ids == [r.id for r in sqlalchemy_answer(pg_url, "status != 'x'", None, order,
                                                        60, 0)]
    # A page too deep for the metric walk (metric_order.budget) is the one-statement plan's.
    for offset in (0, 4_990):
        args = (None, None, ["metrics.acc DESC"], 40, offset)
        assert _norm(lite_answer(pg_url, *args)) == _norm(sqlalchemy_answer(pg_url, *args))


def test_the_statement_has_the_sqlalchemy_paths_shape():
    """The shapes the PostgreSQL plan tests verified, with SQLAlchemy's bind casts."""
    sql, bound = lite_search.build_search("metrics.acc > 0.9 and params.model = 'svc'",
                                          "exp-a", None, 100, 0, dialect=POSTGRES)
    assert ("EXISTS (SELECT * FROM latest_metrics WHERE latest_metrics.run_id = runs.id AND "
            'latest_metrics."key" = %s::VARCHAR AND latest_metrics.value > %s)') in sql
    assert ("runs.experiment_id IN (SELECT experiments.id FROM experiments WHERE "
            "experiments.name = %s::VARCHAR) AND runs.experiment_id IN (SELECT experiments.id "
            "FROM experiments WHERE experiments.lifecycle_stage != %s::VARCHAR)") in sql
    assert sql.endswith("ORDER BY runs.start_time DESC, runs.id ASC "
                        "LIMIT %s::INTEGER OFFSET %s::INTEGER")
    assert bound == ["acc", 0.9, "model", "svc", "exp-a", "deleted", 100, 0]
    sql, _ = lite_search.build_search("tags.t like 'a%' and params.p ilike 'b' and "
                                      "params.n > 3", None, None, 10, 0, dialect=POSTGRES)
    assert "tags.value LIKE %s::VARCHAR ESCAPE '\\'" in sql
    assert "params.value ILIKE %s::VARCHAR ESCAPE '\\'" in sql
    assert ("CASE WHEN (params.value ~ %s::VARCHAR) THEN CAST(params.value AS FLOAT) "
            "ELSE NULL END > %s") in sql
    assert "GLOB" not in sql and "REGEXP" not in sql and "?" not in sql


# ----------------------------------------------------------------------------- fallback, errors
def test_too_deep_a_filter_falls_back_to_sqlalchemy(pg_url, monkeypatch):
    deep = _deep(INLINE_DEPTH + 2)
    with pytest.raises(lite_search.Unsupported):
        lite_search.build_search(deep, None, None, 100, 0, dialect=POSTGRES)
    calls = []
    real = RunStore.search_runs
    monkeypatch.setattr(RunStore, "search_runs",
                        lambda self, *a, **kw: calls.append(a) or real(self, *a, **kw))
    store = pg_lite.PgLiteRunStore(pg_url)
    found = store.search_runs(deep, None, ["metrics.acc DESC"], 100, 0)
    assert calls == [(deep, None, ["metrics.acc DESC"], 100, 0)]
    assert found and _norm(found) == _norm(real(RunStore(pg_url), deep, None,
                                                ["metrics.acc DESC"], 100, 0))
    store.search_runs("params.model = 'svc'", None, None, 100, 0)
    assert len(calls) == 1  # a supported filter is answered on psycopg


@pytest.mark.parametrize("flt, order_by, kwargs, error", [
    ("metrics.acc > 'x'", None, {}, FilterSyntaxError),
    ("params.model = ", None, {}, FilterSyntaxError),
    ("bogus.k = 1", ["sideways"], {}, FilterSyntaxError),  # both wrong: the filter is named
    (None, ["metrics.acc sideways"], {}, FilterSyntaxError),
    (None, 5, {}, InvalidInputError),
    (None, None, {"max_results": 0}, InvalidInputError),
    (None, None, {"offset": -1}, InvalidInputError),
    (None, None, {"lifecycle": "ACTIVE_ONLY"}, InvalidInputError),
    (None, None, {"experiment": "nul\x00"}, InvalidInputError),
])
def test_invalid_input_raises_what_the_sqlalchemy_path_raises(pg_url, flt, order_by, kwargs,
                                                              error):
    raised = []
    for store in (RunStore(pg_url), pg_lite.PgLiteRunStore(pg_url)):
        with pytest.raises(error) as caught:
            store.search_runs(flt, kwargs.get("experiment"), order_by,
                              kwargs.get("max_results", 10), kwargs.get("offset", 0),
                              lifecycle=kwargs.get("lifecycle", "active"))
        raised.append(str(caught.value))
    assert raised[0] == raised[1]


def test_a_search_while_another_thread_searches_goes_to_the_pooled_engine(pg_url,
                                                                          monkeypatch):
    """The psycopg path has one connection, for a process's first calls: a search made
    while another thread holds it goes to SQLAlchemy's pool instead of queueing."""
    import threading

    store = pg_lite.PgLiteRunStore(pg_url)
    expected = _norm(store.search_runs("params.model = 'svc'"))
    calls = []
    real = RunStore.search_runs
    monkeypatch.setattr(RunStore, "search_runs",
                        lambda self, *a, **kw: calls.append(a) or real(self, *a, **kw))
    held, done = threading.Event(), threading.Event()

    def hold():
        with pg_lite.connection(pg_url).lock:
            held.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        assert _norm(store.search_runs("params.model = 'svc'")) == expected
    finally:
        done.set()
        thread.join()
    assert len(calls) == 1
    assert _norm(store.search_runs("params.model = 'svc'")) == expected
    assert len(calls) == 1  # the connection is free again: psycopg answers


def test_a_server_that_does_not_answer_is_a_store_unavailable_error(pg_url):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/nothing?connect_timeout=2"
    assert not pg_lite.schema_is_current(url)
    with pytest.raises(StoreUnavailableError) as caught:
        pg_lite.PgLiteRunStore(url).search_runs("metrics.acc > 0")
    assert "secret" not in str(caught.value) and "retry" in str(caught.value)


def test_a_connection_the_server_dropped_is_replaced(pg_url):
    """A restarted server or a proxy's idle timeout ends the session: the next search
    reconnects (reads are safe to repeat) instead of failing."""
    import psycopg

    from jupyter_mlops.store.pg_conninfo import connect_kwargs

    store = pg_lite.PgLiteRunStore(pg_url)
    before = _norm(store.search_runs("params.model = 'svc'"))
    (pid,) = pg_lite.connection(pg_url).read("SELECT pg_backend_pid()")[0]
    with psycopg.connect(**connect_kwargs(pg_url), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    assert _norm(store.search_runs("params.model = 'svc'")) == before
    assert pg_lite.connection(pg_url).read("SELECT pg_backend_pid()")[0][0] != pid


def test_schema_is_current_reads_alembic_version(pg_url, raw_db):
    assert pg_lite.schema_is_current(pg_url)
    raw_db.execute("UPDATE alembic_version SET version_num = 'older'")
    assert not pg_lite.schema_is_current(pg_url)
    raw_db.execute("DROP TABLE alembic_version")
    assert not pg_lite.schema_is_current(pg_url)
    assert not pg_lite.schema_is_current("postgresql+psycopg2://h/db")  # not this path's


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_leaves_its_parents_connection_alone(pg_url):
    store = pg_lite.PgLiteRunStore(pg_url)
    before = _norm(store.search_runs("params.model = 'svc'"))
    parent = pg_lite.connection(pg_url)
    pid = os.fork()
    if pid == 0:  # the child: its own connection; closing its copies must not end the parent's
        code = 1
        try:
            code = 0 if (pg_lite.connection(pg_url) is not parent
                         and store.search_runs("params.model = 'svc'")) else 2
            pg_lite.close_connections()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pg_lite.connection(pg_url) is parent and parent.conn is not None
    assert _norm(store.search_runs("params.model = 'svc'")) == before


# ----------------------------------------------------------------------------- fresh process
FRESH = r"""
import json, sys, warnings
import jupyter_mlops as mlops
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    first = mlops.search_runs("metrics.acc > 0.5 and params.model = 'svc'", experiment="exp-a")
    ordered = mlops.search_runs("metrics.acc > 0.2 and params.model = 'svc'",
                                order_by=["metrics.acc DESC"], max_results=100)
    hinted = mlops.search_runs("metrics.ac > 0.5")
print(json.dumps({"first": [r.id for r in first], "ordered": [r.id for r in ordered],
                  "hint": hinted.hint, "warned": [str(w.message) for w in caught],
                  "sqlalchemy": sorted(m for m in sys.modules if m.split(".")[0] in
                                       ("sqlalchemy", "alembic"))}))
"""


def test_a_fresh_process_opens_and_searches_without_sqlalchemy(pg_url, subprocess_env,
                                                               tmp_path):
    out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True,
                         env=subprocess_env, cwd=tmp_path, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sqlalchemy"] == []
    first = sqlalchemy_answer(pg_url, "metrics.acc > 0.5 and params.model = 'svc'", "exp-a")
    ordered = sqlalchemy_answer(pg_url, "metrics.acc > 0.2 and params.model = 'svc'", None,
                                ["metrics.acc DESC"], 100)
    assert first and result["first"] == [r.id for r in first]
    assert ordered and result["ordered"] == [r.id for r in ordered]
    assert "metrics.acc" in result["hint"]  # the hint is read on psycopg too
    assert result["warned"] == [result["hint"]]


def test_the_same_process_with_the_psycopg_path_off_imports_sqlalchemy(pg_url, subprocess_env,
                                                                        tmp_path):
    """The control: so the test above cannot pass by looking at nothing."""
    code = "from jupyter_mlops.store import pg_lite; pg_lite.ENABLED = False\n" + FRESH
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=subprocess_env, cwd=tmp_path, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "sqlalchemy" in result["sqlalchemy"]
    first = sqlalchemy_answer(pg_url, "metrics.acc > 0.5 and params.model = 'svc'", "exp-a")
    assert result["first"] == [r.id for r in first]
