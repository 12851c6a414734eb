"""Cold path: ``jupyter mlops runs list``, the whole process, in a project with 200 runs.

Each sample is a fresh ``jupyter-mlops runs list`` process (the console script ``jupyter
mlops`` runs); wall time and the child's CPU time (user+sys, from ``wait4``) are reported as
median and max. The store is seeded once, before the samples.

    .venv/bin/python benchmarks/cold/cli_runs_list.py --samples 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    args = ap.parse_args()
    cmd = cli_command()
    env = clean_env()
    # A user's install has bytecode (pip compiles it); with PYTHONDONTWRITEBYTECODE set,
    # as in some sandboxes, every sample would compile the package from source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="mlops-cold-cli-") as project:
        os.mkdir(os.path.join(project, ".mlops"))
        subprocess.run([sys.executable, "-c", SEED], cwd=project, env=env, check=True)
        rows = [timed([*cmd, "runs", "list"], project, env) for _ in range(args.samples)]
    for name, vals in (("wall", [r[0] for r in rows]), ("cpu", [r[1] for r in rows])):
        ms = [v * 1000 for v in vals]
        print(f"{name:>5}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
              f"({len(ms)} fresh processes: {' '.join(f'{v:.0f}' for v in ms)})")


if __name__ == "__main__":
    main()
