"""Both paths of a pipeline run's recording write the same rows (issue 14).

On a plain SQLite file the runner records through the stdlib stores (store/pipelines_lite.py,
catalog_lite.py, webhooks_lite.py, lite.py); PostgreSQL — and the reference here — through
SQLAlchemy. The store-level tests drive both with the same (hostile) inputs on two fresh
files; the slow test runs a real pipeline once, copies the project twice, reruns it fully
cached on each copy — one through the stdlib, one with every store on SQLAlchemy — and
compares every table the run writes: runs, params, tags, metrics, pipeline and step runs,
cache hits, artifacts, snapshots, datasets, lineage, environments.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store import catalog_lite, forget_open_stores, lite, open_store, pipelines_lite
from jupyter_mlops.store.catalog import CatalogStore
from jupyter_mlops.store.pipelines import PipelineStore
from jupyter_mlops.store.webhooks import WebhookStore
from jupyter_mlops.store.webhooks_lite import LiteWebhookStore

from .conftest import write_notebook, write_yaml

#: What a pipeline run writes (run_changes is the search index's log; hashcache is no table).
TABLES = ("experiments", "runs", "params", "tags", "latest_metrics", "metric_chunks",
          "environments", "pipelines", "pipeline_runs", "step_runs", "artifacts",
          "code_snapshots", "dataset_versions", "lineage_edges", "webhooks")
#: Columns holding a clock reading: compared as "set or not", never by value.
CLOCKS = {"created_at", "updated_at", "start_time", "end_time", "heartbeat_at", "started_at",
          "ended_at", "timestamp", "at"}
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | TEXT
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)


def dump(db: Path, roots: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """Every row of TABLES in insertion order, with clocks, random ids and folders neutral.

    Random (uuid) run and pipeline-run ids become ``run#N`` / ``prun#N`` in the order their
    rows were inserted, wherever they appear (ids, foreign keys, tags, lineage node ids);
    integer ids stay as they are (both paths insert in the same order). Metric chunk blobs
    hold timestamps: they are decoded and their clocks dropped.
    """
    from jupyter_mlops.store.metric_chunks import unpack

    conn = sqlite3.connect(db)
    try:
        names: dict[str, str] = {}
        for table, label in (("runs", "run"), ("pipeline_runs", "prun")):
            for (rid,) in conn.execute(f"SELECT id FROM {table} ORDER BY rowid"):
                names[rid] = f"{label}#{len([n for n in names.values() if n.startswith(label)])}"
        out = {}
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
            cols = [d[0] for d in cur.description]
            rows = []
            for row in cur.fetchall():
                item = {}
                for col, value in zip(cols, row):
                    if col in CLOCKS:
                        value = value is not None
                    elif col == "writer":
                        value = value is not None
                    elif table == "metric_chunks" and col == "data":
                        steps, values, _clocks = unpack([(dict(zip(cols, row))["n"], value)])
                        value = [(float(v) if v == v else "nan", int(s))
                                 for s, v in zip(steps, values)]
                    elif isinstance(value, str):
                        for rid, label in names.items():
                            value = value.replace(rid, label)
                        for i, root in enumerate(roots):
                            value = value.replace(root, "<root>")
                    item[col] = value
                rows.append(item)
            out[table] = rows
        return out
    finally:
        conn.close()


@pytest.fixture
def two_stores(tmp_path, monkeypatch):
    """Two fresh SQLite file stores: ``(lite url, sqlalchemy url)``."""
    monkeypatch.chdir(tmp_path)
    urls = []
    for name in ("lite", "sqlalchemy"):
        folder = tmp_path / name
        folder.mkdir()
        urls.append(open_store(f"sqlite:///{folder / 'mlops.db'}", str(folder / "art")).url)
    yield tuple(urls)
    forget_open_stores()


def _db(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


def _runs(url: str, n: int) -> list[str]:
    """``n`` finished runs in the store (the step rows' foreign keys need them)."""
    from jupyter_mlops.errors import AlreadyExistsError

    runs = open_store(url, str(_db(url).parent / "art")).runs
    ids = []
    for i in range(n):
        try:
            runs.create_run(experiment="e", name=f"r{i}", user="u", run_id=f"{i:032x}")
        except AlreadyExistsError:  # an earlier hypothesis example made it
            pass
        ids.append(f"{i:032x}")
    return ids


# ------------------------------------------------------------------------- store level
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXT.filter(bool), spec=st.dictionaries(TEXT, JSONISH, max_size=4),
       params=st.none() | st.dictionaries(TEXT, JSONISH, max_size=3),
       outputs=JSONISH, error=st.none() | TEXT, steps=st.lists(
           st.text("abc_-.", min_size=1, max_size=6), min_size=1, max_size=4, unique=True))
