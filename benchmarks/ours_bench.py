"""jupyter-mlops side of each benchmark; one benchmark per process, result as JSON on stdout.

Run by ``benchmarks/run.py`` (``python benchmarks/ours_bench.py NAME key=value ...``) with
``MLOPS_TRACKING_URI`` / ``MLOPS_ARTIFACT_ROOT`` pointing into ``benchmarks/.work/``. Every
timing uses the public API a user calls (``import jupyter_mlops as mlops``); only seeding the
100,000 runs for the search benchmark writes rows in bulk (see :func:`seed_runs`).
"""

from __future__ import annotations

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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

# ---------------------------------------------------------------------------- logging


def bench_log_metric(opts: dict) -> dict:
    """``mlops.log_metric(key, value, step=i)`` N times, then ``flush()``; amortised per call."""
    import jupyter_mlops as mlops

    n, repeats = int(opts.get("n", 200_000)), int(opts.get("repeats", 3))
    with mlops.start_run(experiment="log-metric", name="warm-up"):
        for i in range(1000):  # imports, writer thread, engine, prepared statements
            mlops.log_metric("loss", i * 0.001, step=i)
        mlops.flush()
    calls, amortised, flushes, cpu = [], [], [], []
    for r in range(repeats):
        with mlops.start_run(experiment="log-metric", name=f"repeat-{r}"):
            log_metric = mlops.log_metric
            c0, t0 = time.process_time(), time.perf_counter()
            for i in range(n):
                log_metric("loss", i * 0.001, step=i)
            t1 = time.perf_counter()
            mlops.flush()
            t2, c2 = time.perf_counter(), time.process_time()
        calls.append((t1 - t0) / n)
        amortised.append((t2 - t0) / n)
        flushes.append(t2 - t1)
        cpu.append((c2 - c0) / n)  # all threads of this process: caller + writer
    run = mlops.search_runs("name = 'repeat-0'", experiment="log-metric")[0]
    points = len(mlops.get_client().store.runs.metric_history(run.id, "loss"))
    return {
        "n": n,
        "amortised": summary(amortised),
        "cpu": summary(cpu),
        "call_only": summary(calls),
        "final_flush": summary(flushes),
        "points_stored": points,
    }


def bench_log_param(opts: dict) -> dict:
    import jupyter_mlops as mlops

    n, repeats = int(opts.get("n", 20_000)), int(opts.get("repeats", 3))
    samples = []
    for r in range(repeats):
        with mlops.start_run(experiment="log-param", name=f"repeat-{r}"):
            t0 = time.perf_counter()
            for i in range(n):
                mlops.log_param(f"p{i}", i)
            mlops.flush()
            samples.append((time.perf_counter() - t0) / n)
    return {"n": n, "amortised": summary(samples)}


