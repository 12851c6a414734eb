"""Model registry: register + load back a fitted model, ours vs MLflow, in one run.

    .venv/bin/python benchmarks/registry_bench.py [--quick] [--no-mlflow]

prints a JSON dict on its last line: per model (``lr`` = LogisticRegression, ``rf`` = 100-tree
RandomForestClassifier, both fitted on scikit-learn's bundled breast-cancer data) the median
seconds of

* ours: ``register_model(model, name, run=run)`` (skops file, blob, version row, lineage) and
  ``load_model("models:/name/N")`` (hash-verified, skops-audited), and their sum;
* MLflow (its own venv, ``benchmarks/.envs/mlflow``, run as a subprocess of this script):
  ``mlflow.sklearn.log_model`` with its default requirement inference and with
  ``pip_requirements`` given, ``mlflow.register_model`` and ``mlflow.sklearn.load_model``.
  MLflow 3.17 also saves scikit-learn models with skops by default, so both sides write and
  audit the same kind of file (the forest needs ``skops_trusted_types`` there);

plus the ratios the issue's targets are stated in. Each side checks that the loaded model
predicts what the original did. Stores live in a temporary folder, removed afterwards.
This file imports only the standard library at module level, so MLflow's venv can run it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLFLOW_PYTHON = HERE / ".envs" / "mlflow" / "bin" / "python"


def _summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples)}


def _models():
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    return X, {
        "lr": LogisticRegression(max_iter=10_000).fit(X, y),
        "rf": RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y),
    }


# ---------------------------------------------------------------------------- ours
def bench_ours(repeats: dict[str, int]) -> dict:
    sys.path.insert(0, str(HERE.parent))
    import numpy as np

    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    X, models = _models()
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mlops-regbench-") as tmp:
        client = Client(f"sqlite:///{tmp}/mlops.db", f"{tmp}/artifacts")
        reg = client.registry
        run = client.create_run(name="bench")
        for key, model in models.items():
            reg.register_model(model, f"warmup-{key}", run=run)  # imports, first-use caches
            reg.load_model(f"models:/warmup-{key}/1")
            register, load, total = [], [], []
            for _ in range(repeats[key]):
                t0 = time.perf_counter()
                version = reg.register_model(model, key, run=run)
                t1 = time.perf_counter()
                loaded = reg.load_model(f"models:/{key}/{version.version}")
                t2 = time.perf_counter()
                register.append(t1 - t0)
                load.append(t2 - t1)
                total.append(t2 - t0)
                assert np.array_equal(loaded.predict(X), model.predict(X))
            out[key] = {"register": _summary(register), "load": _summary(load),
                        "total": _summary(total), "file_bytes": version.size}
        client.end_run(run.id)
        client.writer.close()
        forget_open_stores()
    return out


# ---------------------------------------------------------------------------- MLflow
def bench_mlflow(repeats: dict[str, int], default_repeats: int) -> dict:
    """Runs inside MLflow's venv."""
    import logging
    import warnings

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    import mlflow
    import numpy as np
    import sklearn

    X, models = _models()
    reqs = [f"scikit-learn=={sklearn.__version__}"]
    out: dict = {"mlflow": mlflow.__version__}
    with tempfile.TemporaryDirectory(prefix="mlflow-regbench-") as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("registry-bench")
        with mlflow.start_run():
            for key, model in models.items():
                for mode, n in (("default", default_repeats), ("requirements_given",
                                                                repeats[key])):
                    kwargs = {"pip_requirements": reqs} if mode != "default" else {}
                    if key == "rf":  # MLflow 3 saves with skops too; forests need this
                        kwargs["skops_trusted_types"] = ["sklearn.tree._tree.Tree"]
                    # warm-up (imports, first-use caches), like ours
                    info = mlflow.sklearn.log_model(model, name=f"warm-{key}-{mode}", **kwargs)
                    mv = mlflow.register_model(info.model_uri, f"warm-{key}-{mode}")
                    mlflow.sklearn.load_model(f"models:/{mv.name}/{mv.version}")
                    log, register, load, total = [], [], [], []
                    for i in range(n):
                        t0 = time.perf_counter()
                        info = mlflow.sklearn.log_model(model, name=f"{key}-{mode}-{i}",
                                                        **kwargs)
                        t1 = time.perf_counter()
                        mv = mlflow.register_model(info.model_uri, f"{key}-{mode}")
                        t2 = time.perf_counter()
                        loaded = mlflow.sklearn.load_model(f"models:/{mv.name}/{mv.version}")
                        t3 = time.perf_counter()
                        log.append(t1 - t0)
                        register.append(t2 - t1)
                        load.append(t3 - t2)
                        total.append(t3 - t0)
                        assert np.array_equal(loaded.predict(X), model.predict(X))
                    out.setdefault(key, {})[mode] = {
                        "log_model": _summary(log), "register_model": _summary(register),
                        "load_model": _summary(load), "total": _summary(total)}
    return out


