"""Point-in-time training sets and online lookups: ours vs bare merge_asof vs DuckDB vs Feast.

    .venv/bin/python benchmarks/features_bench.py [--size small|large] [--samples 5]
        [--tools ours,merge_asof,duckdb,feast] [--online]

Sizes: ``small`` is 100,000 entity rows against 1,000,000 feature rows (100,000 entities, a
float and an integer feature, a year of random event times); ``large`` is 1,000,000 against
10,000,000. The data is generated once, seeded, as Parquet under ``benchmarks/.work/features``
and registered once as feature view ``bench`` in a SQLite store there.

Every sample is a fresh process (imports — pyarrow's, ours and SQLAlchemy's — and opening
the store are excluded from the time and reported apart as ``setup``; for ours a second call
in the same process is reported as ``warm``, a notebook's next training set); each reports wall and CPU time (user+sys of the process while the join ran), its peak
RSS, and a digest of the feature values in entity-row order, so the tools' answers are
compared exactly (missing values as NaN).

- **ours** — ``client.features.get_training_set(entity_df, ["bench:a", "bench:b"])``: reads
  the verified Parquet blob, checks the frame, joins, records lineage.
- **merge_asof** — what one writes by hand: read the Parquet, sort both sides by time,
  ``pandas.merge_asof(by=key)``, put rows back in the entity frame's order.
- **duckdb** — ``ASOF LEFT JOIN`` of the entity frame with ``read_parquet(...)``, 2 threads,
  result as pandas in entity order.
- **feast** — Feast 0.67 ``get_historical_features`` over a ``FileSource`` on the same
  Parquet, in its own virtual environment (``benchmarks/.envs/feast``) when it exists.

``--online`` also materializes the view and times ``get_online_features`` of 1,000 random keys
(the median of 50 lookups in one warm process, as a model server does them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work" / "features"
FEAST_PY = HERE / ".envs" / "feast" / "bin" / "python"
SIZES = {"small": (100_000, 1_000_000), "large": (1_000_000, 10_000_000)}
YEAR_NS = 365 * 86400 * 10**9
T0 = "2024-01-01"


def folder(size: str) -> Path:
    return WORK / size


def generate(size: str) -> None:
    """Seeded view and entity Parquet files (one row per key and time, as views require)."""
    import numpy as np
    import pandas as pd

    out = folder(size)
    if (out / "entity.parquet").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    n_e, n_f = SIZES[size]
    rng = np.random.default_rng(16)
    keys = n_f // 10
    base = np.datetime64(T0, "ns")
    view = pd.DataFrame({
        "key": rng.integers(0, keys, n_f),
        "ts": base + rng.integers(0, YEAR_NS, n_f).astype("timedelta64[ns]"),
        "a": rng.random(n_f), "b": rng.integers(0, 100, n_f)})
    view = view.drop_duplicates(["key", "ts"], ignore_index=True)
    view.to_parquet(out / "view.parquet", index=False)
    entity = pd.DataFrame({
        "key": rng.integers(0, keys, n_e),
        "ts": base + rng.integers(0, YEAR_NS, n_e).astype("timedelta64[ns]")})
    entity.to_parquet(out / "entity.parquet", index=False)


def store_env(size: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MLOPS_TRACKING_URI"] = f"sqlite:///{folder(size) / 'store' / 'mlops.db'}"
    env["MLOPS_ARTIFACT_ROOT"] = str(folder(size) / "store" / "artifacts")
    env["MLOPS_HOME"] = str(folder(size) / "home")
    return env


# ----------------------------------------------------------------------------- children
def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _digest(frame) -> str:
    """Values of a and b in row order as float64 (missing = NaN), hashed."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for c in ("a", "b"):
        v = frame[c].astype("float64").to_numpy(na_value=np.nan)
        v = np.where(np.isnan(v), np.nan, v)  # one NaN bit pattern
        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def child(tool: str, size: str) -> dict:
    import pandas as pd

    t_import = time.perf_counter()
    import pyarrow.parquet  # noqa: F401 - every tool reads Parquet: its import is setup
    entity = pd.read_parquet(folder(size) / "entity.parquet")
    view_path = str(folder(size) / "view.parquet")
    if tool == "ours":
        import jupyter_mlops.feature_store.training  # noqa: F401 - imports are setup
        import jupyter_mlops.store.features  # noqa: F401 - SQLAlchemy and the ORM too
        from jupyter_mlops.client import Client

        client = Client()
        setup = time.perf_counter() - t_import
        w, c = time.perf_counter(), _cpu()
        out = client.features.get_training_set(entity, ["bench:a", "bench:b"]).frame
        first_wall, first_cpu = time.perf_counter() - w, _cpu() - c
        # A notebook's second training set: SQLAlchemy's first-query setup is paid already.
        w, c = time.perf_counter(), _cpu()
        again = client.features.get_training_set(entity, ["bench:a", "bench:b"]).frame
        warm = {"warm_wall": time.perf_counter() - w, "warm_cpu": _cpu() - c,
                "warm_digest": _digest(again)}
        wall, cpu = first_wall, first_cpu
    elif tool == "merge_asof":
        setup = time.perf_counter() - t_import
        w, c = time.perf_counter(), _cpu()
        view = pd.read_parquet(view_path)
        left = entity.reset_index().sort_values("ts", kind="stable")
        right = view.sort_values("ts", kind="stable")
        out = pd.merge_asof(left, right, on="ts", by="key", direction="backward")
        out = out.sort_values("index").reset_index(drop=True)
    elif tool == "duckdb":
        import duckdb

        setup = time.perf_counter() - t_import
        w, c = time.perf_counter(), _cpu()
        con = duckdb.connect()
        con.execute("SET threads = 2")
        e = entity.reset_index()
        con.register("e", e)
        out = con.sql(f"SELECT e.index, f.a, f.b FROM e ASOF LEFT JOIN read_parquet('{view_path}')"
                      " f ON e.key = f.key AND e.ts >= f.ts ORDER BY e.index").df()
    else:
        raise SystemExit(f"unknown tool {tool}")
    if tool != "ours":
        wall, cpu, warm = time.perf_counter() - w, _cpu() - c, {}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tool": tool, "wall": wall, "cpu": cpu, "setup": setup, "peak_rss_mb": rss,
            "rows": len(out), "digest": _digest(out), **warm}


