"""A scheduler process for the exactly-once test: runs for N seconds, logs every launch.

usage: run_scheduler.py SECONDS LAUNCH_LOG   (store from MLOPS_TRACKING_URI/ARTIFACT_ROOT)
"""

import os
import sys
import threading
import time

from jupyter_mlops.client import Client
from jupyter_mlops.pipelines.scheduler import Scheduler


def main() -> None:
    seconds, log_path = float(sys.argv[1]), sys.argv[2]

    def launch(sched, slot):
        # O_APPEND writes of one short line are atomic between processes.
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{slot!r} {os.getpid()}\n".encode())
        os.close(fd)

    s = Scheduler(Client(), poll_interval=0.05, launcher=launch)
    threading.Timer(seconds, s.stop).start()
    print("ready", flush=True)
    s.run_forever()
    time.sleep(0.1)


if __name__ == "__main__":
    main()
