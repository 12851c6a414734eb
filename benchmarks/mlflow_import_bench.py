"""Importing an MLflow store: ``jupyter mlops import mlflow`` beside MLflow's own ways (issue 18).

    .venv/bin/python benchmarks/mlflow_import_bench.py [--runs 10000] [--points 100]
        [--samples 3] [--anchor-runs 200] [--export-import ENV_PYTHON] [--json]

The source: one MLflow store of ``--runs`` finished runs, each with 5 params, 3 tags and one
metric of ``--points`` points (value, timestamp, step), written in MLflow's own formats — a
tracking database (MLflow 3's schema, created by MLflow's client, rows bulk-inserted) and an
``mlruns`` folder (``meta.yaml``, ``params/``, ``tags/``, ``metrics/`` files). A few runs of
each are read back through ``MlflowClient`` as a check that MLflow sees what was written.

Measured, each sample a fresh process and a fresh target store:

* ours: ``jupyter mlops import mlflow SOURCE -q`` from the database and from the folder
  (``--samples``, wall median and max, and the child's CPU time, user+sys, median: on a
  loaded machine wall time mostly measures the wait for a core), and the same command again on the filled store (the
  idempotent rerun: it reads the run list and adds nothing).
* MLflow's client loop, the way MLflow moves runs without extra tools: per run ``get_run``,
  ``get_metric_history``, ``create_run``, ``log_batch``, ``set_terminated`` into a fresh
  MLflow SQLite store, on ``--anchor-runs`` runs of the same source (a full 10,000-run copy
  takes too long to repeat); its rate is reported and extrapolated to ``--runs``, labelled
  as such.
* ``mlflow-export-import`` (``export-experiment`` + ``import-experiment``) when
  ``--export-import`` names a Python with it installed, on the same ``--anchor-runs``.

On a shared machine: the figures are as measured, with the load average printed beside them.
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
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_ENABLE_TELEMETRY": "false",
       "DO_NOT_TRACK": "1", "PYTHONWARNINGS": "ignore"}
T0 = 1_700_000_000_000


def make_db(path: Path, runs: int, points: int) -> tuple[str, list[str]]:
    """An MLflow tracking database: schema by MLflow's client, rows bulk-inserted."""
    url = f"sqlite:///{path}"
    subprocess.run([sys.executable, "-c", "import sys; from mlflow import MlflowClient; "
                    "MlflowClient(tracking_uri=sys.argv[1]).create_experiment('bench')", url],
                   check=True, env=ENV, capture_output=True)
    con = sqlite3.connect(path)
    exp = con.execute("SELECT experiment_id FROM experiments WHERE name='bench'").fetchone()[0]
    ids = [uuid.uuid4().hex for _ in range(runs)]
    with con:
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', "
            "?, ?, '', 'active', ?, ?)",
            [(r, f"run-{i}", T0 + i * 1000, T0 + i * 1000 + 500,
              str(path.parent / "mlartifacts" / r), exp) for i, r in enumerate(ids)])
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                        [(f"p{j}", str(i * j), r) for i, r in enumerate(ids) for j in range(5)])
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                        [(k, v, r) for i, r in enumerate(ids) for k, v in
                         (("mlflow.runName", f"run-{i}"), ("team", "a"), ("seed", str(i)))])
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES ('loss', ?, ?, ?, 0, ?)",
            ((1.0 / (s + 1), T0 + s, s, r) for r in ids for s in range(points)))
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES ('loss', ?, ?, ?, 0, ?)",
            [(1.0 / points, T0 + points - 1, points - 1, r) for r in ids])
    con.close()
    return url, ids


def make_folder(root: Path, runs: int, points: int) -> list[str]:
    """An ``mlruns`` folder in MLflow's FileStore format."""
    exp = root / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        f"artifact_location: {exp}\ncreation_time: {T0}\nexperiment_id: '1'\n"
        f"last_update_time: {T0}\nlifecycle_stage: active\nname: bench\n")
    metric = "".join(f"{T0 + s} {1.0 / (s + 1)!r} {s}\n" for s in range(points))
    ids = []
    for i in range(runs):
        r = uuid.uuid4().hex
        ids.append(r)
        d = exp / r
        for sub in ("params", "tags", "metrics", "artifacts"):
            (d / sub).mkdir(parents=True)
        (d / "meta.yaml").write_text(
            f"artifact_uri: {d / 'artifacts'}\nend_time: {T0 + i * 1000 + 500}\n"
            f"entry_point_name: ''\nexperiment_id: '1'\nlifecycle_stage: active\nrun_id: {r}\n"
            f"run_name: run-{i}\nsource_name: ''\nsource_type: 4\nsource_version: ''\n"
            f"start_time: {T0 + i * 1000}\nstatus: 3\ntags: []\nuser_id: bench\n")
        for j in range(5):
            (d / "params" / f"p{j}").write_text(str(i * j))
        for k, v in (("mlflow.runName", f"run-{i}"), ("team", "a"), ("seed", str(i))):
            (d / "tags" / k).write_text(v)
        (d / "metrics" / "loss").write_text(metric)
    return ids


