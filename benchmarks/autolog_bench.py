"""Autolog overhead on ``fit`` of a small model: ours vs no autolog vs ``mlflow.sklearn.autolog()``.

    .venv/bin/python benchmarks/autolog_bench.py [--samples 7] [--no-mlflow]
        [--mlflow-python PATH]

LogisticRegression on scikit-learn's breast-cancer data (569 x 30, standardised). Every sample
is a fresh process per tool, so the first ``fit`` after ``autolog()`` — what a notebook user
waits for — is measured cold, then a second ``fit`` warm, then a third ``fit`` followed by
``flush`` (ours writes the model files and ends its run on a background thread after ``fit``
returned; ``flushed`` counts that work too, MLflow has nothing queued). Imports, data loading and the
``autolog()`` call itself are outside the timed window (reported separately). Neither tool has
an active run, so each starts a run for the fit and ends it afterwards (both tools' default).
The baseline ``none`` runs in each tool's own environment; overhead = tool - baseline of the
same sample, so the pairs are taken in the same minute. Times are wall and CPU (user+sys of the
whole process, all threads, over the timed window): on a busy machine trust CPU.

MLflow runs from its own venv (``benchmarks/.envs/mlflow``: ``python3 -m venv
benchmarks/.envs/mlflow && benchmarks/.envs/mlflow/bin/pip install mlflow-skinny
scikit-learn``) with a SQLite tracking store, like ours. This file imports only the standard
library at module level, so that venv can run it as the child.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Both tools' children run BLAS/OpenMP on one thread: on a loaded 2-core machine the idle
#: spinning of BLAS worker threads made the fit's own CPU time vary by ±60 ms between
#: samples, more than the overhead measured.
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
OURS_PYTHON = Path(sys.executable)
MLFLOW_PYTHON = HERE / ".envs" / "mlflow" / "bin" / "python"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn) -> dict:
    cpu, wall = _cpu(), time.perf_counter()
    fn()
    return {"wall": time.perf_counter() - wall, "cpu": _cpu() - cpu}


def child(tool: str, folder: str) -> dict:
    """One sample in this (fresh) process: set up, then time two fits."""
    import warnings

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    if tool == "ours":
        os.environ["MLOPS_TRACKING_URI"] = f"sqlite:///{folder}/mlops.db"
        os.environ["MLOPS_ARTIFACT_ROOT"] = f"{folder}/artifacts"
        import jupyter_mlops as mlops

        mlops.autolog()
    elif tool == "mlflow":
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
        import logging

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        mlflow.sklearn.autolog(silent=True)
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import scale

    X, y = load_breast_cancer(return_X_y=True)
    X = scale(X)
    setup = time.perf_counter() - t0
    first = _timed(lambda: LogisticRegression().fit(X, y))
    if tool == "ours":
        mlops.flush()  # each window holds one fit's work (as a cell's end does, untimed)
    second = _timed(lambda: LogisticRegression().fit(X, y))
    if tool == "ours":
        mlops.flush()  # the second fit's files: outside every timed window
    flush = mlops.flush if tool == "ours" else (lambda: None)
    flushed = _timed(lambda: (LogisticRegression().fit(X, y), flush()))
    if tool == "ours":
        mlops.flush()
        runs = mlops.search_runs()
        assert len(runs) == 3 and "training_accuracy_score" in runs[0].metrics, runs
        assert {r.status for r in runs} == {"FINISHED"}, runs
    elif tool == "mlflow":
        runs = mlflow.search_runs(search_all_experiments=True)
        assert len(runs) == 3 and "metrics.training_accuracy_score" in runs.columns
    return {"setup_wall": setup, "first": first, "second": second, "flushed": flushed}


def sample(tool: str, python: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="autolog-bench-") as folder:
        proc = subprocess.run(
            [str(python), __file__, "--child", tool if tool != "none-mlflow" else "none",
             "--folder", folder],
            cwd=folder, capture_output=True, text=True,
            env={**{k: v for k, v in os.environ.items()
                    if not k.startswith(("MLOPS_", "MLFLOW_"))}, **SINGLE_THREADED})
        if proc.returncode:
            sys.exit(f"{tool} failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--mlflow-python", type=Path, default=MLFLOW_PYTHON,
                    help="a Python with mlflow and scikit-learn (default: the bench venv)")
    ap.add_argument("--child")
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
        return
    tools = {"none": OURS_PYTHON, "ours": OURS_PYTHON}
    if not args.no_mlflow:
        if not args.mlflow_python.exists():
            sys.exit(f"No MLflow venv at {args.mlflow_python}: see this file's docstring, or "
                     "pass --no-mlflow or --mlflow-python.")
        tools.update({"none-mlflow": args.mlflow_python, "mlflow": args.mlflow_python})
    results: dict[str, list[dict]] = {t: [] for t in tools}
    for i in range(args.samples):
        order = list(tools) if i % 2 == 0 else list(reversed(tools))  # no tool always first
        for tool in order:
            results[tool].append(sample(tool, tools[tool]))
        # One line per finished sample on stderr: a long run on a busy machine shows progress
        # (and what it measured so far) before the summary.
        print(json.dumps({"sample": i, **{t: {k: results[t][-1][k]["cpu"] for k in
                                              ("first", "second", "flushed")} for t in tools}}),
              file=sys.stderr, flush=True)
    report = {"samples": args.samples, "load_average_1min": os.getloadavg()[0], "tools": {}}
    for tool, base in (("ours", "none"), ("mlflow", "none-mlflow")):
        if tool not in results:
            continue
        row = {}
        for fit in ("first", "second", "flushed"):
            for clock in ("cpu", "wall"):
                over = [s[fit][clock] - b[fit][clock] for s, b in zip(results[tool], results[base])]
                row[f"{fit}_fit_overhead_{clock}_ms"] = {
                    "median": round(statistics.median(over) * 1000, 1),
                    "max": round(max(over) * 1000, 1)}
        row["setup_wall_s_median"] = round(statistics.median(
            s["setup_wall"] for s in results[tool]), 2)
        row["baseline_first_fit_cpu_ms_median"] = round(statistics.median(
            b["first"]["cpu"] for b in results[base]) * 1000, 1)
        report["tools"][tool] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
