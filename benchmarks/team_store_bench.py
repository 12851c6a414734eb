"""The team store on PostgreSQL with its default durability: ours beside MLflow (issue 14).

    .venv/bin/python benchmarks/team_store_bench.py [--samples 5] [--writers 8] [--runs 200]
                                                    [--pg URL] [--no-mlflow] [--json]

Write load: ``--writers`` processes, each doing ``--runs`` small runs — ``with start_run():``
5 × ``log_param``, 5 × ``log_metric`` — the fluent API each tool documents (ours:
``jupyter_mlops``; MLflow: ``mlflow`` from ``benchmarks/.envs/mlflow`` on psycopg2, its
default PostgreSQL driver). All writers of a sample start together on a go-file; every sample
is a fresh database and fresh processes. Reported per tool: wall time from the common start
to the last writer's end, the writers' CPU (user+sys of the timed loop, summed) and the
server's CPU (the postmaster's reaped children, i.e. every backend of the sample), median and
max over ``--samples``; then every run, param and metric is counted back (``lost`` must be 0).

The server: ``--pg`` if given (it should run with PostgreSQL's defaults), else a private
cluster started here with nothing but a port and a socket folder set — ``fsync=on``,
``synchronous_commit=on``, ``full_page_writes=on`` — and stopped afterwards.
``scripts/pg-test-server`` turns durability off, so it is not used here.

Prints a JSON object on its last line with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
# MLOPS_BENCH_REPO: measure another checkout of the package (a baseline) with this harness.
REPO = Path(os.environ.get("MLOPS_BENCH_REPO", HERE.parent))
MLFLOW_PY = HERE / ".envs" / "mlflow" / "bin" / "python"
PARAMS = METRICS = 5

#: One writer. argv: tool url folder runs go ready. Prints {"start","end","cpu"} as JSON.
_WRITER = r"""
import json, os, sys, time
tool, url, folder, runs, go, ready = sys.argv[1:7]
runs = int(runs)
if tool == "ours":
    os.environ["MLOPS_TRACKING_URI"] = url
    os.environ["MLOPS_ARTIFACT_ROOT"] = os.path.join(folder, "artifacts")
    import jupyter_mlops as lib
    start_run = lambda i: lib.start_run(experiment="team", name=f"r{i}")
else:
    import mlflow as lib
    lib.set_tracking_uri(url)
    lib.set_experiment("team")
    start_run = lambda i: lib.start_run(run_name=f"r{i}")
with start_run(-1):  # imports, engine, experiment: outside the timed part, as for a user
    lib.log_param("warm", 1)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
t0, c0 = time.time(), os.times()
for i in range(runs):
    with start_run(i):
        for k in range(%(params)d):
            lib.log_param(f"p{k}", i * k)
        for k in range(%(metrics)d):
            lib.log_metric(f"m{k}", i / (k + 1))
t1, c1 = time.time(), os.times()
print(json.dumps({"start": t0, "end": t1,
                  "cpu": (c1.user - c0.user) + (c1.system - c0.system)}))
""" % {"params": PARAMS, "metrics": METRICS}

#: Counts what a sample stored. argv: tool url. Prints {"runs","params","metrics"}.
_COUNT = {
    "ours": """
import json, sys
from sqlalchemy import create_engine, text
e = create_engine(sys.argv[1])
with e.connect() as c:
    q = lambda s: c.execute(text(s)).scalar()
    print(json.dumps({
        "runs": q("select count(*) from runs r join experiments e on e.id = r.experiment_id "
                  "where e.name = 'team' and r.status = 'FINISHED' and r.name <> 'r-1'"),
        "params": q("select count(*) from params p join runs r on r.id = p.run_id "
                    "where r.name <> 'r-1' and p.key like 'p%'"),
        "metrics": q("select coalesce(sum(n), 0) from metric_chunks m join runs r "
                     "on r.id = m.run_id where r.name <> 'r-1'")}))
