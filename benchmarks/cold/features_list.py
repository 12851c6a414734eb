"""Cold path: ``jupyter mlops features list``, the whole process, beside Feast's CLI.

A project with three feature views (one of them with two versions) is set up once; each
sample is then a fresh ``jupyter-mlops features list`` process. With ``--feast``, the same
three views defined in a Feast repository (``feast apply`` once, local provider: file
offline store, SQLite online store and registry) and ``feast feature-views list`` timed the
same way, alternating with ours; Feast runs from ``benchmarks/.envs/feast``
(``python3 -m venv benchmarks/.envs/feast && benchmarks/.envs/feast/bin/pip install
feast==0.67.0``). Wall time and the child's CPU time (from ``wait4``): median and max.

    .venv/bin/python benchmarks/cold/features_list.py --samples 5 [--feast]
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

FEAST_BIN = Path(__file__).resolve().parents[1] / ".envs" / "feast" / "bin"

#: The rows every view is registered from (ours reads the Parquet file; so does Feast).
DATA = r"""
import sys
import numpy as np, pandas as pd
rng = np.random.default_rng(7)
n = 10_000
frame = pd.DataFrame({
    "driver": rng.integers(0, 500, n),
    "ts": pd.Timestamp("2024-01-01", tz="UTC")
          + pd.to_timedelta(rng.integers(0, 86_400 * 30, n), unit="s"),
    "trips": rng.integers(0, 50, n), "rating": rng.random(n) * 5})
frame = frame.drop_duplicates(["driver", "ts"])
frame.to_parquet(sys.argv[1], index=False)
"""

OURS = r"""
import sys
import pandas as pd
import jupyter_mlops as mlops
frame = pd.read_parquet(sys.argv[1])
f = mlops.Client().features
for name in ("driver_stats", "driver_rating", "driver_trips"):
    f.register_view(name, frame, entity="driver", timestamp="ts", features=["trips", "rating"])
f.register_view("driver_stats", frame.head(5000), entity="driver", timestamp="ts",
                features=["trips", "rating"])  # a second version
"""

FEAST_REPO = """\
project: bench
registry: registry.db
provider: local
online_store:
  type: sqlite
  path: online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

FEAST_DEFS = """\
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64
driver = Entity(name="driver", join_keys=["driver"], value_type=ValueType.INT64)
source = FileSource(path=PATH, timestamp_field="ts")
views = [FeatureView(name=name, entities=[driver], ttl=timedelta(days=3650), source=source,
                     schema=[Field(name="trips", dtype=Int64), Field(name="rating", dtype=Float64)])
         for name in ("driver_stats", "driver_rating", "driver_trips")]
driver_stats, driver_rating, driver_trips = views
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--feast", action="store_true", help="also time `feast feature-views list`")
    args = ap.parse_args()
    if args.feast and not (FEAST_BIN / "feast").exists():
        sys.exit(f"--feast: no Feast at {FEAST_BIN} (see this script's docstring)")
    env = clean_env()
    cmd = cli_command()
    with tempfile.TemporaryDirectory(prefix="mlops-cold-features-") as tmp:
        project, data = Path(tmp) / "project", Path(tmp) / "drivers.parquet"
        (project / ".mlops").mkdir(parents=True)
        subprocess.run([sys.executable, "-c", DATA, str(data)], env=env, check=True)
        subprocess.run([sys.executable, "-c", OURS, str(data)], cwd=project, env=env, check=True)
        repo = Path(tmp) / "feast_repo"
        if args.feast:
            repo.mkdir()
            (repo / "feature_store.yaml").write_text(FEAST_REPO)
            (repo / "definitions.py").write_text(f"PATH = {str(data)!r}\n" + FEAST_DEFS)
            subprocess.run([str(FEAST_BIN / "feast"), "apply"], cwd=repo, env=env, check=True,
                           capture_output=True)
        ours, feast = [], []
        for _ in range(args.samples):  # alternating, so both see the same machine
            ours.append(timed([*cmd, "features", "list"], str(project), env,
                              expect=b"driver_stats"))
            if args.feast:
                feast.append(timed([str(FEAST_BIN / "feast"), "feature-views", "list"],
                                   str(repo), env, expect=b"driver_stats"))
    for label, got in (("ours", ours), ("feast", feast)):
        for name, i in (("wall", 0), ("cpu", 1)):
            ms = [r[i] * 1000 for r in got]
            if ms:
                print(f"{label:>5} {name:>4}: median {statistics.median(ms):.0f} ms, "
                      f"max {max(ms):.0f} ms ({len(ms)} fresh processes: "
                      f"{' '.join(f'{v:.0f}' for v in ms)})")
    if feast:
        for name, i in (("wall", 0), ("cpu", 1)):
            ratio = statistics.median(r[i] for r in feast) / statistics.median(r[i] for r in ours)
            print(f"ratio {name}: Feast/ours = {ratio:.1f}x")


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
