"""Cold path: the first ``register_model`` + ``load_model`` of a fresh process, ours and MLflow's.

Each sample is a new Python process that imports scikit-learn and fits a small
LogisticRegression (not timed: the user's notebook has done that already), then times, inside
the process, the import of the tool plus registering the model and loading it back:

- ours: ``import jupyter_mlops``; ``register_model(model, "clf", run=None)``;
  ``load_model("models:/clf/N")`` (skops file, trusted types checked, hash-verified);
- MLflow: ``import mlflow``; ``mlflow.sklearn.log_model`` in a run, ``mlflow.register_model``
  of its URI, ``mlflow.sklearn.load_model("models:/clf/N")`` (MLflow needs the logged model
  to register it; its default format is cloudpickle).

Both on a SQLite file store in their own temporary folder, created by one untimed sample
first (schema creation is not the cold path measured here). Reports median and max of wall
time and of the process's CPU time (user+sys) over the timed part, and the ratio.

    .venv/bin/python benchmarks/cold/first_model.py --samples 5 [--mlflow-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _child import clean_env

BENCH = Path(__file__).resolve().parents[1]

PRELUDE = r"""
import json, resource, time
import numpy as np
from sklearn.linear_model import LogisticRegression
X = np.random.RandomState(0).rand(200, 4)
y = (X[:, 0] + X[:, 1] > 1).astype(int)
model = LogisticRegression().fit(X, y)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, t0 = cpu(), time.perf_counter()
"""

OURS = PRELUDE + r"""
import jupyter_mlops as mlops
v = mlops.register_model(model, "clf", run=None)
loaded = mlops.load_model(f"models:/clf/{v.version}")
wall, used = time.perf_counter() - t0, cpu() - c0
assert (loaded.predict(X) == model.predict(X)).all()
print(json.dumps({"wall": wall, "cpu": used}))
"""

MLFLOW = PRELUDE + r"""
import mlflow, mlflow.sklearn
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, name="model")
v = mlflow.register_model(info.model_uri, "clf")
loaded = mlflow.sklearn.load_model(f"models:/clf/{v.version}")
wall, used = time.perf_counter() - t0, cpu() - c0
assert (loaded.predict(X) == model.predict(X)).all()
print(json.dumps({"wall": wall, "cpu": used}))
"""


def samples(python: str, code: str, cwd: str, env: dict, n: int) -> list[dict]:
    out = []
    for i in range(n + 1):  # the first creates the store: not counted
        proc = subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
        if proc.returncode:
            sys.exit(f"FAILED ({python}):\n{proc.stderr[-2000:]}")
        if i:
            out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def summary(label: str, rows: list[dict]) -> dict:
    res = {}
    for kind in ("wall", "cpu"):
        ms = [r[kind] * 1000 for r in rows]
        res[kind] = statistics.median(ms)
        print(f"{label} {kind:>4}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
              f"({len(ms)} fresh processes: {' '.join(f'{v:.0f}' for v in ms)})")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--mlflow-python", default=None,
                    help="interpreter with mlflow (default: benchmarks/.envs/mlflow, else this one)")
    ap.add_argument("--no-mlflow", action="store_true")
    args = ap.parse_args()
    env = clean_env()
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="mlops-cold-model-") as root:
        ours_dir = os.path.join(root, "ours")
        os.makedirs(os.path.join(ours_dir, ".mlops"))
        ours = summary("ours", samples(sys.executable, OURS, ours_dir, env, args.samples))
        if args.no_mlflow:
            return
        python = args.mlflow_python or next(
            (str(p) for p in [BENCH / ".envs" / "mlflow" / "bin" / "python"] if p.exists()),
            sys.executable)
        ml_dir = os.path.join(root, "mlflow")
        os.makedirs(ml_dir)
        ml_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{ml_dir}/mlflow.db",
                  "MLFLOW_REGISTRY_URI": f"sqlite:///{ml_dir}/mlflow.db"}
        theirs = summary("mlflow", samples(python, MLFLOW, ml_dir, ml_env, args.samples))
    for kind in ("wall", "cpu"):
        print(f"ratio {kind}: MLflow/ours = {theirs[kind] / ours[kind]:.2f}x")


if __name__ == "__main__":
    main()
