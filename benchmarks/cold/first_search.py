"""Cold path: the first ``search_runs`` of a fresh process, ours beside MLflow's (issue 14).

Filter ``metrics.acc > 0.9 and params.model = 'svc'``, 100 results, default order, over
stores of 10,000 and 100,000 runs (``_common.run_values``: identical runs for both tools),
on SQLite and, when a server is given, on PostgreSQL (one database per tool and size on the
same server). Each sample is a new Python process that imports the library, runs the search
once and reports the first call (wall and CPU of this process); the parent reports the whole
process too (wall, and CPU from ``wait4``). MLflow runs in its own venv
(``benchmarks/.envs/mlflow``, as ``run.py`` creates it) with ``MlflowClient().search_runs``.

Stores are seeded once (as ``ours_bench.seed_runs`` / ``anchors/mlflow_bench.seed_runs`` do:
run 0 through the tool's client, the rest bulk-copied) and kept in
``benchmarks/.envs/cold-search/`` (SQLite files) or in databases named
``cold_search_<tool>_<n>`` for reuse. Before the samples, SQLite stores lose their
``sqlite_stat1`` (neither tool's user ever runs ``ANALYZE``); the first process after that is
reported on its own (ours pays its one-time ANALYZE there), then ``--samples`` processes.

    .venv/bin/python benchmarks/cold/first_search.py --samples 5
    .venv/bin/python benchmarks/cold/first_search.py --samples 5 \\
        --pg postgresql+psycopg://postgres@127.0.0.1:56355/postgres
    ... --json        # one JSON object on the last line (benchmarks/run.py reads it)

Ordered by a metric (MLflow gets the same ``order_by``; answers are checked to be in order),
with the default filter or none:

    .venv/bin/python benchmarks/cold/first_search.py --samples 5 --sizes 100000 \\
        --order-by "metrics.acc DESC" [--filter ""] [--mlflow-python .venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
CACHE = BENCH / ".envs" / "cold-search"
MLFLOW_PY = BENCH / ".envs" / "mlflow" / "bin" / "python"
sys.path.insert(0, str(BENCH))
from _common import SEARCH_FILTER, expected_matches  # noqa: E402
from _child import clean_env  # noqa: E402  (this folder: the script's own)

#: A fresh process: import, first search (timed), checked; warm searches when asked.
OURS_CHILD = r"""
import json, os, sys, time
w0, c0 = time.perf_counter(), time.process_time()
import jupyter_mlops as mlops
w1, c1 = time.perf_counter(), time.process_time()
flt, warm, expected = sys.argv[1] or None, int(sys.argv[2]), int(sys.argv[3])
order = [sys.argv[4]] if sys.argv[4] else None
found = mlops.search_runs(flt, experiment="search", order_by=order, max_results=100)
w2, c2 = time.perf_counter(), time.process_time()
ok = len(found) == min(100, expected) and (flt is None or all(
    r.params["model"] == "svc" and r.metrics["acc"] > 0.9 for r in found))
if order:
    key, _, direction = order[0].partition(" ")
    values = [r.metrics.get(key.split(".", 1)[1]) for r in found]
    ok = ok and None not in values and values == sorted(values, reverse=direction == "DESC")
warm_s = []
for _ in range(warm):
    t = time.perf_counter()
    mlops.search_runs(flt, experiment="search", order_by=order, max_results=100)
    warm_s.append(time.perf_counter() - t)
print(json.dumps({"import_s": w1 - w0, "first_s": w2 - w1, "first_cpu_s": c2 - c1,
                  "warm_s": warm_s, "ok": ok}))
"""

MLFLOW_CHILD = r"""
import json, os, sys, time
w0, c0 = time.perf_counter(), time.process_time()
import mlflow
w1, c1 = time.perf_counter(), time.process_time()
flt, warm, expected, exp_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
order = [sys.argv[5]] if sys.argv[5] else None
client = mlflow.MlflowClient()
found = client.search_runs([exp_id], flt, max_results=100, order_by=order)
w2, c2 = time.perf_counter(), time.process_time()
ok = len(found) == min(100, expected) and (not flt or all(
    r.data.params["model"] == "svc" and r.data.metrics["acc"] > 0.9 for r in found))
if order:
    key, _, direction = order[0].partition(" ")
    values = [r.data.metrics.get(key.split(".", 1)[1]) for r in found]
    ok = ok and None not in values and values == sorted(values, reverse=direction == "DESC")
warm_s = []
for _ in range(warm):
    t = time.perf_counter()
    client.search_runs([exp_id], flt, max_results=100, order_by=order)
    warm_s.append(time.perf_counter() - t)
print(json.dumps({"import_s": w1 - w0, "first_s": w2 - w1, "first_cpu_s": c2 - c1,
                  "warm_s": warm_s, "ok": ok}))
