"""Test helper: print what a store holds for some runs, read by a fresh process.

Usage: dump_runs.py URL ARTIFACT_ROOT RUN_ID [RUN_ID ...]

Prints one JSON object on its last line: ``{run_id: {"params": {...}, "tags": {...},
"metrics": {key: [[step, value, timestamp], ...]}}}``, each series in step order. Non-finite
values are written as JSON's NaN/Infinity extensions, which ``json.loads`` reads back.
"""

from __future__ import annotations

import json
import sys

from jupyter_mlops.client import Client


def main() -> int:
    url, root, *run_ids = sys.argv[1:]
    client = Client(url, root)
    out = {}
    for run_id in run_ids:
        run = client.store.runs.get_run(run_id)
        metrics = {}
        for key in client.store.runs.metric_keys(run_id):
            metrics[key] = [[p.step, p.value, p.timestamp]
                            for p in client.store.runs.metric_history(run_id, key)]
        out[run_id] = {"params": run.params, "tags": run.tags, "metrics": metrics}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
