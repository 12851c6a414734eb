"""Monitors in a sync: definitions, closed windows with their results, alert rules, alerts.

Matched by what names them on every store: a monitor by name, a window by (monitor, start,
end, creation time), a rule by (monitor, measure, feature, operator, threshold), an alert
by (monitor, rule, time, measure, feature). Integer ids are rewritten to the target's.

- A monitor the target lacks is added, with its reference profile's blob (and its
  reference dataset's link, if that dataset travelled). Both have it with another
  definition (model, reference, profile, configuration): the side that changed it since the
  last sync wins (the agreed definition is a ``mon:`` sync mark); changed on both sides, or
  never the same: a conflict, the target's kept.
- Windows the target lacks are added with their results and their raw-rows blob; a window
  number the target already uses for another window becomes its next free number (noted).
- Alert rules and alerts the target lacks are added; a rule's cool-down clock
  (``last_triggered_at``) travels, so a pipeline the source's alert started is not started
  again at the target in the same cool-down.

Not carried: the logged predictions and their ground truth (``monitor_records``, which can be
large and keep arriving); a window's live-quality results are recomputed from them only
where they were logged. Only a whole-store sync carries monitors.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import Connection, select, update

from jupyter_mlops.store.orm import Alert, AlertRule, Monitor, MonitorResult, MonitorWindow
from jupyter_mlops.store.sync_deletions import Agreement, key_mark, kind_marks, value_hash
from jupyter_mlops.store.sync_runs import chunks, insert_rows

MON = "mon:"
_DEFINITION = ("model_name", "model_ref", "reference_digest", "profile_digest", "config")


def _window_key(w: dict) -> tuple:
    return (w["monitor"], w["start_at"], w["end_at"], w["created_at"])


def _rule_key(r: dict) -> tuple:
    return (r["monitor"], r["measure"], r["feature"], r["op"], r["threshold"])


def _alert_key(a: dict) -> tuple:
    return (a["monitor"], a["rule"], a["at"], a["measure"], a["feature"])


# ---------------------------------------------------------------------------- reading
def monitor_state(conn: Connection) -> dict:
    """Monitors by name; windows, rules and alerts with their monitor's name (results are
    read only for the windows that move: :func:`moving_results`)."""
    monitors = {r["name"]: dict(r) for r in conn.execute(select(Monitor.__table__)).mappings()}
    names = {m["id"]: n for n, m in monitors.items()}
    windows = [dict(r, monitor=names[r["monitor_id"]]) for r in conn.execute(
        select(MonitorWindow.__table__).order_by(MonitorWindow.id)).mappings()]
    rules = [dict(r, monitor=names[r["monitor_id"]]) for r in conn.execute(
        select(AlertRule.__table__).order_by(AlertRule.id)).mappings()]
    rule_keys = {r["id"]: _rule_key(r) for r in rules}
    seqs = {w["id"]: w["seq"] for w in windows}
    alerts = [dict(r, monitor=names[r["monitor_id"]], rule=rule_keys[r["rule_id"]],
                   window_seq=seqs.get(r["window_id"])) for r in conn.execute(
        select(Alert.__table__).order_by(Alert.id)).mappings()]
    return {"monitors": monitors, "windows": windows, "rules": rules, "alerts": alerts}


def monitor_digests(state: dict) -> set[str]:
    """Reference profiles and the raw rows kept with windows."""
    return ({m["profile_digest"] for m in state["monitors"].values()}
            | {w["data_digest"] for w in state["windows"] if w["data_digest"]})


def monitor_agreement(src: Connection, dst: Connection, src_id: str, dst_id: str) -> Agreement:
    return Agreement(kind_marks(dst, src_id, (MON,)), kind_marks(src, dst_id, (MON,)))


def moving_results(src: Connection, dst: Connection, state: dict) -> dict[int, list[dict]]:
    """The results of the source's windows the target lacks, by source window id."""
    have = {_window_key(w) for w in monitor_state(dst)["windows"]}
    window_ids = [w["id"] for w in state["windows"] if _window_key(w) not in have]
    out: dict[int, list[dict]] = defaultdict(list)
    for part in chunks(sorted(window_ids)):
        for r in src.execute(select(MonitorResult.__table__).where(
                MonitorResult.window_id.in_(part))).mappings():
            out[r["window_id"]].append(dict(r))
    return out


# ---------------------------------------------------------------------------- writing
def write_monitors(dst: Connection, state: dict, results: dict[int, list[dict]],
                   agreement: Agreement, out) -> None:
    """Everything above, in ``dst``'s transaction (``results``: :func:`moving_results`)."""
    tgt = monitor_state(dst)
    ids = _monitors(dst, state, tgt, agreement, out)
    window_ids = _windows(dst, state, results, tgt, ids, out)
    rule_ids = _rules(dst, state, tgt, ids, out)
    _alerts(dst, state, tgt, ids, rule_ids, window_ids, out)


def _definition(m: dict) -> int:
    return value_hash(tuple(repr(m[k]) for k in _DEFINITION))