"""

OURS_SEED = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
from jupyter_mlops.client import Client
from ours_bench import seed_runs
c = Client(os.environ["MLOPS_TRACKING_URI"], os.environ["MLOPS_ARTIFACT_ROOT"])
seed_runs(c, int(sys.argv[1]), "search")
c.close()
"""

MLFLOW_SEED = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from mlflow_bench import _setup, seed_runs
mlflow, exp = _setup("search")
seed_runs(mlflow.MlflowClient(), exp.experiment_id, int(sys.argv[1]))
print(json.dumps({"experiment_id": exp.experiment_id}))
"""


def ours_env(url: str, folder: Path) -> dict:
    env = clean_env()
    env.update(MLOPS_TRACKING_URI=url, MLOPS_ARTIFACT_ROOT=str(folder / "artifacts"),
               MLOPS_HOME=str(folder),
               # A PYTHONPATH already set comes first: another version's package can be timed
               # (README: PYTHONPATH=/tmp/before).
               PYTHONPATH=os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p))
    return env


def mlflow_env(url: str, folder: Path) -> dict:
    env = {k: v for k, v in clean_env().items()
           if not k.startswith("MLFLOW_") and k != "PYTHONPATH"}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_ARTIFACT_ROOT=str(folder / "mlartifacts"),
               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", GIT_PYTHON_REFRESH="quiet")
    return env


def timed_child(cmd: list[str], env: dict, cwd: Path) -> tuple[dict, float, float]:
    """(the child's JSON, whole-process wall s, whole-process CPU s).

    CPU is the difference in RUSAGE_CHILDREN around the child (user+sys): this script runs
    one child at a time, so the difference is that child's alone.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"FAILED: {cmd[0]} …\n{proc.stderr.decode(errors='replace')[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1]), wall, cpu


# ----------------------------------------------------------------------------- stores


def pg_url(base: str, name: str, driver: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base)
    return urlunsplit((driver, parts.netloc, "/" + name, parts.query, ""))


def pg_ready(base: str, name: str, table: str, n: int, create: bool) -> bool:
    """Whether database ``name`` holds ``n`` rows in ``table``; (re)create it if asked."""
    import psycopg

    admin = pg_url(base, "postgres", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (name,)).fetchone()
        if exists and not create:
            try:
                with psycopg.connect(pg_url(base, name, "postgresql")) as db:
                    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n
            except psycopg.Error:
                return False
        if create:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    return False


def ensure_mlflow_pg_driver(mlflow_py: Path = MLFLOW_PY) -> None:
    """MLflow on PostgreSQL needs psycopg2 in its venv (run.py installs mlflow alone)."""
    if subprocess.run([str(mlflow_py), "-c", "import psycopg2"],
                      capture_output=True).returncode:
        subprocess.run([str(mlflow_py), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "psycopg2-binary"], check=True)


def seed(tool: str, backend: str, n: int, pg: str | None, mlflow_py: Path = MLFLOW_PY) -> dict:
    """A seeded store (reused when already there): {url, folder, experiment_id}."""
    folder = CACHE / f"{tool}-{backend}-{n}"
    meta_file = folder / "seed.json"
    if backend == "sqlite":
        db = folder / ("mlops.db" if tool == "ours" else "mlflow.db")
        url = f"sqlite:///{db}"
        ready = meta_file.exists() and db.exists()
    else:
        name = f"cold_search_{tool}_{n}"
        url = pg_url(pg, name, "postgresql+psycopg" if tool == "ours" else "postgresql+psycopg2")
        ready = meta_file.exists() and pg_ready(pg, name, "runs", n, create=False)
    if ready:
        return {**json.loads(meta_file.read_text()), "url": url, "folder": folder}
    print(f"  seeding {tool} {backend} {n:,} runs (once; reused later)…", file=sys.stderr)
    t0 = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if backend == "postgresql":
        pg_ready(pg, name, "runs", n, create=True)
    if tool == "ours":
        subprocess.run([sys.executable, "-c", OURS_SEED, str(n), str(BENCH)], check=True,
                       env=ours_env(url, folder), cwd=folder, stdout=subprocess.DEVNULL)
        meta = {"experiment_id": None}
    else:
        proc = subprocess.run([str(mlflow_py), "-c", MLFLOW_SEED, str(n), str(BENCH / "anchors")],
                              env=mlflow_env(url, folder), cwd=folder, capture_output=True,
                              text=True)
        if proc.returncode:
            sys.exit(f"seeding MLflow's {backend} store failed:\n{proc.stderr[-3000:]}")
        meta = json.loads(proc.stdout.strip().splitlines()[-1])
    meta["seed_s"] = time.perf_counter() - t0
    meta_file.write_text(json.dumps(meta))
    return {**meta, "url": url, "folder": folder}


def drop_sqlite_stats(url: str) -> None:
    conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
    try:
        conn.execute("DROP TABLE IF EXISTS sqlite_stat1")
    finally:
        conn.close()


# ----------------------------------------------------------------------------- measuring


def measure(tool: str, store: dict, samples: int, warm: int, expected: int,
            flt: str = SEARCH_FILTER, order_by: str = "", mlflow_py: Path = MLFLOW_PY) -> dict:
    if tool == "ours":
        cmd = [sys.executable, "-c", OURS_CHILD, flt, str(warm), str(expected), order_by]
        env = ours_env(store["url"], store["folder"])
    else:
        cmd = [str(mlflow_py), "-c", MLFLOW_CHILD, flt, str(warm), str(expected),
               str(store["experiment_id"]), order_by]
        env = mlflow_env(store["url"], store["folder"])
    rows = [timed_child(cmd, env, store["folder"]) for _ in range(samples + 1)]
    first, rest = rows[0], rows[1:]

    def stat(values: list[float]) -> dict:
        return {"median": statistics.median(values), "max": max(values), "n": len(values),
                "samples": values}

    warm_all = [w for r, _, _ in rest for w in r["warm_s"][1:]]  # each process's 2nd on
    return {
        "first_process": {"first_s": first[0]["first_s"], "first_cpu_s": first[0]["first_cpu_s"],
                          "process_s": first[1], "process_cpu_s": first[2]},
        "first_s": stat([r["first_s"] for r, _, _ in rest]),
        "first_cpu_s": stat([r["first_cpu_s"] for r, _, _ in rest]),
        "import_s": stat([r["import_s"] for r, _, _ in rest]),
        "process_s": stat([w for _, w, _ in rest]),
        "process_cpu_s": stat([c for _, _, c in rest]),
        "warm_s": stat(warm_all) if warm_all else None,
        "correct": all(r["ok"] for r, _, _ in rows),
    }


def ms(v: float | None) -> str:
    return "–" if v is None else f"{v * 1000:.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--pg", default=os.environ.get("MLOPS_BENCH_PG_URL"),
                    help="PostgreSQL server URL (default $MLOPS_BENCH_PG_URL; none: skipped)")
    ap.add_argument("--pg-sizes", default="100000")
    ap.add_argument("--warm", type=int, default=20,
                    help="warm searches per process (PG; default 20: psycopg prepares a "
                         "statement after 5 runs and PostgreSQL may plan it generically from "
                         "the 6th run of that, so fewer than ~11 searches would not show "
                         "what a long-lived process gets)")
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--order-by", default="",
                    help='one order_by term for both tools, e.g. "metrics.acc DESC" '
                         "(default: none)")
    ap.add_argument("--filter", default=SEARCH_FILTER,
                    help=f'the filter ("" for none; default "{SEARCH_FILTER}")')
    ap.add_argument("--mlflow-python", type=lambda v: Path(v).absolute(), default=MLFLOW_PY,
                    help="a Python with mlflow installed (default benchmarks/.envs/mlflow)")
    args = ap.parse_args()
    if args.filter not in ("", SEARCH_FILTER):
        ap.error(f'--filter is "" or "{SEARCH_FILTER}" (answers are checked against it)')
    if args.order_by and not args.order_by.startswith("metrics."):
        ap.error('--order-by takes one metric term, e.g. "metrics.acc DESC"')
    mlflow_py = args.mlflow_python
    tools = ["ours"] + ([] if args.no_mlflow or not mlflow_py.exists() else ["mlflow"])
    plans = [("sqlite", int(n)) for n in args.sizes.split(",") if n]
    if args.pg:
        plans += [("postgresql", int(n)) for n in args.pg_sizes.split(",") if n]
        if "mlflow" in tools:
            ensure_mlflow_pg_driver(mlflow_py)
    results = []
    for backend, n in plans:
        for tool in tools:
            store = seed(tool, backend, n, args.pg, mlflow_py)
            if backend == "sqlite":
                drop_sqlite_stats(store["url"])
            expected = expected_matches(n) if args.filter else n
            res = measure(tool, store, args.samples, args.warm if backend != "sqlite" else 0,
                          expected, args.filter, args.order_by, mlflow_py)
            res.update(tool=tool, backend=backend, runs=n, expected=expected,
                       filter=args.filter, order_by=args.order_by)
            results.append(res)
            print(f"{tool:>6} {backend:>10} {n:>7,} runs: first search {ms(res['first_s']['median'])}"
                  f" (max {ms(res['first_s']['max'])}, CPU {ms(res['first_cpu_s']['median'])});"
                  f" whole process {ms(res['process_s']['median'])} (CPU "
                  f"{ms(res['process_cpu_s']['median'])}); first process after the stats were "
                  f"dropped {ms(res['first_process']['first_s'])}"
                  + (f"; warm {ms(res['warm_s']['median'])}" if res["warm_s"] else "")
                  + ("" if res["correct"] else "  WRONG ANSWER"), file=sys.stderr)
    if args.json:
        print(json.dumps({"load": os.getloadavg()[0], "samples": args.samples,
                          "results": results}))


if __name__ == "__main__":
    main()
