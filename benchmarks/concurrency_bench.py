"""Team-scale write load: metric rows/s into SQLite and PostgreSQL at 1, 4 and 8 writers.

    .venv/bin/python benchmarks/concurrency_bench.py [--quick] [--points N] [--repeat R]
                                                     [--no-postgres]

Each writer is a separate process with its own :class:`jupyter_mlops.Client` and run, logging
``--points`` metric values (default 10,000) and flushing every 500 — what a training loop
with per-cell flushes does. All writers start together on a go-file. Reported per backend
and writer count:

* ``rows_per_s``: all points written / wall time from the common start to the last writer's
  final flush — the median of ``--repeat`` runs (default 3, each on a fresh store; all of
  them in ``rows_per_s_all``), with that run's flush latencies;
* ``flush_p50_ms`` / ``flush_p99_ms``: latency of one 500-point ``flush()`` under that load;

then ``migrate`` throughput (``jupyter_mlops.store.transfer.migrate_store``) from a SQLite
store of runs, metrics and blobs into a new SQLite and PostgreSQL store: rows/s and blob MB/s,
hashes and counts verified.

PostgreSQL: ``MLOPS_TEST_DB_URL`` if set, else ``scripts/pg-test-server`` is started for the
run and stopped afterwards (only if this script started it). Stores live in a temporary
folder / throwaway databases. Prints a JSON dict with ``"rows"`` on its last line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PG_SCRIPT = REPO / "scripts" / "pg-test-server"
FLUSH_EVERY = 500


# ---------------------------------------------------------------------------- one writer
def worker(url: str, root: str, n: int, go: str, ready: str) -> None:
    from jupyter_mlops.client import Client

    client = Client(url, root)
    run = client.create_run(experiment="bench", name=f"w-{os.getpid()}")
    Path(ready).touch()
    while not os.path.exists(go):
        time.sleep(0.002)
    start = time.time()
    flushes = []
    for step in range(n):
        client.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
        if step % FLUSH_EVERY == FLUSH_EVERY - 1:
            t = time.perf_counter()
            client.flush()
            flushes.append((time.perf_counter() - t) * 1000)
    client.flush()
    end = time.time()
    client.end_run(run.id)
    print(json.dumps({"start": start, "end": end, "flush_ms": flushes}), flush=True)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    for name in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT"):
        env.pop(name, None)
    return env


def load(url: str, root: str, writers: int, n: int, tmp: Path) -> dict:
    from jupyter_mlops.store import forget_open_stores, open_store

    open_store(url, root)  # migrate once, outside the timed part
    forget_open_stores()
    go = tmp / f"go-{uuid.uuid4().hex}"
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--worker", url, root, str(n), str(go), f"{go}.r{i}"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(writers)]
    while not all(Path(f"{go}.r{i}").exists() for i in range(writers)):
        if any(p.poll() is not None for p in procs):
            raise SystemExit([p.communicate() for p in procs])
        time.sleep(0.01)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        if p.returncode:
            raise SystemExit(f"writer failed: {err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    flushes = sorted(f for r in results for f in r["flush_ms"])
    return {"writers": writers, "points": writers * n, "seconds": round(wall, 3),
            "rows_per_s": round(writers * n / wall),
            "flush_p50_ms": round(statistics.median(flushes), 2),
            "flush_p99_ms": round(flushes[min(len(flushes) - 1, int(0.99 * len(flushes)))], 2)}


# ---------------------------------------------------------------------------- migrate
def seed(url: str, root: str, runs: int, points: int, blobs: int) -> None:
    from jupyter_mlops.client import Client

    c = Client(url, root)
    for i in range(runs):
        run = c.create_run(experiment=f"e{i % 5}", name=f"r{i}", tags={"i": str(i)})
        c.log_params(run.id, {f"p{k}": k * i for k in range(10)})
        for step in range(points):
            c.log_metrics(run.id, {"loss": 1 / (step + 1), "acc": step / points}, step=step)
        for b in range(blobs):
            c.log_artifact(run.id, os.urandom(64 * 1024), name=f"b{b}.bin")
        c.end_run(run.id)
    c.writer.close()


def migrate_figures(src: str, src_root: str, dst: str, dst_root: str) -> dict:
    from sqlalchemy import func, select

    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.orm import MetricChunk
    from jupyter_mlops.store.transfer import migrate_store

    report = migrate_store(src, dst, src_root, dst_root)
    with read_connection(dst) as conn:  # metric points travel packed, many per chunk row
        points = int(conn.execute(select(func.sum(MetricChunk.n))).scalar() or 0)
    return {"rows": report.rows, "rows_per_s": round(report.rows / report.rows_seconds),
            "metric_points": points,
            "metric_points_per_s": round(points / report.rows_seconds),
            "blobs": report.blobs, "blob_mb": round(report.blob_bytes / 1e6, 2),
            "blob_mb_per_s": round(report.blob_bytes / 1e6 / report.blobs_seconds, 1),
            "seconds": round(report.rows_seconds + report.blobs_seconds, 3)}


# ---------------------------------------------------------------------------- postgres
class Postgres:
    """MLOPS_TEST_DB_URL, or a scripts/pg-test-server cluster we start and stop."""

    def __init__(self):
        self.url = os.environ.get("MLOPS_TEST_DB_URL")
        self.started = False

    def __enter__(self):
        if self.url:
            return self
        already = subprocess.run([str(PG_SCRIPT), "status"], capture_output=True,
                                 check=False).returncode == 0
        out = subprocess.run([str(PG_SCRIPT), "start"], capture_output=True, text=True,
                             check=False)
        if out.returncode:
            print(f"PostgreSQL unavailable, skipped: {out.stderr.strip()[-300:]}", file=sys.stderr)
            return self
        self.url = out.stdout.strip().split("=", 1)[1]
        self.started = not already
        return self

    def __exit__(self, *exc):
        if self.started:
            subprocess.run([str(PG_SCRIPT), "stop"], capture_output=True, check=False)

    def database(self) -> tuple[str, object]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        name = f"mlops_bench_{uuid.uuid4().hex[:16]}"
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

        def drop():
            from jupyter_mlops.store import forget_open_stores

            forget_open_stores()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return make_url(self.url).set(database=name).render_as_string(hide_password=False), drop


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        worker(argv[1], argv[2], int(argv[3]), argv[4], argv[5])
        return 0
    quick = "--quick" in argv
    n = int(argv[argv.index("--points") + 1]) if "--points" in argv else (2000 if quick else 10_000)
    counts = (1, 4, 8)
    repeats = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else (1 if quick else 3)
    rows, result = [], {"points_per_writer": n, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="mlops-conc-") as tmp_s, Postgres() as pg:
        tmp = Path(tmp_s)
        backends = ["sqlite"] + (["postgres"] if pg.url and "--no-postgres" not in argv else [])
        for backend in backends:
            for w in counts:
                samples = []
                for rep in range(repeats):  # each repeat on a fresh store
                    drop = None
                    if backend == "sqlite":
                        url = f"sqlite:///{tmp / f'{backend}-{w}-{rep}.db'}"
                    else:
                        url, drop = pg.database()
                    try:
                        samples.append(load(url, str(tmp / f"art-{backend}-{w}-{rep}"), w, n, tmp))
                    finally:
                        if drop:
                            drop()
                fig = dict(sorted(samples, key=lambda f: f["rows_per_s"])[len(samples) // 2])
                fig["rows_per_s_all"] = [f["rows_per_s"] for f in samples]
                rows.append({"backend": backend, **fig})
                print(f"{backend:8} {w} writers: {fig['rows_per_s']:>9,} rows/s  flush p50 "
                      f"{fig['flush_p50_ms']} ms p99 {fig['flush_p99_ms']} ms", file=sys.stderr)
        src, src_root = f"sqlite:///{tmp / 'migrate-src.db'}", str(tmp / "migrate-src-art")
        seed(src, src_root, runs=10 if quick else 50, points=500 if quick else 2000, blobs=4)
        for backend in backends:
            drop = None
            if backend == "sqlite":
                dst = f"sqlite:///{tmp / 'migrate-dst.db'}"
            else:
                dst, drop = pg.database()
            try:
                fig = migrate_figures(src, src_root, dst, str(tmp / f"migrate-dst-{backend}"))
            finally:
                if drop:
                    drop()
            rows.append({"backend": backend, "migrate": "sqlite+local -> " + backend, **fig})
            print(f"migrate -> {backend}: {fig['rows_per_s']:,} rows/s "
                  f"({fig['metric_points_per_s']:,} metric points/s), "
                  f"{fig['blob_mb_per_s']} MB/s blobs", file=sys.stderr)
    result["figures"] = rows
    result["rows"] = _summary_rows(rows)  # the format benchmarks/run.py tabulates
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


def _summary_rows(figures: list[dict]) -> list[dict]:
    out = []
    for f in figures:
        if "migrate" in f:
            out.append({"bench": "migrate", "what": f["migrate"],
                        "ours": f"{f['rows_per_s']:,} rows/s, {f['metric_points_per_s']:,} "
                                f"points/s, {f['blob_mb_per_s']} MB/s blobs",
                        "anchor": "–", "ratio": "–", "target": "(report)", "met": None})
        else:
            out.append({"bench": f"concurrency {f['backend']}",
                        "what": f"{f['writers']} writer process(es), metric rows/s; flush p50/p99",
                        "ours": f"{f['rows_per_s']:,} rows/s; {f['flush_p50_ms']} / "
                                f"{f['flush_p99_ms']} ms",
                        "anchor": "–", "ratio": "–", "target": "(report)", "met": None})
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
