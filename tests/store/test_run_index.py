"""The in-memory search index: same answers as SQL, always fresh, off when it should be."""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from jupyter_mlops.store import run_index
from jupyter_mlops.store.engine import get_engine, write_connection
from jupyter_mlops.store.filters import parse_filter
from jupyter_mlops.store.orm import Experiment, LatestMetric, Param, Run, RunChange, Tag
from jupyter_mlops.store.run_index import RunIndex
from tests.test_filters import RUNS, filters

# Extra runs beyond test_filters.RUNS: what the reference evaluator there does not model but
# SQLite has opinions on — NaN and infinite metrics, non-ASCII case, numbers with a trailing
# newline, a run with no values at all.
EXTRA = {
    "r7": dict(name="Ébauche-7", status="KILLED", user="dörte", start_time=700.0, end_time=None,
               experiment="exp-ü", metrics={"acc": math.nan, "loss": math.inf},
               params={"model": "SVC", "lr": "5\n", "depth": "é"}, tags={"team": "É"}),
    "r8": dict(name="cv-8", status="FINISHED", user="alice", start_time=600.0, end_time=601.0,
               experiment="exp-a", metrics={"acc": -math.inf}, params={}, tags={}),
}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    # The index serves SQLite stores only.
    (tmp_path / "store").mkdir()
    return f"sqlite:///{tmp_path / 'store' / 'mlops.db'}"


def _insert(url: str, runs: dict) -> None:
    with Session(get_engine(url)) as s:
        experiments = {}
        for rid, r in runs.items():
            name = r["experiment"]
            if name not in experiments:
                found = s.scalar(select(Experiment).where(Experiment.name == name))
                experiments[name] = found or Experiment(name=name, created_at=0.0)
                s.add(experiments[name])
                s.flush()
            s.add(Run(id=rid, experiment_id=experiments[name].id, name=r["name"],
                      status=r["status"], user=r["user"], start_time=r["start_time"],
                      end_time=r["end_time"], heartbeat_at=r["start_time"]))
            s.flush()
            s.add_all(LatestMetric(run_id=rid, key=k, value=None if math.isnan(v) else v,
                                   step=0, timestamp=0.0, count=1)
                      for k, v in r["metrics"].items())
            s.add_all(Param(run_id=rid, key=k, value=v) for k, v in r["params"].items())
            s.add_all(Tag(run_id=rid, key=k, value=v) for k, v in r["tags"].items())
        s.commit()


@pytest.fixture
def seeded(store):
    _insert(store.url, {**RUNS, **EXTRA})
    index = RunIndex(store.url)
    assert index.build()
    yield store, index
    index.close()


@contextlib.contextmanager
def _sql_only():
    """Searches inside go to SQL, whatever the index's state."""
    saved = run_index.index_for
    run_index.index_for = lambda url: None
    try:
        yield
    finally:
        run_index.index_for = saved


def sql_search(store, text, experiment=None, max_results=100, offset=0):
    with _sql_only():
        return store.runs.search_runs(text, experiment=experiment, max_results=max_results,
                                      offset=offset)


def sql_count(store, text, experiment=None):
    with _sql_only():
        return store.runs.count_runs(text, experiment=experiment)


def same(a, b) -> bool:
    """Records equal, NaN metrics included (NaN != NaN would fail plain equality)."""
    return [r.to_dict() for r in a] == [r.to_dict() for r in b]


@pytest.mark.slow  # 300 hypothesis examples, 21.6 s measured (load 8)
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(generated=filters)
def test_index_answers_exactly_what_sql_answers(seeded, generated):
    store, index = seeded
    text = generated[0]
    node = parse_filter(text)
    expected = sql_search(store, text)
    found = index.search(node, None, 100, 0)
    assert found is not None
    assert [r.id for r in found] == [r.id for r in expected], text
    assert same(found, expected), text
    assert index.count(node, None) == sql_count(store, text) == len(expected), text


@pytest.mark.parametrize("text", [
    "metrics.acc > 0", "metrics.acc != 0.5", "metrics.acc is not null", "metrics.acc is null",
    "metrics.loss > 1e308", "metrics.acc < 0", "metrics.acc not in (0.5)",
    "params.lr > 4", "params.lr = '5\n'", "params.model ilike 'svc'", "params.model like 'S%'",
    "params.depth ilike 'É'", "name ilike 'ébauche%'", "name ilike 'Ébauche%'",
    "experiment = 'exp-ü'", "experiment like 'exp-%'", "experiment is null",
    "end_time is null", "not end_time > 5", "user > 'b'", "tags.team in ('É', 'a')",
])
def test_edge_values_match_sql(seeded, text):
    store, index = seeded
    expected = sql_search(store, text)
    found = index.search(parse_filter(text), None, 100, 0)
    assert [r.id for r in found] == [r.id for r in expected], text
    assert same(found, expected)


def test_pages_experiments_and_order_match_sql(seeded):
    store, index = seeded
    for experiment in (None, "exp-a", "exp-b", "no-such-experiment"):
        for offset, size in ((0, 100), (0, 2), (2, 3), (7, 5), (50, 1)):
            expected = sql_search(store, None, experiment, size, offset)
            found = index.search(None, experiment, size, offset)
            assert [r.id for r in found] == [r.id for r in expected]
    assert index.search(None, "no-such-experiment", 10, 0) == []


