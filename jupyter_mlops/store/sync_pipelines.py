"""Pipelines in a sync: their definitions, runs and step runs, schedules and fires.

Matched by what names them on every store: a pipeline and a schedule by name, a pipeline
run by its id (a uuid), a step run by (pipeline run, step), a fire by (schedule, slot).
Integer ids (pipeline, schedule, step run ``cached_from``) are rewritten to the target's;
a link to a run the target lacks is left empty. Compared whole (these tables are small):

- A pipeline the target lacks is added. Both have it with another spec: the side whose spec
  changed since the last sync wins (the agreed spec digest is a ``pipe:`` sync mark, as
  :mod:`.sync_deletions` keeps them); changed on both sides (or never agreed): a conflict,
  the target's kept.
- A pipeline run the target lacks is added with its step runs; the blobs its steps point at
  (executed notebooks, outputs) are copied first, so a step cached at the source is a cache
  hit at the target too. A pipeline run the target has is updated only while the target's
  is RUNNING and the source's has ended (a final status is never overwritten); both ended
  with different statuses: a conflict.
- A schedule the target lacks arrives *paused* (no next slot): the store it came from runs
  its own scheduler, and the pipeline path it names is a path on that machine; the report
  says to resume it on the target (``jupyter mlops schedule resume NAME``) where that path
  is valid. A schedule both hold with another definition: a conflict, the target's kept.
  Fires the target lacks are added (a slot fired at the source is not fired again there).

Only a whole-store sync carries pipelines (``--run`` selects runs).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, select, update

from jupyter_mlops.store.orm import (
    Pipeline, PipelineRun, Schedule, ScheduleFire, StepRun,
)
from jupyter_mlops.store.sync_deletions import Agreement, key_mark, kind_marks, value_hash
from jupyter_mlops.store.sync_runs import RUNNING, chunks, existing_runs, insert_rows

PIPE = "pipe:"
_RUN_FIELDS = ("status", "ended_at", "error", "run_id", "executor")
_STEP_FIELDS = ("run_id", "status", "attempts", "cache_key", "outputs", "notebook_digest",
                "started_at", "ended_at", "error")


# ---------------------------------------------------------------------------- reading
def pipeline_state(conn: Connection) -> dict:
    """Every pipeline, pipeline run (with its pipeline's and schedule's names), step run
    (by pipeline run), schedule and fire (with its schedule's name)."""
    pipes = {r["name"]: dict(r) for r in conn.execute(select(Pipeline.__table__)).mappings()}
    pipe_names = {p["id"]: n for n, p in pipes.items()}
    scheds = {r["name"]: dict(r) for r in conn.execute(select(Schedule.__table__)).mappings()}
    sched_names = {s["id"]: n for n, s in scheds.items()}
    runs = {r["id"]: dict(r, pipeline=pipe_names[r["pipeline_id"]],
                          schedule=sched_names.get(r["schedule_id"]))
            for r in conn.execute(select(PipelineRun.__table__)
                                  .order_by(PipelineRun.started_at)).mappings()}
    steps: dict[str, list[dict]] = defaultdict(list)
    for r in conn.execute(select(StepRun.__table__).order_by(StepRun.id)).mappings():
        steps[r["pipeline_run_id"]].append(dict(r))
    fires = [dict(r, schedule=sched_names[r["schedule_id"]]) for r in conn.execute(
        select(ScheduleFire.__table__)).mappings()]
    return {"pipelines": pipes, "runs": runs, "steps": dict(steps), "schedules": scheds,
            "fires": fires}


def pipeline_digests(state: dict) -> set[str]:
    """The blobs step runs point at: executed notebooks and outputs (a folder output's
    files; its own digest hashes the folder, it is no blob)."""
    out = set()
    for steps in state["steps"].values():
        for s in steps:
            if s["notebook_digest"]:
                out.add(s["notebook_digest"])
            for o in (s["outputs"] or {}).values():
                if not isinstance(o, dict):
                    continue
                if isinstance(o.get("files"), dict):
                    out |= {d for d in o["files"].values() if isinstance(d, str)}
                elif isinstance(o.get("digest"), str):
                    out.add(o["digest"])
    return out


def pipeline_agreement(src: Connection, dst: Connection, src_id: str,
                       dst_id: str) -> Agreement:
    return Agreement(kind_marks(dst, src_id, (PIPE,)), kind_marks(src, dst_id, (PIPE,)))


# ---------------------------------------------------------------------------- writing
def write_pipelines(dst: Connection, state: dict, agreement: Agreement, out) -> None:
    """Schedules, pipelines, pipeline runs with their steps, and fires, in ``dst``'s
    transaction (in that order: each links to the ones before)."""
    tgt = pipeline_state(dst)
    sched_ids = _schedules(dst, state, tgt, out)
    pipe_ids = _pipelines(dst, state, tgt, agreement, out)
    _runs(dst, state, tgt, pipe_ids, sched_ids, out)
    _fires(dst, state, tgt, sched_ids, out)


def _schedules(dst: Connection, state: dict, tgt: dict, out) -> dict[str, int]:
    definition = ("pipeline_path", "cron", "timezone", "parameters")
    arrived = []
    for name, s in sorted(state["schedules"].items()):
        t = tgt["schedules"].get(name)
        if t is None:
            row = {k: v for k, v in s.items() if k != "id"}
            row.update(paused=True, next_fire_at=None)
            insert_rows(dst, Schedule.__table__, [row])
            arrived.append(name)
        elif any(s[k] != t[k] for k in definition):
            out.conflicts.append(
                f"schedule {name!r} differs between the stores (cron, timezone, pipeline "
                "path or parameters); kept the target's (remove one and add it again, or "
                "rename one).")
    if arrived:
        out.counts["schedules"] += len(arrived)
        out.notes.append(
            f"{len(arrived)} schedule(s) arrived paused ({', '.join(arrived[:5])}"
            f"{'…' if len(arrived) > 5 else ''}): resume each on the target where its "
            "pipeline path is valid (`jupyter mlops schedule resume NAME`).")
    return dict(dst.execute(select(Schedule.name, Schedule.id)).all())


def _pipelines(dst: Connection, state: dict, tgt: dict, agreement: Agreement,
               out) -> dict[str, int]:
    for name, s in sorted(state["pipelines"].items()):
        t = tgt["pipelines"].get(name)
        mark = key_mark(PIPE, (), name)
        if t is None:
            insert_rows(dst, Pipeline.__table__, [{k: v for k, v in s.items() if k != "id"}])
            out.counts["pipelines"] += 1
            out.target_marks[mark] = value_hash(s["spec_digest"])
            continue
        if s["spec_digest"] == t["spec_digest"]:
            if agreement.target.get(mark) != value_hash(s["spec_digest"]):
                out.target_marks[mark] = value_hash(s["spec_digest"])
            continue
        agreed = agreement.of(PIPE, (), (), name)
        if agreed == value_hash(t["spec_digest"]):  # changed at the source only
            dst.execute(update(Pipeline).where(Pipeline.id == t["id"]).values(
                spec=s["spec"], spec_digest=s["spec_digest"], path=s["path"],
                updated_at=max(s["updated_at"], t["updated_at"])))
            out.target_marks[mark] = value_hash(s["spec_digest"])
            out.counts["pipelines"] += 1
        elif agreed != value_hash(s["spec_digest"]):  # changed on both sides
            out.conflicts.append(
                f"pipeline {name!r}: its spec changed on both sides since the last sync (or "
                "they were never the same); kept the target's (run the pipeline.yaml that "
                "should win against the target, or here, and sync again).")
        # else: changed at the target only — a pull brings it here
    return dict(dst.execute(select(Pipeline.name, Pipeline.id)).all())


def _runs(dst: Connection, state: dict, tgt: dict, pipe_ids: dict[str, int],
          sched_ids: dict[str, int], out) -> None:
    linked = {r["run_id"] for r in state["runs"].values() if r["run_id"]}
    linked |= {s["run_id"] for steps in state["steps"].values() for s in steps if s["run_id"]}
    runs_there = existing_runs(dst, linked)
    new_runs, new_steps, cached = [], [], []
    src_step_key = {s["id"]: (s["pipeline_run_id"], s["step"])
                    for steps in state["steps"].values() for s in steps}
    for prid, r in state["runs"].items():
        t = tgt["runs"].get(prid)
        if t is not None:
            _merge_run(dst, prid, r, t, state, tgt, runs_there, src_step_key, cached, out)
            continue
        row = {k: v for k, v in r.items() if k not in ("pipeline", "schedule")}
        row.update(pipeline_id=pipe_ids[r["pipeline"]],
                   schedule_id=sched_ids.get(r["schedule"]) if r["schedule"] else None,
                   run_id=r["run_id"] if r["run_id"] in runs_there else None)
        new_runs.append(row)
        for s in state["steps"].get(prid, []):
            step = {k: v for k, v in s.items() if k not in ("id", "cached_from")}
            step["run_id"] = s["run_id"] if s["run_id"] in runs_there else None
            new_steps.append(step)
            if s["cached_from"] in src_step_key:
                cached.append(((prid, s["step"]), src_step_key[s["cached_from"]]))
    insert_rows(dst, PipelineRun.__table__, new_runs)
    insert_rows(dst, StepRun.__table__, new_steps)
    out.counts["pipeline_runs"] += len(new_runs)
    out.counts["step_runs"] += len(new_steps)
    _link_cached(dst, cached)


def _merge_run(dst, prid, r, t, state, tgt, runs_there, src_step_key, cached, out) -> None:
    if r["status"] == t["status"] or r["status"] == RUNNING:
        return
    if t["status"] != RUNNING:
        out.conflicts.append(
            f"pipeline run {prid[:8]} of {r['pipeline']!r}: the target has it {t['status']}, "
            f"the source {r['status']}; kept the target's (an ended pipeline run is never "
            "overwritten).")
        return
    dst.execute(update(PipelineRun).where(PipelineRun.id == prid).values(
        **{k: r[k] for k in _RUN_FIELDS if k != "run_id"},
        run_id=r["run_id"] if r["run_id"] in runs_there else t["run_id"]))
    t_steps = {s["step"]: s for s in tgt["steps"].get(prid, [])}
    for s in state["steps"].get(prid, []):
        values = {k: s[k] for k in _STEP_FIELDS}
        values["run_id"] = s["run_id"] if s["run_id"] in runs_there else None
        if s["step"] in t_steps:
            dst.execute(update(StepRun).where(StepRun.pipeline_run_id == prid,
                                              StepRun.step == s["step"]).values(**values))
        else:
            insert_rows(dst, StepRun.__table__, [{**values, "pipeline_run_id": prid,
                                                  "step": s["step"]}])
        if s["cached_from"] in src_step_key:
            cached.append(((prid, s["step"]), src_step_key[s["cached_from"]]))
    out.counts["pipeline_runs_updated"] += 1


def _link_cached(dst: Connection, cached: list[tuple[tuple, tuple]]) -> None:
    """``cached_from``: the step run a cache hit reused, as the target numbers it."""
    if not cached:
        return
    prids = sorted({p for pair in cached for p, _s in pair})
    ids: dict[tuple[str, str], int] = {}
    for part in chunks(prids):
        for i, prid, step in dst.execute(select(StepRun.id, StepRun.pipeline_run_id,
                                                StepRun.step).where(
                StepRun.pipeline_run_id.in_(part))):
            ids[(prid, step)] = i
    for step, source in cached:
        if step in ids and source in ids:
            dst.execute(update(StepRun).where(StepRun.id == ids[step])
                        .values(cached_from=ids[source]))


def _fires(dst: Connection, state: dict, tgt: dict, sched_ids: dict[str, int], out) -> None:
    have = {(f["schedule"], f["slot"]) for f in tgt["fires"]}
    prids = set(dst.execute(select(PipelineRun.id)).scalars()) if state["fires"] else set()
    rows = []
    for f in state["fires"]:
        if (f["schedule"], f["slot"]) in have or f["schedule"] not in sched_ids:
            continue
        row = {k: v for k, v in f.items() if k != "schedule"}
        row["schedule_id"] = sched_ids[f["schedule"]]
        if row["pipeline_run_id"] not in prids:
            row["pipeline_run_id"] = None
        rows.append(row)
    insert_rows(dst, ScheduleFire.__table__, rows)
    out.counts["schedule_fires"] += len(rows)
