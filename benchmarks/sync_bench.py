"""Offline-first sync (issue 18): incremental push of 1,000 new runs, SQLite -> PostgreSQL.

    .venv/bin/python benchmarks/sync_bench.py [--quick] [--runs 1000] [--samples 3] [--json]

A laptop store (SQLite + artifact folder) holds ``--runs`` runs already pushed to a team
store (PostgreSQL) and ``--runs`` new ones; each run: 5 params, 3 tags, 3 metrics x 100
points, one small artifact (its own bytes, so one blob each). Timed: the push of the new runs
(``sync_stores``, in process, after imports; wall time and this process's CPU time, which a
loaded machine inflates less), then a rerun with nothing new (the cost of "is anything
new?"), in process and as ``jupyter mlops sync`` in a fresh process, and, side by side in
the same sample, ``migrate`` (our whole-store copy)
of the same laptop store into an empty database as the reference a user would otherwise run.
Every sample is a fresh target database; the laptop store is restored from a file copy taken
before the new runs, pushed untimed, then replaced by the copy taken after them (same store
id, so the target's sync marks point into its change log, exactly as on a laptop).
Afterwards the target's runs, params and metric points are counted back (``lost`` must be 0).

PostgreSQL: ``MLOPS_TEST_DB_URL`` if set, else ``scripts/pg-test-server`` (fsync off, so the
figures are a lower bound for a durable server). Prints a JSON object on its last line, with
``rows`` for ``benchmarks/run.py``. Target: under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
TARGET_S = 5.0


def _cpu() -> float:
    """User + system CPU seconds of this process so far (every thread: the blob copies too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def populate(client, start: int, n: int) -> None:
    for i in range(start, start + n):
        run = client.create_run("bench-sync", name=f"run-{i}")
        client.log_params(run.id, {f"p{j}": i * 10 + j for j in range(5)})
        client.set_tags(run.id, {"team": "ml", "seed": str(i), "kind": "bench"})
        for step in range(100):
            client.log_metrics(run.id, {"loss": 1.0 / (step + 1), "acc": step / 100,
                                        "lr": 0.01}, step=step)
        client.log_artifact(run.id, b"artifact of run %d" % i, name="notes.txt")
        client.end_run(run.id)
    client.flush()


def backup(db: Path, to: Path) -> None:
    with sqlite3.connect(db) as a, sqlite3.connect(to) as b:
        a.backup(b)


def restore(copy: Path, db: Path) -> None:
    from jupyter_mlops.store import forget_open_stores
    from jupyter_mlops.store.migrate import forget_checked

    forget_open_stores()
    forget_checked()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(copy, db)


def count(url: str) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.orm import LatestMetric, Param, Run

    with read_connection(url) as conn:
        return (conn.execute(select(func.count()).select_from(Run)).scalar(),
                conn.execute(select(func.count()).select_from(Param)).scalar(),
                conn.execute(select(func.sum(LatestMetric.count))).scalar() or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--samples", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs = args.runs or (50 if args.quick else 1000)
    samples = args.samples or (1 if args.quick else 3)

    from concurrency_bench import Postgres  # MLOPS_TEST_DB_URL or scripts/pg-test-server

    from jupyter_mlops.client import Client
    from jupyter_mlops.store.sync import sync_stores
    from jupyter_mlops.store.transfer import migrate_store

    work = Path(tempfile.mkdtemp(prefix="mlops-sync-bench-"))
    result: dict = {"runs_new": runs, "runs_already_synced": runs, "samples": samples,
                    "load_1m": round(os.getloadavg()[0], 2)}
    try:
        with Postgres() as pg:
            if not pg.url:
                print(json.dumps({"skipped": "PostgreSQL unavailable", "rows": []}))
                return 0
            db, root = work / "mlops.db", str(work / "artifacts")
            url = f"sqlite:///{db}"
            t0 = time.perf_counter()
            client = Client(url, root)
            populate(client, 0, runs)
            client.close()
            backup(db, work / "base.db")
            client = Client(url, root)
            populate(client, runs, runs)
            client.close()
            backup(db, work / "full.db")
            result["setup_s"] = round(time.perf_counter() - t0, 1)
            pushes, cpus, reruns, cli_reruns, migrates, lost = [], [], [], [], [], 0
            for _ in range(samples):
                target, drop = pg.database()
                troot = str(work / "team-artifacts")
                shutil.rmtree(troot, ignore_errors=True)
                try:
                    restore(work / "base.db", db)
                    sync_stores(url, target, root, troot)  # the earlier push, untimed
                    restore(work / "full.db", db)
                    t, cpu = time.perf_counter(), _cpu()
                    report = sync_stores(url, target, root, troot)
                    pushes.append(time.perf_counter() - t)
                    cpus.append(_cpu() - cpu)
                    assert report.counts.get("runs_new") == runs, report.summary()
                    t = time.perf_counter()
                    again = sync_stores(url, target, root, troot)
                    reruns.append(time.perf_counter() - t)
                    assert again.runs_examined == 0, again.summary()
                    t = time.perf_counter()
                    cli = subprocess.run(
                        [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", url,
                         "--artifact-root", root, "sync", "--to", target, "--artifacts",
                         troot, "-q"], capture_output=True, text=True, check=True)
                    cli_reruns.append(time.perf_counter() - t)
                    assert "0 new" in cli.stdout, cli.stdout
                    got = count(target)
                    want = (2 * runs, 2 * runs * 5, 2 * runs * 300)
                    lost += sum(max(0, w - g) for w, g in zip(want, got))
                    result["mode"] = report.mode
                finally:
                    drop()
                target, drop = pg.database()
                try:
                    t = time.perf_counter()
                    migrate_store(url, target, None, None)
                    migrates.append(time.perf_counter() - t)
                finally:
                    drop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    result.update(
        push_new_s_median=round(med(pushes), 3), push_new_s_max=round(max(pushes), 3),
        push_new_cpu_s_median=round(med(cpus), 3),
        rerun_nothing_new_s_median=round(med(reruns), 3),
        rerun_cli_fresh_process_s_median=round(med(cli_reruns), 3),
        migrate_whole_store_s_median=round(med(migrates), 3), lost=lost,
        load_1m_after=round(os.getloadavg()[0], 2))
    p = med(pushes)
    result["rows"] = [
        {"bench": "sync", "what": f"push {runs:,} new runs (of {2 * runs:,}) SQLite -> PostgreSQL",
         "ours": f"{p:.2f} s wall, {med(cpus):.2f} s CPU (load {result['load_1m']})",
         "anchor": f"migrate whole store {med(migrates):.2f} s",
         "ratio": f"{p / med(migrates):.2f}x", "target": f"< {TARGET_S:.0f} s",
         "met": bool(p < TARGET_S and lost == 0)},
        {"bench": "sync", "what": "rerun with nothing new (in process; fresh CLI process)",
         "ours": f"{med(reruns):.2f} s; {med(cli_reruns):.2f} s",
         "anchor": "–", "ratio": "–", "target": "adds nothing", "met": lost == 0},
    ]
    print(json.dumps(result, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
