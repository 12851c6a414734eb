"""Test helper: a writer that flushes, reports, keeps logging, and waits to be SIGKILLed.

Usage: crash_writer.py N   (store from MLOPS_TRACKING_URI / MLOPS_ARTIFACT_ROOT)

Uses the fluent API the way a notebook does: starts a run, logs a param, a tag, N points of
``loss``, an artifact, calls ``flush()`` and then prints ``{"run_id": ...}`` — everything
before that line is durable. Afterwards it keeps logging ``after`` points (which may or may
not be written before the kill) and never exits by itself.
"""

from __future__ import annotations

import json
import sys
import time

import jupyter_mlops as mlops


def main() -> int:
    n = int(sys.argv[1])
    run = mlops.start_run(experiment="crash", name="doomed")
    mlops.log_params({"lr": 0.01, "model": "svc"})
    mlops.set_tag("stage", "before-kill")
    for step in range(n):
        mlops.log_metric("loss", 1.0 / (step + 1), step=step)
    mlops.log_artifact({"weights": [1, 2, 3]}, name="model.json")
    mlops.flush()
    print(json.dumps({"run_id": run.id}), flush=True)
    step = 0
    while True:  # the parent kills us somewhere in here
        mlops.log_metric("after", step)
        step += 1
        if step % 1000 == 0:
            time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