@pytest.mark.slow  # a writer subprocess: 17 s at load ~25
def test_index_sees_every_kind_of_write_from_another_process(seeded, tmp_path):
    store, index = seeded
    script = textwrap.dedent(f"""
        from jupyter_mlops.store import open_store
        s = open_store({store.url!r}, {str(tmp_path / 'a')!r})
        s.runs.log_batch('r1', params=[('model', 'xgb')], tags=[('team', 'new')],
                         metrics=[('acc', 0.1, 1, 1.0)])
        s.runs.end_run('r4', 'FAILED')
        s.runs.rename_run('r2', 'renamed')
        s.runs.delete_run('r3')
        run = s.runs.create_run(experiment='exp-new', name='fresh', user='u')
        print(run.id)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()[-1]
    for text in ("params.model = 'xgb'", "tags.team = 'new'", "metrics.acc < 0.2",
                 "status = 'FAILED'", "name = 'renamed'", "experiment = 'exp-new'", None):
        found = index.search(parse_filter(text) if text else None, None, 100, 0)
        assert [r.id for r in found] == [r.id for r in sql_search(store, text)], text
    ids = [r.id for r in index.search(None, None, 100, 0)]
    assert "r3" not in ids and out in ids
    assert [r.id for r in index.search(parse_filter("params.model = 'xgb'"), None, 9, 0)] == [
        "r1"]


def test_a_reader_behind_pruned_entries_rebuilds(seeded):
    store, index = seeded
    index.search(None, None, 100, 0)
    with write_connection(store.url) as conn:
        conn.execute(update(Run).where(Run.id == "r6").values(name="changed"))
        newest = conn.execute(select(func.max(RunChange.seq))).scalar_one()
        conn.execute(delete(RunChange).where(RunChange.seq < newest))  # lost what we missed
    found = index.search(parse_filter("name = 'changed'"), None, 100, 0)
    assert [r.id for r in found] == ["r6"]
    assert index.count(None, None) == len(RUNS) + len(EXTRA)


def test_end_run_prunes_the_change_log(store, monkeypatch):
    from jupyter_mlops.store import lite  # defines it for both write paths

    monkeypatch.setattr(lite, "CHANGE_LOG_KEEP", 3)
    run = store.runs.create_run(experiment="e", name="a", user="u")
    store.runs.log_batch(run.id, params=[(f"p{i}", "v") for i in range(10)])
    store.runs.end_run(run.id)
    with write_connection(store.url) as conn:
        seqs = conn.execute(select(RunChange.seq)).scalars().all()
    assert len(seqs) <= 4 and max(seqs) >= 12


def test_search_runs_switches_to_the_index_once_built(store, monkeypatch):
    _insert(store.url, RUNS)
    first = store.runs.search_runs("params.model = 'svc'")  # SQL; starts the build
    index = run_index.index_for(store.url)
    assert index is not None
    index.build()
    assert index.ready
    calls = []
    original = RunIndex.search
    monkeypatch.setattr(RunIndex, "search",
                        lambda self, *a: calls.append(a) or original(self, *a))
    assert store.runs.search_runs("params.model = 'svc'") == first
    assert calls, "the ready index was not used"
    # A custom order is SQL's job.
    store.runs.search_runs("params.model = 'svc'", order_by="name")
    assert len(calls) == 1


def test_index_can_be_turned_off(store, monkeypatch):
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")
    assert run_index.index_for(store.url) is None
    assert run_index.index_for("postgresql+psycopg://u@h/db") is None


def test_too_many_runs_leaves_search_to_sql(store, monkeypatch):
    _insert(store.url, RUNS)
    monkeypatch.setenv("MLOPS_SEARCH_INDEX_MAX_RUNS", "3")
    index = RunIndex(store.url)
    assert index.build() is False
    assert index.search(None, None, 10, 0) is None
    assert len(store.runs.search_runs()) == len(RUNS)


def test_upgrading_an_old_store_logs_its_runs(store):
    from jupyter_mlops.store import migrate

    _insert(store.url, RUNS)
    with write_connection(store.url) as conn:
        conn.exec_driver_sql("DELETE FROM run_changes")
    # Back to 0004 and up again: the upgrade logs every existing run once.
    from alembic import command

    with write_connection(store.url) as conn:
        command.downgrade(migrate._alembic_config(conn), "0004")
    migrate.upgrade(store.url)
    index = RunIndex(store.url)
    assert index.build()
    assert {r.id for r in index.search(None, None, 100, 0)} == set(RUNS)
    index.close()


def test_building_starts_after_a_second_search_only(store):
    _insert(store.url, RUNS)
    index = run_index.index_for(store.url)
    store.runs.search_runs("params.model = 'svc'")
    assert not index._started, "a one-shot search must not pay for a build"
    store.runs.count_runs("params.model = 'svc'")
    assert index._started
    index.build()  # waits for the background build
    assert index.ready
    assert [r.id for r in store.runs.search_runs("params.model = 'svc'")] == ["r5", "r1"]