def _run_mlflow_side(quick: bool) -> dict:
    if not MLFLOW_PYTHON.exists():
        return {"skipped": f"no MLflow venv at {MLFLOW_PYTHON} (benchmarks/run.py creates it)"}
    cmd = [str(MLFLOW_PYTHON), __file__, "--side", "mlflow"] + (["--quick"] if quick else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env,
                          cwd=tempfile.gettempdir())
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": proc.stderr.strip().splitlines()[-5:]}
    return json.loads(lines[-1])


def _ratios(ours: dict, theirs: dict) -> dict:
    out = {}
    for key in ("lr", "rf"):
        if key not in ours or key not in theirs:
            continue
        mine = ours[key]["total"]["median"]
        out[key] = {
            "ours_total_s": mine,
            "ours_under_50ms": mine < 0.050,
            "mlflow_default_total_s": theirs[key]["default"]["total"]["median"],
            "speedup_vs_mlflow_default": theirs[key]["default"]["total"]["median"] / mine,
            "mlflow_requirements_given_total_s":
                theirs[key]["requirements_given"]["total"]["median"],
            "speedup_vs_mlflow_requirements_given":
                theirs[key]["requirements_given"]["total"]["median"] / mine,
        }
    return out


def _rows(ratios: dict) -> list[dict]:
    """Summary rows for benchmarks/RESULTS.md (see benchmarks/README.md, "Adding a suite")."""
    label = {"lr": "LogisticRegression", "rf": "random forest, 100 trees"}
    rows = []
    for key, r in ratios.items():
        ours = f"{r['ours_total_s'] * 1000:.1f} ms"
        rows.append({"bench": "registry", "what": f"register + load, {label[key]}", "ours": ours,
                     "anchor": "–", "ratio": "–", "target": "< 50 ms",
                     "met": r["ours_under_50ms"]})
        rows.append({"bench": "registry", "what": "… vs MLflow log_model+register+load, default",
                     "ours": ours, "anchor": f"{r['mlflow_default_total_s']:.2f} s",
                     "ratio": f"{r['speedup_vs_mlflow_default']:.1f}×", "target": "≥ 10×",
                     "met": r["speedup_vs_mlflow_default"] >= 10})
        rows.append({"bench": "registry", "what": "… vs MLflow with requirements given",
                     "ours": ours, "anchor": f"{r['mlflow_requirements_given_total_s']:.2f} s",
                     "ratio": f"{r['speedup_vs_mlflow_requirements_given']:.1f}×",
                     "target": "> 1×", "met": r["speedup_vs_mlflow_requirements_given"] > 1})
    return rows


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    repeats = {"lr": 5, "rf": 2} if quick else {"lr": 30, "rf": 10}
    if "--side" in argv and argv[argv.index("--side") + 1] == "mlflow":
        result = bench_mlflow(repeats, default_repeats=1 if quick else 3)
    else:
        ours = bench_ours(repeats)
        result = {"benchmark": "registry_register_load", "quick": quick, "ours": ours}
        if "--no-mlflow" not in argv:
            result["mlflow"] = _run_mlflow_side(quick)
            if "lr" in result["mlflow"]:
                result["ratios"] = _ratios(ours, result["mlflow"])
                result["rows"] = _rows(result["ratios"])
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
