"""``python -m jupyter_mlops.monitoring.launch --alert-id N``: run the pipeline an alert started.

Started by :class:`~jupyter_mlops.monitoring.alerts.SubprocessLauncher` with the store's
location in the environment. The pipeline run gets the id already recorded on the alert and
``trigger="alert"``; if it cannot even start, the alert is marked FAILED with the reason.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.monitoring.launch")
    parser.add_argument("--alert-id", type=int, required=True)
    args = parser.parse_args(argv)

    from jupyter_mlops.client import Client
    from jupyter_mlops.errors import MlopsError, exit_code_for
    from jupyter_mlops.pipelines.runner import run_pipeline
    from jupyter_mlops.store.monitoring import MonitoringStore

    client = Client()
    store = MonitoringStore(client.store.url)
    alert = store.get_alert(args.alert_id)
    rule = store.get_rule(alert.rule_id)
    try:
        record = run_pipeline(rule.pipeline, rule.parameters or None, client=client,
                              progress="log", trigger="alert",
                              pipeline_run_id=alert.pipeline_run_id)
    except MlopsError as exc:
        store.set_alert_action(alert.id, "FAILED", f"{alert.message}; the pipeline could not "
                                                   f"start: {exc}")
        print(f"error: alert {alert.id}: {exc}", file=sys.stderr)
        return exit_code_for(exc)  # errors.ERROR_TABLE, as `jupyter mlops` exits
    finally:
        client.flush()
    print(f"alert {alert.id}: pipeline run {record.id} {record.status}")
    return 0 if record.status == "SUCCEEDED" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
