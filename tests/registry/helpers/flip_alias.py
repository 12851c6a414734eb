"""Point ``champion`` of model ``m`` alternately at versions 1 and 2, N times.

Usage: flip_alias.py WORKER N GO_FILE. Uses the store named by MLOPS_TRACKING_URI and
MLOPS_ARTIFACT_ROOT. Prints "ready", waits until GO_FILE exists (so that both workers start
together), flips, prints "done".
"""

import os
import sys
import time

from jupyter_mlops.client import Client

worker, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
reg = Client().registry
reg.get_model("m")  # connect before the race starts
print("ready", flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.005)
for i in range(n):
    reg.set_alias("m", "champion", 1 + (i % 2), reason=f"{worker}-{i}", user=worker)
reg.client.writer.close()
print("done", flush=True)