def bench_million(opts: dict) -> dict:
    """1,000,000 points in one run, logged and durable (``flush()`` returned).

    Two ways a user logs that many points: one ``log_metric`` call per point, and
    ``log_metrics`` with 10 series per step (100,000 calls).
    """
    import jupyter_mlops as mlops

    n, repeats = int(opts.get("n", 1_000_000)), int(opts.get("repeats", 3))
    keys = [f"m{k}" for k in range(10)]
    out = {"n": n}
    with mlops.start_run(experiment="million", name="warm-up"):
        for i in range(1000):
            mlops.log_metric("loss", i * 0.001, step=i)
        mlops.flush()
    for variant in ("log_metric", "log_metrics"):
        totals, flushes, cpu = [], [], []
        for r in range(repeats):
            gc.collect()
            with mlops.start_run(experiment="million", name=f"{variant}-{r}") as run:
                c0, t0 = time.process_time(), time.perf_counter()
                if variant == "log_metric":
                    log_metric = mlops.log_metric
                    for i in range(n):
                        log_metric("loss", i * 0.001, step=i)
                else:
                    log_metrics = mlops.log_metrics
                    for step in range(n // len(keys)):
                        log_metrics({k: step * 0.001 for k in keys}, step=step)
                t1 = time.perf_counter()
                mlops.flush()
                t2, c2 = time.perf_counter(), time.process_time()
            totals.append(t2 - t0)
            flushes.append(t2 - t1)
            cpu.append(c2 - c0)
            if r == 0:
                runs = mlops.get_client().store.runs
                stored = sum(len(runs.metric_history(run.id, k))
                             for k in runs.metric_keys(run.id))
                out[f"{variant}_points_stored"] = stored
        out[variant] = summary(totals)
        out[f"{variant}_final_flush"] = summary(flushes)
        out[f"{variant}_cpu"] = summary(cpu)
    return out


def bench_small_run(opts: dict) -> dict:
    """start_run, 5 × log_param, 5 × log_metric, end_run; median wall time per run."""
    import jupyter_mlops as mlops

    n, warmup = int(opts.get("n", 200)), int(opts.get("warmup", 5))
    samples = []
    for r in range(warmup + n):
        t0 = time.perf_counter()
        with mlops.start_run(experiment="small-run"):
            for k, v in SMALL_PARAMS.items():
                mlops.log_param(k, v)
            for k, v in SMALL_METRICS.items():
                mlops.log_metric(k, v)
        dt = time.perf_counter() - t0
        if r >= warmup:
            samples.append(dt)
    last = mlops.search_runs(experiment="small-run", max_results=1)[0]
    assert len(last.params) == 5 and len(last.metrics) == 5, last
    return {"runs": summary(samples)}


# ---------------------------------------------------------------------------- search


def seed_runs(client, n: int, experiment: str) -> float:
    """Create ``n`` FINISHED runs, each with 5 params, 2 metrics and 1 tag; return seconds.

    Run 0 goes through the public client (create_run, log_batch, end_run). The other
    ``n - 1`` are copies of its ``runs`` row with their own id, name, times and values,
    inserted with one Core ``executemany`` per table in one transaction — creating 100,000
    runs one API call at a time would dominate the whole benchmark and measure nothing the
    search depends on. The MLflow anchor seeds its store the same way.
    """
    from sqlalchemy import select

    from jupyter_mlops.store.engine import write_connection
    from jupyter_mlops.store.metric_chunks import pack
    from jupyter_mlops.store.orm import LatestMetric, MetricChunk, Param, Run, Tag

    t0 = time.perf_counter()
    base = time.time() - n
    params, metrics, tags = run_values(0)
    first = client.create_run(experiment=experiment, name="seed-0", tags=tags)
    client.store.runs.log_batch(first.id, params=params.items(),
                                metrics=[(k, v, 0, base) for k, v in metrics.items()])
    client.end_run(first.id)
    url = client.store.url
    with write_connection(url) as conn:
        template = dict(conn.execute(select(Run.__table__).where(Run.id == first.id)).one()
                        ._mapping)
        conn.execute(Run.__table__.update().where(Run.id == first.id).values(
            start_time=base, end_time=base + 0.5, heartbeat_at=base + 0.5))
        runs, prm, met, lat, tg = [], [], [], [], []
        for i in range(1, n):
            rid = f"{i:032x}"
            t = base + i
            runs.append({**template, "id": rid, "name": f"seed-{i}", "start_time": t,
                         "end_time": t + 0.5, "heartbeat_at": t + 0.5})
            params, metrics, tags = run_values(i)
            prm += [{"run_id": rid, "key": k, "value": v} for k, v in params.items()]
            met += [{"run_id": rid, "key": k, "n": 1, "first_step": 0, "last_step": 0,
                     "data": pack([(v, 0, t)])[0]} for k, v in metrics.items()]
            lat += [{"run_id": rid, "key": k, "value": v, "step": 0, "timestamp": t,
                     "count": 1} for k, v in metrics.items()]
            tg += [{"run_id": rid, "key": k, "value": v} for k, v in tags.items()]
        for table, rows in ((Run, runs), (Param, prm), (MetricChunk, met), (LatestMetric, lat),
                            (Tag, tg)):
            if rows:
                conn.execute(table.__table__.insert(), rows)
    with write_connection(url) as conn:
        conn.exec_driver_sql("ANALYZE")  # what a long-lived store has after `jupyter mlops gc`
    return time.perf_counter() - t0


def bench_search(opts: dict) -> dict:
    """``search_runs`` with a metric and a param condition, 100 results, default order."""
    import jupyter_mlops as mlops
    from jupyter_mlops.client import Client

    n, repeats = int(opts.get("n", 100_000)), int(opts.get("repeats", 20))
    analyze = opts.get("analyze", "1") == "1"
    client = Client(os.environ["MLOPS_TRACKING_URI"], os.environ["MLOPS_ARTIFACT_ROOT"])
    mlops.set_client(client)
    seed_s = seed_runs(client, n, "search")
    if not analyze:
        from jupyter_mlops.store.engine import write_connection

        with write_connection(client.store.url) as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
    expected = expected_matches(n)
    counted = client.store.runs.count_runs(SEARCH_FILTER, experiment="search")

    def search(max_results=SEARCH_MAX_RESULTS):
        return mlops.search_runs(SEARCH_FILTER, experiment="search", max_results=max_results)

    def sample(count, max_results=SEARCH_MAX_RESULTS):
        times, found = [], None
        for _ in range(count):
            t0 = time.perf_counter()
            found = search(max_results)
            times.append(time.perf_counter() - t0)
        return times, found

    # The first search of a process runs in SQL (the in-memory index is built in the
    # background after a second one); the first search plus an index build is reported, then
    # steady-state searches (no result cache exists: every search evaluates the filter over
    # the runs afresh).
    from jupyter_mlops.store.run_index import index_for

    t0 = time.perf_counter()
    first = search()
    cold = time.perf_counter() - t0
    index = index_for(client.store.url)
    index.build()
    ready_s = time.perf_counter() - t0
    samples, found = sample(repeats)
    all_samples, everything = sample(int(opts.get("repeats_all", 5)), 50_000)
    # The same searches in SQL (what a PostgreSQL store or MLOPS_SEARCH_INDEX=0 does).
    os.environ["MLOPS_SEARCH_INDEX"] = "0"
    try:
        sql_samples, sql_found = sample(max(3, repeats // 2))
        sql_all_samples, sql_everything = sample(3, 50_000)
    finally:
        del os.environ["MLOPS_SEARCH_INDEX"]
    ok = (counted == expected == len(everything) == len(sql_everything)
          and len(found) == min(SEARCH_MAX_RESULTS, expected)
          and all(r.params["model"] == "svc" and r.metrics["acc"] > 0.9 for r in found)
          and [r.id for r in found] == [r.id for r in first] == [r.id for r in sql_found])
    return {"runs": n, "seed_s": seed_s, "cold_s": cold, "index_ready_s": ready_s,
            "search": summary(samples), "search_all": summary(all_samples),
            "sql_search": summary(sql_samples), "sql_search_all": summary(sql_all_samples),
            "matches": counted, "expected_matches": expected, "returned": len(found),
            "correct": ok}


# ---------------------------------------------------------------------------- hashing


def bench_hash(opts: dict) -> dict:
    """BLAKE3 of one large file (page cache warm), then re-checks through ``HashCache``."""
    from jupyter_mlops.hashing import HashCache, hash_file

    path, repeats = opts["path"], int(opts.get("repeats", 5))
    db = opts["db"]
    size = os.path.getsize(path)
    hash_file(path)  # warm the page cache and blake3's thread pool
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        digest = hash_file(path)
        samples.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with HashCache(db) as cache:
        first = cache.hash(path)  # not in the cache yet: hashes and remembers
    first_s = time.perf_counter() - t0
    fresh, warm = [], []
    for _ in range(int(opts.get("rechecks", 20))):
        t0 = time.perf_counter()
        with HashCache(db) as cache:  # a new object: opens the SQLite file like a new kernel
            again = cache.hash(path)
        fresh.append(time.perf_counter() - t0)
    with HashCache(db) as cache:
        cache.hash(path)
        for _ in range(int(opts.get("rechecks", 20))):
            t0 = time.perf_counter()
            cache.hash(path)
            warm.append(time.perf_counter() - t0)
    return {"bytes": size, "digest": digest, "hash": summary(samples),
            "gib_per_s": size / 2**30 / (sorted(samples)[len(samples) // 2]),
            "first_cached_hash_s": first_s, "recheck_fresh": summary(fresh),
            "recheck_open": summary(warm), "consistent": first == digest == again}


def bench_recheck_process(opts: dict) -> dict:
    """What a new process pays to confirm a file is unchanged (compare ``dvc status``)."""
    from jupyter_mlops.hashing import HashCache

    with HashCache(opts["db"]) as cache:
        return {"digest": cache.hash(opts["path"])}


# ---------------------------------------------------------------------------- notebook


def bench_ipython(opts: dict) -> dict:
    """In a fresh process: build an IPython shell, then time ``%load_ext jupyter_mlops``."""
    t0 = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    t1 = time.perf_counter()
    if opts.get("load", "1") != "1":
        return {"shell_s": t1 - t0, "load_ext_s": 0.0}
    import importlib.util

    # Look for the module on disk without importing anything, so the load below stays cold.
    spec = importlib.util.find_spec("jupyter_mlops")
    package = os.path.join(spec.submodule_search_locations[0], "notebook")
    if not (os.path.exists(os.path.join(package, "extension.py"))
            or os.path.isdir(os.path.join(package, "extension"))):
        return {"pending": f"jupyter_mlops.notebook.extension does not exist yet ({package})"}
    t2 = time.perf_counter()
    result = shell.run_line_magic("load_ext", "jupyter_mlops")
    t3 = time.perf_counter()
    heavy = sorted(m for m in ("sqlalchemy", "pandas", "numpy", "sklearn", "matplotlib",
                               "papermill", "alembic", "ipywidgets", "dask", "blake3")
                   if m in sys.modules)
    return {"shell_s": t1 - t0, "load_ext_s": t3 - t2, "result": repr(result),
            "heavy_modules_loaded": heavy}


BENCHMARKS = {
    "log_metric": bench_log_metric,
    "log_param": bench_log_param,
    "million": bench_million,
    "small_run": bench_small_run,
    "search": bench_search,
    "hash": bench_hash,
    "recheck_process": bench_recheck_process,
    "ipython": bench_ipython,
}

if __name__ == "__main__":
    name, opts = parse_args(sys.argv[1:])
    emit(BENCHMARKS[name](opts))
