"""Cold path: ``%load_ext jupyter_mlops`` + the first ``%mlops metric acc=0.9``, fresh process.

Each sample starts a new Python process in a new project folder (with ``.mlops/``), starts an
IPython shell, and times ``%load_ext`` plus ``run_cell("%mlops metric acc=0.9")`` — the cell-end
hook flushes, so the value is durable when the cell returns. Another fresh process then opens
the store and checks that the value is there. Prints median and max wall time and the
measured child's CPU time (user+sys), which a loaded machine inflates less.

    .venv/bin/python benchmarks/cold/first_metric.py --samples 5
    .venv/bin/python benchmarks/cold/first_metric.py --samples 5 --warm-store  # store exists
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _child import clean_env

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
t1 = time.perf_counter()
r0 = resource.getrusage(resource.RUSAGE_SELF)
ip.run_line_magic("load_ext", "jupyter_mlops")
res = ip.run_cell("%mlops metric acc=0.9")
t2 = time.perf_counter()
r1 = resource.getrusage(resource.RUSAGE_SELF)
ok = res.error_before_exec is None and res.error_in_exec is None
print(json.dumps({"ok": ok, "ipython_s": t1 - t0, "wall_s": t2 - t1,
                  "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                  "heavy": sorted(m for m in ("sqlalchemy", "alembic", "pandas")
                                  if m in sys.modules)}))
"""

CHECK = r"""
import json, jupyter_mlops as mlops
c = mlops.Client()
runs = c.search_runs(max_results=5)
print(json.dumps([r.metrics.get("acc") for r in runs]))
"""


def sample(warm_store: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="mlops-cold-") as project:
        os.mkdir(os.path.join(project, ".mlops"))
        env = clean_env()
        if warm_store:  # a store that exists and is up to date: the usual second session
            subprocess.run([sys.executable, "-c", "import jupyter_mlops as m; m.Client()"],
                           cwd=project, env=env, check=True)
        out = subprocess.run([sys.executable, "-c", CHILD], cwd=project, env=env,
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        seen = subprocess.run([sys.executable, "-c", CHECK], cwd=project, env=env,
                              capture_output=True, text=True, check=True)
        result["stored"] = json.loads(seen.stdout.strip().splitlines()[-1]) == [0.9]
        return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--warm-store", action="store_true",
                    help="create the store in an earlier process (no first-time migration)")
    args = ap.parse_args()
    rows = [sample(args.warm_store) for _ in range(args.samples)]
    for r in rows:
        print(f"  wall {r['wall_s'] * 1000:7.1f} ms  cpu {r['cpu_s'] * 1000:7.1f} ms  "
              f"ok={r['ok']} stored={r['stored']} heavy={','.join(r['heavy']) or '-'}")
    for key in ("wall_s", "cpu_s"):
        vals = [r[key] * 1000 for r in rows]
        print(f"{key[:-2]:>5}: median {statistics.median(vals):.1f} ms, max {max(vals):.1f} ms"
              f" ({len(vals)} fresh processes)")
    if not all(r["ok"] and r["stored"] for r in rows):
        sys.exit("FAILED: a sample raised or its value was not stored")


if __name__ == "__main__":
    main()
