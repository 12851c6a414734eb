"""``python -m jupyter_mlops.pipelines.launch --schedule-id N --slot S``: run one fired slot.

Started by :class:`~jupyter_mlops.pipelines.scheduler.SubprocessLauncher` with
``MLOPS_TRACKING_URI``/``MLOPS_ARTIFACT_ROOT`` set. The schedule is read again here, so the
pipeline file and parameters in force at fire time are used. If the pipeline cannot even
start (the file is gone or invalid), the fire is recorded FAILED.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.pipelines.launch")
    parser.add_argument("--schedule-id", type=int, required=True)
    parser.add_argument("--slot", type=float, required=True)
    args = parser.parse_args(argv)

    from jupyter_mlops.client import Client
    from jupyter_mlops.errors import MlopsError
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
        return 2
    except BaseException:
        store.update_fire(sched.id, args.slot, status="FAILED")
        raise
    finally:
        client.flush()
    print(f"schedule {sched.name!r}: pipeline run {record.id} {record.status}")
    return 0 if record.status == "SUCCEEDED" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