def test_pipeline_store_writes_and_reads_the_same_rows(two_stores, name, spec, params,
                                                      outputs, error, steps):
    fast_url, full_url = two_stores
    for url in two_stores:  # each example starts from empty pipeline tables
        with sqlite3.connect(_db(url)) as conn:
            for table in ("step_runs", "pipeline_runs", "pipelines"):
                conn.execute(f"DELETE FROM {table}")
    fast, full = pipelines_lite.LitePipelineStore(fast_url), PipelineStore(full_url)
    records = []
    for store, url in ((fast, fast_url), (full, full_url)):
        run_ids = _runs(url, 1)
        pipe = store.save_pipeline(name, spec, "d" * 64, "/p/pipeline.yaml")
        again = store.save_pipeline(name, {**spec, "v": 2}, "e" * 64, None)  # an update
        prid = store.create_pipeline_run(again.id, steps, run_id=run_ids[0],
                                         parameters=params, trigger="manual",
                                         executor="local:2", pipeline_run_id="f" * 32)
        store.update_step(prid, steps[0], status="RUNNING", attempts=1, started_at=1.0)
        store.update_step(prid, steps[0], status="SUCCEEDED", outputs=outputs,
                          cache_key="k" * 64, notebook_digest="n" * 64, ended_at=2.0,
                          error=None)
        if len(steps) > 1:
            store.update_step(prid, steps[1], status="FAILED", error=error, outputs=None)
        for bad in ({"nope": 1}, {"status": "DONE"}):
            with pytest.raises(InvalidInputError):
                store.update_step(prid, steps[0], **bad)
        with pytest.raises(InvalidInputError):
            store.finish_pipeline_run(prid, "RUNNING")
        store.finish_pipeline_run(prid, "FAILED" if error else "SUCCEEDED", error)
        got = store.get_pipeline_run(prid[:6])
        hit = store.find_cached_step("k" * 64)
        for bad_id, exc in (("f%", InvalidInputError), ("0123", NotFoundError)):
            with pytest.raises(exc):
                store.get_pipeline_run(bad_id)
        records.append((pipe.to_dict() | {"created_at": 0, "updated_at": 0},
                        _no_clocks(got.to_dict()), _no_clocks(hit.to_dict()),
                        store.find_cached_step("x" * 64), store.get_pipeline(again.id).name))
        with pytest.raises(NotFoundError):
            store.get_pipeline("no such pipeline")
    assert records[0] == records[1]
    assert dump(_db(fast_url)) == dump(_db(full_url))


def _no_clocks(d):
    if isinstance(d, dict):
        return {k: (v is not None if k in CLOCKS else _no_clocks(v)) for k, v in d.items()}
    if isinstance(d, list):
        return [_no_clocks(v) for v in d]
    return d