def _monitors(dst, state, tgt, agreement: Agreement, out) -> dict[str, int]:
    for name, s in sorted(state["monitors"].items()):
        t, mark = tgt["monitors"].get(name), key_mark(MON, (), name)
        if t is None:
            row = {k: v for k, v in s.items() if k != "id"}
            row["reference_dataset_id"] = out.datasets.get(s["reference_dataset_id"])
            insert_rows(dst, Monitor.__table__, [row])
            out.counts["monitors"] += 1
            out.target_marks[mark] = _definition(s)
            continue
        if _definition(s) == _definition(t):
            if agreement.target.get(mark) != _definition(s):
                out.target_marks[mark] = _definition(s)
            continue
        agreed = agreement.of(MON, (), (), name)
        if agreed == _definition(t):  # changed at the source only
            values = {k: s[k] for k in _DEFINITION}
            values["reference_dataset_id"] = out.datasets.get(s["reference_dataset_id"])
            values["updated_at"] = max(s["updated_at"], t["updated_at"])
            dst.execute(update(Monitor).where(Monitor.id == t["id"]).values(**values))
            out.target_marks[mark] = _definition(s)
            out.counts["monitors"] += 1
        elif agreed != _definition(s):
            out.conflicts.append(
                f"monitor {name!r}: its model, reference or configuration changed on both "
                "sides since the last sync (or they were never the same); kept the target's "
                "(save the monitor again on the side that should win, and sync again).")
    return dict(dst.execute(select(Monitor.name, Monitor.id)).all())


def _windows(dst, state, results, tgt, ids: dict[str, int], out) -> dict[tuple, int]:
    """Adds the windows the target lacks; returns (monitor, source seq) -> target window id."""
    have = {_window_key(w): w for w in tgt["windows"]}
    top: Counter = Counter()
    for w in tgt["windows"]:
        top[w["monitor"]] = max(top[w["monitor"]], w["seq"])
    taken = {(w["monitor"], w["seq"]) for w in tgt["windows"]}
    moving, seq_of = [], {}
    for w in state["windows"]:
        key = _window_key(w)
        if key in have:
            seq_of[(w["monitor"], w["seq"])] = have[key]["seq"]
            continue
        seq = w["seq"]
        if (w["monitor"], seq) in taken:
            seq = top[w["monitor"]] + 1
            out.notes.append(f"monitor {w['monitor']!r} window {w['seq']} is window {seq} at "
                             "the target (its number was taken there).")
        taken.add((w["monitor"], seq))
        top[w["monitor"]] = max(top[w["monitor"]], seq)
        seq_of[(w["monitor"], w["seq"])] = seq
        moving.append((w, seq))
    if moving:
        rows = [{**{k: v for k, v in w.items() if k not in ("id", "monitor")},
                 "monitor_id": ids[w["monitor"]], "seq": seq} for w, seq in moving]
        insert_rows(dst, MonitorWindow.__table__, rows)
        out.counts["monitor_windows"] += len(moving)
    by_seq = {(m, s): i for i, m, s in dst.execute(select(
        MonitorWindow.id, Monitor.name, MonitorWindow.seq).join(
        Monitor, Monitor.id == MonitorWindow.monitor_id))}
    points = [{**{k: v for k, v in r.items() if k != "id"}, "monitor_id": ids[w["monitor"]],
               "window_id": by_seq[(w["monitor"], seq)]}
              for w, seq in moving for r in results.get(w["id"], [])]
    insert_rows(dst, MonitorResult.__table__, points)
    out.counts["monitor_results"] += len(points)
    return {k: by_seq[(k[0], seq)] for k, seq in seq_of.items() if (k[0], seq) in by_seq}


def _rules(dst, state, tgt, ids: dict[str, int], out) -> dict[tuple, int]:
    have = {_rule_key(r) for r in tgt["rules"]}
    rows = [{**{k: v for k, v in r.items() if k not in ("id", "monitor")},
             "monitor_id": ids[r["monitor"]]} for r in state["rules"]
            if _rule_key(r) not in have]
    insert_rows(dst, AlertRule.__table__, rows)
    out.counts["alert_rules"] += len(rows)
    names = dict(dst.execute(select(Monitor.id, Monitor.name)).all())
    return {_rule_key(dict(r, monitor=names[r["monitor_id"]])): r["id"]
            for r in dst.execute(select(AlertRule.__table__)).mappings()}


def _alerts(dst, state, tgt, ids, rule_ids: dict[tuple, int], window_ids: dict[tuple, int],
            out) -> None:
    have = {_alert_key(a) for a in tgt["alerts"]}
    rows = []
    for a in state["alerts"]:
        if _alert_key(a) in have:
            continue
        row = {k: v for k, v in a.items()
               if k not in ("id", "monitor", "rule", "window_seq")}
        row.update(monitor_id=ids[a["monitor"]], rule_id=rule_ids[a["rule"]],
                   window_id=window_ids.get((a["monitor"], a["window_seq"])))
        rows.append(row)
    insert_rows(dst, Alert.__table__, rows)
    out.counts["alerts"] += len(rows)
