"""MLflow side of each benchmark; runs in MLflow's own venv (benchmarks/.envs/mlflow).

``python mlflow_bench.py NAME key=value ...`` prints the result as JSON on the last line of
stdout. The store is MLflow's SQLite backend (``MLFLOW_TRACKING_URI=sqlite:///…``) with a local
artifact folder; telemetry is off (``MLFLOW_DISABLE_TELEMETRY``, ``DO_NOT_TRACK``, set by
``run.py``). Every timing uses MLflow's public API the way its docs show it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from _common import (  # noqa: E402
    SEARCH_FILTER,
    SEARCH_MAX_RESULTS,
    SMALL_METRICS,
    SMALL_PARAMS,
    emit,
    expected_matches,
    parse_args,
    run_values,
    summary,
)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)


def _setup(experiment: str):
    import mlflow

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    artifacts = os.environ["MLFLOW_ARTIFACT_ROOT"]
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=f"{artifacts}/{experiment}")
    return mlflow, mlflow.set_experiment(experiment)


def bench_import(opts: dict) -> dict:
    t0 = time.perf_counter()
    import mlflow  # noqa: F401

    return {"import_s": time.perf_counter() - t0}


def bench_log_metric(opts: dict) -> dict:
    """``mlflow.log_metric(key, value, step=i)`` N times (each call is synchronous)."""
    mlflow, _ = _setup("log-metric")
    n, repeats = int(opts.get("n", 200)), int(opts.get("repeats", 3))
    with mlflow.start_run(run_name="warm-up"):
        for i in range(20):
            mlflow.log_metric("loss", i * 0.001, step=i)
    samples = []
    for r in range(repeats):
        with mlflow.start_run(run_name=f"repeat-{r}") as run:
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", i * 0.001, step=i)
            samples.append((time.perf_counter() - t0) / n)
    stored = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    return {"n": n, "amortised": summary(samples), "points_stored": stored,
            "mlflow": mlflow.__version__}


def bench_log_param(opts: dict) -> dict:
    mlflow, _ = _setup("log-param")
    n, repeats = int(opts.get("n", 200)), int(opts.get("repeats", 3))
    samples = []
    for r in range(repeats):
        with mlflow.start_run(run_name=f"repeat-{r}"):
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_param(f"p{i}", i)
            samples.append((time.perf_counter() - t0) / n)
    return {"n": n, "amortised": summary(samples)}


def bench_small_run(opts: dict) -> dict:
    """start_run, 5 × log_param, 5 × log_metric, end_run; median wall time per run."""
    mlflow, _ = _setup("small-run")
    n, warmup = int(opts.get("n", 30)), int(opts.get("warmup", 3))
    samples = []
    for r in range(warmup + n):
        t0 = time.perf_counter()
        with mlflow.start_run():
            for k, v in SMALL_PARAMS.items():
                mlflow.log_param(k, v)
            for k, v in SMALL_METRICS.items():
                mlflow.log_metric(k, v)
        dt = time.perf_counter() - t0
        if r >= warmup:
            samples.append(dt)
    return {"runs": summary(samples)}


def seed_runs(client, experiment_id: str, n: int) -> float:
    """Create ``n`` FINISHED runs with 5 params, 2 metrics and 1 tag each; return seconds.

    Run 0 goes through MLflow's client (create_run, log_batch, set_terminated) — at ≈ 0.1 s
    per run that way, 10,000 runs would take ≈ 17 minutes. The other ``n - 1`` runs copy run
    0's ``runs`` row and its system tags (new id, name, times, values) and are inserted with
    MLflow's own table definitions, one ``executemany`` per table in one transaction; params,
    metrics and ``latest_metrics`` rows are exactly what ``log_batch`` writes.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from sqlalchemy import create_engine, select

    t0 = time.perf_counter()
    base_ms = int(time.time() * 1000) - n * 1000
    params, metrics, tags = run_values(0)
    first = client.create_run(experiment_id, run_name="seed-0", tags=tags)
    rid0 = first.info.run_id
    client.log_batch(rid0, metrics=[Metric(k, v, base_ms, 0) for k, v in metrics.items()],
                     params=[Param(k, v) for k, v in params.items()])
    client.set_terminated(rid0)
    engine = create_engine(os.environ["MLFLOW_TRACKING_URI"])
    with engine.begin() as conn:
        template = dict(conn.execute(select(SqlRun.__table__)
                                     .where(SqlRun.run_uuid == rid0)).one()._mapping)
        conn.execute(SqlRun.__table__.update().where(SqlRun.run_uuid == rid0).values(
            start_time=base_ms, end_time=base_ms + 500))
        system_tags = {k: v for k, v in conn.execute(
            select(SqlTag.key, SqlTag.value).where(SqlTag.run_uuid == rid0)) if k not in tags}
        artifact_root = template["artifact_uri"].rsplit("/", 2)[0]
        runs, prm, met, lat, tg = [], [], [], [], []
        for i in range(1, n):
            rid = uuid.UUID(int=i).hex
            t = base_ms + i * 1000
            runs.append({**template, "run_uuid": rid, "name": f"seed-{i}", "start_time": t,
                         "end_time": t + 500, "artifact_uri": f"{artifact_root}/{rid}/artifacts"})
            params, metrics, tags = run_values(i)
            prm += [{"run_uuid": rid, "key": k, "value": v} for k, v in params.items()]
            for k, v in metrics.items():
                row = {"run_uuid": rid, "key": k, "value": v, "timestamp": t, "step": 0,
                       "is_nan": False}
                met.append(row)
                lat.append(row)
            tg += [{"run_uuid": rid, "key": k, "value": v}
                   for k, v in {**system_tags, "mlflow.runName": f"seed-{i}", **tags}.items()]
        for table, rows in ((SqlRun, runs), (SqlParam, prm), (SqlMetric, met),
                            (SqlLatestMetric, lat), (SqlTag, tg)):
            if rows:
                conn.execute(table.__table__.insert(), rows)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # same as ours: statistics a long-lived store has
    engine.dispose()
    return time.perf_counter() - t0


