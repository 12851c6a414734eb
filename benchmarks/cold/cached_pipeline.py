"""Cold path: a fully cached 3-step pipeline, the whole ``jupyter mlops pipeline run`` process.

Copies examples/pipeline/ into a temporary project, keeps three of its steps (prepare ->
train_logreg, train_rf), runs it once uncached (timed), then times ``--samples`` fresh
processes that find every step in the cache. Reports median and max wall time and the
child's CPU time (user+sys, from ``wait4``), and the cached/uncached ratio.

With ``--sqlalchemy``, each sample also times the same cached run with the stdlib recording
path switched off (``store.pipelines_lite.ENABLED = False``: pipelines, artifacts, lineage and
webhooks through SQLAlchemy, as before issue 14's lite path), alternating with ours in the
same loop so both see the same load.

With ``--papermill``, the same three notebooks with the same parameters run by bare papermill
(``papermill.execute_notebook`` in order, a fresh process per sample, in its own copy): the
no-cache alternative, which runs every notebook every time.

    .venv/bin/python benchmarks/cold/cached_pipeline.py --samples 5 [--sqlalchemy] [--papermill]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _child import clean_env, cli_command, timed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline"
SPEC = """name: cold-three
experiment: cold-three
parameters: {seed: 0, test_size: 0.25, C: 1.0, n_estimators: 20}
steps:
  prepare:
    notebook: prepare.ipynb
    parameters: {seed: "${seed}", test_size: "${test_size}"}
    outputs:
      train: {path: data/train.csv, dataset: breast-cancer-train}
      test: {path: data/test.csv, dataset: breast-cancer-test}
  train_logreg:
    notebook: train.ipynb
    depends_on: [prepare]
    parameters: {model: logreg, C: "${C}", out: models/logreg.model}
    inputs: [data/train.csv]
    outputs: {model: models/logreg.model}
  train_rf:
    notebook: train.ipynb
    depends_on: [prepare]
    parameters: {model: rf, n_estimators: "${n_estimators}", seed: "${seed}", out: models/rf.model}
    inputs: [data/train.csv]
    outputs: {model: models/rf.model}
"""

#: bare papermill: the pipeline's three steps, in order, with the parameters it resolves
PAPERMILL = """
import papermill as pm
for nb, out, params in [
        ("prepare.ipynb", "out/prepare.ipynb", {"seed": 0, "test_size": 0.25}),
        ("train.ipynb", "out/train_logreg.ipynb",
         {"model": "logreg", "C": 1.0, "out": "models/logreg.model"}),
        ("train.ipynb", "out/train_rf.ipynb",
         {"model": "rf", "n_estimators": 20, "seed": 0, "out": "models/rf.model"})]:
    pm.execute_notebook(nb, out, parameters=params, progress_bar=False)
"""


#: The same CLI process with the stdlib recording path off (the SQLAlchemy reference).
SQLALCHEMY = """
import sys
import jupyter_mlops.store.pipelines_lite as lite_pipelines
lite_pipelines.ENABLED = False
from jupyter_mlops.cli import main
sys.exit(main(sys.argv[1:]))
"""


def summary(label: str, rows: list[tuple[float, float]], base: tuple[float, float] | None,
            base_name: str) -> None:
    for name, i in (("wall", 0), ("cpu", 1)):
        ms = [r[i] * 1000 for r in rows]
        ratio = (f"; median/{base_name} = {statistics.median(ms) / (base[i] * 1000):.3f}"
                 if base else "")
        print(f"{label} {name:>4}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
              f"({len(ms)} fresh processes: {' '.join(f'{v:.0f}' for v in ms)}){ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--sqlalchemy", action="store_true",
                    help="also time the cached run recorded through SQLAlchemy (alternating)")
    ap.add_argument("--papermill", action="store_true",
                    help="also time bare papermill running the three notebooks")
    args = ap.parse_args()
    run = ["pipeline", "run", "pipeline.yaml"]
    cmd = cli_command() + run
    sa_cmd = [sys.executable, "-c", SQLALCHEMY, *run]
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="mlops-cold-pipe-") as project:
        for nb in ("prepare.ipynb", "train.ipynb"):
            shutil.copy(EXAMPLE / nb, project)
        Path(project, "pipeline.yaml").write_text(SPEC)
        os.mkdir(os.path.join(project, ".mlops"))
        first = timed(cmd, project, env)
        rows, sa_rows = [], []
        # Every sample must find all three steps cached (a pip install into the environment
        # between samples changes every cache key: such a sample is refused, not timed).
        all_cached = b"(3 cached)"
        for _ in range(args.samples):
            rows.append(timed(cmd, project, env, expect=all_cached))
            if args.sqlalchemy:
                sa_rows.append(timed(sa_cmd, project, env, expect=all_cached))
        pm_rows = []
        if args.papermill:
            pm_dir = os.path.join(project, "papermill")
            os.makedirs(os.path.join(pm_dir, ".mlops"))
            os.makedirs(os.path.join(pm_dir, "out"))
            for nb in ("prepare.ipynb", "train.ipynb"):
                shutil.copy(EXAMPLE / nb, pm_dir)
            pm_rows = [timed([sys.executable, "-c", PAPERMILL], pm_dir, env)
                       for _ in range(args.samples)]
    print(f"uncached: wall {first[0] * 1000:.0f} ms, cpu {first[1] * 1000:.0f} ms")
    summary("cached", rows, first, "uncached")
    if sa_rows:
        summary("cached via SQLAlchemy", sa_rows, first, "uncached")
        sa = [statistics.median(r[i] for r in sa_rows) for i in (0, 1)]
        ours = [statistics.median(r[i] for r in rows) for i in (0, 1)]
        print(f"ratio: sqlalchemy/ours-cached wall {sa[0] / ours[0]:.1f}x, "
              f"cpu {sa[1] / ours[1]:.1f}x")
    if pm_rows:
        summary("papermill", pm_rows, None, "")
        pm = [statistics.median(r[i] for r in pm_rows) for i in (0, 1)]
        ours = [statistics.median(r[i] for r in rows) for i in (0, 1)]
        print(f"ratio: papermill/ours-cached wall {pm[0] / ours[0]:.1f}x, "
              f"cpu {pm[1] / ours[1]:.1f}x")


if __name__ == "__main__":
    main()
