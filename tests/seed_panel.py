"""Seed data for the REST and browser tests of the Models and Pipelines tabs.

Everything goes through the public APIs: models are real scikit-learn estimators registered
from real runs, roles are granted through the registry, pipelines are real ``pipeline.yaml``
files with real notebooks (run with papermill where a test needs real step runs).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat

MODEL = "churn"
#: Who the browser tests' JupyterLab acts as in the registry. Under jupyter_server's token
#: login the Jupyter user is a random per-browser "Anonymous" id, so the extension acts as
#: the server's own identity (``MlopsExtension.user_identity = "auto"``): the lab's
#: MLOPS_USER, which the UI seed makes an ML engineer.
LAB_USER = "lab-owner"
ADMIN = "admin-ann"
#: Promotion gate of the seeded model: a new champion must beat the old one's accuracy.
GATE_POLICY = {"require_better": {"metric": "acc", "direction": "max"},
               "protected_aliases": ["champion"]}
#: Shown as text in the model card; must never become markup.
EVIL_DESCRIPTION = "<script>window.__card_xss=1</script> churn v2 <b>bold</b>"


@dataclasses.dataclass
class RegistrySeed:
    model: str
    runs: list[str]  # run of version 1, run of version 2


def seed_registry(client, roles: dict[str, str]) -> RegistrySeed:
    """Model ``churn`` v1 (acc 0.81, champion) and v2 (acc 0.93), gate policy, roles.

    ``roles`` maps user -> role; ``admin-ann`` is the admin who grants them.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    reg = client.registry
    reg.grant_role(ADMIN, "admin", by=ADMIN)  # bootstrap: nobody held a role yet
    for user, role in roles.items():
        reg.grant_role(user, role, by=ADMIN)
    X = pd.DataFrame({"tenure": [1.0, 5.0, 12.0, 30.0, 2.0, 48.0],
                      "plan": [0, 1, 1, 2, 0, 2]})
    y = [1, 1, 0, 0, 1, 0]
    runs = []
    for i, (C, acc) in enumerate([(1.0, 0.81), (0.1, 0.93)], start=1):
        run = client.create_run(experiment="churn", name=f"churn-train-{i}")
        client.log_params(run.id, {"C": C, "model": "logreg"})
        client.log_metrics(run.id, {"acc": acc, "auc": acc + 0.03})
        client.log_dataset(run.id, _training_csv(client, X, y), name="churn-train")
        model = LogisticRegression(C=C).fit(X, y)
        client.end_run(run.id)
        reg.register_model(model, MODEL, run=run.id, input_example=X.head(3),
                           description=EVIL_DESCRIPTION if i == 2 else "Churn classifier",
                           user="dana-ds")
        runs.append(run.id)
    reg.set_gate_policy(MODEL, GATE_POLICY, user=ADMIN)
    reg.set_alias(MODEL, "champion", 1, reason="first model", user=ADMIN)
    return RegistrySeed(MODEL, runs)


def _training_csv(client, X, y) -> Path:
    folder = Path(client.store.artifact_root).parent / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "churn-train.csv"
    X.assign(churned=y).to_csv(path, index=False)
    return path