def bench_search(opts: dict) -> dict:
    """``MlflowClient.search_runs`` with the shared filter, 100 results, default order."""
    mlflow, exp = _setup("search")
    n, repeats = int(opts.get("n", 10_000)), int(opts.get("repeats", 10))
    analyze = opts.get("analyze", "1") == "1"
    client = mlflow.MlflowClient()
    seed_s = seed_runs(client, exp.experiment_id, n)
    if not analyze:
        from sqlalchemy import create_engine

        engine = create_engine(os.environ["MLFLOW_TRACKING_URI"])
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        engine.dispose()

    def search(max_results=SEARCH_MAX_RESULTS):
        return client.search_runs([exp.experiment_id], SEARCH_FILTER, max_results=max_results)

    expected = expected_matches(n)
    t0 = time.perf_counter()
    first = search()
    cold = time.perf_counter() - t0
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = search()
        samples.append(time.perf_counter() - t0)
    # Every match (what MLflow's fluent search returns by default: max_results=100,000).
    all_samples, df_samples = [], []
    for _ in range(int(opts.get("repeats_all", 5))):
        t0 = time.perf_counter()
        everything = search(max_results=50_000)
        all_samples.append(time.perf_counter() - t0)
    for _ in range(int(opts.get("repeats_all", 5))):
        t0 = time.perf_counter()
        frame = mlflow.search_runs([exp.experiment_id], SEARCH_FILTER)  # pandas, defaults
        df_samples.append(time.perf_counter() - t0)
    ok = (len(everything) == expected == len(frame)
          and len(found) == min(SEARCH_MAX_RESULTS, expected)
          and all(r.data.params["model"] == "svc" and r.data.metrics["acc"] > 0.9
                  for r in found)
          and [r.info.run_id for r in found] == [r.info.run_id for r in first])
    return {"runs": n, "seed_s": seed_s, "cold_s": cold, "search": summary(samples),
            "search_all": summary(all_samples), "search_dataframe": summary(df_samples),
            "matches": len(everything), "expected_matches": expected, "returned": len(found),
            "correct": ok}


BENCHMARKS = {
    "import": bench_import,
    "log_metric": bench_log_metric,
    "log_param": bench_log_param,
    "small_run": bench_small_run,
    "search": bench_search,
}

if __name__ == "__main__":
    name, opts = parse_args(sys.argv[1:])
    emit(BENCHMARKS[name](opts))
