"""``jupyter mlops monitor …``: drift, live quality and alerts of served models (parse, call,
print). ``jupyter_mlops.cli`` merges :data:`COMMANDS` into its handler map and prints any
``MlopsError`` as one line.
"""

from __future__ import annotations

import argparse
import json
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.format import print_table, when
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    """Add the ``monitor`` command group."""
    mon = top.add_parser("monitor", help="drift, live quality and alerts of served models") \
        .add_subparsers(dest="action", required=True, metavar="ACTION")
    p = mon.add_parser("list", help="monitors and their latest window")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = mon.add_parser("show", help="a monitor's latest window, per feature")
    p.add_argument("name", help="monitor name (by default the model reference, e.g. "
                   "churn@champion)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p = mon.add_parser("report", help="write the drift report as a standalone HTML file")
    p.add_argument("name")
    p.add_argument("--output", "-o", required=True, help="HTML file to write")
    p.add_argument("--last", type=int, default=50, help="windows to include")
    p.add_argument("--measure", default="psi", help="score drawn over time (psi, ks, js…)")
    p = mon.add_parser("alerts", help="recorded alerts, newest first")
    p.add_argument("name")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = mon.add_parser("rules", help="alert rules")
    p.add_argument("name")
    p = mon.add_parser("add-alert", help="alert when MEASURE OP THRESHOLD (e.g. psi '>' 0.2)")
    p.add_argument("name")
    p.add_argument("measure")
    p.add_argument("op", choices=[">", ">=", "<", "<="])
    p.add_argument("threshold", type=float)
    p.add_argument("--feature", "-f", help="one feature (default: any)")
    p.add_argument("--pipeline", "-p", help="pipeline.yaml to run when it fires (retrain)")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="pipeline parameter (repeatable)")
    p.add_argument("--cooldown", default="1h", help="minimum time between pipeline runs")
    p = mon.add_parser("remove-alert", help="delete an alert rule")
    p.add_argument("name")
    p.add_argument("rule_id", type=int)
    p = mon.add_parser("metrics", help="the monitor's Prometheus metrics (text format)")
    p.add_argument("name")


def _monitor(args):
    from jupyter_mlops.monitoring.monitor import get_monitor

    return get_monitor(args.name, client=client_for(args))


def monitor_list(args) -> None:
    store = client_for(args).stores.monitoring
    rows = []
    for m in store.list_monitors():
        last = store.list_windows(m.id, 1)
        w = last[-1] if last else None
        rows.append({"name": m.name, "model": m.model_ref, "window": m.config.get("window"),
                     "windows": w.seq if w else 0,
                     "latest": when(w.end_at) if w else "-",
                     "drifted": f"{w.columns_drifted}/{w.columns_checked}" if w else "-"})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("No monitors. Create one with mlops.monitor('MODEL@ALIAS', reference=df).")
        return
    print_table(["MONITOR", "MODEL", "WINDOWS", "LATEST", "DRIFTED"],
           [[r["name"], r["model"], r["windows"], r["latest"], r["drifted"]] for r in rows])


