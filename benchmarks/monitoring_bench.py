"""Drift detection on 100,000 × 20 numeric columns: ours vs Evidently vs a plain SciPy loop.

    .venv/bin/python benchmarks/monitoring_bench.py [--quick] [--rows N] [--repeats R]

Prints one JSON object (last stdout line) with medians, ratios, the verdicts of each tool and
``rows`` for the summary table of ``benchmarks/run.py``.

Data: a reference and a current frame of the same size, seeded; columns 0–4 of the current
frame are shifted by half a standard deviation, columns 5–6 widened ×1.6, columns 7–19 drawn
from the reference's distribution. Every tool gets the same arrays (saved once as ``.npy``).

- **ours** — ``ReferenceProfile.from_frame(reference)`` once (timed on its own: a monitor
  does it when the reference is registered), then ``compute_drift(profile, current)``: KS,
  its p-value and PSI for every column; median of ``--repeats`` runs. A second figure
  includes profiling, for a one-off comparison.
- **scipy loop** — what one writes by hand: per column ``scipy.stats.ks_2samp`` plus PSI on
  the reference's deciles with ``np.histogram``; verdict KS p < 0.05 and PSI ≥ 0.1 (our rule).
- **Evidently 0.7.23** — ``Report([DataDriftPreset()]).run(reference, current)`` in its own
  virtual environment (``benchmarks/.envs/evidently``, ``pandas==2.3.3``; created on first
  use), import excluded; its verdict is its default for this size (normed Wasserstein ≥ 0.1).

Targets (issue 5): ≥ 25× faster than Evidently and faster than the SciPy loop, with the same
verdicts on which columns drifted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EVIDENTLY_ENV = HERE / ".envs" / "evidently"
EVIDENTLY_PINS = ["evidently==0.7.23", "pandas==2.3.3"]

_EVIDENTLY_SIDE = r"""
import json, statistics, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
folder, repeats = sys.argv[1], int(sys.argv[2])
ref = np.load(folder + "/reference.npy"); cur = np.load(folder + "/current.npy")
cols = [f"f{i}" for i in range(ref.shape[1])]
ref, cur = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
t0 = time.perf_counter()
from evidently import Report
from evidently.presets import DataDriftPreset
import_s = time.perf_counter() - t0
times, snap = [], None
for _ in range(repeats):
    t0 = time.perf_counter()
    snap = Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
    times.append(time.perf_counter() - t0)
drifted, methods = [], set()
for m in snap.dict()["metrics"]:
    cfg = m["config"]
    if cfg.get("type", "").endswith("ValueDrift"):
        methods.add(cfg["method"])
        if m["value"] >= cfg["threshold"]:
            drifted.append(cfg["column"])
import evidently
print(json.dumps({"times": times, "import_s": import_s, "drifted": sorted(drifted),
                  "methods": sorted(methods), "version": evidently.__version__,
                  "pandas": pd.__version__}))
