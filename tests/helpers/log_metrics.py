"""Test helper: one of several processes logging metrics into the same store at once.

Usage: log_metrics.py URL ARTIFACT_ROOT SHARED_RUN_ID WORKER N GO_FILE

Creates its own run, creates GO_FILE.ready<WORKER>, waits until GO_FILE exists (so all
workers start logging together), then logs N points of ``loss`` into the shared run
(value = WORKER * 1e6 + step) and N points of ``acc`` into its own run, flushing every 100
points. Prints ``{"own_run": ...}`` as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time

from jupyter_mlops.client import Client


def main() -> int:
    url, root, shared, worker, n, go = sys.argv[1:7]
    worker, n = int(worker), int(n)
    client = Client(url, root)
    own = client.create_run(experiment="concurrency", name=f"worker-{worker}")
    open(f"{go}.ready{worker}", "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("never got the go signal", file=sys.stderr)
            return 3
        time.sleep(0.01)
    for step in range(n):
        client.log_metric(shared, "loss", worker * 1_000_000 + step, step=step)
        client.log_metric(own.id, "acc", step / n, step=step)
        if step % 100 == 99:
            client.flush()
    client.end_run(own.id)
    client.flush()
    print(json.dumps({"own_run": own.id}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