def check_with_mlflow(uri: str, ids: list[str], points: int) -> None:
    code = ("import sys, json; from mlflow import MlflowClient; c = MlflowClient(tracking_uri="
            "sys.argv[1]); ids = json.loads(sys.argv[2]); "
            "assert all(len(c.get_metric_history(r, 'loss')) == int(sys.argv[3]) and "
            "len(c.get_run(r).data.params) == 5 for r in ids)")
    subprocess.run([sys.executable, "-c", code, uri, json.dumps(ids[:3]), str(points)],
                   check=True, env=ENV, capture_output=True)


CPU: list[float] = []  # user+sys seconds of each measured child process, in order


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours(source: str, work: Path, tag: str, again: bool = False) -> float:
    db, art = work / f"ours-{tag}.db", work / f"ours-{tag}-art"
    if not again:
        for p in (db, art):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", f"sqlite:///{db}",
           "--artifact-root", str(art), "import", "mlflow", source, "-q"]
    cpu, t = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, cwd=work)
    took = time.perf_counter() - t
    CPU.append(_child_cpu() - cpu)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return took


CLIENT_LOOP = """
import sys, json, time
from mlflow import MlflowClient
src, dst, ids = MlflowClient(tracking_uri=sys.argv[1]), MlflowClient(tracking_uri=sys.argv[2]), json.loads(sys.argv[3])
exp = dst.create_experiment("copy")
t = time.perf_counter()
for rid in ids:
    run = src.get_run(rid)
    hist = [m for k in run.data.metrics for m in src.get_metric_history(rid, k)]
    from mlflow.entities import Param, RunTag
    new = dst.create_run(exp, start_time=run.info.start_time, run_name=run.info.run_name,
                         tags=run.data.tags)
    dst.log_batch(new.info.run_id, metrics=hist,
                  params=[Param(k, v) for k, v in run.data.params.items()])
    dst.set_terminated(new.info.run_id, run.info.status, end_time=run.info.end_time)
print(time.perf_counter() - t)
"""


def client_loop(source: str, ids: list[str], work: Path) -> float:
    dst = work / "mlflow-copy.db"
    dst.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", CLIENT_LOOP, source, f"sqlite:///{dst}",
                           json.dumps(ids)], env=ENV, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return float(proc.stdout.strip().splitlines()[-1])


def export_import(python: str, source_db: Path, n: int, points: int, work: Path) -> float:
    """mlflow-export-import on an ``n``-run experiment: export, then import (wall time)."""
    sub = work / "mei"
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir()
    src_db = sub / "src.db"
    url, _ = make_db(src_db, n, points)
    bindir = Path(python).parent
    env = {**ENV, "MLFLOW_TRACKING_URI": url}
    t = time.perf_counter()
    subprocess.run([str(bindir / "export-experiment"), "--experiment", "bench",
                    "--output-dir", str(sub / "out")], env=env, check=True, capture_output=True)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{sub / 'dst.db'}"
    subprocess.run([str(bindir / "import-experiment"), "--experiment-name", "copy",
                    "--input-dir", str(sub / "out")], env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--anchor-runs", type=int, default=200)
    ap.add_argument("--export-import", metavar="PYTHON")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlflow-import-bench-"))
    try:
        t = time.perf_counter()
        db_url, ids = make_db(work / "mlflow.db", args.runs, args.points)
        make_folder(work / "mlruns", args.runs, args.points)
        built = time.perf_counter() - t
        check_with_mlflow(db_url, ids, args.points)
        check_with_mlflow(str(work / "mlruns"), [p.name for p in (work / "mlruns" / "1")
                                                 .iterdir() if p.is_dir()], args.points)
        out = {"runs": args.runs, "points": args.points, "samples": args.samples,
               "load": os.getloadavg(), "source_built_s": round(built, 1)}
        for tag, src in (("db", db_url), ("folder", str(work / "mlruns"))):
            times = [ours(src, work, tag) for _ in range(args.samples)]
            cpu = CPU[-args.samples:]
            out[f"ours_{tag}_median_s"] = round(statistics.median(times), 2)
            out[f"ours_{tag}_max_s"] = round(max(times), 2)
            out[f"ours_{tag}_cpu_median_s"] = round(statistics.median(cpu), 2)
            again = [ours(src, work, tag, again=True) for _ in range(args.samples)]
            out[f"ours_{tag}_rerun_median_s"] = round(statistics.median(again), 2)
        n = min(args.anchor_runs, args.runs)
        loop = client_loop(db_url, ids[:n], work)  # timed inside the child (after imports)
        out["mlflow_client_loop_runs"] = n
        out["mlflow_client_loop_s"] = round(loop, 2)
        out["mlflow_client_loop_extrapolated_s"] = round(loop / n * args.runs, 1)
        if args.export_import:
            mei = export_import(args.export_import, work / "mlflow.db", n, args.points, work)
            out["export_import_runs"] = n
            out["export_import_s"] = round(mei, 2)
            out["export_import_extrapolated_s"] = round(mei / n * args.runs, 1)
        out["speedup_vs_client_loop"] = round(
            out["mlflow_client_loop_extrapolated_s"] / out["ours_db_median_s"], 1)
        out["load_after"] = os.getloadavg()
        if args.json:
            print(json.dumps(out))
        else:
            for k, v in out.items():
                print(f"{k:40} {v}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