def write_notebook(path: Path, *cells: str, params: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    if params is not None:
        nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def write_pipeline_project(folder: Path) -> Path:
    """``train-churn``: prepare → (train_a, train_b) → evaluate; ``fail=True`` breaks
    evaluate. Returns the ``pipeline.yaml`` path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_notebook(folder / "prepare.ipynb",
                   "from pathlib import Path\n"
                   "Path('data').mkdir(exist_ok=True)\n"
                   "Path('data/clean.csv').write_text(f'x\\n{rows}\\n')",
                   params="rows = 10")
    write_notebook(folder / "train.ipynb",
                   "import jupyter_mlops as mlops\n"
                   "mlops.log_metric('acc', 0.5 + C / 10)",
                   params="C = 1.0")
    write_notebook(folder / "evaluate.ipynb",
                   "if fail:\n    raise RuntimeError('evaluation data missing')",
                   params="fail = False")
    path = folder / "pipeline.yaml"
    path.write_text("""\
name: train-churn
parameters: {rows: 10, fail: false}
steps:
  prepare:
    notebook: prepare.ipynb
    parameters: {rows: "${rows}"}
    outputs: {clean: data/clean.csv}
  train_a:
    notebook: train.ipynb
    depends_on: [prepare]
    inputs: [data/clean.csv]
    parameters: {C: 1.0}
  train_b:
    notebook: train.ipynb
    depends_on: [prepare]
    inputs: [data/clean.csv]
    parameters: {C: 3.0}
  evaluate:
    notebook: evaluate.ipynb
    depends_on: [train_a, train_b]
    parameters: {fail: "${fail}"}
""")
    return path


# ----------------------------------------------------------------------------- monitoring
MONITOR = "churn-monitor"
#: The feature whose distribution the seeded monitor's later windows shift.
DRIFTED_FEATURE = "tenure"


@dataclasses.dataclass
class MonitorSeed:
    name: str
    model_ref: str
    windows: int
    drifted_feature: str
    alerts: int


def seed_monitor(client, windows: int = 4, rows: int = 400) -> MonitorSeed:
    """Monitor ``churn-monitor`` of ``churn@champion``: ``windows`` windows of ``rows`` rows,
    the last two with ``tenure`` shifted (drifted) while ``plan`` stays put; an alert rule
    ``psi > 0.2`` on ``tenure`` (recorded, no pipeline), so the shifted windows raise alerts;
    ground truth for the latest window (live accuracy). Needs no registered model: the
    reference predictions are given."""
    import numpy as np
    import pandas as pd

    from jupyter_mlops.monitoring.monitor import monitor

    rng = np.random.default_rng(7)

    def batch(n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
        X = pd.DataFrame({"tenure": rng.gamma(2.0, 6.0, n) + shift,
                          "plan": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),
                          "charges": rng.normal(70.0, 10.0, n)})
        return X, (X["tenure"] < 12).astype(int).to_numpy()

    ref, ref_pred = batch(2000, 0.0)
    mon = monitor("churn@champion", reference=ref, name=MONITOR, window=rows,
                  categorical=["plan"], reference_predictions=ref_pred, client=client,
                  user="dana-ds")
    mon.add_alert("psi", 0.2, feature=DRIFTED_FEATURE, cooldown=0, user="dana-ds")
    t0 = 1_760_000_000.0
    for w in range(windows):
        shift = 10.0 if w >= windows - 2 else 0.0
        X, pred = batch(rows, shift)
        ids = [f"w{w}-{i}" for i in range(rows)]
        mon.log_predictions(X, pred, ids=ids, timestamp=t0 + 3600.0 * w)
        if w == windows - 1:
            truth = pred.copy()
            truth[: rows // 5] = 1 - truth[: rows // 5]  # 80 % accurate
            mon.log_feedback(ids, truth, timestamp=t0 + 3600.0 * w + 60)
    return MonitorSeed(MONITOR, mon.model_ref, windows, DRIFTED_FEATURE, len(mon.alerts()))


# ----------------------------------------------------------------------------- figures
#: The figure artifact ``seed_figure`` logs (a PNG the run detail shows as a thumbnail).
FIGURE_NAME = "figures/roc.png"


def png_bytes(width: int = 64, height: int = 40) -> bytes:
    """A real PNG (a diagonal stripe on white) written with zlib alone, no imaging library."""
    import struct
    import zlib

    rows = b"".join(
        b"\x00" + b"".join(b"\x20\x60\xc0" if abs(x * height - y * width) < 2 * width else
                           b"\xff\xff\xff" for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def seed_figure(client, run_id: str, folder: Path) -> str:
    """Log :data:`FIGURE_NAME` (image/png) on ``run_id``; returns its name."""
    path = Path(folder) / "roc.png"
    path.write_bytes(png_bytes())
    client.log_artifact(run_id, path, name=FIGURE_NAME, kind="figure")
    return FIGURE_NAME