def child_online(size: str) -> dict:
    """1,000 random keys: the first lookup of a fresh process, then 50 warm ones."""
    import numpy as np

    from jupyter_mlops.client import Client

    client = Client()
    keys = np.random.default_rng(1).integers(0, SIZES[size][1] // 10, 1000).tolist()
    w, c = time.perf_counter(), _cpu()
    got = client.features.get_online_features(keys, ["bench:a", "bench:b"])
    fresh_wall, fresh_cpu = time.perf_counter() - w, _cpu() - c
    times, cpus = [], []
    for _ in range(50):
        w, c = time.perf_counter(), _cpu()
        got = client.features.get_online_features(keys, ["bench:a", "bench:b"])
        times.append(time.perf_counter() - w)
        cpus.append(_cpu() - c)
    assert len(got["a"]) == 1000
    times.sort()
    return {"tool": "ours-online", "median": statistics.median(times),
            "p99": times[int(0.99 * (len(times) - 1))], "cpu_median": statistics.median(cpus),
            "fresh_wall": fresh_wall, "fresh_cpu": fresh_cpu, "keys": 1000,
            "values": [None if v is None else float(v) for v in got["a"][:20]]}


_FEAST = r"""
import hashlib, json, os, resource, sys, tempfile, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
folder = sys.argv[1]
t = time.perf_counter()
from datetime import timedelta
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.repo_config import RepoConfig
from feast.types import Float64, Int64
repo = tempfile.mkdtemp()
store = FeatureStore(config=RepoConfig(
    project="bench", registry=os.path.join(repo, "registry.db"), provider="local",
    offline_store={"type": "file"}, entity_key_serialization_version=3,
    online_store={"type": "sqlite", "path": os.path.join(repo, "online.db")}))
key = Entity(name="key", join_keys=["key"], value_type=ValueType.INT64)
src = FileSource(path=os.path.join(folder, "view.parquet"), timestamp_field="ts")
fv = FeatureView(name="bench", entities=[key], ttl=timedelta(days=3650),
                 schema=[Field(name="a", dtype=Float64), Field(name="b", dtype=Int64)], source=src)
store.apply([key, fv])
entity = pd.read_parquet(os.path.join(folder, "entity.parquet"))
entity = entity.rename(columns={"ts": "event_timestamp"})
entity["event_timestamp"] = entity["event_timestamp"].dt.tz_localize("UTC")
entity["row"] = np.arange(len(entity))
setup = time.perf_counter() - t
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
w, c = time.perf_counter(), cpu()
out = store.get_historical_features(entity_df=entity, features=["bench:a", "bench:b"]).to_df()
returned = len(out)
# Feast's file store drops entity rows whose key has rows but none at or before their time
# (docs/features.md, "Compared with Feast"): put its rows back at their entity positions,
# missing ones as NaN, so the digest compares values row by row.
out = out.set_index("row").reindex(np.arange(len(entity)))[["a", "b"]].reset_index(drop=True)
wall, cpu_s = time.perf_counter() - w, cpu() - c
h = hashlib.sha256()
for col in ("a", "b"):
    v = out[col].astype("float64").to_numpy(na_value=np.nan)
    v = np.where(np.isnan(v), np.nan, v)
    h.update(np.ascontiguousarray(v).tobytes())
print(json.dumps({"tool": "feast", "wall": wall, "cpu": cpu_s, "setup": setup,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": len(out), "rows_returned": returned, "digest": h.hexdigest()}))
"""


_FEAST_ONLINE = r"""
import json, os, resource, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
folder, n_keys = sys.argv[1], int(sys.argv[2])
from datetime import datetime, timedelta, timezone
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.repo_config import RepoConfig
from feast.types import Float64, Int64
repo = os.path.join(folder, "feast_repo")
os.makedirs(repo, exist_ok=True)
store = FeatureStore(config=RepoConfig(
    project="bench", registry=os.path.join(repo, "registry.db"), provider="local",
    offline_store={"type": "file"}, entity_key_serialization_version=3,
    online_store={"type": "sqlite", "path": os.path.join(repo, "online.db")}))
key = Entity(name="key", join_keys=["key"], value_type=ValueType.INT64)
src = FileSource(path=os.path.join(folder, "view.parquet"), timestamp_field="ts")
fv = FeatureView(name="bench", entities=[key], ttl=timedelta(days=3650),
                 schema=[Field(name="a", dtype=Float64), Field(name="b", dtype=Int64)], source=src)
out = {"tool": "feast-online", "keys": 1000}
done = os.path.join(repo, "materialized")
if not os.path.exists(done):
    store.apply([key, fv])
    t = time.perf_counter()
    store.materialize(datetime(2023, 12, 1, tzinfo=timezone.utc), datetime(2025, 2, 1, tzinfo=timezone.utc))
    out["materialize_s"] = time.perf_counter() - t
    open(done, "w").close()
keys = np.random.default_rng(1).integers(0, n_keys, 1000).tolist()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
rows = [{"key": k} for k in keys]
w, c = time.perf_counter(), cpu()
got = store.get_online_features(features=["bench:a", "bench:b"], entity_rows=rows).to_dict()
out["fresh_wall"], out["fresh_cpu"] = time.perf_counter() - w, cpu() - c
times, cpus = [], []
for _ in range(50):
    w, c = time.perf_counter(), cpu()
    got = store.get_online_features(features=["bench:a", "bench:b"], entity_rows=rows).to_dict()
    times.append(time.perf_counter() - w); cpus.append(cpu() - c)
assert len(got["a"]) == 1000
times.sort()
out.update(median=statistics.median(times), p99=times[int(0.99 * (len(times) - 1))],
           cpu_median=statistics.median(cpus),
           values=[None if v is None else float(v) for v in got["a"][:20]])
print(json.dumps(out))
"""


# ----------------------------------------------------------------------------- orchestration
def prepare(size: str, online: bool) -> dict:
    """Generate the data and register (and optionally materialize) the view; timed once.

    Into a new store each run: a store kept from an earlier run would answer with the
    version (and blob) an older version of the code wrote, and time that instead.
    """
    import shutil

    generate(size)
    shutil.rmtree(folder(size) / "store", ignore_errors=True)
    code = (
        "import json, sys, time, pandas as pd\n"
        "from jupyter_mlops.client import Client\n"
        "c = Client()\n"
        "t = time.perf_counter()\n"
        f"v = c.features.register_view('bench', {str(folder(size) / 'view.parquet')!r}, "
        "entity='key', timestamp='ts', features=['a', 'b'])\n"
        "out = {'register_s': time.perf_counter() - t, 'version': v.version}\n"
        + ("t = time.perf_counter()\n"
           "r = c.features.materialize('bench')\n"
           "out.update(materialize_s=time.perf_counter() - t, written=r.rows_written)\n"
           if online else "")
        + "print(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", code], env=store_env(size), cwd=REPO,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sample(tool: str, size: str) -> dict:
    if tool == "feast":
        cmd = [str(FEAST_PY), "-c", _FEAST, str(folder(size))]
    else:
        cmd = [sys.executable, __file__, "--child", tool, "--size", size]
    proc = subprocess.run(cmd, env=store_env(size), cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{tool} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])



