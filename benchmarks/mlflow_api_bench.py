"""MLflow client logging through ``jupyter mlops server`` vs through ``mlflow server``.

Side by side in one run, on the same machine: per sample, each server is started fresh
(ours: SQLite store; MLflow's: its default SQLite backend with ``--serve-artifacts``), then
each workload runs in a fresh client process with ``MLFLOW_TRACKING_URI`` pointing at it:

- ``metric_calls``: 1 run x ``--metric-calls`` (default 1,000) ``mlflow.log_metric`` calls
  (one HTTP request each);
- ``batch_runs``: ``--runs`` (default 100) runs, each one ``MlflowClient().log_batch`` (10 params, 50 metrics,
  5 tags) between ``create_run`` and ``set_terminated``.

Reported per workload and server: the CPU time (user+sys) the server's process tree spent
serving it, the client process's CPU time and the wall time; median and max of the samples,
and the ratios ours/MLflow's of the medians. CPU time, because the machine is shared.

    .venv/bin/python benchmarks/mlflow_api_bench.py --samples 5 [--metric-calls 1000 --runs 100]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

WORKLOADS = {
    "metric_calls": """
import mlflow
with mlflow.start_run():
    for i in range(N_CALLS):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
""",
    "batch_runs": """
import time
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
c = MlflowClient()
exp = c.get_experiment_by_name("Default").experiment_id
for r in range(N_RUNS):
    run = c.create_run(exp)
    ts = int(time.time() * 1000)
    c.log_batch(run.info.run_id,
                metrics=[Metric(f"m{k}", k * 0.5, ts, s) for k in range(10) for s in range(5)],
                params=[Param(f"p{k}", str(k)) for k in range(10)],
                tags=[RunTag(f"t{k}", "x") for k in range(5)])
    c.set_terminated(run.info.run_id)
""",
}
CLIENT = """
import os, resource, sys, time
t0 = time.perf_counter()
exec(sys.stdin.read())
u = resource.getrusage(resource.RUSAGE_SELF)
print(u.ru_utime + u.ru_stime, time.perf_counter() - t0)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def start(kind: str, folder: Path) -> tuple[subprocess.Popen, str, str | None]:
    port, token = free_port(), None
    if kind == "ours":
        token = secrets.token_urlsafe(16)
        cmd = [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri",
               f"sqlite:///{folder / 'ours.db'}", "--artifact-root", str(folder / "ours-art"),
               "server", "--port", str(port), "--token", token]
    else:
        cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1",
               "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--artifacts-destination", str(folder / "mlflow-art")]
    log = open(folder / f"{kind}.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2).read()
            return proc, url, token
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((folder / f"{kind}.log").read_text()[-2000:]) from None
            time.sleep(0.3)


def sample(kind: str) -> dict[str, dict[str, float]]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, token = start(kind, Path(tmp))
        ps = psutil.Process(proc.pid)
        try:
            for name, code in WORKLOADS.items():
                env = {**os.environ, "MLFLOW_TRACKING_URI": url}
                if token:
                    env["MLFLOW_TRACKING_TOKEN"] = token
                before = tree_cpu(ps)
                done = subprocess.run([sys.executable, "-c", CLIENT], input=code, env=env,
                                      capture_output=True, text=True, cwd=tmp)
                if done.returncode:
                    raise RuntimeError(done.stderr[-2000:])
                server_cpu = tree_cpu(ps) - before
                client_cpu, wall = map(float, done.stdout.split()[-2:])
                out[name] = {"server_cpu": server_cpu, "client_cpu": client_cpu, "wall": wall}
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--metric-calls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    for name in WORKLOADS:
        WORKLOADS[name] = (f"N_CALLS = {args.metric_calls}\nN_RUNS = {args.runs}\n"
                           + WORKLOADS[name])
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    for _ in range(args.samples):
        for kind in ("ours", "mlflow"):  # alternate, so load drifts hit both alike
            for workload, values in sample(kind).items():
                slot = results.setdefault(workload, {}).setdefault(kind, {})
                for k, v in values.items():
                    slot.setdefault(k, []).append(v)
    report = {}
    for workload, kinds in results.items():
        row = {}
        for kind, values in kinds.items():
            row[kind] = {k: {"median": round(statistics.median(v), 3), "max": round(max(v), 3)}
                         for k, v in values.items()}
        row["ratio_ours_over_mlflow"] = {
            k: round(row["ours"][k]["median"] / row["mlflow"][k]["median"], 2)
            for k in ("server_cpu", "client_cpu", "wall")}
        report[workload] = row
    print(json.dumps({"samples": args.samples, "metric_calls": args.metric_calls,
                      "runs": args.runs, "results": report}, indent=1))


if __name__ == "__main__":
    main()