def monitor_show(args) -> None:
    mon = _monitor(args)
    windows = mon.windows(1)
    if not windows:
        print(f"Monitor {mon.name} ({mon.model_ref}): no window closed yet.")
        return
    w = windows[-1]
    points = mon.store.series(mon.id, since_seq=w.seq)
    if args.format == "json":
        print(json.dumps({"window": w.to_dict(), "results": [p.to_dict() for p in points]},
                         indent=2))
        return
    print(f"Monitor {mon.name} ({mon.model_ref}) window {w.seq}: {w.rows} rows "
          f"{when(w.start_at)} – {when(w.end_at)}, model version {w.model_version}, "
          f"{w.columns_drifted} of {w.columns_checked} columns drifted")
    schema = (w.summary or {}).get("schema") or {}
    for key, value in schema.items():
        if value:
            print(f"  schema {key.replace('_', ' ')}: {value}")
    by_feature: dict[str, dict[str, float]] = {}
    drifted: dict[str, bool] = {}
    for p in points:
        by_feature.setdefault(p.feature, {})[p.measure] = p.value
        if p.measure == "drift":
            drifted[p.feature] = bool(p.drifted)
    measures = ["psi", "ks", "ks_pvalue", "js", "chi2_pvalue", "missing_share"]
    rows = [[f, "DRIFT" if drifted.get(f) else "ok",
             *(_fmt(vals.get(m)) for m in measures)]
            for f, vals in sorted(by_feature.items(), key=lambda kv: not drifted.get(kv[0]))
            if f]
    print_table(["FEATURE", "VERDICT", *measures], rows)
    model_level = by_feature.get("", {})
    quality = {k: v for k, v in model_level.items() if k in ("accuracy", "f1", "mae", "rmse",
                                                               "labelled")}
    if quality:
        print("live quality: " + ", ".join(f"{k}={_fmt(v)}" for k, v in quality.items()))


def _fmt(v) -> str:
    return "-" if v is None or v != v else f"{v:.4g}"


def monitor_report(args) -> None:
    mon = _monitor(args)
    report = mon.report(last=max(1, args.last), measure=args.measure)
    path = report.save_html(args.output)
    print(f"Wrote {path} ({len(report.windows)} windows, {len(report.alerts)} alerts).")


def monitor_alerts(args) -> None:
    mon = _monitor(args)
    alerts = mon.alerts(max(1, args.limit))
    if args.format == "json":
        print(json.dumps([a.to_dict() for a in alerts], indent=2))
        return
    if not alerts:
        print("No alerts.")
        return
    print_table(["WHEN", "ACTION", "PIPELINE RUN", "MESSAGE"],
           [[when(a.at), a.action, (a.pipeline_run_id or "-")[:12], a.message] for a in alerts])


def monitor_rules(args) -> None:
    rules = _monitor(args).rules()
    if not rules:
        print("No alert rules. Add one with `jupyter mlops monitor add-alert NAME psi '>' 0.2`.")
        return
    print_table(["ID", "RULE", "PIPELINE", "COOL-DOWN", "LAST TRIGGERED"],
           [[r.id, f"{r.measure} {r.op} {r.threshold:g}" + (f" on {r.feature}" if r.feature
                                                           else ""),
             r.pipeline or "-", f"{r.cooldown_s:g} s", when(r.last_triggered_at)]
            for r in rules])


def monitor_add_alert(args) -> None:
    from jupyter_mlops.errors import InvalidInputError

    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--param takes KEY=VALUE, got {item!r}.")
        params[key] = value
    rule = _monitor(args).add_alert(args.measure, args.threshold, op=args.op,
                                    feature=args.feature, pipeline=args.pipeline,
                                    parameters=params or None, cooldown=args.cooldown)
    print(f"Alert rule {rule.id}: {rule.measure} {rule.op} {rule.threshold:g}"
          + (f" on {rule.feature}" if rule.feature else "")
          + (f" → runs {rule.pipeline} (cool-down {rule.cooldown_s:g} s)" if rule.pipeline
             else ""))


def monitor_remove_alert(args) -> None:
    _monitor(args).remove_alert(args.rule_id)
    print(f"Removed alert rule {args.rule_id}.")


def monitor_metrics(args) -> None:
    from jupyter_mlops.monitoring.metrics import exposition

    sys.stdout.write(exposition(_monitor(args)).decode())


COMMANDS = {
    ("monitor", "list"): monitor_list,
    ("monitor", "show"): monitor_show,
    ("monitor", "report"): monitor_report,
    ("monitor", "alerts"): monitor_alerts,
    ("monitor", "rules"): monitor_rules,
    ("monitor", "add-alert"): monitor_add_alert,
    ("monitor", "remove-alert"): monitor_remove_alert,
    ("monitor", "metrics"): monitor_metrics,
}
