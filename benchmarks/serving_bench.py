"""Serving a LogisticRegression (30 features): ours vs ``mlflow models serve`` on loopback.

    .venv/bin/python benchmarks/serving_bench.py [--quick] [--duration S]

Prints one JSON object (last stdout line) with requests/s and p50/p99 latency at 1 and 16
concurrent connections for each server, the ratios, and ``rows`` for ``benchmarks/run.py``.

Method. The same seeded data (5,000 × 30, saved as ``.npy``) trains the same scikit-learn
model in each tool's environment; each server answers the same one-row
``{"dataframe_split": …}`` body (both return the same prediction; checked). Servers run one
at a time, on 127.0.0.1 only. Load comes from ``wrk`` (Debian's package: one thread, keep-alive
connections, ``--latency``) for ``--duration`` seconds after a 2-second warm-up; without
``wrk`` a bounded Python load generator is used and the JSON says so. By default the server and
``wrk`` share every core; ``--pin 0:1`` keeps each server (with all its processes, MLflow's
workers too) on CPU 0 and ``wrk`` on CPU 1, so the load generator never takes the server's core
(how load tests are run when the generator must share the machine).

- **ours** — ``python -m jupyter_mlops.serving models:/bench@champion`` (uvicorn + httptools
  + uvloop, one process), twice: plain, and logging every request to a monitor.
- **MLflow 3.17.2** — ``mlflow models serve -m <model> --env-manager local --workers N`` in
  ``benchmarks/.envs/mlflow`` (created by ``benchmarks/run.py``; created here if missing),
  telemetry off, ``log_model`` with explicit ``pip_requirements``; once per ``N`` of
  ``--mlflow-workers`` (default: 1, its default, and one uvicorn worker per core, how
  uvicorn's deployment guide sizes a server). Each ratio is against MLflow's best
  configuration at that concurrency, named in the row.

Target (issue 5): at least 5× MLflow's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MLFLOW_ENV = HERE / ".envs" / "mlflow"
MLFLOW_PIN = "mlflow==3.17.2"
FEATURES = [f"x{i}" for i in range(30)]
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
         "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}

_MLFLOW_SAVE = r"""
import sys, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
import mlflow.sklearn
folder, out = sys.argv[1], sys.argv[2]
X = pd.DataFrame(np.load(folder + "/X.npy"), columns=[f"x{i}" for i in range(30)])
y = np.load(folder + "/y.npy")
model = LogisticRegression(max_iter=1000).fit(X, y)
mlflow.sklearn.save_model(model, out, input_example=X.head(3),
                          pip_requirements=["scikit-learn", "pandas", "numpy"])
print("saved")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(folder: Path) -> bytes:
    import numpy as np

    row = np.load(folder / "X.npy")[7].tolist()
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": [row]}}).encode()


def post(url: str, data: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not become ready")


def stop(proc: subprocess.Popen) -> None:
    """End the server we started (its own process group: MLflow forks uvicorn workers)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


#: CPUs for the server and for wrk (``--pin``); None: both may run anywhere.
CPUS: dict[str, set[int] | None] = {"server": None, "load": None}


def pinned(role: str):
    """A ``preexec_fn`` keeping the child (and what it forks) on ``CPUS[role]``'s CPUs."""
    cpus = CPUS[role]
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


# ---------------------------------------------------------------------- load generation
def load(url: str, data: bytes, connections: int, duration: float, folder: Path) -> dict:
    wrk = shutil.which("wrk")
    if wrk:
        script = folder / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = '
                          '"application/json"\nwrk.body = ' + json.dumps(data.decode()) + "\n")
        subprocess.run([wrk, "-t1", f"-c{connections}", "-d2s", "-s", str(script), url],
                       capture_output=True, timeout=60, preexec_fn=pinned("load"))
        out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{int(duration)}s",
                              "--latency", "-s", str(script), url],
                             capture_output=True, text=True, timeout=duration + 60,
                             preexec_fn=pinned("load")).stdout
        return _parse_wrk(out)
    return _python_load(url, data, connections, duration)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "tool": "wrk",
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1) if sock else None}