def test_catalog_lineage_and_webhooks_write_and_read_the_same_rows(two_stores):
    fast_url, full_url = two_stores
    seen = []
    for url, catalog, hooks in (
            (fast_url, catalog_lite.LiteCatalogStore(fast_url), LiteWebhookStore(fast_url)),
            (full_url, CatalogStore(full_url), WebhookStore(full_url))):
        run = _runs(url, 1)[0]
        got = []
        for name, digest in (("model.skops", "a" * 64), ("outputs/x/ü ' \" ;.txt", "b" * 64),
                             ("model.skops", "c" * 64)):  # the third re-points the first
            got.append(catalog.add_artifact(run, name, digest, 12, "text/plain", kind="output"))
        got.append(catalog.add_artifact(None, "loose", "d" * 64, 1, "x/y"))
        got.append(catalog.get_artifact(None, "loose"))
        with pytest.raises(InvalidInputError):
            catalog.add_artifact(run, "", "e" * 64, 1, "x/y")  # check_label, both paths
        with pytest.raises(NotFoundError):
            catalog.get_artifact(run, "missing")
        for dirty in (True, False, None):
            got.append(catalog.add_code_snapshot(run, "f" * 64, notebook_path="/n.ipynb",
                                                 git_commit="c0ffee", git_branch="main",
                                                 git_dirty=dirty, git_diff_digest=None))
        # Datasets are added by the SQLAlchemy store on both paths (a new version reads
        # statistics first); finding one by content and by version is what lite answers.
        CatalogStore(url).add_dataset_version("ds", "1" * 64, source="/d.csv", size=3,
                                              row_count=2, schema={"a": "int64"},
                                              stats=None, run_id=run)
        CatalogStore(url).add_dataset_version("ds", "2" * 64, source=None, size=None,
                                              row_count=None, schema=None, stats={"n": 1.5},
                                              run_id=None)
        got += [catalog.find_dataset_version("ds", "1" * 64),
                catalog.find_dataset_version("ds", "9" * 64), catalog.get_dataset("ds"),
                catalog.get_dataset("ds", 1)]
        with pytest.raises(NotFoundError):
            catalog.get_dataset("ds", 7)
        for _ in range(2):  # the second is the same edge: kept once
            catalog.lineage.add_edge("dataset", "1", "run", run, "input")
        WebhookStore(url).add(url="https://example.invalid/h", secret="s3cret",
                              events=["run.finished"], format="json", user="u")
        WebhookStore(url).add(url="https://example.invalid/all", secret=None,
                              events=["run.started", "run.finished"], format="slack", user="u")
        got += [hooks.subscribers("run.finished"), hooks.subscribers("run.started"),
                hooks.subscribers("model.registered")]
        seen.append(_no_clocks([g.to_dict() if hasattr(g, "to_dict") else
                                [[r.to_dict(), s] for r, s in g] if isinstance(g, list)
                                else g for g in got]))
    assert seen[0] == seen[1]
    assert dump(_db(fast_url)) == dump(_db(full_url))


def test_lite_get_run_is_runstores(two_stores):
    from jupyter_mlops.store.runs import RunStore

    fast_url, _ = two_stores
    fast = open_store(fast_url).runs
    assert isinstance(fast, lite.LiteRunStore)
    run = fast.create_run(experiment="e", name="r", user="u", tags={"t": "1"})
    fast.log_batch(run.id, params=[("p", "ü")],
                   metrics=[("m", 1.0, 0, 1.0), ("m", 2.0, 1, 2.0), ("nan", math.nan, 0, 1.0)])
    fast.end_run(run.id)
    mine, theirs = fast.get_run(run.id), RunStore(fast_url).get_run(run.id)
    assert json.dumps(mine.to_dict(), sort_keys=True) == json.dumps(theirs.to_dict(),
                                                                    sort_keys=True)
    for bad, exc in (("", InvalidInputError), (uuid.uuid4().hex, NotFoundError)):
        with pytest.raises(exc) as a:
            fast.get_run(bad)
        with pytest.raises(exc) as b:
            RunStore(fast_url).get_run(bad)
        assert str(a.value) == str(b.value)


def test_postgresql_and_sqlite_urls_with_options_take_the_sqlalchemy_path(tmp_path):
    from jupyter_mlops.client.stores import ComponentStores
    from jupyter_mlops.store import Store

    for url in ("postgresql://u@h/db", f"sqlite:///{tmp_path / 'x.db'}?mode=ro"):
        assert not pipelines_lite.serves(url)
        with pytest.raises(InvalidInputError):
            pipelines_lite.LitePipelineStore(url)
        store = Store(url, str(tmp_path), None)
        assert isinstance(store.catalog, CatalogStore)
        assert isinstance(ComponentStores(store).pipelines, PipelineStore)


