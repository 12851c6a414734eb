"""Cost of the 1 Hz system-metrics sampler: process CPU time over a long idle run, with and
without it.

    .venv/bin/python benchmarks/system_metrics_bench.py [--seconds 120] [--pairs 3]

Each pair starts two fresh processes at the same moment, both holding an open run on their
own store (the client's writer thread alive) and idling for ``--seconds``; one also runs the
sampler pointed at that run, logging ``system/*`` every second. Each measures its own CPU time
(user + sys, all threads, ``getrusage``) over the idle window only; cost = the difference /
idle wall seconds, as a percentage of one core. The
target (issue 19) is under 1 %, which makes the sampler on by default for a tracked run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def child(seconds: float, sampler: bool, folder: str) -> None:
    os.environ["MLOPS_TRACKING_URI"] = f"sqlite:///{folder}/mlops.db"
    os.environ["MLOPS_ARTIFACT_ROOT"] = f"{folder}/artifacts"
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking.system_metrics import SystemSampler

    run = mlops.start_run()
    mlops.flush()
    if sampler:
        s = SystemSampler()
        s.target = (run.client, run.id)
        s.start()
    before = _cpu()
    time.sleep(seconds)
    idle_cpu = _cpu() - before
    if sampler:
        s.stop()
        mlops.flush()
        points = run.client.metric_history(run.id, "system/cpu_percent")
        assert len(points) >= seconds * 0.8, len(points)  # it really sampled at ~1 Hz
    mlops.end_run()
    print(json.dumps({"idle_cpu": idle_cpu}))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the whole process, every thread
    return usage.ru_utime + usage.ru_stime


def _start(seconds: float, sampler: bool, folder: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", "on" if sampler else "off",
         "--seconds", str(seconds), "--folder", folder],
        stdout=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")})


def _wait(proc: subprocess.Popen) -> float:
    """The child's CPU seconds over its idle window (startup and imports left out)."""
    out, _ = proc.communicate()
    if proc.returncode:
        sys.exit(f"child failed: {out}")
    return json.loads(out.strip().splitlines()[-1])["idle_cpu"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.child:
        child(args.seconds, args.child == "on", args.folder)
        return
    costs = []
    for _ in range(args.pairs):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            on, off = _start(args.seconds, True, a), _start(args.seconds, False, b)
            cpu_on, cpu_off = _wait(on), _wait(off)
        costs.append({"cpu_on_s": round(cpu_on, 3), "cpu_off_s": round(cpu_off, 3),
                      "cost_percent_of_a_core": round(
                          100 * (cpu_on - cpu_off) / args.seconds, 3)})
    print(json.dumps({"seconds": args.seconds, "pairs": costs,
                      "median_cost_percent": statistics.median(
                          c["cost_percent_of_a_core"] for c in costs),
                      "load_average_1min": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
