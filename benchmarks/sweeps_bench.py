"""Per-trial overhead of ``jupyter_mlops.sweep`` against a bare Optuna study (issue 19).

The same objective (a quadratic: no work of its own, so the overhead is all there is), the
same sampler and seed (``RandomSampler(seed=0)``: TPE's own cost would hide ours) and the same
storage kind, side by side:

- ``memory``: ``optuna.create_study()`` in memory vs ``sweep(..., study_storage="memory")``
  (its trials still tracked runs in a SQLite store);
- ``sqlite``: a study in an Optuna SQLite file vs ``sweep(...)`` with its study beside the
  store (``.mlops/optuna.db``).

Each sample is a fresh process (``--child``) running N trials; the per-trial cost is the
steady state between objective call 6 and the last one (setup — imports, opening the
storage, the parent run — is excluded the same way for both), as wall time and as CPU time
(user + sys of the whole process, writer threads included). Samples alternate bare/ours so a
load change on a shared machine hits both. Target: ours <= bare * 1.05 + 5 ms per trial.

    .venv/bin/python benchmarks/sweeps_bench.py [--samples 5] [--trials 40]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


#: Trials left out at the start, for both tools: the first trials of a process pay one-off
#: costs (our client records the Python environment once, in a thread; SQLAlchemy compiles
#: its statements on first use).
WARM_UP = 5


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(tool: str, storage: str, n: int) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    marks: list[tuple[float, float]] = []
    folder = tempfile.mkdtemp(prefix="sweeps-bench-")
    try:
        def objective(x: float) -> float:
            marks.append((time.perf_counter(), _cpu()))
            return (x - 2.0) ** 2

        sampler = optuna.samplers.RandomSampler(seed=0)
        once_ms = 0.0
        if tool == "bare":
            url = None if storage == "memory" else f"sqlite:///{folder}/bare.db"
            study = optuna.create_study(storage=url, sampler=sampler)
            study.optimize(lambda t: objective(t.suggest_float("x", -10, 10)), n_trials=n)
        else:
            from jupyter_mlops import Client
            from jupyter_mlops.sweeps import sweep
            from jupyter_mlops.tracking.capture import environment

            # Once per process, not per trial: our client records the Python environment
            # (a few hundred package metadata files) in a thread that the first run's end
            # waits for. Timed here and reported apart; the per-trial figures exclude it.
            t0 = time.perf_counter()
            environment()
            once_ms = (time.perf_counter() - t0) * 1e3

            client = Client(f"sqlite:///{folder}/.mlops/mlops.db", f"{folder}/.mlops/artifacts")
            sweep(lambda t: objective(t["x"]), "x=uniform(-10,10)", n_trials=n,
                  name="bench", client=client, sampler=sampler,
                  study_storage="memory" if storage == "memory" else "store")
            client.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    (w0, c0), (w1, c1) = marks[WARM_UP], marks[-1]
    steps = n - 1 - WARM_UP
    return {"wall_ms": (w1 - w0) / steps * 1e3, "cpu_ms": (c1 - c0) / steps * 1e3,
            "once_ms": once_ms if tool == "ours" else 0.0}


def _sample(tool: str, storage: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", tool, storage, str(n)],
                         capture_output=True, text=True, env=dict(os.environ))
    if out.returncode != 0:
        raise SystemExit(f"sample {tool}/{storage} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--child", nargs=3, metavar=("TOOL", "STORAGE", "N"))
    args = ap.parse_args(argv)
    if args.child:
        tool, storage, n = args.child
        print(json.dumps(child(tool, storage, int(n))))
        return 0
    ok = True
    once: list[float] = []
    print(f"{'storage':8} {'metric':7} {'bare med':>9} {'ours med':>9} {'bare max':>9} "
          f"{'ours max':>9} {'ratio':>6} {'over ms':>8} {'target ms':>9}")
    for storage in ("memory", "sqlite"):
        samples: dict[str, list[dict]] = {"bare": [], "ours": []}
        for _ in range(args.samples):
            for tool in ("bare", "ours"):
                samples[tool].append(_sample(tool, storage, args.trials))
        once.extend(s["once_ms"] for s in samples["ours"])
        for metric in ("wall_ms", "cpu_ms"):
            bare = [s[metric] for s in samples["bare"]]
            ours = [s[metric] for s in samples["ours"]]
            b, o = statistics.median(bare), statistics.median(ours)
            target = b * 1.05 + 5.0
            ok &= o <= target
            print(f"{storage:8} {metric:7} {b:9.2f} {o:9.2f} {max(bare):9.2f} {max(ours):9.2f} "
                  f"{o / b:6.2f} {o - b:8.2f} {target:9.2f}")
    print(f"once per process (ours): environment recorded in {statistics.median(once):.0f} ms "
          f"(median; max {max(once):.0f} ms)")
    print("target met" if ok else "target NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
