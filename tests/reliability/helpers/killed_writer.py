"""Test helper: a writer the parent SIGKILLs at a random moment, or mid-artifact.

Usage: killed_writer.py MODE   (store from MLOPS_TRACKING_URI / MLOPS_ARTIFACT_ROOT)

Both modes start a run, log ``flushed`` points, flush, and print ``{"run": ..., "digest":
...}``: everything before that line is durable.

* ``stall``: then starts storing a 4 MiB artifact from a stream that hands over the first
  megabyte, prints ``WRITING`` and hangs — so the kill lands in the middle of a blob write.
* ``burst``: then loops forever logging metrics and storing artifacts of random sizes, so a
  kill at a random time lands anywhere in that cycle.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time

import jupyter_mlops as mlops


class _StallingReader(io.RawIOBase):
    def __init__(self):
        self.sent = 0

    def readable(self):
        return True

    def read(self, size=-1):
        if self.sent >= 1 << 20:
            print("WRITING", flush=True)
            while True:
                time.sleep(1)
        self.sent += 1 << 16
        return os.urandom(1 << 16)


def main() -> int:
    mode = sys.argv[1]
    run = mlops.start_run(experiment="crash", name=mode)
    for step in range(1000):
        mlops.log_metric("flushed", step, step=step)
    rec = mlops.log_artifact(b"durable before the kill", name="before.bin")
    mlops.flush()
    print(json.dumps({"run": run.id, "digest": rec[0].digest if isinstance(rec, list)
                      else rec.digest}), flush=True)
    if mode == "stall":
        from jupyter_mlops import fluent

        fluent.get_client().store.blobs.put_stream(_StallingReader())
        return 1  # never reached
    i = 0
    while True:
        mlops.log_metric("burst", i)
        if i % 200 == 0:
            mlops.log_artifact(os.urandom(1 + (i * 7919) % 300_000), name=f"burst-{i}.bin")
        if i % 1000 == 0:
            mlops.flush()
        i += 1


if __name__ == "__main__":
    sys.exit(main())