""",
    "mlflow": """
import json, sys
from sqlalchemy import create_engine, text
e = create_engine(sys.argv[1])
with e.connect() as c:
    q = lambda s: c.execute(text(s)).scalar()
    print(json.dumps({
        "runs": q("select count(*) from runs r join experiments e "
                  "on e.experiment_id = r.experiment_id where e.name = 'team' "
                  "and r.status = 'FINISHED' and r.name <> 'r-1'"),
        "params": q("select count(*) from params p join runs r on r.run_uuid = p.run_uuid "
                    "where r.name <> 'r-1' and p.key like 'p%'"),
        "metrics": q("select count(*) from metrics m join runs r on r.run_uuid = m.run_uuid "
                     "where r.name <> 'r-1'")}))
""",
}


# ---------------------------------------------------------------------------- the server
class DurableCluster:
    """A private PostgreSQL cluster with default durability settings, removed at exit."""

    def __init__(self):
        self.dir: Path | None = None
        self.url = ""

    @staticmethod
    def _bin() -> Path:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if found:
            return found[-1].parent
        return Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())

    def _as_owner(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, **kw)

    def __enter__(self) -> DurableCluster:
        pgbin = self._bin()
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-pg-durable-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self._as_owner(str(pgbin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust",
                       "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
        self._as_owner(str(pgbin / "pg_ctl"), "-D", str(self.dir / "data"), "-l",
                       str(self.dir / "log"), "-w", "-t", "60", "-o",
                       f"-c listen_addresses=127.0.0.1 -p {port} -k {self.dir} "
                       "-c max_connections=100", "start")
        self.pgbin = pgbin
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        return self

    def __exit__(self, *exc) -> None:
        if self.dir is not None:
            subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
                           + [str(self.pgbin / "pg_ctl"), "-D", str(self.dir / "data"),
                              "-m", "fast", "-w", "stop"], capture_output=True, check=False)
            shutil.rmtree(self.dir, ignore_errors=True)


def settings(url: str) -> dict:
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        return {k: conn.execute(f"SHOW {k}").fetchone()[0]
                for k in ("fsync", "synchronous_commit", "full_page_writes", "server_version")}


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgresql+psycopg2://", "postgresql://")


def server_cpu(url: str) -> float:
    """CPU seconds of the postmaster's reaped children (backends that have exited)."""
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    fields = Path(f"/proc/{ppid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / tick  # utime stime cutime cstime


def new_database(base: str) -> tuple[str, callable]:
    import psycopg

    name = f"team_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(_libpq(base), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return base.rsplit("/", 1)[0] + "/" + name, drop


# ---------------------------------------------------------------------------- one sample
def _python(tool: str) -> str:
    return str(MLFLOW_PY) if tool == "mlflow" and MLFLOW_PY.exists() else sys.executable


def _tool_url(tool: str, url: str) -> str:
    if tool == "mlflow" and MLFLOW_PY.exists():
        return url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    return url


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    for name in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    env["GIT_PYTHON_REFRESH"] = "quiet"
    return env


def sample(tool: str, base: str, writers: int, runs: int, tmp: Path) -> dict:
    url, drop = new_database(base)
    procs: list[subprocess.Popen] = []
    turl = _tool_url(tool, url)
    folder = tmp / uuid.uuid4().hex
    folder.mkdir()
    try:
        go = folder / "go"
        make_schema(tool, turl, folder)
        cpu0 = server_cpu(base)
        procs += [subprocess.Popen(
            [_python(tool), "-c", _WRITER, tool, turl, str(folder), str(runs), str(go),
             str(folder / f"ready{i}")], env=_env(), cwd=folder, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for i in range(writers)]
        while not all((folder / f"ready{i}").exists() for i in range(writers)):
            if any(p.poll() is not None for p in procs):
                raise SystemExit("writer failed: " + "".join(
                    p.communicate()[1][-2000:] for p in procs if p.poll()))
            time.sleep(0.01)
        go.touch()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=1800)
            if p.returncode:
                raise SystemExit(f"{tool} writer failed: {err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        time.sleep(0.2)  # let the backends exit so the postmaster has reaped their CPU
        cpu1 = server_cpu(base)
        counted = json.loads(subprocess.run(
            [_python(tool), "-c", _COUNT[tool], turl], env=_env(), capture_output=True,
            text=True, check=True).stdout.strip().splitlines()[-1])
    finally:
        for p in procs:  # a writer left behind by an error or an interrupt
            if p.poll() is None:
                p.kill()
                p.wait()
        drop()
        shutil.rmtree(folder, ignore_errors=True)
    expected = {"runs": writers * runs, "params": writers * runs * PARAMS,
                "metrics": writers * runs * METRICS}
    return {"wall_s": max(r["end"] for r in results) - min(r["start"] for r in results),
            "client_cpu_s": sum(r["cpu"] for r in results),
            "server_cpu_s": cpu1 - cpu0,
            "lost": sum(expected[k] - counted[k] for k in expected), "stored": counted}


_SCHEMA = {
    "ours": "import sys; from jupyter_mlops.store import open_store; "
            "open_store(sys.argv[1], sys.argv[2])",
    "mlflow": "import sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]); "
              "mlflow.set_experiment('team')",
}


def make_schema(tool: str, url: str, folder: Path) -> None:
    """Create the tool's schema in one process first: concurrent migrations of a new
    database race (MLflow's fail), and no tool pays them per run."""
    subprocess.run([_python(tool), "-c", _SCHEMA[tool], url, str(folder / "artifacts")],
                   env=_env(), cwd=folder, check=True, capture_output=True)


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "max": max(values),
            "all": [round(v, 3) for v in values]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--pg", help="a PostgreSQL server URL (default: a private durable one)")
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    # SIGTERM (and SIGINT, which a background job ignores) unwind: the cluster is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tools = ["ours"] + ([] if args.no_mlflow else ["mlflow"])
    out: dict = {"writers": args.writers, "runs_per_writer": args.runs,
                 "samples": args.samples, "load_1min_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="mlops-team-") as tmp_s, \
            (_Given(args.pg) if args.pg else DurableCluster()) as pg:
        out["server"] = settings(pg.url)
        per: dict[str, list[dict]] = {t: [] for t in tools}
        for _ in range(args.samples):  # interleaved: both tools see the same load
            for tool in tools:
                per[tool].append(sample(tool, pg.url, args.writers, args.runs, Path(tmp_s)))
                s = per[tool][-1]
                print(f"{tool:7} wall {s['wall_s']:6.2f} s  client CPU {s['client_cpu_s']:6.2f}"
                      f" s  server CPU {s['server_cpu_s']:6.2f} s  lost {s['lost']}",
                      file=sys.stderr)
    for tool, samples in per.items():
        out[tool] = {k: stats([s[k] for s in samples])
                     for k in ("wall_s", "client_cpu_s", "server_cpu_s")}
        out[tool]["cpu_s"] = stats([s["client_cpu_s"] + s["server_cpu_s"] for s in samples])
        out[tool]["lost"] = sum(s["lost"] for s in samples)
    if "mlflow" in per:
        out["ratio_wall"] = out["mlflow"]["wall_s"]["median"] / out["ours"]["wall_s"]["median"]
        out["ratio_cpu"] = out["mlflow"]["cpu_s"]["median"] / out["ours"]["cpu_s"]["median"]
        out["ratio_wall_per_sample"] = [round(m["wall_s"] / o["wall_s"], 2)
                                        for o, m in zip(per["ours"], per["mlflow"])]
    out["load_1min_after"] = os.getloadavg()[0]
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return out


class _Given:
    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


if __name__ == "__main__":
    main()
