"""Cold path: ``jupyter mlops runs list``, the whole process, in a project with 200 runs.

Each sample is a fresh ``jupyter-mlops runs list`` process (the console script ``jupyter
mlops`` runs); wall time and the child's CPU time (user+sys, from ``wait4``) are reported as
median and max. The store is seeded once, before the samples.

With ``--mlflow``, MLflow's equivalent beside it: ``mlflow runs list --experiment-id N`` (its
console script, ``benchmarks/.envs/mlflow`` when present, else this interpreter's) on a
SQLite store seeded with the same 200 runs, params and metrics.

    .venv/bin/python benchmarks/cold/cli_runs_list.py --samples 5 [--mlflow]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _child import clean_env, cli_command, timed

SEED = r"""
import jupyter_mlops as mlops
c = mlops.Client()
for i in range(200):
    r = c.create_run(experiment="cold", name=f"r{i}")
    c.log_params(r.id, {"model": "svc", "C": i})
    c.log_metrics(r.id, {"acc": i / 200, "loss": 1 - i / 200})
    c.end_run(r.id)
c.close()
"""

MLFLOW_SEED = r"""
import mlflow
c = mlflow.MlflowClient()
exp = c.create_experiment("cold")
for i in range(200):
    r = c.create_run(exp, run_name=f"r{i}")
    c.log_batch(r.info.run_id, params=[mlflow.entities.Param("model", "svc"),
                                       mlflow.entities.Param("C", str(i))],
                metrics=[mlflow.entities.Metric("acc", i / 200, 0, 0),
                         mlflow.entities.Metric("loss", 1 - i / 200, 0, 0)])
    c.set_terminated(r.info.run_id)
print(exp)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--mlflow", action="store_true", help="also time `mlflow runs list`")
    args = ap.parse_args()
    cmd = cli_command()
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="mlops-cold-cli-") as project:
        os.mkdir(os.path.join(project, ".mlops"))
        subprocess.run([sys.executable, "-c", SEED], cwd=project, env=env, check=True)
        rows = [timed([*cmd, "runs", "list"], project, env) for _ in range(args.samples)]
        ml_rows = mlflow_rows(project, env, args.samples) if args.mlflow else []
    for label, got in (("", rows), ("mlflow ", ml_rows)):
        for name, vals in (("wall", [r[0] for r in got]), ("cpu", [r[1] for r in got])):
            if not vals:
                continue
            ms = [v * 1000 for v in vals]
            print(f"{label}{name:>5}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
                  f"({len(ms)} fresh processes: {' '.join(f'{v:.0f}' for v in ms)})")
    if ml_rows:
        for name, i in (("wall", 0), ("cpu", 1)):
            ratio = (statistics.median(r[i] for r in ml_rows)
                     / statistics.median(r[i] for r in rows))
            print(f"ratio {name}: MLflow/ours = {ratio:.2f}x")


def mlflow_rows(project: str, env: dict, samples: int) -> list[tuple[float, float]]:
    """``mlflow runs list`` in fresh processes on its own seeded SQLite store."""
    venv = Path(__file__).resolve().parents[1] / ".envs" / "mlflow" / "bin"
    bindir = venv if (venv / "mlflow").exists() else Path(sys.executable).parent
    folder = os.path.join(project, "mlflow")
    os.mkdir(folder)
    ml_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db"}
    seeded = subprocess.run([str(bindir / "python"), "-c", MLFLOW_SEED], cwd=folder,
                            env=ml_env, check=True, capture_output=True, text=True)
    exp = seeded.stdout.strip().splitlines()[-1]
    cmd = [str(bindir / "mlflow"), "runs", "list", "--experiment-id", exp]
    return [timed(cmd, folder, ml_env) for _ in range(samples)]

if __name__ == "__main__":
    main()