def online_samples(size: str, samples: int, feast: bool) -> dict:
    """Fresh processes, interleaved: ours and (when installed) Feast's SQLite online store."""
    runs: dict[str, list] = {}
    for _ in range(samples):
        cmds = {"ours": [sys.executable, __file__, "--child", "online", "--size", size]}
        if feast:
            cmds["feast"] = [str(FEAST_PY), "-c", _FEAST_ONLINE, str(folder(size)),
                             str(SIZES[size][1] // 10)]
        for tool, cmd in cmds.items():
            proc = subprocess.run(cmd, env=store_env(size), cwd=REPO, capture_output=True,
                                  text=True)
            if proc.returncode:
                raise RuntimeError(f"{tool} online failed:\n{proc.stderr[-3000:]}")
            runs.setdefault(tool, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out: dict = {}
    for tool, ss in runs.items():
        out[tool] = {k: {"median": statistics.median(s[k] for s in ss),
                         "max": max(s[k] for s in ss)}
                     for k in ("median", "p99", "cpu_median", "fresh_wall", "fresh_cpu")}
        out[tool]["materialize_s"] = [s["materialize_s"] for s in ss if "materialize_s" in s]
    if "feast" in out:
        out["same_values"] = all(a["values"] == b["values"]
                                 for a, b in zip(runs["ours"], runs["feast"]))
        out["feast_over_ours_cpu"] = (out["feast"]["cpu_median"]["median"]
                                      / out["ours"]["cpu_median"]["median"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--tools", default="ours,merge_asof,duckdb,feast")
    ap.add_argument("--online", action="store_true")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child == "online":
        print(json.dumps(child_online(args.size)))
        return
    if args.child:
        print(json.dumps(child(args.child, args.size)))
        return
    tools = [t for t in args.tools.split(",") if t != "feast" or FEAST_PY.exists()]
    report: dict = {"size": args.size, "entity_rows": SIZES[args.size][0],
                    "feature_rows": SIZES[args.size][1], "samples": args.samples,
                    "prepare": prepare(args.size, args.online), "tools": {},
                    "feast": "measured" if "feast" in tools else
                    f"not measured: {FEAST_PY} does not exist"}
    for _ in range(args.samples):  # interleaved: every tool sees the same load
        for tool in tools:
            s = sample(tool, args.size)
            report["tools"].setdefault(tool, []).append(s)
    summary = {}
    for tool, ss in report["tools"].items():
        summary[tool] = {
            "wall_median": statistics.median(s["wall"] for s in ss),
            "wall_max": max(s["wall"] for s in ss),
            "cpu_median": statistics.median(s["cpu"] for s in ss),
            "peak_rss_mb_max": max(s["peak_rss_mb"] for s in ss),
            "digests": sorted({s["digest"] for s in ss})}
        if "warm_cpu" in ss[0]:
            summary[tool].update(
                warm_wall_median=statistics.median(s["warm_wall"] for s in ss),
                warm_cpu_median=statistics.median(s["warm_cpu"] for s in ss),
                warm_same_values=all(s["warm_digest"] == s["digest"] for s in ss))
    base = summary.get("merge_asof")
    for tool, s in summary.items():
        if base:
            s["same_values_as_merge_asof"] = s["digests"] == base["digests"]
            s["cpu_ratio_vs_ours"] = s["cpu_median"] / summary["ours"]["cpu_median"] \
                if "ours" in summary else None
    report["summary"] = summary
    if args.online:
        report["online"] = online_samples(args.size, args.samples, "feast" in tools)
    print(json.dumps(report["summary"], indent=1))
    if args.online:
        print(json.dumps(report["online"], indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "tools"}))


if __name__ == "__main__":
    main()
