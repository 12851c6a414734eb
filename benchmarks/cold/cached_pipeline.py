"""Cold path: a fully cached 3-step pipeline, the whole ``jupyter mlops pipeline run`` process.

Copies examples/pipeline/ into a temporary project, keeps three of its steps (prepare ->
train_logreg, train_rf), runs it once uncached (timed), then times ``--samples`` fresh
processes that find every step in the cache. Reports median and max wall time and the
child's CPU time (user+sys, from ``wait4``), and the cached/uncached ratio.

    .venv/bin/python benchmarks/cold/cached_pipeline.py --samples 5
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
    parameters: {model: logreg, C: "${C}", out: models/logreg.skops}
    inputs: [data/train.csv]
    outputs: {model: models/logreg.skops}
  train_rf:
    notebook: train.ipynb
    depends_on: [prepare]
    parameters: {model: rf, n_estimators: "${n_estimators}", seed: "${seed}", out: models/rf.skops}
    inputs: [data/train.csv]
    outputs: {model: models/rf.skops}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    args = ap.parse_args()
    cmd = cli_command()
    cmd += ["pipeline", "run", "pipeline.yaml"]
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="mlops-cold-pipe-") as project:
        for nb in ("prepare.ipynb", "train.ipynb"):
            shutil.copy(EXAMPLE / nb, project)
        Path(project, "pipeline.yaml").write_text(SPEC)
        os.mkdir(os.path.join(project, ".mlops"))
        first = timed(cmd, project, env)
        rows = [timed(cmd, project, env) for _ in range(args.samples)]
    print(f"uncached: wall {first[0] * 1000:.0f} ms, cpu {first[1] * 1000:.0f} ms")
    for name, i in (("wall", 0), ("cpu", 1)):
        ms = [r[i] * 1000 for r in rows]
        print(f"cached {name:>4}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
              f"({len(ms)} fresh processes: {' '.join(f'{v:.0f}' for v in ms)}); "
              f"median/uncached = {statistics.median(ms) / (first[i] * 1000):.3f}")


if __name__ == "__main__":
    main()
