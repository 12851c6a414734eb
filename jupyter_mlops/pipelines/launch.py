"""``python -m jupyter_mlops.pipelines.launch --schedule-id N --slot S``: run one fired slot.

Started by :class:`~jupyter_mlops.pipelines.scheduler.SubprocessLauncher` with
``MLOPS_TRACKING_URI``/``MLOPS_ARTIFACT_ROOT`` set. The schedule is read again here, so the
pipeline file and parameters in force at fire time are used. If the pipeline cannot even
start (the file is gone or invalid), the fire is recorded FAILED.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def spawn_detached(client, module: str, args: list[str], log_name: str,
                   cwd: str | Path) -> subprocess.Popen:
    """Start ``python -m module args…`` in its own session against ``client``'s store.

    Used by the scheduler and by monitoring alerts: the child outlives the caller (a server or
    a kernel), and its output goes to ``<project>/.mlops/logs/<log_name>`` when the store has a
    local folder.
    """
    store = client.store
    env = dict(os.environ, MLOPS_TRACKING_URI=store.url, MLOPS_ARTIFACT_ROOT=store.artifact_root)
    out = subprocess.DEVNULL
    if store.local_dir is not None:
        logs = Path(store.local_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / log_name, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen([sys.executable, "-m", module, *args], env=env, cwd=str(cwd),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        if out is not subprocess.DEVNULL:
            out.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.pipelines.launch")
    parser.add_argument("--schedule-id", type=int, required=True)
    parser.add_argument("--slot", type=float, required=True)
    args = parser.parse_args(argv)

    from jupyter_mlops.client import Client
    from jupyter_mlops.errors import MlopsError, exit_code_for
    from jupyter_mlops.pipelines.runner import run_pipeline
    from jupyter_mlops.store.pipelines import PipelineStore

    client = Client()
    store = PipelineStore(client.store.url)
    sched = store.get_schedule(args.schedule_id)
    try:
        record = run_pipeline(sched.pipeline_path, sched.parameters, client=client,
                              progress="log", trigger="schedule", schedule_id=sched.id,
                              schedule_slot=args.slot)
    except MlopsError as exc:
        store.update_fire(sched.id, args.slot, status="FAILED")
        print(f"error: schedule {sched.name!r}: {exc}", file=sys.stderr)
        return exit_code_for(exc)  # errors.ERROR_TABLE, as `jupyter mlops` exits
    except BaseException:
        store.update_fire(sched.id, args.slot, status="FAILED")
        raise
    finally:
        client.flush()
    print(f"schedule {sched.name!r}: pipeline run {record.id} {record.status}")
    return 0 if record.status == "SUCCEEDED" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