# ------------------------------------------------------------------------- whole pipeline
SPEC = """name: both
parameters: {n: 4}
steps:
  make:
    notebook: make.ipynb
    parameters: {n: "${n}"}
    inputs: [raw.txt]
    outputs:
      data: {path: out/data.txt, dataset: made-data}
      parts: out/parts
  square:
    notebook: square.ipynb
    depends_on: [make]
    inputs: [out/data.txt]
    outputs: {sq: out/sq.txt}
"""


@pytest.mark.slow
def test_a_fully_cached_run_records_the_same_rows_on_both_paths(project, monkeypatch):
    from jupyter_mlops.client import Client
    from jupyter_mlops.pipelines.runner import run_pipeline

    (project / "raw.txt").write_text("raw input\n")
    write_notebook(project / "make.ipynb",
                   "import pathlib, jupyter_mlops as mlops\n"
                   "pathlib.Path('out/parts').mkdir(parents=True, exist_ok=True)\n"
                   "pathlib.Path('out/data.txt').write_text(' '.join(map(str, range(n))))\n"
                   "pathlib.Path('out/parts/a.txt').write_text('a')\n"
                   "pathlib.Path('out/parts/b.txt').write_text('b')\n"
                   "mlops.log_metric('rows', n)\nmlops.log_metric('nan', float('nan'))\n"
                   "mlops.log_param('kind', 'ünï')", params="n = 1")
    write_notebook(project / "square.ipynb",
                   "import pathlib\nvals = [int(v) for v in "
                   "pathlib.Path('out/data.txt').read_text().split()]\n"
                   "pathlib.Path('out/sq.txt').write_text(' '.join(str(v * v) for v in vals))")
    write_yaml(project / "pipeline.yaml", SPEC)
    forget_open_stores()
    with Client() as first:
        record = run_pipeline(project / "pipeline.yaml", client=first, progress=False)
    assert [s.status for s in record.steps] == ["SUCCEEDED", "SUCCEEDED"]
    forget_open_stores()

    copies = {}
    for name in ("lite", "sqlalchemy"):
        copies[name] = project.parent / name
        shutil.copytree(project, copies[name], symlinks=True)
        (copies[name] / "out" / "sq.txt").unlink()  # restored from the store on both
    for name, folder in copies.items():
        with monkeypatch.context() as m:
            if name == "sqlalchemy":  # every store of the run on SQLAlchemy: the reference
                m.setattr(lite, "sqlite_path", lambda url: None)
            m.chdir(folder)
            forget_open_stores()
            with Client(f"sqlite:///{folder / '.mlops' / 'mlops.db'}",
                        str(folder / ".mlops" / "artifacts")) as client:
                if name == "lite":
                    assert isinstance(client.stores.pipelines, pipelines_lite.LitePipelineStore)
                    assert isinstance(client.store.catalog, catalog_lite.LiteCatalogStore)
                else:
                    assert isinstance(client.stores.pipelines, PipelineStore)
                cached = run_pipeline(folder / "pipeline.yaml", client=client, progress=False)
            forget_open_stores()
        assert [s.status for s in cached.steps] == ["CACHED", "CACHED"]
        assert (folder / "out" / "sq.txt").read_text() == "0 1 4 9"
    rows = {name: dump(folder / ".mlops" / "mlops.db", (str(folder),))
            for name, folder in copies.items()}
    for table in TABLES:
        assert rows["lite"][table] == rows["sqlalchemy"][table], table
    # The comparison saw what a cached run records, not empty tables:
    steps = rows["lite"]["step_runs"]
    assert [s["status"] for s in steps] == ["SUCCEEDED", "SUCCEEDED", "CACHED", "CACHED"]
    assert steps[2]["cached_from"] == steps[0]["id"]
    assert {e["relation"] for e in rows["lite"]["lineage_edges"]} >= {"input", "produced"}
    cached_runs = [r for r in rows["lite"]["runs"] if r["name"].endswith("(cached)")]
    assert len(cached_runs) == 2
    assert any(m["key"] == "rows" and m["value"] == 4.0 and m["run_id"] == "run#4"
               for m in rows["lite"]["latest_metrics"])
