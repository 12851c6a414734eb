"""A process running a sweep on the test store (MLOPS_TRACKING_URI), for the process tests.

``python sweep_worker.py NAME N_TRIALS SLEEP [BARRIER_DIR PARTIES]`` prints ``started N`` as
each trial starts, so a test can kill it mid-trial, and ``done`` at the end. With a barrier,
it starts sweeping only once PARTIES workers are ready (their start-up times differ by
seconds on a loaded machine).
"""

import os
import sys
import time
from pathlib import Path

import jupyter_mlops as mlops


def objective(trial):
    print(f"started {trial.number}", flush=True)
    time.sleep(float(sys.argv[3]))
    return (trial["x"] - 0.5) ** 2


if __name__ == "__main__":
    if len(sys.argv) > 4:
        barrier, parties = Path(sys.argv[4]), int(sys.argv[5])
        (barrier / str(os.getpid())).touch()
        while len(list(barrier.iterdir())) < parties:
            time.sleep(0.05)
    mlops.sweep(objective, "x=uniform(0,1)", n_trials=int(sys.argv[2]), name=sys.argv[1],
                sampler="random")
    mlops.flush()
    print("done", flush=True)
