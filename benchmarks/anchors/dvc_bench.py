"""DVC side of the dataset-hashing benchmark; runs in DVC's own venv (benchmarks/.envs/dvc).

``python dvc_bench.py add path=BIG_FILE work=DIR [repeats=2] [statuses=3]`` prints JSON on the
last line of stdout. Each repeat is a fresh ``dvc init --no-scm`` repository holding a hard
link to the same file (no copy), timed as a user sees it: the ``dvc`` command's wall time,
start-up included. DVC's defaults are kept (MD5, cache type ``reflink,copy``); analytics off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from _common import emit, parse_args, summary  # noqa: E402

DVC = os.path.join(os.path.dirname(sys.executable), "dvc")
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1"}


def dvc(cwd: str, *args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([DVC, *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"dvc {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def bench_add(opts: dict) -> dict:
    src, work = opts["path"], opts["work"]
    repeats, statuses = int(opts.get("repeats", 2)), int(opts.get("statuses", 3))
    size = os.path.getsize(src)
    version = subprocess.run([DVC, "--version"], env=ENV, capture_output=True,
                             text=True).stdout.strip()
    adds, status, startup = [], [], []
    for r in range(repeats):
        repo = os.path.join(work, f"dvc-repo-{r}")
        shutil.rmtree(repo, ignore_errors=True)
        os.makedirs(repo)
        dvc(repo, "init", "--no-scm", "-q")
        target = os.path.join(repo, "data.bin")
        try:
            os.link(src, target)
        except OSError:
            shutil.copyfile(src, target)
        adds.append(dvc(repo, "add", "-q", "data.bin"))
        if r == repeats - 1:
            for _ in range(statuses):
                status.append(dvc(repo, "status", "-q"))
                startup.append(dvc(repo, "--version"))
        shutil.rmtree(repo, ignore_errors=True)  # drops the 1 GiB cache copy
    return {"bytes": size, "version": version, "add": summary(adds),
            "status": summary(status), "startup": summary(startup)}


if __name__ == "__main__":
    name, opts = parse_args(sys.argv[1:])
    emit({"add": bench_add}[name](opts))