def _python_load(url: str, data: bytes, connections: int, duration: float) -> dict:
    import http.client
    from urllib.parse import urlparse

    u = urlparse(url)
    stop_at = time.perf_counter() + duration
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        mine = []
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            conn.request("POST", u.path, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            if r.status != 200:
                errors[0] += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 30)
    elapsed = time.perf_counter() - t0
    lat.sort()
    return {"rps": len(lat) / elapsed, "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[int(0.99 * (len(lat) - 1))] * 1000, "tool": "python threads",
            "non_2xx": errors[0]}


# ---------------------------------------------------------------------- the two servers
def make_data(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    X = rng.normal(size=(5000, 30))
    y = (X @ rng.normal(size=30) + rng.normal(scale=0.5, size=5000) > 0).astype(int)
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)


def run_ours(folder: Path, data: bytes, duration: float, monitor: bool) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.client import Client
    from jupyter_mlops.monitoring.monitor import monitor as make_monitor
    from jupyter_mlops.store import forget_open_stores

    store = folder / f"ours-{'mon' if monitor else 'plain'}"
    store.mkdir()
    url_db, artifacts = f"sqlite:///{store / 'mlops.db'}", str(store / "artifacts")
    client = Client(url_db, artifacts)
    X = pd.DataFrame(np.load(folder / "X.npy"), columns=FEATURES)
    model = LogisticRegression(max_iter=1000).fit(X, np.load(folder / "y.npy"))
    reg = client.registry
    v = reg.register_model(model, "bench", input_example=X.head(3))
    reg.set_alias("bench", "champion", v.version)
    args = []
    if monitor:
        make_monitor("bench@champion", reference=X, window=1000, client=client)
        args = ["--monitor", "bench@champion"]
    client.writer.close()
    forget_open_stores()
    port = free_port()
    # Scoring needs no token (only POST /feedback does); the server still writes its
    # token file, so keep that in the scratch folder rather than ~/.mlops/runtime.
    env = dict(os.environ, MLOPS_TRACKING_URI=url_db, MLOPS_ARTIFACT_ROOT=artifacts,
               MLOPS_HOME=str(store / "home"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlops.serving",
                             "models:/bench@champion", "--port", str(port), *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=pinned("server"))
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/health", proc)
        status, answer = post(base + "/invocations", data)
        result = {"answer": json.loads(answer)["predictions"], "status": status}
        for c in (1, 16):
            result[f"c{c}"] = load(base + "/invocations", data, c, duration, folder)
        return result
    finally:
        stop(proc)


def ensure_mlflow() -> Path | None:
    python = MLFLOW_ENV / "bin" / "python"
    if python.exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_ENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", MLFLOW_PIN, "scikit-learn"],
                       check=True, timeout=1200)
        return python
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"MLflow could not be installed: {exc}", file=sys.stderr)
        return None


def run_mlflow(folder: Path, data: bytes, duration: float, workers: int = 1) -> dict | None:
    python = ensure_mlflow()
    if python is None:
        return None
    env = dict(os.environ, **QUIET)
    env.pop("PYTHONPATH", None)
    # `mlflow models serve` runs `uvicorn` by name: the venv's bin must come first on PATH.
    env["PATH"] = os.pathsep.join([str(MLFLOW_ENV / "bin"), env.get("PATH", "")])
    model_dir = folder / "mlflow-model"
    if not (model_dir / "MLmodel").exists():  # saved once, served once per worker count
        saved = subprocess.run([str(python), "-c", _MLFLOW_SAVE, str(folder), str(model_dir)],
                               capture_output=True, text=True, env=env, timeout=600)
        if saved.returncode != 0:
            print(saved.stderr[-3000:], file=sys.stderr)
            return None
    port = free_port()
    mlflow_cli = MLFLOW_ENV / "bin" / "mlflow"
    proc = subprocess.Popen([str(mlflow_cli), "models", "serve", "-m", str(model_dir),
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
                             "--workers", str(workers)],
                            env=env, cwd=str(folder), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=pinned("server"))
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/ping", proc)
        status, answer = post(base + "/invocations", data)
        result = {"answer": json.loads(answer)["predictions"], "status": status}
        version = subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"],
                                 capture_output=True, text=True, env=env).stdout.strip()
        result["version"], result["workers"] = version, workers
        for c in (1, 16):
            result[f"c{c}"] = load(base + "/invocations", data, c, duration, folder)
        return result
    finally:
        stop(proc)