"""


def make_data(rows: int, cols: int, folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(20261127)
    ref = rng.normal(size=(rows, cols))
    cur = rng.normal(size=(rows, cols))
    cur[:, :5] += 0.5
    cur[:, 5:7] *= 1.6
    np.save(folder / "reference.npy", ref)
    np.save(folder / "current.npy", cur)


def expected_drift(cols: int) -> list[str]:
    return sorted(f"f{i}" for i in range(min(7, cols)))


def ours(folder: Path, repeats: int) -> dict:
    import numpy as np
    import pandas as pd

    from jupyter_mlops.monitoring.drift import compute_drift
    from jupyter_mlops.monitoring.profile import ReferenceProfile

    ref, cur = np.load(folder / "reference.npy"), np.load(folder / "current.npy")
    cols = [f"f{i}" for i in range(ref.shape[1])]
    ref, cur = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
    compute_drift(ReferenceProfile.from_frame(ref.head(1000)), cur.head(1000))  # warm imports
    t0 = time.perf_counter()
    profile = ReferenceProfile.from_frame(ref)
    profile_s = time.perf_counter() - t0
    times, report = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = compute_drift(profile, cur)
        times.append(time.perf_counter() - t0)
    single = []
    for _ in range(max(1, repeats // 2)):
        t0 = time.perf_counter()
        compute_drift(profile, cur, workers=1)
        single.append(time.perf_counter() - t0)
    return {"profile_s": profile_s, "times": times, "median_s": statistics.median(times),
            "single_thread_median_s": statistics.median(single),
            "with_profile_s": profile_s + statistics.median(times),
            "drifted": sorted(report.drifted)}


def scipy_loop(folder: Path, repeats: int) -> dict:
    import numpy as np
    from scipy import stats

    ref, cur = np.load(folder / "reference.npy"), np.load(folder / "current.npy")
    times, drifted = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        drifted = []
        for j in range(ref.shape[1]):
            r, c = ref[:, j], cur[:, j]
            p = stats.ks_2samp(r, c).pvalue
            edges = np.quantile(r, np.linspace(0, 1, 11))
            edges[0], edges[-1] = -np.inf, np.inf
            rp = np.histogram(r, edges)[0] / len(r)
            cp = np.histogram(c, edges)[0] / len(c)
            rp, cp = np.where(rp == 0, 1e-4, rp), np.where(cp == 0, 1e-4, cp)
            psi = float(np.sum((cp - rp) * np.log(cp / rp)))
            if p < 0.05 and psi >= 0.1:
                drifted.append(f"f{j}")
        times.append(time.perf_counter() - t0)
    return {"times": times, "median_s": statistics.median(times), "drifted": sorted(drifted)}


def ensure_evidently() -> Path | None:
    python = EVIDENTLY_ENV / "bin" / "python"
    if python.exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_ENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_PINS], check=True,
                       timeout=900)
        return python
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"Evidently could not be installed: {exc}", file=sys.stderr)
        return None


def evidently(folder: Path, repeats: int) -> dict | None:
    python = ensure_evidently()
    if python is None:
        return None
    out = subprocess.run([str(python), "-c", _EVIDENTLY_SIDE, str(folder), str(repeats)],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return None
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["median_s"] = statistics.median(result["times"])
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, fewer repeats")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-anchors", action="store_true", help="skip Evidently")
    args = parser.parse_args(argv)
    rows, repeats = (10_000, 2) if args.quick else (args.rows, args.repeats)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mlops-drift-bench-") as tmp:
        folder = Path(tmp)
        make_data(rows, args.cols, folder)
        result: dict = {"bench": "drift", "rows_per_frame": rows, "columns": args.cols,
                        "load_1min_before": load, "expected_drifted": expected_drift(args.cols)}
        result["ours"] = ours(folder, repeats)
        result["scipy_loop"] = scipy_loop(folder, max(1, repeats // 2 + 1))
        result["evidently"] = None if args.no_anchors else evidently(folder, max(1, repeats // 2))
    o, s, e = result["ours"], result["scipy_loop"], result["evidently"]
    result["ratio_vs_scipy"] = s["median_s"] / o["median_s"]
    result["same_verdicts_scipy"] = o["drifted"] == s["drifted"]
    rows_out = [{"bench": "drift 100k×20", "what": "vs plain scipy KS+PSI loop",
                 "ours": f"{o['median_s'] * 1000:.0f} ms",
                 "anchor": f"{s['median_s'] * 1000:.0f} ms",
                 "ratio": f"{result['ratio_vs_scipy']:.1f}×", "target": "> 1× (faster)",
                 "met": bool(result["ratio_vs_scipy"] > 1 and result["same_verdicts_scipy"])}]
    if e is not None:
        result["ratio_vs_evidently"] = e["median_s"] / o["median_s"]
        result["ratio_vs_evidently_incl_profile"] = e["median_s"] / o["with_profile_s"]
        result["same_verdicts_evidently"] = o["drifted"] == e["drifted"]
        rows_out.append({"bench": "drift 100k×20", "what": "vs Evidently DataDriftPreset",
                         "ours": f"{o['median_s'] * 1000:.0f} ms",
                         "anchor": f"{e['median_s'] * 1000:.0f} ms",
                         "ratio": f"{result['ratio_vs_evidently']:.1f}×", "target": "≥ 25×",
                         "met": bool(result["ratio_vs_evidently"] >= 25
                                     and result["same_verdicts_evidently"])})
    result["correct"] = o["drifted"] == result["expected_drifted"]
    result["rows"] = rows_out
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
