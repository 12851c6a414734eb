"""Test helper: one of several processes writing metrics and artifacts into one store at once.

Usage: writer.py URL ARTIFACT_ROOT WORKER N ARTIFACTS GO_FILE

Creates its own run, creates GO_FILE.ready<WORKER>, waits until GO_FILE exists (so every
worker starts together), then logs N points of ``m`` (value = WORKER * 1e6 + step) with a
flush every 500 points, ARTIFACTS artifacts of its own plus one whose content every worker
shares (the same blob written concurrently), ends the run and prints
``{"run": ..., "digests": [...], "flush_ms": [...]}`` on its last line.
"""

from __future__ import annotations

import json
import os
import sys
import time

from jupyter_mlops.client import Client


def main() -> int:
    url, root, worker, n, n_art, go = sys.argv[1:7]
    worker, n, n_art = int(worker), int(n), int(n_art)
    client = Client(url, root)
    run = client.create_run(experiment="reliability", name=f"writer-{worker}")
    open(f"{go}.ready{worker}", "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("never got the go signal", file=sys.stderr)
            return 3
        time.sleep(0.005)
    digests, flush_ms = [], []
    every = max(1, n // max(1, n_art))
    for step in range(n):
        client.log_metric(run.id, "m", worker * 1_000_000 + step, step=step)
        if step % 500 == 499:
            t = time.perf_counter()
            client.flush()
            flush_ms.append((time.perf_counter() - t) * 1000)
        if n_art and step % every == 0 and len(digests) < n_art:
            payload = f"worker {worker} artifact {len(digests)} ".encode() * 200
            digests.append(client.log_artifact(run.id, payload, name=f"a{len(digests)}.bin")[0]
                           .digest)
    shared = client.log_artifact(run.id, b"the same bytes from everyone" * 100,
                                 name="shared.bin")[0]
    client.end_run(run.id)
    print(json.dumps({"run": run.id, "digests": digests + [shared.digest],
                      "flush_ms": flush_ms}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