def _cpu_list(text: str) -> set[int]:
    """``"0"``, ``"0,2"`` or ``"0-2"`` as a set of CPU numbers (``--pin``)."""
    cpus: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    if not cpus:
        raise SystemExit(f"--pin: no CPUs in {text!r}; give e.g. 0:1")
    return cpus


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3-second runs")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--no-anchors", action="store_true", help="skip MLflow")
    parser.add_argument("--mlflow-workers", type=int, nargs="+",
                        default=sorted({1, os.cpu_count() or 1}),
                        help="MLflow's uvicorn worker counts to run (default: 1 and one per core)")
    parser.add_argument("--pin", metavar="SERVER:LOAD",
                        help="CPU lists for the servers and for wrk, e.g. 0:1 or 0-2:3")
    args = parser.parse_args(argv)
    if args.pin:
        server_cpus, _, load_cpus = args.pin.partition(":")
        CPUS.update(server=_cpu_list(server_cpus), load=_cpu_list(load_cpus))
    duration = 3.0 if args.quick else args.duration
    result: dict = {"bench": "serving", "duration_s": duration,
                    "pin": {k: sorted(v) if v else None for k, v in CPUS.items()},
                    "load_1min_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="mlops-serve-bench-") as tmp:
        folder = Path(tmp)
        make_data(folder)
        data = body(folder)
        result["ours"] = run_ours(folder, data, duration, monitor=False)
        result["ours_monitored"] = run_ours(folder, data, duration, monitor=True)
        runs = [] if args.no_anchors else [
            run_mlflow(folder, data, duration, w) for w in args.mlflow_workers]
        result["mlflow_runs"] = [r for r in runs if r is not None]
    result["mlflow"] = None
    rows = []
    if result["mlflow_runs"]:
        result["same_answer"] = all(r["answer"] == result["ours"]["answer"]
                                    for r in result["mlflow_runs"])
        # Against MLflow at its best for each concurrency (its fastest worker count).
        best = {c: max(result["mlflow_runs"], key=lambda r: r[f"c{c}"]["rps"]) for c in (1, 16)}
        result["mlflow"] = {"version": best[1]["version"], "answer": best[1]["answer"],
                            **{f"c{c}": {**best[c][f"c{c}"], "workers": best[c]["workers"]}
                               for c in (1, 16)}}
        m = result["mlflow"]
        for key, label in (("ours", "ours"), ("ours_monitored", "ours + monitoring")):
            for c in (1, 16):
                ratio = result[key][f"c{c}"]["rps"] / m[f"c{c}"]["rps"]
                result[f"ratio_{key}_c{c}"] = ratio
                rows.append({
                    "bench": f"serving c={c}",
                    "what": f"{label} vs mlflow models serve --workers "
                            f"{m[f'c{c}']['workers']} (req/s)",
                    "ours": f"{result[key][f'c{c}']['rps']:.0f} req/s, p50 "
                            f"{result[key][f'c{c}']['p50_ms']:.2f} ms, p99 "
                            f"{result[key][f'c{c}']['p99_ms']:.2f} ms",
                    "anchor": f"{m[f'c{c}']['rps']:.0f} req/s, p50 {m[f'c{c}']['p50_ms']:.2f} "
                              f"ms, p99 {m[f'c{c}']['p99_ms']:.2f} ms",
                    "ratio": f"{ratio:.1f}×", "target": "≥ 5×",
                    "met": bool(ratio >= 5 and result["same_answer"])})
    result["rows"] = rows
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
